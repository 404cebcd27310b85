//! The pointing game (Zhang et al. 2016).

use burn::prelude::*;

use crate::input::check_finite_map;
use crate::{Error, Result};

/// An object's box in pixels, inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Last row.
    pub bottom: usize,
    /// Last column.
    pub right: usize,
}

/// For each map `[N, H, W]`, whether its maximum lies inside the image's box
/// grown by `tolerance` pixels on every side (15 in the usual protocol). The
/// first maximum in row-major order counts.
///
/// # Errors
/// [`Error::Shape`] if there is not one box per map or the maps are empty
/// (height or width 0), [`Error::InvalidConfig`] for a box whose last row or
/// column comes before its first, [`Error::NonFiniteMap`] if a map holds NaN
/// or an infinity.
pub fn pointing_game<B: Backend>(
    maps: Tensor<B, 3>,
    boxes: &[BoundingBox],
    tolerance: usize,
) -> Result<Vec<bool>> {
    let [n, h, w] = maps.dims();
    let values = checked_values(&maps, boxes, "pointing-game map")?;
    Ok((0..n)
        .map(|i| {
            let map = &values[i * h * w..(i + 1) * h * w];
            let best = map
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bi, bv), (j, &v)| {
                    if v > bv {
                        (j, v)
                    } else {
                        (bi, bv)
                    }
                })
                .0;
            let (y, x) = (best / w, best % w);
            let b = boxes[i];
            y.saturating_add(tolerance) >= b.top
                && y <= b.bottom.saturating_add(tolerance)
                && x.saturating_add(tolerance) >= b.left
                && x <= b.right.saturating_add(tolerance)
        })
        .collect())
}

/// The values of `maps` `[N, H, W]` after checking them against one box per
/// map: `N` boxes, `H, W ≥ 1`, every box with first ≤ last row and column,
/// every value finite (`what` names the map in the error).
pub(super) fn checked_values<B: Backend>(
    maps: &Tensor<B, 3>,
    boxes: &[BoundingBox],
    what: &str,
) -> Result<Vec<f64>> {
    let [n, h, w] = maps.dims();
    if boxes.len() != n {
        return Err(Error::Shape {
            what: "boxes",
            expected: format!("{n} boxes, one per map"),
            found: vec![boxes.len()],
        });
    }
    if h == 0 || w == 0 {
        return Err(Error::Shape {
            what: "maps",
            expected: "[N, H, W] with H, W ≥ 1".into(),
            found: vec![n, h, w],
        });
    }
    if let Some(b) = boxes.iter().find(|b| b.bottom < b.top || b.right < b.left) {
        return Err(Error::InvalidConfig {
            setting: "boxes",
            value: format!("{b:?}"),
            expected: "boxes with top ≤ bottom and left ≤ right (inclusive bounds)",
        });
    }
    let values: Vec<f64> = maps.to_data().iter::<f64>().collect();
    check_finite_map(what, &values, h * w)?;
    Ok(values)
}
