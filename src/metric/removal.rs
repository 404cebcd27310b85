//! Pixel-removal curves: MoRF and LeRF (and insertion / deletion).

use burn::config::Config;
use burn::prelude::*;

pub use super::fill::Fill;
use super::fill::Source;
use crate::guard::catching_model_panics;
use crate::input::{check_finite_map, check_images, check_logits, float_tensor, target_indices};
use crate::model::Explainable;
use crate::{Error, Result};

/// Which pixels go first.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum RemovalOrder {
    /// Most relevant first: the most positive attribution (MoRF).
    MostRelevantFirst,
    /// Least relevant first: the most negative attribution (LeRF).
    LeastRelevantFirst,
}

/// The unit of removal.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum RemovalUnit {
    /// Single pixels, ranked by the map.
    Pixel,
    /// Non-overlapping `size × size` patches ranked by the sum of the map over
    /// the patch (patches cut at the border count whole).
    Patch {
        /// Side of a patch in pixels.
        size: usize,
    },
}

/// Settings of [`removal_curves`]; the defaults are the paper's MoRF protocol
/// (`METHOD.md`): up to 5 % of the pixels in 20 equal steps, fill 0.
#[derive(Config, Debug)]
pub struct RemovalConfig {
    /// Which pixels go first.
    #[config(default = "RemovalOrder::MostRelevantFirst")]
    pub order: RemovalOrder,
    /// The largest fraction of pixels removed.
    #[config(default = 0.05)]
    pub max_fraction: f64,
    /// Steps from 0 to `max_fraction`.
    #[config(default = 20)]
    pub steps: usize,
    /// What removed pixels become.
    #[config(default = "Fill::Value { value: 0.0 }")]
    pub fill: Fill,
    /// Pixels or patches.
    #[config(default = "RemovalUnit::Pixel")]
    pub unit: RemovalUnit,
    /// Insert instead of remove: start from the all-fill image and put the
    /// pixels back in the same order (the insertion metric of Petsiuk et al.).
    #[config(default = false)]
    pub insertion: bool,
    /// Images per model evaluation; changes speed and memory only.
    #[config(default = 64)]
    pub batch_size: usize,
}

/// The result of [`removal_curves`].
#[derive(Debug, Clone, PartialEq)]
pub struct RemovalCurves {
    /// Number of pixels removed at each step.
    pub removed: Vec<usize>,
    /// The removed fraction at each step, `removed / (H·W)`.
    pub fractions: Vec<f64>,
    /// Per kept image, `F_t(I_k) / F_t(I)` at each step.
    pub per_image: Vec<Vec<f64>>,
    /// The mean over kept images.
    pub curve: Vec<f64>,
    /// Trapezoid area under `curve`, the fraction axis normalised to `[0, 1]`.
    pub area: f64,
    /// The images kept (target logit > 0), by index.
    pub kept: Vec<usize>,
    /// Images skipped because their target logit is ≤ 0.
    pub skipped: usize,
}

impl RemovalCurves {
    /// The area of each kept image's own curve (trapezoids, fraction axis
    /// normalised to `[0, 1]`); their mean is [`area`](Self::area).
    pub fn areas(&self) -> Vec<f64> {
        self.per_image.iter().map(|r| trapezoid_area(r)).collect()
    }

    /// Mean and standard error of [`areas`](Self::areas) (the error is 0
    /// for fewer than two images).
    pub fn area_mean_and_error(&self) -> (f64, f64) {
        let areas = self.areas();
        let k = areas.len() as f64;
        if areas.is_empty() {
            return (f64::NAN, 0.0);
        }
        let mean = areas.iter().sum::<f64>() / k;
        if areas.len() < 2 {
            return (mean, 0.0);
        }
        let variance = areas.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (k - 1.0);
        (mean, (variance / k).sqrt())
    }
}

