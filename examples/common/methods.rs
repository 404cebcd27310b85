//! The methods the comparison examples run, with their per-model costs.

use burn::module::AutodiffModule;
use learnprop::method::{
    Baseline, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig,
    GradCamConfig, GuidedBackprop, InputXGradient, IntegratedGradientsConfig,
    MeaningfulPerturbationConfig, Method, NoiseKind, NoiseTunnelConfig, OcclusionConfig,
    RiseConfig, Saliency,
};
use learnprop::{Cpu, Explainable, ExplainerConfig, GateShape, MaskStrategy};

pub type Boxed<M> = Box<dyn Method<Cpu, M>>;
/// One autodiff level below `Cpu`.
// Named concretely: where-clauses below do not normalise `Base<Cpu>`.
#[cfg(feature = "flex")]
pub type Plain = burn::backend::Flex;
#[cfg(not(feature = "flex"))]
pub type Plain = burn::backend::NdArray;
pub type Inner = burn::backend::Autodiff<Plain>;
/// A model without autodiff, for the forward-only work.
pub type BaseModel<M> =
    <<M as AutodiffModule<Cpu>>::InnerModule as AutodiffModule<Inner>>::InnerModule;

/// A method that needs gradients runs on `Cpu`; a forward-only one
/// (occlusion, RISE) on the backend without autodiff, where the forward is
/// faster.
pub enum Runner<M: AutodiffModule<Cpu>>
where
    M::InnerModule: AutodiffModule<Inner>,
{
    Tracked(Boxed<M>),
    ForwardOnly(Box<dyn Method<Plain, BaseModel<M>>>),
}

/// Per-model costs of the expensive methods (the defaults of the crate are
/// used wherever a setting is not listed here).
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    pub channels: usize,
    pub occlusion_window: usize,
    pub integrated_gradient_steps: usize,
    pub noise_samples: usize,
    pub rise_masks: usize,
    pub meaningful_iterations: usize,
    pub extremal_iterations: usize,
    /// Steps of the removal curves.
    pub curve_steps: usize,
    /// Width in pixels of the blurred fill and of the blurred baseline.
    pub blur_sigma: f64,
}

impl Costs {
    /// 28×28 single-channel models.
    pub fn small() -> Self {
        Self {
            channels: 1,
            occlusion_window: 4,
            integrated_gradient_steps: 50,
            noise_samples: 50,
            rise_masks: 1000,
            meaningful_iterations: 150,
            extremal_iterations: 150,
            curve_steps: 20,
            blur_sigma: 2.0,
        }
    }

    /// 224×224 ImageNet models, cut so that 20 photos fit in about an hour
    /// on two cores.
    pub fn imagenet() -> Self {
        Self {
            channels: 3,
            occlusion_window: 32,
            integrated_gradient_steps: 16,
            noise_samples: 8,
            rise_masks: 300,
            meaningful_iterations: 60,
            extremal_iterations: 60,
            curve_steps: 10,
            blur_sigma: 5.0,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "Settings: integrated gradients {} Gauss–Legendre points; SmoothGrad / SQ-SmoothGrad / VarGrad {} samples, noise 15 % of the range; occlusion {w}×{w} windows, stride {w}; RISE {} masks (7×7 grid, p = 0.5); meaningful perturbation {} iterations; extremal perturbation {} iterations (area 10 %); removal curves in {} steps, blur σ = {} pixels, imputation noise 1 % of the pixel range; learned rules as listed (paper defaults unless named otherwise); all other settings are the crate's defaults.",
            self.integrated_gradient_steps,
            self.noise_samples,
            self.rise_masks,
            self.meaningful_iterations,
            self.extremal_iterations,
            self.curve_steps,
            self.blur_sigma,
            w = self.occlusion_window,
        )
    }
}

