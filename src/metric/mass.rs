//! Relevance mass in a region (Arras et al. 2022): the share of a map's
//! positive relevance that falls inside a box, e.g. on the half of a
//! composite image that shows the explained class.

use burn::prelude::*;

use super::pointing::checked_values;
use super::BoundingBox;
use crate::Result;

/// For each map `[N, H, W]`, `Σ_{p ∈ box} max(A_p, 0) / Σ_p max(A_p, 0)`:
/// the share of the positive relevance inside the image's box (inclusive
/// bounds, clipped to the map). `None` for a map without positive
/// relevance, where the share is undefined.
///
/// ```
/// use burn::prelude::*;
/// use learnprop::metric::{relevance_mass, BoundingBox};
/// use learnprop::Cpu;
///
/// let device = Default::default();
/// // Left half: 3 of the 4 units of positive relevance; negative values do not count.
/// let maps = Tensor::<Cpu, 3>::from_floats([[[1.0, 1.0, -5.0, 0.0], [1.0, 0.0, 1.0, 0.0]]], &device);
/// let left = BoundingBox { top: 0, left: 0, bottom: 1, right: 1 };
/// assert_eq!(relevance_mass(&maps, &[left])?, vec![Some(0.75)]);
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// As [`pointing_game`](super::pointing_game): one box per map, non-empty
/// maps, boxes with first ≤ last row and column, finite maps.
pub fn relevance_mass<B: Backend>(
    maps: &Tensor<B, 3>,
    boxes: &[BoundingBox],
) -> Result<Vec<Option<f64>>> {
    let [_, h, w] = maps.dims();
    let values = checked_values(maps, boxes, "relevance-mass map")?;
    Ok(values
        .chunks(h * w)
        .zip(boxes)
        .map(|(map, b)| {
            let positive = |p: usize| map[p].max(0.0);
            let total: f64 = (0..h * w).map(positive).sum();
            let inside: f64 = (b.top..=b.bottom.min(h - 1))
                .flat_map(|y| (b.left..=b.right.min(w - 1)).map(move |x| y * w + x))
                .map(positive)
                .sum();
            (total > 0.0).then(|| inside / total)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Base;

    type B = Base<crate::Cpu>;

    #[test]
    fn shares_of_positive_relevance() {
        let device = Default::default();
        // 2 × 3 maps: all mass inside, none inside, a box past the border,
        // a map without positive relevance.
        let values = vec![
            2.0, 0.0, 0.0, 2.0, 0.0, 0.0, //
            0.0, 1.0, 1.0, -9.0, 1.0, 1.0, //
            1.0, 1.0, 1.0, 1.0, 1.0, 1.0, //
            -1.0, 0.0, -2.0, 0.0, -3.0, 0.0,
        ];
        let maps: Tensor<B, 3> = crate::input::float_tensor(values, [4, 2, 3], &device);
        let first_column = BoundingBox {
            top: 0,
            left: 0,
            bottom: 1,
            right: 0,
        };
        let beyond = BoundingBox {
            top: 1,
            left: 1,
            bottom: 100,
            right: 100,
        };
        let shares = relevance_mass(&maps, &[first_column, first_column, beyond, first_column]);
        assert_eq!(
            shares.unwrap(),
            vec![Some(1.0), Some(0.0), Some(2.0 / 6.0), None]
        );
        let crossed = BoundingBox {
            top: 1,
            left: 0,
            bottom: 0,
            right: 0,
        };
        assert!(relevance_mass(&maps, &[crossed; 4]).is_err());
        assert!(relevance_mass(&maps, &[first_column; 3]).is_err());
        let nan: Tensor<B, 3> = crate::input::float_tensor(vec![f64::NAN; 6], [1, 2, 3], &device);
        assert!(relevance_mass(&nan, &[first_column]).is_err());
    }
}
