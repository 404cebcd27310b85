//! The classic methods against the Captum fixtures, in f64, for every case
//! of the fixture set.

mod common;

use common::{cases, model, scaled_error, values, Case};
use learnprop::method::{
    Deconvnet, DeepLiftConfig, EpsilonLrpConfig, GradCamConfig, GuidedBackprop, InputXGradient,
    IntegratedGradientsConfig, Method, OcclusionConfig, Quadrature, Saliency,
};
use learnprop::zoo::FixtureCnn;

type B = common::Cpu64;
use common::device64;

/// A method of the fixture CNN.
type Boxed = Box<dyn Method<B, FixtureCnn<B>>>;

/// (fixture method, scaled tolerance, the method).
fn methods() -> Vec<(&'static str, f64, Boxed)> {
    vec![
        ("saliency", 1e-9, Box::new(Saliency::signed())),
        ("saliency_abs", 1e-9, Box::new(Saliency::absolute())),
        ("input_x_gradient", 1e-9, Box::new(InputXGradient)),
        (
            "integrated_gradients",
            1e-9,
            Box::new(IntegratedGradientsConfig::new().init().unwrap()),
        ),
        (
            "integrated_gradients_riemann_trapezoid",
            1e-9,
            Box::new(
                IntegratedGradientsConfig::new()
                    .with_quadrature(Quadrature::RiemannTrapezoid)
                    .init()
                    .unwrap(),
            ),
        ),
        ("guided_backprop", 1e-9, Box::new(GuidedBackprop)),
        ("deconvolution", 1e-9, Box::new(Deconvnet)),
        (
            "deeplift_rescale",
            1e-9,
            Box::new(DeepLiftConfig::new().init().unwrap()),
        ),
        (
            "lrp_epsilon",
            1e-9,
            Box::new(EpsilonLrpConfig::new().init().unwrap()),
        ),
        (
            "occlusion",
            1e-9,
            Box::new(OcclusionConfig::new([3, 4, 4], [3, 4, 4]).init().unwrap()),
        ),
        (
            "grad_cam",
            1e-9,
            Box::new(GradCamConfig::new().with_site(Some(4)).init()),
        ),
    ]
}

fn check(
    case: &Case,
    name: &str,
    tolerance: f64,
    method: &dyn Method<B, FixtureCnn<B>>,
    worst: &mut Vec<(String, f64)>,
) {
    let device = device64();
    let net = model::<B>(case, &device);
    let out = method
        .attribute(&net, &case.input::<B>(&device), &[case.target])
        .unwrap();
    let expected = case.tensor(&format!("expected.{name}"));
    assert_eq!(out.dims().to_vec(), expected.shape, "{name}: shape");
    let err = scaled_error(&values(&out), &expected.values);
    println!("{} {name}: scaled error {err:.2e}", case.file);
    match worst.iter_mut().find(|(n, _)| n == name) {
        Some((_, e)) => *e = e.max(err),
        None => worst.push((name.to_string(), err)),
    }
    assert!(
        err <= tolerance,
        "{} {name}: scaled error {err:e} > {tolerance:e}",
        case.file
    );
}

#[test]
fn classic_methods_match_the_captum_fixtures() {
    let mut worst = Vec::new();
    let mut checked = 0;
    for case in cases() {
        for (name, tolerance, method) in methods() {
            if case.has_method(name) {
                check(&case, name, tolerance, method.as_ref(), &mut worst);
                checked += 1;
            }
        }
    }
    for (name, err) in &worst {
        println!("worst {name}: {err:.2e}");
    }
    assert!(checked > 0);
}

#[test]
fn deeplift_and_integrated_gradients_are_complete() {
    let device = device64();
    for case in cases() {
        let net = model::<B>(&case, &device);
        let x = case.input::<B>(&device);
        let (_, delta) = DeepLiftConfig::new()
            .init()
            .unwrap()
            .attribute_with_delta(&net, &x, &[case.target])
            .unwrap();
        let gap = (case.target_logit - {
            let zero = burn::tensor::Tensor::<B, 4>::zeros([1, 3, 32, 32], &device);
            let logits: Vec<f64> = learnprop::Explainable::logits(&net, zero)
                .into_data()
                .iter::<f64>()
                .collect();
            logits[case.target]
        })
        .abs()
        .max(1e-12);
        println!(
            "{} DeepLIFT completeness: |delta| / |F(x) − F(0)| = {:.2e}",
            case.file,
            delta[0].abs() / gap
        );
        assert!(
            delta[0].abs() <= 1e-12 * gap.max(1.0),
            "{}: delta {}",
            case.file,
            delta[0]
        );

        let (_, delta) = IntegratedGradientsConfig::new()
            .with_steps(300)
            .with_captum_rounding(false)
            .init()
            .unwrap()
            .attribute_with_delta(&net, &x, &[case.target])
            .unwrap();
        println!(
            "{} IG (300 Gauss–Legendre points) completeness: |delta| / gap = {:.2e}",
            case.file,
            delta[0].abs() / gap
        );
        assert!(
            delta[0].abs() <= 0.05 * gap,
            "{}: delta {}",
            case.file,
            delta[0]
        );
    }
}
