//! Settings of the learned propagation rules.

use burn::config::Config;

use crate::method::Baseline;
use crate::rule::{GateShape, Granularity};
use crate::validate::{non_negative, positive, within, MAX_ITERATIONS};
use crate::{Error, Result};

/// The most fills [`ExplainerConfig::training_fills`] may list (each one
/// adds two masked forwards per iteration).
pub const MAX_TRAINING_FILLS: usize = 64;

/// How the rescaled map `Â ∈ [0, 1]` becomes the two soft masks.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum MaskStrategy {
    /// `M_p = 1 − σ(γ(Â − α))`, `M_n = σ(γ(Â − β))` (paper §3, the default).
    Sigmoid,
    /// The same sigmoids applied to `Â` smoothed by a Gaussian of width
    /// `sigma` pixels (paper Eq. 6: exact, untruncated, normalised by the
    /// kernel mass inside the image).
    Gaussian {
        /// Standard deviation of the smoothing kernel, in pixels.
        sigma: f64,
    },
    /// Masks centred on the map's own order statistics instead of fixed
    /// levels: `M_p = 1 − σ(γ(Â − τ_p))`, `M_n = σ(γ(Â − τ_n))`, where `τ_p`
    /// is the value of the `⌈fraction·H·W⌉`-th largest pixel of `Â` and `τ_n`
    /// that of the same-rank smallest one (both differentiated through the
    /// pixel they pick). The positive mask then removes about the top
    /// `fraction` of the pixels whatever the map's histogram — the quantity a
    /// deletion (MoRF) curve measures. Not in the paper; an option.
    TopFraction {
        /// Share of the pixels each mask is centred to remove, in `(0, 1)`.
        fraction: f64,
    },
}

/// Every setting of the learned propagation rules (`../METHOD.md` in the
/// project's shared notes; paper §4.2 for the defaults).
///
/// Build one with [`ExplainerConfig::new`], change settings with the
/// `with_*` methods, and turn it into an [`Explainer`](crate::Explainer) with
/// [`ExplainerConfig::init`], which validates every value once. Configs
/// serialise to JSON (`save`/`load`), so a run can be replayed.
///
/// ```
/// use learnprop::{Cpu, ExplainerConfig, Granularity};
///
/// let explainer = ExplainerConfig::new()
///     .with_iterations(5)
///     .with_granularity(Granularity::PerChannel)
///     .init::<Cpu>()
///     .unwrap();
/// assert_eq!(explainer.config().iterations, 5);
/// assert!(ExplainerConfig::new().with_sharpness(-1.0).init::<Cpu>().is_err());
/// ```
#[derive(Config, Debug)]
pub struct ExplainerConfig {
    /// Number of Adam updates of the gates.
    #[config(default = 20)]
    pub iterations: usize,
    /// Adam learning rate.
    #[config(default = 0.2)]
    pub learning_rate: f64,
    /// Adam β₁.
    #[config(default = 0.9)]
    pub adam_beta1: f64,
    /// Adam β₂.
    #[config(default = 0.999)]
    pub adam_beta2: f64,
    /// Adam ε (PyTorch's default; Burn's `AdamConfig` uses 1e-5).
    #[config(default = 1e-8)]
    pub adam_epsilon: f64,
    /// λ, the weight of the mask loss `L_m`.
    #[config(default = 0.1)]
    pub mask_loss_weight: f64,
    /// α, the centre of the positive mask's sigmoid.
    #[config(default = 0.75)]
    pub positive_centre: f64,
    /// β, the centre of the negative mask's sigmoid.
    #[config(default = 0.25)]
    pub negative_centre: f64,
    /// γ, the sharpness of both mask sigmoids.
    #[config(default = 10.0)]
    pub sharpness: f64,
    /// Shape of each site's gate parameters.
    #[config(default = "Granularity::PerPosition")]
    pub granularity: Granularity,
    /// The constant every gate parameter starts from (W₀).
    #[config(default = 1.0)]
    pub initial_weight: f64,
    /// Gate on `f − f_ref` (true) or on `f` alone (false, an ablation).
    #[config(default = true)]
    pub use_reference: bool,
    /// How masks are made from the rescaled map.
    #[config(default = "MaskStrategy::Sigmoid")]
    pub mask: MaskStrategy,
    /// The sign-aware loss `L_p + L_n + λ·L_m` (true, the paper) or only its
    /// positive half `L_p + λ·mean|1 − M_p|` (false, an ablation: nothing
    /// rewards finding negative evidence).
    #[config(default = true)]
    pub sign_aware: bool,
    /// The gate function (the paper's `tanh`, or the `Sigmoid` option).
    #[config(default = "GateShape::Tanh")]
    pub gate: GateShape,
    /// The reference image `b`, used by every part of the method: the gates'
    /// `f_ref` is the forward of `b`, the masked images are
    /// `b + M ⊙ (I − b)` and the map is `Σ_c ∂F_t/∂I ⊙ (I − b)`. The
    /// paper's all-zero image is [`Baseline::Zero`] (the default, whose maps
    /// are those of the paper's form bit for bit).
    #[config(default = "Baseline::Zero")]
    pub baseline: Baseline,
    /// Fill-robust training (an option): when not empty, each iteration's
    /// masked images are made once per listed fill `b_k`,
    /// `b_k + M ⊙ (I − b_k)`, and `L_p`, `L_n` are the means of their
    /// sign-aware terms, so the gates learn evidence that holds whatever
    /// "removed" means. Empty (the default): the masks blend towards
    /// [`baseline`](Self::baseline) alone. Each fill costs two masked
    /// forwards per iteration.
    #[config(default = "Vec::new()")]
    pub training_fills: Vec<Baseline>,
}

