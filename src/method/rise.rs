//! RISE (Petsiuk, Das & Saenko 2018): randomised input sampling.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::{count_within, positive, repeat_targets, Method};
use crate::input::{float_tensor, prepare, target_indices, Prepared};
use crate::model::Explainable;
use crate::random::Rng;
use crate::{Error, Result};

/// What RISE averages.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum RiseScore {
    /// The softmax probability of the target (the authors' code).
    Probability,
    /// The target's pre-softmax logit.
    Logit,
}

/// Settings of [`Rise`] (defaults: the paper's ImageNet setting).
#[derive(Config, Debug)]
pub struct RiseConfig {
    /// Number of random masks `N`.
    #[config(default = 4000)]
    pub masks: usize,
    /// Grid cells per side `s`.
    #[config(default = 7)]
    pub grid: usize,
    /// Probability `p` that a grid cell is kept.
    #[config(default = 0.5)]
    pub keep_probability: f64,
    /// The score averaged.
    #[config(default = "RiseScore::Probability")]
    pub score: RiseScore,
    /// Seed of the masks.
    #[config(default = 0)]
    pub seed: u64,
    /// Masked images per model evaluation; changes speed and memory only.
    #[config(default = 64)]
    pub masks_per_batch: usize,
}

impl RiseConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<Rise> {
        count_within("masks", self.masks, 1_000_000, "from 1 to 1000000")?;
        count_within("grid", self.grid, 4096, "from 1 to 4096 cells")?;
        count_within(
            "masks_per_batch",
            self.masks_per_batch,
            10_000,
            "from 1 to 10000",
        )?;
        positive("keep_probability", self.keep_probability)?;
        if self.keep_probability > 1.0 {
            return Err(Error::InvalidConfig {
                setting: "keep_probability",
                value: self.keep_probability.to_string(),
                expected: "a probability in (0, 1]",
            });
        }
        Ok(Rise {
            config: self.clone(),
        })
    }
}

/// RISE: `S(λ) = Σ_i f(x ⊙ M_i) M_i(λ) / (N·p)` over `N` smooth random masks.
/// Each mask is an `s × s` grid of cells kept with probability `p`, stretched
/// bilinearly (mirrored at the border) over `(s+1)·⌈H/s⌉` pixels and cropped
/// at a random shift below one cell, as in the authors' code
/// (`eclique/RISE`). Masks are shared by the colour channels and by the
/// images of a batch. Result `[N, 1, H, W]`.
#[derive(Debug, Clone)]
pub struct Rise {
    config: RiseConfig,
}

/// The most pixels of one RISE mask.
pub const MAX_MASK_PIXELS: usize = 1 << 28;

/// The most values [`Rise::masks`] holds at once (16 GiB of `f64`).
pub const MAX_HELD_MASK_VALUES: usize = 1 << 31;

impl Rise {
    /// The masks, each `[H, W]`, row-major, in `[0, 1]`, all at once
    /// ([`attribute`](Method::attribute) draws them batch by batch instead).
    ///
    /// # Errors
    /// [`Error::Shape`] for an empty size or one above [`MAX_MASK_PIXELS`],
    /// [`Error::InvalidConfig`] if the masks would hold more than
    /// [`MAX_HELD_MASK_VALUES`] values.
    pub fn masks(&self, height: usize, width: usize) -> Result<Vec<Vec<f64>>> {
        let mut maker = self.mask_maker(height, width)?;
        let values = self.config.masks.checked_mul(height * width);
        let mut masks = Vec::new();
        if values.is_none_or(|v| v > MAX_HELD_MASK_VALUES)
            || masks.try_reserve_exact(self.config.masks).is_err()
        {
            return Err(too_many_masks(self.config.masks));
        }
        for _ in 0..self.config.masks {
            masks.push(maker.next_mask());
        }
        Ok(masks)
    }

    /// A generator of the masks in order, checked for `height × width`.
    fn mask_maker(&self, height: usize, width: usize) -> Result<MaskMaker> {
        if height == 0 || width == 0 || height.saturating_mul(width) > MAX_MASK_PIXELS {
            return Err(Error::Shape {
                what: "RISE mask size",
                expected: "height and width ≥ 1, at most 2^28 pixels".into(),
                found: vec![height, width],
            });
        }
        let s = self.config.grid;
        let (cell_h, cell_w) = (height.div_ceil(s), width.div_ceil(s));
        let stretched = |cell: usize| s.checked_add(1).and_then(|n| n.checked_mul(cell));
        let (Some(up_h), Some(up_w), Some(cells)) =
            (stretched(cell_h), stretched(cell_w), s.checked_mul(s))
        else {
            return Err(Error::InvalidConfig {
                setting: "grid",
                value: s.to_string(),
                expected: "a grid whose stretched masks fit in memory",
            });
        };
        // All grids are drawn before all shifts (the authors' order); the
        // shift stream starts after the grids' draws.
        let grids = Rng::new(self.config.seed);
        let mut shifts = grids.clone();
        shifts.skip((self.config.masks as u64).wrapping_mul(cells as u64));
        Ok(MaskMaker {
            grid: s,
            keep: self.config.keep_probability,
            size: [height, width],
            cell: [cell_h, cell_w],
            rows: stretch(s, up_h),
            cols: stretch(s, up_w),
            grids,
            shifts,
        })
    }
}

fn too_many_masks(masks: usize) -> Error {
    Error::InvalidConfig {
        setting: "masks",
        value: masks.to_string(),
        expected: "masks × pixels at most 2^31 values when all masks are held at once",
    }
}

