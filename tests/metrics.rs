//! Metrics: the fixture MoRF/LeRF curves, closed-form cases, random maps,
//! the pointing game and the sanity check.

mod common;

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::{InputXGradient, Method, Saliency};
use learnprop::metric::{
    cascading_randomisation, pointing_game, removal_curves, spearman, BoundingBox, Fill,
    RemovalConfig, RemovalOrder, RemovalUnit,
};
use learnprop::random::Rng;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{ops, Explainable, Hook};

type B = common::Cpu64;
use common::device64;

#[test]
fn curves_match_the_fixture_curves() {
    let device = device64();
    let mut checked = 0;
    for case in common::cases() {
        let net = common::model::<B>(&case, &device);
        let x = case.input::<B>(&device);
        let Some(curves) = case.curves.as_object() else {
            continue;
        };
        for (key, info) in curves {
            let (order, method) = key.split_once('.').unwrap();
            let expected = case.tensor(&format!("expected.{method}"));
            let maps = Tensor::<B, 4>::from_data(
                TensorData::new(expected.values.clone(), [1, expected.shape[1], 32, 32]),
                &device,
            );
            let config = RemovalConfig::new().with_order(if order == "morf" {
                RemovalOrder::MostRelevantFirst
            } else {
                RemovalOrder::LeastRelevantFirst
            });
            let out = removal_curves(&net, &x, &maps, &[case.predicted], &config).unwrap();
            let k: Vec<usize> = info["k"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(out.removed, k, "{} {key}: schedule", case.file);
            assert_eq!(out.skipped as u64, info["skipped"].as_u64().unwrap());
            let reference = &case.tensor(&format!("curve.{key}")).values;
            let err = out
                .curve
                .iter()
                .zip(reference)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let area_err = (out.area - info["area"].as_f64().unwrap()).abs();
            // One image: its own area is the area of the mean curve.
            let (mean, error) = out.area_mean_and_error();
            assert!((mean - out.area).abs() < 1e-12 && error == 0.0);
            println!(
                "{} {key}: curve max error {err:.2e}, area {:.6} (error {area_err:.2e})",
                case.file, out.area
            );
            assert!(
                err < 1e-9 && area_err < 1e-9,
                "{} {key}: {err:e} / {area_err:e}",
                case.file
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no fixture curves");
}

/// `F(x) = Σ w ⊙ x + b` for `[N, 1, 4, 4]` images, 2 classes.
#[derive(Module, Debug)]
struct LinearModel<B: Backend> {
    fc: Linear<B>,
}

impl<B: Backend> Explainable<B> for LinearModel<B> {
    fn input_channels(&self) -> usize {
        1
    }
    fn input_size(&self) -> Option<[usize; 2]> {
        Some([4, 4])
    }
    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, _hook: &mut H) -> Tensor<B, 2> {
        ops::linear(&self.fc, images.flatten(1, 3))
    }
}

fn linear_model(weights: &[f64], bias: f64) -> LinearModel<B> {
    let device = device64();
    let mut fc = LinearConfig::new(16, 2).init::<B>(&device);
    let mut w = vec![0.0; 32];
    for (i, &v) in weights.iter().enumerate() {
        w[i * 2] = v;
        w[i * 2 + 1] = -v;
    }
    fc.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [16, 2]), &device));
    fc.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![bias, 0.0], [2]),
        &device,
    )));
    LinearModel { fc }
}