/// Removal curves (MoRF or LeRF) of `maps` for `images`: pixels are removed
/// in the order of the map (summed over channels; stable sort, ties in
/// row-major order) and the target logit is recorded relative to the
/// original, `F_t(I_k)/F_t(I)`. `targets` are usually the predicted
/// classes; images whose target logit is ≤ 0 are skipped and counted.
///
/// Steps remove `k_i = ⌊i · n_max / steps⌋` pixels, `n_max =
/// ⌊max_fraction · H · W⌋`; with patches, `k_i` counts pixels and whole
/// patches are removed until at least `k_i` pixels are gone.
///
/// # Shapes
/// - `images`: `[N, C, H, W]`
/// - `maps`: `[N, H, W]` or `[N, C', H, W]` (summed over channels)
///
/// Each distinct removal count is evaluated once, so the work is bounded by
/// the number of pixels whatever `steps` is.
///
/// # Errors
/// Bad images, targets or settings ([`Error::InvalidConfig`]: a fraction
/// outside `(0, 1]`, 0 steps, batch size or patch size, a NaN or infinite
/// fill, a blur width outside `(0, 1e6]`, a negative or non-finite
/// imputation noise, more steps than memory holds), maps of another size or with 0
/// channels ([`Error::Shape`]), maps holding NaN or an infinity
/// ([`Error::NonFiniteMap`]).
pub fn removal_curves<B: Backend, M: Explainable<B>, const D: usize>(
    model: &M,
    images: &Tensor<B, 4>,
    maps: &Tensor<B, D>,
    targets: &[usize],
    config: &RemovalConfig,
) -> Result<RemovalCurves> {
    catching_model_panics("removal curves", || {
        let [n, c, h, w] = check_images(model, images)?;
        let map_dims = maps.dims();
        let fits = match D {
            3 => map_dims[..] == [n, h, w],
            4 => map_dims[0] == n && map_dims[1] > 0 && map_dims[2..] == [h, w],
            _ => false,
        };
        if !fits {
            return Err(Error::Shape {
                what: "maps",
                expected: format!("[{n}, {h}, {w}] or [{n}, C, {h}, {w}] with C ≥ 1"),
                found: map_dims.to_vec(),
            });
        }
        if !(config.max_fraction > 0.0 && config.max_fraction <= 1.0)
            || config.steps == 0
            || config.batch_size == 0
        {
            return Err(Error::InvalidConfig {
                setting: "max_fraction / steps / batch_size",
                value: format!(
                    "{} / {} / {}",
                    config.max_fraction, config.steps, config.batch_size
                ),
                expected: "a fraction in (0, 1], at least 1 step and a batch size ≥ 1",
            });
        }
        if let RemovalUnit::Patch { size: 0 } = config.unit {
            return Err(Error::InvalidConfig {
                setting: "unit",
                value: "Patch { size: 0 }".into(),
                expected: "patches of at least 1 × 1 pixel",
            });
        }
        let source = Source::new(&config.fill, images)?;
        let map_values: Vec<f64> = maps.to_data().iter::<f64>().collect();
        check_finite_map("removal map", &map_values, map_values.len() / n.max(1))?;
        let scores: Vec<f64> = {
            let flat = maps
                .clone()
                .reshape([n as i32, -1, (h * w) as i32])
                .sum_dim(1);
            flat.into_data().iter::<f64>().collect()
        };
        let model = model.clone().no_grad();
        let device = images.device();
        let t = target_indices::<B>(targets, &device);
        let base = model.logits(images.clone());
        check_logits(&base)?;
        crate::input::check_targets(targets, n, base.dims()[1])?;
        let base: Vec<f64> = base.gather(1, t).into_data().iter::<f64>().collect();

        let n_max = (config.max_fraction * (h * w) as f64 + 1e-9).floor() as usize;
        let too_many = || Error::InvalidConfig {
            setting: "steps",
            value: config.steps.to_string(),
            expected: "a number of steps whose curves fit in memory",
        };
        let points = config.steps.checked_add(1).ok_or_else(too_many)?;
        let mut removed: Vec<usize> = Vec::new();
        removed.try_reserve_exact(points).map_err(|_| too_many())?;
        // ⌊i · n_max / steps⌋ without overflow: n_max ≤ H·W.
        removed.extend(
            (0..points).map(|i| (i as u128 * n_max as u128 / config.steps as u128) as usize),
        );
        // The counts are non-decreasing: each distinct one is evaluated once.
        let mut distinct = removed.clone();
        distinct.dedup();
        let pixels: Vec<f64> = images.to_data().iter::<f64>().collect();
        let per_image_len = c * h * w;

        let kept: Vec<usize> = (0..n).filter(|&i| base[i] > 0.0).collect();
        let mut per_image = Vec::with_capacity(kept.len());
        for &i in &kept {
            let order = ranking(
                &scores[i * h * w..(i + 1) * h * w],
                [h, w],
                config.order,
                config.unit,
            );
            let original = &pixels[i * per_image_len..(i + 1) * per_image_len];
            let mut rng = source.rng(i);
            // The images of every distinct count, built and evaluated batch by batch.
            let mut variant = |k: usize| {
                let mut x = original.to_vec();
                let mut gone = vec![config.insertion; h * w];
                for p in removal_set(&order, k) {
                    gone[p] = !config.insertion;
                }
                source.fill(&mut x, &gone, i, [h, w], &mut rng);
                x
            };
            let mut distinct_ratios = Vec::with_capacity(distinct.len());
            for chunk in distinct.chunks(config.batch_size) {
                let values: Vec<f64> = chunk.iter().flat_map(|&k| variant(k)).collect();
                let batch = float_tensor::<B, 4>(values, [chunk.len(), c, h, w], &device);
                let idx = target_indices::<B>(&vec![targets[i]; chunk.len()], &device);
                let logits: Vec<f64> = model
                    .logits(batch)
                    .gather(1, idx)
                    .into_data()
                    .iter::<f64>()
                    .collect();
                distinct_ratios.extend(logits.into_iter().map(|l| l / base[i]));
            }
            let mut ratios = Vec::new();
            ratios.try_reserve_exact(points).map_err(|_| too_many())?;
            let mut at = 0;
            for &k in &removed {
                while distinct[at] != k {
                    at += 1;
                }
                ratios.push(distinct_ratios[at]);
            }
            per_image.push(ratios);
        }
        let steps = removed.len();
        let curve: Vec<f64> = (0..steps)
            .map(|s| {
                if per_image.is_empty() {
                    f64::NAN
                } else {
                    per_image.iter().map(|r| r[s]).sum::<f64>() / per_image.len() as f64
                }
            })
            .collect();
        let area = trapezoid_area(&curve);
        Ok(RemovalCurves {
            fractions: removed.iter().map(|&k| k as f64 / (h * w) as f64).collect(),
            removed,
            per_image,
            curve,
            area,
            skipped: n - kept.len(),
            kept,
        })
    })
}