/// The learned-rule configurations compared: the paper's method and the
/// documented options that change it. `black` is the normalised value of a
/// black pixel per channel, `sigma` the blur width of the blurred fill.
pub fn learned_rules(black: &[f64], sigma: f64) -> Vec<(&'static str, ExplainerConfig)> {
    let black = Baseline::PerChannel {
        values: black.to_vec(),
    };
    let blur = Baseline::Blur { sigma };
    let fills = vec![Baseline::Zero, black.clone(), blur.clone()];
    // The mean of the three fills: its map is the mean of the maps towards each.
    let mean = Baseline::Mean { of: fills.clone() };
    let sigmoid_gate = ExplainerConfig::new()
        .with_gate(GateShape::Sigmoid { scale: 10.0 })
        .with_use_reference(false);
    let sigmoid_top5 = sigmoid_gate
        .clone()
        .with_mask(MaskStrategy::TopFraction { fraction: 0.05 });
    vec![
        ("learned-rules", ExplainerConfig::new()),
        ("learned-rules-sigmoid-gate", sigmoid_gate),
        ("learned-rules-sigmoid-top5", sigmoid_top5.clone()),
        (
            "learned-rules-black-reference",
            ExplainerConfig::new().with_baseline(black.clone()),
        ),
        (
            "learned-rules-blur-reference",
            ExplainerConfig::new().with_baseline(blur.clone()),
        ),
        (
            "learned-rules-sigmoid-top5-blur-reference",
            sigmoid_top5.clone().with_baseline(blur.clone()),
        ),
        (
            "learned-rules-sigmoid-top5-fill-robust",
            sigmoid_top5.clone().with_training_fills(fills.clone()),
        ),
        (
            "learned-rules-sigmoid-top5-blur-reference-fill-robust",
            sigmoid_top5
                .clone()
                .with_baseline(blur.clone())
                .with_training_fills(fills.clone()),
        ),
        (
            "learned-rules-sigmoid-top5-mean-reference",
            sigmoid_top5.clone().with_baseline(mean.clone()),
        ),
        (
            "learned-rules-sigmoid-top5-mean-reference-fill-robust",
            sigmoid_top5.with_baseline(mean).with_training_fills(fills),
        ),
    ]
}