#[test]
fn removal_from_a_linear_model_has_the_closed_form() {
    let weights: Vec<f64> = (0..16).map(|i| (i as f64 - 5.5) / 4.0).collect();
    let pixels: Vec<f64> = (0..16).map(|i| 1.0 + (i % 3) as f64).collect();
    let bias = 30.0;
    let model = linear_model(&weights, bias);
    let device = device64();
    let x = Tensor::<B, 4>::from_data(TensorData::new(pixels.clone(), [1, 1, 4, 4]), &device);
    let contribution: Vec<f64> = weights.iter().zip(&pixels).map(|(w, p)| w * p).collect();
    let f: f64 = contribution.iter().sum::<f64>() + bias;
    let map = InputXGradient.attribute(&model, &x, &[0]).unwrap();
    for (order, insertion) in [
        (RemovalOrder::MostRelevantFirst, false),
        (RemovalOrder::LeastRelevantFirst, false),
        (RemovalOrder::MostRelevantFirst, true),
    ] {
        let config = RemovalConfig::new()
            .with_order(order)
            .with_max_fraction(1.0)
            .with_steps(16)
            .with_insertion(insertion);
        let out = removal_curves(&model, &x, &map, &[0], &config).unwrap();
        let mut sorted: Vec<usize> = (0..16).collect();
        match order {
            RemovalOrder::MostRelevantFirst => {
                sorted.sort_by(|&a, &b| contribution[b].total_cmp(&contribution[a]))
            }
            RemovalOrder::LeastRelevantFirst => {
                sorted.sort_by(|&a, &b| contribution[a].total_cmp(&contribution[b]))
            }
        }
        for (step, &k) in out.removed.iter().enumerate() {
            let moved: f64 = sorted[..k].iter().map(|&p| contribution[p]).sum();
            let expected = if insertion {
                (bias + moved) / f
            } else {
                (f - moved) / f
            };
            assert!(
                (out.curve[step] - expected).abs() < 1e-12,
                "{order:?} insertion {insertion} step {step}"
            );
        }
    }
    // Patches of 2×2: whole patches go, ranked by their summed attribution.
    let config = RemovalConfig::new()
        .with_max_fraction(0.25)
        .with_steps(1)
        .with_unit(RemovalUnit::Patch { size: 2 });
    let out = removal_curves(&model, &x, &map, &[0], &config).unwrap();
    let patch = |y0: usize, x0: usize| {
        (0..2).flat_map(move |dy| (0..2).map(move |dx| (y0 + dy) * 4 + x0 + dx))
    };
    let best = [(0, 0), (0, 2), (2, 0), (2, 2)]
        .iter()
        .map(|&(y, x)| patch(y, x).map(|p| contribution[p]).sum::<f64>())
        .fold(f64::NEG_INFINITY, f64::max);
    assert!((out.curve[1] - (f - best) / f).abs() < 1e-12);
    // Fill values other than 0.
    let fill = RemovalConfig::new()
        .with_max_fraction(1.0)
        .with_steps(1)
        .with_fill(Fill::PerChannel { values: vec![2.0] });
    let out = removal_curves(&model, &x, &map, &[0], &fill).unwrap();
    let all_two: f64 = weights.iter().map(|w| 2.0 * w).sum::<f64>() + bias;
    assert!((out.curve[1] - all_two / f).abs() < 1e-12);
}