/// Draws RISE's masks one at a time, as [`Rise::masks`] orders them.
struct MaskMaker {
    grid: usize,
    keep: f64,
    size: [usize; 2],
    cell: [usize; 2],
    rows: Vec<Vec<(usize, f64)>>,
    cols: Vec<Vec<(usize, f64)>>,
    grids: Rng,
    shifts: Rng,
}

impl MaskMaker {
    fn next_mask(&mut self) -> Vec<f64> {
        let s = self.grid;
        let grid: Vec<f64> = (0..s * s)
            .map(|_| f64::from(u8::from(self.grids.uniform() < self.keep)))
            .collect();
        let [height, width] = self.size;
        let dy = self.shifts.below(self.cell[0]).unwrap_or(0);
        let dx = self.shifts.below(self.cell[1]).unwrap_or(0);
        let mut mask = vec![0.0; height * width];
        for y in 0..height {
            let ry = &self.rows[y + dy];
            for x in 0..width {
                let rx = &self.cols[x + dx];
                let mut v = 0.0;
                for &(i, wi) in ry {
                    for &(j, wj) in rx {
                        v += wi * wj * grid[i * s + j];
                    }
                }
                mask[y * width + x] = v;
            }
        }
        mask
    }
}

/// Linear interpolation of `n` cells onto `out` pixels with half-pixel
/// centres and a mirrored border (`skimage.transform.resize`, order 1,
/// mode 'reflect'): per output pixel, (cell, weight) pairs.
fn stretch(n: usize, out: usize) -> Vec<Vec<(usize, f64)>> {
    let mirror = |j: isize| -> usize {
        if n == 1 {
            return 0;
        }
        let period = 2 * (n as isize - 1);
        let j = j.rem_euclid(period);
        (if j < n as isize { j } else { period - j }) as usize
    };
    (0..out)
        .map(|u| {
            let c = (u as f64 + 0.5) * n as f64 / out as f64 - 0.5;
            let i0 = c.floor();
            let t = c - i0;
            vec![(mirror(i0 as isize), 1.0 - t), (mirror(i0 as isize + 1), t)]
        })
        .collect()
}

impl<B: Backend, M: Explainable<B>> Method<B, M> for Rise {
    fn name(&self) -> String {
        "RISE".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        // Forward passes only: `prepare` gives a copy without gradient tracking.
        let Prepared {
            model,
            dims: [n, _, h, w],
            ..
        } = prepare(model, images, targets)?;
        let device = images.device();
        let mut maker = self.mask_maker(h, w)?;
        let mut saliency = vec![0.0f64; n * h * w];
        let mut remaining = self.config.masks;
        while remaining > 0 {
            let k = remaining.min(self.config.masks_per_batch);
            remaining -= k;
            let chunk: Vec<Vec<f64>> = (0..k).map(|_| maker.next_mask()).collect();
            let stacked = float_tensor::<B, 4>(chunk.concat(), [k, 1, h, w], &device);
            // [k, n, C, H, W] → [k·n, C, H, W], mask-major.
            let masked: Vec<Tensor<B, 4>> = (0..k)
                .map(|i| images.clone() * stacked.clone().slice(i..i + 1))
                .collect();
            let logits = model.logits(Tensor::cat(masked, 0));
            let scores = match self.config.score {
                RiseScore::Probability => softmax(logits, 1),
                RiseScore::Logit => logits,
            };
            let t = target_indices::<B>(&repeat_targets(targets, k), &device);
            let scores: Vec<f64> = scores.gather(1, t).into_data().iter::<f64>().collect();
            for (i, mask) in chunk.iter().enumerate() {
                for image in 0..n {
                    let score = scores[i * n + image];
                    let out = &mut saliency[image * h * w..(image + 1) * h * w];
                    for (o, m) in out.iter_mut().zip(mask) {
                        *o += score * m;
                    }
                }
            }
        }
        let norm = 1.0 / (self.config.masks as f64 * self.config.keep_probability);
        let values = saliency.into_iter().map(|v| v * norm).collect();
        Ok(float_tensor(values, [n, 1, h, w], &device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masks drawn in one stream, every grid first and then every
    /// shift, as the authors' code orders them.
    fn one_stream(config: &RiseConfig, height: usize, width: usize) -> Vec<Vec<f64>> {
        let s = config.grid;
        let (cell_h, cell_w) = (height.div_ceil(s), width.div_ceil(s));
        let (rows, cols) = (stretch(s, (s + 1) * cell_h), stretch(s, (s + 1) * cell_w));
        let mut rng = Rng::new(config.seed);
        let grids: Vec<Vec<f64>> = (0..config.masks)
            .map(|_| {
                (0..s * s)
                    .map(|_| f64::from(u8::from(rng.uniform() < config.keep_probability)))
                    .collect()
            })
            .collect();
        grids
            .iter()
            .map(|grid| {
                let dy = rng.below(cell_h).unwrap();
                let dx = rng.below(cell_w).unwrap();
                (0..height * width)
                    .map(|p| {
                        let (y, x) = (p / width, p % width);
                        let mut v = 0.0;
                        for &(i, wi) in &rows[y + dy] {
                            for &(j, wj) in &cols[x + dx] {
                                v += wi * wj * grid[i * s + j];
                            }
                        }
                        v
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn masks_drawn_one_at_a_time_equal_the_single_stream() {
        for (masks, grid, size) in [(5, 7, [32, 32]), (3, 4, [9, 13]), (1, 1, [1, 1])] {
            let config = RiseConfig::new().with_masks(masks).with_grid(grid);
            let rise = config.init().unwrap();
            assert_eq!(
                rise.masks(size[0], size[1]).unwrap(),
                one_stream(&config, size[0], size[1])
            );
        }
    }
}
