//! Integrated gradients (Sundararajan et al. 2017).

use burn::config::Config;
use burn::prelude::*;

use super::{
    convergence_delta, count_within, repeat_targets, target_gradient, Baseline, Method, Seed,
};
use crate::guard::catching_model_panics;
use crate::input::{prepare, Prepared};
use crate::model::Model;
use crate::rule::{Composite, RectifyBackend, TrueGradient};
use crate::{Error, Result};

/// How the path integral is approximated (Captum's `method`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Quadrature {
    /// Gauss–Legendre nodes and weights on `[0, 1]` (Captum's default).
    GaussLegendre,
    /// Left Riemann sum: `α_i = i/n`.
    RiemannLeft,
    /// Right Riemann sum: `α_i = (i+1)/n`.
    RiemannRight,
    /// Midpoint rule: `α_i = (i + ½)/n`.
    RiemannMiddle,
    /// Captum's `riemann_trapezoid`: `α_i = i/(n−1)`, weights `1/n` with the
    /// two ends halved. Note: these weights sum to `(n−1)/n`, not 1 — Captum's
    /// rule as it is, kept for parity.
    RiemannTrapezoid,
}

/// Settings of [`IntegratedGradients`].
#[derive(Config, Debug)]
pub struct IntegratedGradientsConfig {
    /// Number of points on the path (Captum's `n_steps`).
    #[config(default = 50)]
    pub steps: usize,
    /// The quadrature rule.
    #[config(default = "Quadrature::GaussLegendre")]
    pub quadrature: Quadrature,
    /// The path's start.
    #[config(default = "Baseline::Zero")]
    pub baseline: Baseline,
    /// Path points per model evaluation (each evaluates `N ×` that many
    /// inputs); changes speed and memory only.
    #[config(default = 50)]
    pub steps_per_batch: usize,
    /// Round the quadrature weights (and the Riemann points) to f32 as
    /// Captum 0.9.0 does (`torch.tensor(w).float()`, f32 `linspace`); off
    /// gives the exact rule in the backend's precision.
    #[config(default = true)]
    pub captum_rounding: bool,
}

impl IntegratedGradientsConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<IntegratedGradients> {
        count_within("steps", self.steps, 10_000, "from 1 to 10000")?;
        count_within(
            "steps_per_batch",
            self.steps_per_batch,
            10_000,
            "from 1 to 10000",
        )?;
        if self.steps < 2 && self.quadrature != Quadrature::GaussLegendre {
            return Err(Error::InvalidConfig {
                setting: "steps",
                value: self.steps.to_string(),
                expected: "at least 2 for a Riemann rule",
            });
        }
        Ok(IntegratedGradients {
            config: self.clone(),
            rules: None,
        })
    }
}

/// Integrated gradients: `(x − b) ⊙ Σ_i w_i ∇F_t(b + α_i (x − b))`, the
/// quadrature of `(x − b) ⊙ ∫₀¹ ∇F_t(b + α(x − b)) dα`. Satisfies
/// completeness up to the quadrature error:
/// `Σ attribution ≈ F_t(x) − F_t(b)` ([`IntegratedGradients::attribute_with_delta`]).
/// Captum: `IntegratedGradients(model).attribute(x, baselines, target, n_steps, method)`.
///
/// [`with_rules`](IntegratedGradients::with_rules) integrates a modified
/// gradient instead (any [`Composite`], e.g. guided backprop's).
#[derive(Debug, Clone)]
pub struct IntegratedGradients {
    config: IntegratedGradientsConfig,
    rules: Option<Composite>,
}

impl IntegratedGradients {
    /// The same method integrating the gradient under `composite`'s rules.
    pub fn with_rules(mut self, composite: Composite) -> Self {
        self.rules = Some(composite);
        self
    }

    /// The validated settings.
    pub fn config(&self) -> &IntegratedGradientsConfig {
        &self.config
    }

    /// The path points `α_i` and weights `w_i`.
    pub fn points_and_weights(&self) -> (Vec<f64>, Vec<f64>) {
        quadrature(
            self.config.steps,
            self.config.quadrature,
            self.config.captum_rounding,
        )
    }

    /// The attribution and, per image, the convergence delta
    /// `Σ attribution − (F_t(x) − F_t(b))`.
    ///
    /// # Errors
    /// As [`Method::attribute`].
    pub fn attribute_with_delta<B, M>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<(Tensor<B, 4>, Vec<f64>)>
    where
        B: RectifyBackend,
        M: Model<B>,
    {
        let attribution = self.attribute(model, images, targets)?;
        let baseline = self.config.baseline.tensor(images)?;
        let delta = catching_model_panics("the convergence delta", || {
            Ok(convergence_delta(
                model,
                images,
                baseline,
                &attribution,
                targets,
            ))
        })?;
        Ok((attribution, delta))
    }
}

impl<B, M> Method<B, M> for IntegratedGradients
where
    B: RectifyBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "integrated gradients".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        // Checked once here; the path points need no checks of their own.
        let Prepared {
            model,
            dims: [n, ..],
            ..
        } = prepare(model, images, targets)?;
        let baseline = self.config.baseline.tensor(images)?;
        let difference = images.clone() - baseline.clone();
        let sum = self.integrate(n, |alphas| {
            let points = path_points(&baseline, &difference, alphas);
            let repeated = repeat_targets(targets, alphas.len());
            match &self.rules {
                None => target_gradient(&model, &points, &repeated, &mut TrueGradient, Seed::Unit),
                Some(rules) => {
                    let mut rule = rules.rule::<B>();
                    target_gradient(&model, &points, &repeated, &mut rule, Seed::Unit)
                }
            }
        })?;
        Ok(sum * difference)
    }
}