#[test]
fn blurred_and_imputed_fills_have_closed_forms() {
    let weights: Vec<f64> = (0..16).map(|i| (i as f64 - 5.5) / 4.0).collect();
    let bias = 30.0;
    let model = linear_model(&weights, bias);
    let device = device64();
    let f = |pixels: &[f64]| -> f64 {
        weights.iter().zip(pixels).map(|(w, p)| w * p).sum::<f64>() + bias
    };
    // Blur: the removed pixels take the blurred image's values (Gaussian
    // truncated at ⌈4σ⌉, renormalised at the border), computed here by hand.
    let pixels: Vec<f64> = (0..16).map(|i| ((i * 7) % 5) as f64 - 1.0).collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(pixels.clone(), [1, 1, 4, 4]), &device);
    let sigma: f64 = 0.8;
    let radius = (4.0 * sigma).ceil() as isize;
    let blur_1d = |line: &[f64]| -> Vec<f64> {
        (0..4isize)
            .map(|i| {
                let (mut sum, mut mass) = (0.0, 0.0);
                for j in (i - radius).max(0)..=(i + radius).min(3) {
                    let k = (-((i - j) as f64).powi(2) / (2.0 * sigma * sigma)).exp();
                    sum += k * line[j as usize];
                    mass += k;
                }
                sum / mass
            })
            .collect()
    };
    let rows: Vec<f64> = pixels.chunks(4).flat_map(blur_1d).collect();
    let mut blurred = [0.0; 16];
    for c in 0..4 {
        let column: Vec<f64> = (0..4).map(|r| rows[r * 4 + c]).collect();
        for (r, v) in blur_1d(&column).into_iter().enumerate() {
            blurred[r * 4 + c] = v;
        }
    }
    let map = InputXGradient.attribute(&model, &x, &[0]).unwrap();
    let scores: Vec<f64> = weights.iter().zip(&pixels).map(|(w, p)| w * p).collect();
    let mut order: Vec<usize> = (0..16).collect();
    // Stable, −0 and +0 tied (the metric's IEEE order).
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap());
    let config = RemovalConfig::new()
        .with_max_fraction(1.0)
        .with_steps(16)
        .with_fill(Fill::Blur { sigma });
    let out = removal_curves(&model, &x, &map, &[0], &config).unwrap();
    for (step, &k) in out.removed.iter().enumerate() {
        let mut image = pixels.clone();
        for &p in &order[..k] {
            image[p] = blurred[p];
        }
        let expected = f(&image) / f(&pixels);
        assert!(
            (out.curve[step] - expected).abs() < 1e-12,
            "blur, step {step}"
        );
    }
    // Imputation without noise recovers a plane inside the image: removing
    // the four interior pixels changes nothing.
    let plane: Vec<f64> = (0..16)
        .map(|i| 0.5 + 0.3 * (i / 4) as f64 - 0.2 * (i % 4) as f64)
        .collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(plane.clone(), [1, 1, 4, 4]), &device);
    let interior_first: Vec<f64> = (0..16)
        .map(|i| if [5, 6, 9, 10].contains(&i) { 1.0 } else { 0.0 })
        .collect();
    let map = Tensor::<B, 3>::from_data(TensorData::new(interior_first, [1, 4, 4]), &device);
    let imputed = |noise: f64, seed: u64, insertion: bool| {
        let config = RemovalConfig::new()
            .with_max_fraction(0.25)
            .with_steps(4)
            .with_insertion(insertion)
            .with_fill(Fill::NoisyLinearImputation { noise, seed });
        removal_curves(&model, &x, &map, &[0], &config).unwrap()
    };
    let out = imputed(0.0, 0, false);
    assert_eq!(out.removed, vec![0, 1, 2, 3, 4]);
    for (step, ratio) in out.curve.iter().enumerate() {
        assert!(
            (ratio - 1.0).abs() < 1e-7,
            "imputation, step {step}: {ratio}"
        );
    }
    // Insertion starts from the all-imputed image: every pixel at the mean.
    let mean = plane.iter().sum::<f64>() / 16.0;
    let out = imputed(0.0, 0, true);
    assert!((out.curve[0] - f(&[mean; 16]) / f(&plane)).abs() < 1e-6);
    // The noise is seeded: the same seed repeats, another one differs.
    let (a, b, c) = (
        imputed(0.5, 3, false),
        imputed(0.5, 3, false),
        imputed(0.5, 4, false),
    );
    assert_eq!(a.curve, b.curve);
    assert_ne!(a.curve, c.curve);
    assert!((a.curve[0] - 1.0).abs() < 1e-15 && (a.curve[4] - 1.0).abs() > 1e-6);
    // Bad settings are errors.
    for fill in [
        Fill::Blur { sigma: 0.0 },
        Fill::Blur { sigma: f64::NAN },
        Fill::Blur { sigma: 1e7 },
        Fill::NoisyLinearImputation {
            noise: -1.0,
            seed: 0,
        },
        Fill::NoisyLinearImputation {
            noise: f64::INFINITY,
            seed: 0,
        },
    ] {
        let config = RemovalConfig::new().with_fill(fill.clone());
        assert!(
            matches!(
                removal_curves(&model, &x, &map, &[0], &config),
                Err(learnprop::Error::InvalidConfig { .. })
            ),
            "{fill:?}"
        );
    }
}