/// Pixel indices in removal order, grouped in units (single pixels or patches).
fn ranking(
    scores: &[f64],
    [h, w]: [usize; 2],
    order: RemovalOrder,
    unit: RemovalUnit,
) -> Vec<Vec<usize>> {
    let units: Vec<(Vec<usize>, f64)> = match unit {
        RemovalUnit::Pixel => scores
            .iter()
            .enumerate()
            .map(|(p, &s)| (vec![p], s))
            .collect(),
        RemovalUnit::Patch { size } => {
            let size = size.max(1);
            let mut out = Vec::new();
            for y0 in (0..h).step_by(size) {
                for x0 in (0..w).step_by(size) {
                    let members: Vec<usize> = (y0..(y0 + size).min(h))
                        .flat_map(|y| (x0..(x0 + size).min(w)).map(move |x| y * w + x))
                        .collect();
                    let total = members.iter().map(|&p| scores[p]).sum();
                    out.push((members, total));
                }
            }
            out
        }
    };
    let mut index: Vec<usize> = (0..units.len()).collect();
    // Stable: ties keep row-major order.
    // (IEEE comparison, so −0 and +0 tie, as in PyTorch's sort.)
    let cmp = |x: f64, y: f64| x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
    match order {
        RemovalOrder::MostRelevantFirst => index.sort_by(|&a, &b| cmp(units[b].1, units[a].1)),
        RemovalOrder::LeastRelevantFirst => index.sort_by(|&a, &b| cmp(units[a].1, units[b].1)),
    }
    index.into_iter().map(|i| units[i].0.clone()).collect()
}

/// The pixels of the first units, until at least `k` pixels.
fn removal_set(order: &[Vec<usize>], k: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(k);
    for unit in order {
        if chosen.len() >= k {
            break;
        }
        chosen.extend_from_slice(unit);
    }
    chosen
}

/// Trapezoid area under equally spaced curve values, the axis normalised to
/// `[0, 1]` (`curve.len() − 1` intervals).
fn trapezoid_area(curve: &[f64]) -> f64 {
    let intervals = curve.len().saturating_sub(1).max(1) as f64;
    curve.windows(2).map(|p| (p[0] + p[1]) / 2.0).sum::<f64>() / intervals
}
