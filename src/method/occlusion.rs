//! Occlusion (Zeiler & Fergus 2014): the logit drop when a window is blanked.

use burn::config::Config;
use burn::prelude::*;

use super::{at_least_one, count_within, repeat_targets, Baseline, Method};
use crate::input::{float_tensor, prepare, target_indices, Prepared};
use crate::model::Explainable;
use crate::{Error, Result};

/// Settings of [`Occlusion`].
#[derive(Config, Debug)]
pub struct OcclusionConfig {
    /// Window size `[channels, height, width]` (Captum's
    /// `sliding_window_shapes`).
    pub window: [usize; 3],
    /// Window stride `[channels, height, width]`; at most the window size
    /// where the window does not fill the dimension.
    pub stride: [usize; 3],
    /// What replaces the window.
    #[config(default = "Baseline::Zero")]
    pub baseline: Baseline,
    /// Windows per model evaluation (Captum's `perturbations_per_eval`);
    /// changes speed and memory only.
    #[config(default = 16)]
    pub windows_per_batch: usize,
    /// Round the summed differences to f32 before averaging, as Captum
    /// 0.9.0 returns them.
    #[config(default = true)]
    pub captum_rounding: bool,
}

impl OcclusionConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<Occlusion> {
        for (i, name) in ["window[0]", "window[1]", "window[2]"]
            .into_iter()
            .enumerate()
        {
            at_least_one(name, self.window[i])?;
            at_least_one(name, self.stride[i])?;
        }
        count_within(
            "windows_per_batch",
            self.windows_per_batch,
            10_000,
            "from 1 to 10000",
        )?;
        Ok(Occlusion {
            config: self.clone(),
        })
    }
}

/// Occlusion: every element gets the mean, over the windows covering it, of
/// `F_t(x) − F_t(x with the window replaced by the baseline)`. Windows slide
/// with the stride from the origin; a last window that would cross the
/// border is cut at it. Captum: `Occlusion(model).attribute(x,
/// sliding_window_shapes, strides, baselines, target)`.
#[derive(Debug, Clone)]
pub struct Occlusion {
    config: OcclusionConfig,
}

impl Occlusion {
    /// Window offsets along a dimension of size `size`.
    fn offsets(size: usize, window: usize, stride: usize) -> Vec<usize> {
        let count = (size - window).div_ceil(stride) + 1;
        (0..count).map(|k| k * stride).collect()
    }
}

impl<B: Backend, M: Explainable<B>> Method<B, M> for Occlusion {
    fn name(&self) -> String {
        "occlusion".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        // Forward passes only: `prepare` gives a copy without gradient tracking.
        let Prepared {
            model,
            dims,
            targets: t,
            logits,
        } = prepare(model, images, targets)?;
        let [n, c, h, w] = dims;
        let cfg = &self.config;
        for (axis, (&size, (&win, &stride))) in [c, h, w]
            .iter()
            .zip(cfg.window.iter().zip(&cfg.stride))
            .enumerate()
        {
            if win > size || (size > win && stride > win) {
                return Err(Error::InvalidConfig {
                    setting: ["window/stride (channels)", "window/stride (height)", "window/stride (width)"][axis],
                    value: format!("window {win}, stride {stride}, size {size}"),
                    expected: "a window no larger than the dimension, and a stride no larger than the window",
                });
            }
        }
        let device = images.device();
        let baseline = cfg.baseline.tensor(images)?;
        let original = logits.gather(1, t);

        let mut windows = Vec::new();
        for &c0 in &Self::offsets(c, cfg.window[0], cfg.stride[0]) {
            for &y0 in &Self::offsets(h, cfg.window[1], cfg.stride[1]) {
                for &x0 in &Self::offsets(w, cfg.window[2], cfg.stride[2]) {
                    windows.push([
                        c0..(c0 + cfg.window[0]).min(c),
                        y0..(y0 + cfg.window[1]).min(h),
                        x0..(x0 + cfg.window[2]).min(w),
                    ]);
                }
            }
        }
        let mut total = vec![0.0f64; n * c * h * w];
        let mut count = vec![0.0f64; c * h * w];
        for chunk in windows.chunks(cfg.windows_per_batch) {
            let masks: Vec<Tensor<B, 4>> = chunk
                .iter()
                .map(|[cr, yr, xr]| {
                    let mut m = vec![0.0; c * h * w];
                    for ci in cr.clone() {
                        for yi in yr.clone() {
                            for xi in xr.clone() {
                                m[(ci * h + yi) * w + xi] = 1.0;
                            }
                        }
                    }
                    float_tensor::<B, 4>(m, [1, c, h, w], &device)
                })
                .collect();
            let occluded: Vec<Tensor<B, 4>> = masks
                .iter()
                .map(|m| {
                    images.clone() * m.clone().neg().add_scalar(1.0) + baseline.clone() * m.clone()
                })
                .collect();
            let k = chunk.len();
            let t = target_indices::<B>(&repeat_targets(targets, k), &device);
            let scores: Vec<f64> = model
                .logits(Tensor::cat(occluded, 0))
                .gather(1, t)
                .into_data()
                .iter::<f64>()
                .collect();
            let base: Vec<f64> = original.to_data().iter::<f64>().collect();
            for (j, [cr, yr, xr]) in chunk.iter().enumerate() {
                for i in 0..n {
                    let drop = base[i] - scores[j * n + i];
                    for ci in cr.clone() {
                        for yi in yr.clone() {
                            for xi in xr.clone() {
                                total[((i * c + ci) * h + yi) * w + xi] += drop;
                            }
                        }
                    }
                }
                for ci in cr.clone() {
                    for yi in yr.clone() {
                        for xi in xr.clone() {
                            count[(ci * h + yi) * w + xi] += 1.0;
                        }
                    }
                }
            }
        }
        let values: Vec<f64> = total
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let t = if cfg.captum_rounding {
                    t as f32 as f64
                } else {
                    t
                };
                t / count[i % (c * h * w)]
            })
            .collect();
        Ok(float_tensor(values, dims, &device))
    }
}