impl IntegratedGradients {
    /// `Σ_i w_i g(α_i)` for `n` images: `gradients(α chunk)` returns the
    /// chunk's gradients stacked along the batch (`[k·n, …]`), at most
    /// `steps_per_batch` points per call.
    pub(crate) fn integrate<T: Backend, const D: usize>(
        &self,
        n: usize,
        mut gradients: impl FnMut(&[f64]) -> Result<Tensor<T, D>>,
    ) -> Result<Tensor<T, D>> {
        let (alphas, weights) = self.points_and_weights();
        let per_batch = self.config.steps_per_batch;
        let mut sum: Option<Tensor<T, D>> = None;
        for (alpha_chunk, weight_chunk) in alphas.chunks(per_batch).zip(weights.chunks(per_batch)) {
            let chunk = gradients(alpha_chunk)?;
            for (i, &w) in weight_chunk.iter().enumerate() {
                let term = chunk.clone().slice(i * n..(i + 1) * n).mul_scalar(w);
                sum = Some(match sum {
                    Some(s) => s + term,
                    None => term,
                });
            }
        }
        Ok(sum.expect("a validated rule has at least one point"))
    }
}

/// The images `b + α (x − b)` for each `α`, stacked along the batch.
pub(crate) fn path_points<B: Backend>(
    baseline: &Tensor<B, 4>,
    difference: &Tensor<B, 4>,
    alphas: &[f64],
) -> Tensor<B, 4> {
    let points = alphas
        .iter()
        .map(|&a| baseline.clone() + difference.clone().mul_scalar(a))
        .collect();
    Tensor::cat(points, 0)
}

/// Points and weights of a rule with `n` points on `[0, 1]`.
fn quadrature(n: usize, rule: Quadrature, captum_rounding: bool) -> (Vec<f64>, Vec<f64>) {
    let round = |v: f64| if captum_rounding { v as f32 as f64 } else { v };
    match rule {
        Quadrature::GaussLegendre => {
            let (nodes, weights) = gauss_legendre(n);
            let alphas = nodes.iter().map(|x| 0.5 * (1.0 + x)).collect();
            let weights = weights.iter().map(|w| round(0.5 * w)).collect();
            (alphas, weights)
        }
        _ => {
            let nf = n as f64;
            let (start, end) = match rule {
                Quadrature::RiemannLeft => (0.0, 1.0 - 1.0 / nf),
                Quadrature::RiemannRight => (1.0 / nf, 1.0),
                Quadrature::RiemannMiddle => (1.0 / (2.0 * nf), 1.0 - 1.0 / (2.0 * nf)),
                _ => (0.0, 1.0),
            };
            let alphas = if captum_rounding {
                linspace_f32(start, end, n)
            } else {
                (0..n)
                    .map(|i| start + (end - start) * i as f64 / (nf - 1.0))
                    .collect()
            };
            let mut weights = vec![1.0 / nf; n];
            if rule == Quadrature::RiemannTrapezoid {
                weights[0] /= 2.0;
                weights[n - 1] /= 2.0;
            }
            (alphas, weights.into_iter().map(round).collect())
        }
    }
}

/// PyTorch's float32 `linspace(start, end, n)` on the CPU: the first half
/// counts up from `start`, the second down from `end`, each point one fused
/// multiply-add.
fn linspace_f32(start: f64, end: f64, n: usize) -> Vec<f64> {
    let (s, e) = (start as f32, end as f32);
    let step = (e - s) / (n - 1) as f32;
    (0..n)
        .map(|i| {
            if i < n / 2 {
                step.mul_add(i as f32, s) as f64
            } else {
                (-step).mul_add((n - 1 - i) as f32, e) as f64
            }
        })
        .collect()
}

/// Gauss–Legendre nodes (ascending) and weights on `[−1, 1]`, by Newton's
/// method on the Legendre polynomial from the usual cosine starting points.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 0.0;
        for _ in 0..100 {
            // P_n(x) and P_n'(x) by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            if n == 1 {
                p1 = x;
                p0 = 1.0;
            } else {
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
            }
            derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / derivative;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
        nodes[n - 1 - i] = x;
        nodes[i] = -x;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in [1, 2, 5, 50] {
            let (x, w) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-13);
            assert!(x.windows(2).all(|p| p[0] < p[1]));
            // ∫_{-1}^{1} t^(2n-2) dt = 2/(2n-1), exact for n points.
            let d = 2 * n - 2;
            let integral: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(d as i32)).sum();
            assert!(
                (integral - 2.0 / (d as f64 + 1.0)).abs() < 1e-12,
                "n {n}: {integral}"
            );
        }
    }

    #[test]
    fn riemann_points_follow_captum() {
        let (a, w) = quadrature(50, Quadrature::RiemannTrapezoid, false);
        assert_eq!(a.len(), 50);
        assert!((a[49] - 1.0).abs() < 1e-15 && a[0] == 0.0);
        assert!((w.iter().sum::<f64>() - 49.0 / 50.0).abs() < 1e-12);
        let (a32, _) = quadrature(50, Quadrature::RiemannTrapezoid, true);
        assert!(a32.iter().zip(&a).all(|(p, q)| (p - q).abs() < 1e-7));
        let (l, _) = quadrature(4, Quadrature::RiemannLeft, false);
        assert_eq!(l, vec![0.0, 0.25, 0.5, 0.75]);
    }
}