/// `black`: the normalised value of a black pixel (the same in every
/// channel), the baseline of the second integrated-gradients row.
pub fn methods<M>(costs: Costs, black: &[f64]) -> Vec<(&'static str, Runner<M>)>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    use Runner::{ForwardOnly, Tracked};
    let (channels, window) = (costs.channels, costs.occlusion_window);
    let nt = |kind| {
        Box::new(
            NoiseTunnelConfig::new()
                .with_kind(kind)
                .with_samples(costs.noise_samples)
                .init(Saliency::signed())
                .unwrap(),
        ) as Boxed<M>
    };
    let mut list: Vec<(&'static str, Runner<M>)> = vec![
        ("saliency", Tracked(Box::new(Saliency::signed()))),
        ("gradient-x-input", Tracked(Box::new(InputXGradient))),
        (
            "integrated-gradients",
            Tracked(Box::new(
                IntegratedGradientsConfig::new()
                    .with_steps(costs.integrated_gradient_steps)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "integrated-gradients-black",
            Tracked(Box::new(
                IntegratedGradientsConfig::new()
                    .with_steps(costs.integrated_gradient_steps)
                    .with_baseline(Baseline::Constant { value: black[0] })
                    .init()
                    .unwrap(),
            )),
        ),
        ("smoothgrad", Tracked(nt(NoiseKind::SmoothGrad))),
        ("sq-smoothgrad", Tracked(nt(NoiseKind::SmoothGradSquared))),
        ("vargrad", Tracked(nt(NoiseKind::VarGrad))),
        ("guided-backprop", Tracked(Box::new(GuidedBackprop))),
        ("deconvnet", Tracked(Box::new(Deconvnet))),
        (
            "deeplift",
            Tracked(Box::new(DeepLiftConfig::new().init().unwrap())),
        ),
        (
            "epsilon-lrp",
            Tracked(Box::new(EpsilonLrpConfig::new().init().unwrap())),
        ),
        ("grad-cam", Tracked(Box::new(GradCamConfig::new().init()))),
        (
            "occlusion",
            ForwardOnly(Box::new(
                OcclusionConfig::new([channels, window, window], [channels, window, window])
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "rise",
            ForwardOnly(Box::new(
                RiseConfig::new()
                    .with_masks(costs.rise_masks)
                    .with_masks_per_batch(16)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "meaningful-perturbation",
            Tracked(Box::new(
                MeaningfulPerturbationConfig::new()
                    .with_iterations(costs.meaningful_iterations)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "extremal-perturbation",
            Tracked(Box::new(
                ExtremalPerturbationConfig::new()
                    .with_iterations(costs.extremal_iterations)
                    .init()
                    .unwrap(),
            )),
        ),
    ];
    for (name, config) in learned_rules(black, costs.blur_sigma) {
        list.push((
            name,
            Tracked(Box::new(config.init::<Cpu>().unwrap().into_method())),
        ));
    }
    list
}

impl<M> Runner<M>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    /// The channel-summed maps `[N·H·W]` of `images` for `targets`, on the
    /// backend the method runs on.
    pub fn pixel_maps(
        &self,
        model: &M,
        base_model: &BaseModel<M>,
        images: burn::tensor::Tensor<Cpu, 4>,
        targets: &[usize],
    ) -> learnprop::Result<Vec<f64>> {
        use learnprop::method::pixel_map;
        let map = match self {
            Runner::Tracked(m) => pixel_map(m.attribute(model, &images, targets)?).into_data(),
            Runner::ForwardOnly(m) => {
                let images = images.inner().inner();
                pixel_map(m.attribute(base_model, &images, targets)?).into_data()
            }
        };
        Ok(map.iter::<f64>().collect())
    }
}

/// `random` (no method: uniform maps) and every method of [`methods`],
/// kept to the names of `--only` when given.
///
/// # Errors
/// A name in `only` that is not a method.
#[allow(clippy::type_complexity)]
pub fn selected<M>(
    costs: Costs,
    black: &[f64],
    only: Option<&[String]>,
) -> Result<Vec<(&'static str, Option<Runner<M>>)>, super::Error>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    let mut all: Vec<(&'static str, Option<Runner<M>>)> = vec![("random", None)];
    all.extend(
        methods::<M>(costs, black)
            .into_iter()
            .map(|(n, m)| (n, Some(m))),
    );
    if let Some(only) = only {
        if let Some(unknown) = only.iter().find(|o| !all.iter().any(|(n, _)| n == o)) {
            return Err(format!("--only: unknown method {unknown}").into());
        }
        all.retain(|(name, _)| only.iter().any(|o| o == name));
    }
    Ok(all)
}

/// The channel-summed maps `[N·H·W]` of `method` for `images` and
/// `targets` (uniform random maps, seeded by the first image of each batch,
/// for `None`), cached in `out/maps-<name>.bin` under `label`, and the
/// seconds per image they took (see [`super::cached_maps`]).
#[allow(clippy::too_many_arguments)]
pub fn cached_method_maps<M>(
    name: &str,
    method: Option<&Runner<M>>,
    model: &M,
    base_model: &BaseModel<M>,
    images: &burn::tensor::Tensor<Cpu, 4>,
    targets: &[usize],
    out: &std::path::Path,
    label: &str,
    batch: usize,
) -> Result<(Vec<f64>, f64), super::Error>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    let [n, _, h, w] = images.dims();
    let cache = out.join(format!("maps-{name}.bin"));
    let start = std::time::Instant::now();
    super::cached_maps(&cache, label, h * w, n, batch, |range| {
        let map = match method {
            Some(method) => method.pixel_maps(
                model,
                base_model,
                images.clone().slice(range.clone()),
                &targets[range.clone()],
            )?,
            None => {
                let mut rng = learnprop::random::Rng::new(range.start as u64);
                (0..range.len() * h * w).map(|_| rng.uniform()).collect()
            }
        };
        println!(
            "{name}: {}/{n} maps ({:.0} s)",
            range.end,
            start.elapsed().as_secs_f64()
        );
        Ok(map)
    })
}
