//! How concentrated a map is: sparseness (the Gini index of `|A|`,
//! Chalasani et al. 2020) and complexity (the entropy of the normalised
//! `|A|`, Bhatt et al. 2020), as Quantus computes them.

use burn::prelude::*;

use crate::input::check_finite_map;
use crate::{Error, Result};

/// The Gini index of `|A|` of each map `[N, H, W]`:
/// `G = Σ_i (2i − n − 1)·a_(i) / (n·Σ_i a_i)`, `a_(1) ≤ … ≤ a_(n)` the sorted
/// absolute values. 0 for a uniform map, `(n − 1)/n` for a map with one
/// non-zero pixel; higher is sparser. A map that is 0 everywhere counts as
/// uniform (0), as in Quantus (which adds 1e-7 to every value).
///
/// ```
/// use burn::prelude::*;
/// use learnprop::metric::sparseness;
/// use learnprop::Cpu;
///
/// let device = Default::default();
/// let maps = Tensor::<Cpu, 3>::from_floats([[[0.0, 0.0], [-1.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]], &device);
/// let gini = sparseness(&maps)?;
/// assert!((gini[0] - 0.5).abs() < 1e-12 && gini[1].abs() < 1e-12);
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Shape`] for empty maps, [`Error::NonFiniteMap`] for a map
/// holding NaN or an infinity.
pub fn sparseness<B: Backend>(maps: &Tensor<B, 3>) -> Result<Vec<f64>> {
    per_map(maps, "sparseness map", |a| {
        let n = a.len() as f64;
        let total: f64 = a.iter().sum();
        if total == 0.0 {
            return 0.0;
        }
        let mut sorted = a.to_vec();
        sorted.sort_by(f64::total_cmp);
        let weighted: f64 = sorted
            .iter()
            .enumerate()
            .map(|(i, v)| (2.0 * (i + 1) as f64 - n - 1.0) * v)
            .sum();
        weighted / (n * total)
    })
}

/// The entropy (natural logarithm) of `p = |A| / Σ|A|` of each map
/// `[N, H, W]`: `−Σ_i p_i ln p_i`. 0 for a map with one non-zero pixel,
/// `ln(H·W)` for a uniform map; lower is less complex. A map that is 0
/// everywhere counts as uniform (`ln(H·W)`).
///
/// ```
/// use burn::prelude::*;
/// use learnprop::metric::complexity;
/// use learnprop::Cpu;
///
/// let device = Default::default();
/// let maps = Tensor::<Cpu, 3>::from_floats([[[0.0, 0.0], [-1.0, 1.0]], [[0.0, 0.0], [0.0, 5.0]]], &device);
/// let entropy = complexity(&maps)?;
/// assert!((entropy[0] - 2f64.ln()).abs() < 1e-12 && entropy[1].abs() < 1e-12);
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// As [`sparseness`].
pub fn complexity<B: Backend>(maps: &Tensor<B, 3>) -> Result<Vec<f64>> {
    per_map(maps, "complexity map", |a| {
        let total: f64 = a.iter().sum();
        if total == 0.0 {
            return (a.len() as f64).ln();
        }
        -a.iter()
            .filter(|&&v| v > 0.0)
            .map(|v| {
                let p = v / total;
                p * p.ln()
            })
            .sum::<f64>()
    })
}

/// `score(|A|)` of each map, after checking the maps.
fn per_map<B: Backend>(
    maps: &Tensor<B, 3>,
    what: &str,
    score: impl Fn(&[f64]) -> f64,
) -> Result<Vec<f64>> {
    let [n, h, w] = maps.dims();
    if h == 0 || w == 0 {
        return Err(Error::Shape {
            what: "maps",
            expected: "[N, H, W] with H, W ≥ 1".into(),
            found: vec![n, h, w],
        });
    }
    let values: Vec<f64> = maps.to_data().iter::<f64>().collect();
    check_finite_map(what, &values, h * w)?;
    Ok(values
        .chunks(h * w)
        .map(|map| score(&map.iter().map(|v| v.abs()).collect::<Vec<_>>()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Base;

    type B = Base<crate::Cpu>;

    fn maps(values: Vec<f64>, [n, h, w]: [usize; 3]) -> Tensor<B, 3> {
        crate::input::float_tensor(values, [n, h, w], &Default::default())
    }

    #[test]
    fn closed_forms_of_the_gini_index() {
        // Uniform: 0; one pixel of n: (n − 1)/n; half the pixels equal: 1/2.
        let one_hot: Vec<f64> = (0..12).map(|i| if i == 7 { -3.0 } else { 0.0 }).collect();
        let cases = [
            (vec![0.3; 12], 0.0),
            (one_hot, 11.0 / 12.0),
            ([vec![0.0; 6], vec![2.0; 6]].concat(), 0.5),
            (
                [vec![4.0, -1.0, 3.0, 2.0], vec![0.0; 8]].concat(),
                // Twelve values: eight zeros, then 1, 2, 3, 4 at i = 9..12,
                // weighted by 2i − 13 = 5, 7, 9, 11: 90 / 120.
                0.75,
            ),
            (vec![0.0; 12], 0.0),
        ];
        for (values, expected) in cases {
            let got = sparseness(&maps(values.clone(), [1, 3, 4])).unwrap()[0];
            assert!(
                (got - expected).abs() < 1e-14,
                "{values:?}: {got} vs {expected}"
            );
        }
        // Per image, and independent of the scale and of the signs.
        let both = maps([vec![1.0; 12], vec![-5.0; 12]].concat(), [2, 3, 4]);
        assert_eq!(sparseness(&both).unwrap(), vec![0.0, 0.0]);
    }

    #[test]
    fn closed_forms_of_the_entropy() {
        let ln = f64::ln;
        let cases = [
            (vec![0.3; 12], ln(12.0)),
            ((0..12).map(|i| (i == 3) as u8 as f64).collect(), 0.0),
            ([vec![0.0; 6], vec![-2.0; 6]].concat(), ln(6.0)),
            (
                [vec![1.0, 3.0], vec![0.0; 10]].concat(),
                -(0.25 * ln(0.25) + 0.75 * ln(0.75)),
            ),
            (vec![0.0; 12], ln(12.0)),
        ];
        for (values, expected) in cases {
            let got = complexity(&maps(values.clone(), [1, 3, 4])).unwrap()[0];
            assert!(
                (got - expected).abs() < 1e-14,
                "{values:?}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn bad_maps_are_errors() {
        let mut values = vec![1.0; 12];
        values[5] = f64::NAN;
        assert!(matches!(
            sparseness(&maps(values.clone(), [1, 3, 4])),
            Err(Error::NonFiniteMap { index: 5, .. })
        ));
        values[5] = f64::INFINITY;
        assert!(complexity(&maps(values, [1, 3, 4])).is_err());
        assert!(matches!(
            complexity(&maps(vec![], [2, 0, 4])),
            Err(Error::Shape { .. })
        ));
    }
}
