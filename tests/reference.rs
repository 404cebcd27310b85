//! The reference-aware learned rules (a baseline `b` for `f_ref`, the
//! masked images and the map) and fill-robust training, in f64: the general
//! path reduces to the paper's at `b = 0`, the loss is that of images
//! blended towards `b`, and `f_ref` comes from `b`.

mod common;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::explainer::LossTerms;
use learnprop::method::Baseline;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{Activation, Explainable, ExplainerConfig, Hook};

type D2 = common::Cpu64;
use common::{device64, values};

fn tensor<const D: usize>(values: Vec<f64>, shape: [usize; D]) -> Tensor<D2, D> {
    Tensor::from_data(TensorData::new(values, shape), &device64())
}

/// Deterministic values in [lo, hi).
fn uniform(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = learnprop::random::Rng::new(seed);
    (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect()
}

fn images(n: usize, seed: u64) -> Tensor<D2, 4> {
    tensor(uniform(n * 3 * 32 * 32, seed, -1.5, 1.5), [n, 3, 32, 32])
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn a_constant_zero_baseline_takes_the_general_path_to_the_papers_maps() {
    let device = device64();
    let model = FixtureCnnConfig::new().init::<D2>(&device);
    let x = images(2, 1);
    let run = |config: ExplainerConfig| {
        config
            .with_iterations(4)
            .init::<D2>()
            .unwrap()
            .attribute(&model, &x, &[3, 8])
            .unwrap()
    };
    let paper = run(ExplainerConfig::new());
    let general = run(ExplainerConfig::new().with_baseline(Baseline::Constant { value: 0.0 }));
    let err = max_difference(&values(&paper.signed), &values(&general.signed));
    println!("paper form vs b = constant 0: {err:.1e}");
    assert!(
        err <= 1e-12
            * values(&paper.signed)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()))
    );
    // One training fill equal to the baseline is the baseline alone, bit for bit.
    let one_fill = run(ExplainerConfig::new().with_training_fills(vec![Baseline::Zero]));
    assert_eq!(values(&paper.signed), values(&one_fill.signed));
    let blur = Baseline::Blur { sigma: 2.0 };
    let blurred = run(ExplainerConfig::new().with_baseline(blur.clone()));
    let blurred_fill = run(ExplainerConfig::new()
        .with_baseline(blur.clone())
        .with_training_fills(vec![blur]));
    assert_eq!(values(&blurred.signed), values(&blurred_fill.signed));
    assert_ne!(values(&blurred.signed), values(&paper.signed));
}