impl ExplainerConfig {
    /// Checks every value; `Err(Error::InvalidConfig)` names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.iterations > MAX_ITERATIONS {
            return Err(Error::InvalidConfig {
                setting: "iterations",
                value: self.iterations.to_string(),
                expected: "at most 1000000",
            });
        }
        positive("learning_rate", self.learning_rate)?;
        positive("adam_epsilon", self.adam_epsilon)?;
        positive("sharpness", self.sharpness)?;
        within(
            "adam_beta1",
            self.adam_beta1,
            0.0..1.0,
            "a number in [0, 1)",
        )?;
        within(
            "adam_beta2",
            self.adam_beta2,
            0.0..1.0,
            "a number in [0, 1)",
        )?;
        non_negative("mask_loss_weight", self.mask_loss_weight)?;
        let centre = "a number in [0, 1] (the map is rescaled to [0, 1])";
        within("positive_centre", self.positive_centre, 0.0..=1.0, centre)?;
        within("negative_centre", self.negative_centre, 0.0..=1.0, centre)?;
        within(
            "initial_weight",
            self.initial_weight,
            f64::MIN..=f64::MAX,
            "a finite number",
        )?;
        self.baseline.check()?;
        if self.training_fills.len() > MAX_TRAINING_FILLS {
            return Err(Error::InvalidConfig {
                setting: "training_fills",
                value: self.training_fills.len().to_string(),
                expected: "at most 64 fills",
            });
        }
        for fill in &self.training_fills {
            fill.check()?;
        }
        if let GateShape::Sigmoid { scale } = self.gate {
            positive("gate.scale", scale)?;
        }
        match self.mask {
            MaskStrategy::Sigmoid => {}
            MaskStrategy::Gaussian { sigma } => within(
                "mask.sigma",
                sigma,
                1e-3..=1e6,
                "a smoothing width in pixels, 1e-3 ≤ σ ≤ 1e6",
            )?,
            MaskStrategy::TopFraction { fraction } => within(
                "mask.fraction",
                fraction,
                f64::MIN_POSITIVE..1.0,
                "a share of the pixels in (0, 1)",
            )?,
        }
        Ok(())
    }
}