#[test]
fn random_maps_give_the_random_curve_in_expectation() {
    let weights: Vec<f64> = (0..16).map(|i| 0.2 + (i % 5) as f64 * 0.3).collect();
    let pixels: Vec<f64> = (0..16).map(|i| 0.5 + (i % 4) as f64).collect();
    let model = linear_model(&weights, 1.0);
    let device = device64();
    let x = Tensor::<B, 4>::from_data(TensorData::new(pixels.clone(), [1, 1, 4, 4]), &device);
    let total: f64 = weights.iter().zip(&pixels).map(|(w, p)| w * p).sum();
    let f = total + 1.0;
    let config = RemovalConfig::new().with_max_fraction(1.0).with_steps(8);
    let mut rng = Rng::new(3);
    let draws = 400;
    let mut mean = [0.0; 9];
    for _ in 0..draws {
        let map: Vec<f64> = (0..16).map(|_| rng.uniform()).collect();
        let map = Tensor::<B, 3>::from_data(TensorData::new(map, [1, 4, 4]), &device);
        let out = removal_curves(&model, &x, &map, &[0], &config).unwrap();
        for (m, c) in mean.iter_mut().zip(&out.curve) {
            *m += c / draws as f64;
        }
    }
    for (step, m) in mean.iter().enumerate() {
        let k = step * 2;
        let expected = (f - total * k as f64 / 16.0) / f;
        assert!(
            (m - expected).abs() < 0.02,
            "step {step}: mean {m} vs {expected}"
        );
    }
}

#[test]
fn images_with_non_positive_target_logits_are_skipped() {
    let model = linear_model(&[1.0; 16], 0.0);
    let device = device64();
    let x = Tensor::<B, 4>::from_data(
        TensorData::new([vec![1.0; 16], vec![-1.0; 16]].concat(), [2, 1, 4, 4]),
        &device,
    );
    let map = Tensor::<B, 3>::ones([2, 4, 4], &device);
    let out = removal_curves(&model, &x, &map, &[0, 0], &RemovalConfig::new()).unwrap();
    assert_eq!((out.skipped, out.kept.clone()), (1, vec![0]));
    assert_eq!(out.curve[0], 1.0);
    let bad = Tensor::<B, 3>::ones([2, 3, 3], &device);
    assert!(removal_curves(&model, &x, &bad, &[0, 0], &RemovalConfig::new()).is_err());
    let bad_config = RemovalConfig::new().with_max_fraction(0.0);
    assert!(removal_curves(&model, &x, &map, &[0, 0], &bad_config).is_err());
}

#[test]
fn pointing_game_hits_within_the_tolerance() {
    let device = device64();
    let mut maps = vec![0.0; 2 * 40 * 40];
    maps[10 * 40 + 12] = 1.0; // image 0: maximum at (10, 12)
    maps[40 * 40 + 39 * 40 + 39] = 1.0; // image 1: maximum at (39, 39)
    let maps = Tensor::<B, 3>::from_data(TensorData::new(maps, [2, 40, 40]), &device);
    let boxes = [
        BoundingBox {
            top: 20,
            left: 20,
            bottom: 30,
            right: 30,
        },
        BoundingBox {
            top: 0,
            left: 0,
            bottom: 5,
            right: 5,
        },
    ];
    assert_eq!(
        pointing_game(maps.clone(), &boxes, 15).unwrap(),
        vec![true, false]
    );
    assert_eq!(
        pointing_game(maps.clone(), &boxes, 5).unwrap(),
        vec![false, false]
    );
    assert!(pointing_game(maps, &boxes[..1], 15).is_err());
}

#[test]
fn spearman_ranks() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert!((spearman(&a, &[10.0, 20.0, 30.0, 40.0, 50.0]).unwrap() - 1.0).abs() < 1e-12);
    assert!((spearman(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
    assert!((spearman(&a, &[1.0, 1.0, 2.0, 2.0, 3.0]).unwrap() - 0.9486832980505138).abs() < 1e-12);
}

#[test]
fn saliency_fails_to_survive_cascading_randomisation() {
    let device = device64();
    <B as burn::tensor::backend::Backend>::seed(&device, 11);
    let model = FixtureCnnConfig::new().init::<B>(&device);
    let mut rng = Rng::new(5);
    let x = Tensor::<B, 4>::from_data(
        TensorData::new(
            (0..2 * 3 * 32 * 32)
                .map(|_| rng.normal())
                .collect::<Vec<_>>(),
            [2, 3, 32, 32],
        ),
        &device,
    );
    let steps = cascading_randomisation(&model, &Saliency::absolute(), &x, &[1, 2], 2).unwrap();
    println!("{steps:?}");
    assert_eq!(steps[0], (0, 1.0));
    assert_eq!(steps.last().unwrap().0, 8);
    assert!(steps.last().unwrap().1 < 0.5, "{steps:?}");
}