/// `σ(z)`.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn the_loss_is_that_of_the_images_blended_towards_each_fill() {
    let device = device64();
    let model = FixtureCnnConfig::new().init::<D2>(&device);
    let x = images(2, 2);
    let targets = [1, 6];
    let given = Baseline::Values {
        shape: [2, 3, 32, 32],
        values: uniform(2 * 3 * 32 * 32, 9, -1.0, 1.0),
    };
    let black = Baseline::PerChannel {
        values: vec![-2.1, -2.0, -1.8],
    };
    let cases = [
        (black.clone(), vec![]),
        (Baseline::Blur { sigma: 3.0 }, vec![]),
        (given.clone(), vec![]),
        (
            black.clone(),
            vec![
                Baseline::Zero,
                black.clone(),
                Baseline::Blur { sigma: 1.5 },
                given,
            ],
        ),
        (
            Baseline::Mean {
                of: vec![Baseline::Zero, black.clone(), Baseline::Blur { sigma: 1.5 }],
            },
            vec![Baseline::Zero, black.clone(), Baseline::Blur { sigma: 1.5 }],
        ),
    ];
    for (baseline, fills) in cases {
        let config = ExplainerConfig::new()
            .with_baseline(baseline.clone())
            .with_training_fills(fills.clone());
        // The map of the starting gates and the loss of the first iteration.
        let start = config
            .clone()
            .with_iterations(0)
            .init::<D2>()
            .unwrap()
            .attribute(&model, &x, &targets)
            .unwrap();
        let first = config
            .clone()
            .with_iterations(1)
            .init::<D2>()
            .unwrap()
            .attribute(&model, &x, &targets)
            .unwrap();
        let b = baseline.tensor(&x).unwrap();
        // The map is ∂F_t/∂I ⊙ (I − b).
        let expected = start.input_gradient.clone() * (x.clone() - b.clone());
        let err = max_difference(&values(&start.contributions), &values(&expected));
        assert!(err < 1e-14, "{baseline:?}: contributions off by {err:e}");
        let signed = values(&start.signed);
        let summed = values(&expected.sum_dim(1));
        assert!(max_difference(&signed, &summed) < 1e-12);
        // Masks of the rescaled map, the paper's sigmoids.
        let (gamma, alpha, beta) = (
            config.sharpness,
            config.positive_centre,
            config.negative_centre,
        );
        let hw = 32 * 32;
        let mut positive = Vec::new();
        let mut negative = Vec::new();
        for map in signed.chunks(hw) {
            let lo = map.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = map.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for v in map {
                let a = (v - lo) / (hi - lo + 1e-12);
                positive.push(1.0 - sigmoid(gamma * (a - alpha)));
                negative.push(sigmoid(gamma * (a - beta)));
            }
        }
        let fill_list = if fills.is_empty() {
            vec![baseline.clone()]
        } else {
            fills
        };
        let logit = |images: Tensor<D2, 4>| -> Vec<f64> {
            let logits = values(&model.logits(images));
            (0..2).map(|i| logits[i * 10 + targets[i]]).collect()
        };
        let at_images = logit(x.clone());
        let mean_masked = |mask: &[f64]| -> Vec<f64> {
            let m = tensor(mask.to_vec(), [2, 1, 32, 32]);
            let mut sum = [0.0; 2];
            for fill in &fill_list {
                let bk = fill.tensor(&x).unwrap();
                let masked = bk.clone() + (x.clone() - bk) * m.clone();
                for (s, l) in sum.iter_mut().zip(logit(masked)) {
                    *s += l;
                }
            }
            sum.iter().map(|s| s / fill_list.len() as f64).collect()
        };
        let (with_positive, with_negative) = (mean_masked(&positive), mean_masked(&negative));
        for i in 0..2 {
            let removed = |m: &[f64]| {
                m[i * hw..(i + 1) * hw]
                    .iter()
                    .map(|v| (1.0 - v).abs())
                    .sum::<f64>()
                    / hw as f64
            };
            let expected = LossTerms {
                positive: with_positive[i] - at_images[i],
                negative: at_images[i] - with_negative[i],
                mask: removed(&positive) + removed(&negative),
                total: 0.0,
            };
            let got = first.loss_trace[0][i];
            let scale = at_images[i].abs().max(1.0);
            for (what, a, e) in [
                ("L_p", got.positive, expected.positive),
                ("L_n", got.negative, expected.negative),
                ("L_m", got.mask, expected.mask),
                (
                    "L",
                    got.total,
                    expected.positive + expected.negative + config.mask_loss_weight * expected.mask,
                ),
            ] {
                assert!(
                    (a - e).abs() < 1e-10 * scale,
                    "{baseline:?}, {} fills, image {i}: {what} {a} vs {e}",
                    fill_list.len()
                );
            }
        }
    }
}

/// `x → W₃ ρ(W₂ ρ(W₁ x))` on flattened images: two activation sites in a
/// chain and nothing else, so the starting gates' gradient is
/// `W₁ᵀ D₁ W₂ᵀ D₂ W₃ᵀ` with `D_l = tanh(f_l − f_l(b))`.
#[derive(Module, Debug)]
struct Chain<B: Backend> {
    fc1: Linear<B>,
    fc2: Linear<B>,
    fc3: Linear<B>,
}

impl<B: Backend> Explainable<B> for Chain<B> {
    fn input_channels(&self) -> usize {
        2
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.linear(&self.fc1, images.flatten(1, 3));
        let x = hook.activate(Activation::Relu, x);
        let x = hook.linear(&self.fc2, x);
        let x = hook.activate(Activation::Gelu, x);
        hook.linear(&self.fc3, x)
    }
}

#[test]
fn the_gates_compare_with_the_baselines_forward() {
    // Explaining x against b and b against x flips both gates (tanh is
    // odd), so with two gated sites the starting gradients are equal: only
    // possible if f_ref is the forward of the baseline.
    let device = device64();
    let model = Chain::<D2> {
        fc1: LinearConfig::new(2 * 4 * 4, 7).init(&device),
        fc2: LinearConfig::new(7, 6).init(&device),
        fc3: LinearConfig::new(6, 3).init(&device),
    };
    let shape = [1, 2, 4, 4];
    let (x, b) = (uniform(32, 3, -2.0, 2.0), uniform(32, 4, -2.0, 2.0));
    let gradient = |image: &[f64], baseline: &[f64]| {
        let explainer = ExplainerConfig::new()
            .with_iterations(0)
            .with_baseline(Baseline::Values {
                shape,
                values: baseline.to_vec(),
            })
            .init::<D2>()
            .unwrap();
        let attribution = explainer
            .attribute(&model, &tensor(image.to_vec(), shape), &[2])
            .unwrap();
        values(&attribution.input_gradient)
    };
    let (forward, backward) = (gradient(&x, &b), gradient(&b, &x));
    let scale = forward.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-6);
    let err = max_difference(&forward, &backward);
    assert!(err < 1e-12 * scale, "{err:e} of {scale:e}");
    // Against the zero baseline the gates differ, so the gradient does too.
    let zero = gradient(&x, &[0.0; 32]);
    assert!(max_difference(&forward, &zero) > 1e-3 * scale);
}

#[test]
fn a_mean_baseline_is_the_mean_of_its_parts() {
    let x = images(2, 6);
    let parts = vec![
        Baseline::Constant { value: 1.0 },
        Baseline::PerChannel {
            values: vec![3.0, -1.0, 2.0],
        },
        Baseline::Blur { sigma: 2.0 },
    ];
    let mean = Baseline::Mean { of: parts.clone() }.tensor(&x).unwrap();
    let mut expected = parts[0].tensor(&x).unwrap();
    for p in &parts[1..] {
        expected = expected + p.tensor(&x).unwrap();
    }
    let err = max_difference(&values(&mean), &values(&expected.div_scalar(3.0)));
    assert!(err < 1e-15, "{err:e}");
    assert!(Baseline::Mean { of: parts }.varies_per_image());
    assert!(!Baseline::Mean {
        of: vec![Baseline::Zero]
    }
    .varies_per_image());
}

#[test]
fn bad_baselines_and_fills_are_errors() {
    let device = device64();
    let model = FixtureCnnConfig::new().init::<D2>(&device);
    let x = images(1, 5);
    for bad in [
        Baseline::Blur { sigma: 0.0 },
        Baseline::Blur { sigma: f64::NAN },
        Baseline::Blur { sigma: -1.0 },
        Baseline::Constant {
            value: f64::INFINITY,
        },
        Baseline::PerChannel {
            values: vec![0.0, f64::NAN, 0.0],
        },
        Baseline::Values {
            shape: [1, 3, 32, 32],
            values: vec![0.0; 5],
        },
        Baseline::Values {
            shape: [usize::MAX, 2, 2, 2],
            values: vec![0.0; 5],
        },
        Baseline::Mean { of: vec![] },
        Baseline::Mean {
            of: vec![Baseline::Zero; 65],
        },
        Baseline::Mean {
            of: vec![Baseline::Zero, Baseline::Blur { sigma: -2.0 }],
        },
    ] {
        assert!(
            ExplainerConfig::new()
                .with_baseline(bad.clone())
                .init::<D2>()
                .is_err(),
            "{bad:?} as the baseline"
        );
        assert!(
            ExplainerConfig::new()
                .with_training_fills(vec![Baseline::Zero, bad.clone()])
                .init::<D2>()
                .is_err(),
            "{bad:?} as a fill"
        );
    }
    assert!(ExplainerConfig::new()
        .with_training_fills(vec![Baseline::Zero; 65])
        .init::<D2>()
        .is_err());
    // Shapes are checked against the images.
    for misfit in [
        Baseline::PerChannel {
            values: vec![0.0, 0.0],
        },
        Baseline::Values {
            shape: [2, 3, 32, 32],
            values: vec![0.0; 2 * 3 * 32 * 32],
        },
        Baseline::Values {
            shape: [1, 3, 16, 16],
            values: vec![0.0; 3 * 16 * 16],
        },
    ] {
        let explainer = ExplainerConfig::new()
            .with_iterations(1)
            .with_baseline(misfit.clone())
            .init::<D2>()
            .unwrap();
        assert!(explainer.attribute(&model, &x, &[0]).is_err(), "{misfit:?}");
        let explainer = ExplainerConfig::new()
            .with_iterations(1)
            .with_training_fills(vec![misfit.clone()])
            .init::<D2>()
            .unwrap();
        assert!(
            explainer.attribute(&model, &x, &[0]).is_err(),
            "{misfit:?} as a fill"
        );
    }
}
