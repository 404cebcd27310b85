//! Learned-rule maps and loss traces against the fixture set, in f64.

mod common;

use common::{cases, model, scaled_error, values};
use learnprop::{ExplainerConfig, Granularity};

type B = common::Cpu64;
use common::device64;
const TOLERANCE: f64 = 1e-6;

struct Variant {
    method: &'static str,
    config: fn() -> ExplainerConfig,
}

const VARIANTS: &[Variant] = &[
    Variant {
        method: "learned_rule_5",
        config: || ExplainerConfig::new().with_iterations(5),
    },
    Variant {
        method: "learned_rule_20",
        config: || ExplainerConfig::new().with_iterations(20),
    },
    Variant {
        method: "learned_rule_channel_5",
        config: || {
            ExplainerConfig::new()
                .with_iterations(5)
                .with_granularity(Granularity::PerChannel)
        },
    },
    Variant {
        method: "learned_rule_noref_5",
        config: || {
            ExplainerConfig::new()
                .with_iterations(5)
                .with_use_reference(false)
        },
    },
];

#[test]
fn iteration_zero_gradient_matches_fixtures() {
    let device = device64();
    let mut checked = 0;
    for case in cases() {
        if !case.has_method("learned_rule_iter0_grad") {
            continue;
        }
        let net = model::<B>(&case, &device);
        let explainer = ExplainerConfig::new()
            .with_iterations(0)
            .init::<B>()
            .unwrap();
        let out = explainer
            .attribute(&net, &case.input::<B>(&device), &[case.target])
            .unwrap();
        let err = scaled_error(
            &values(&out.input_gradient),
            &case.tensor("expected.learned_rule_iter0_grad").values,
        );
        println!(
            "{} learned_rule_iter0_grad scaled error {err:.3e}",
            case.file
        );
        assert!(err <= 1e-9, "{}: scaled error {err:.3e}", case.file);
        checked += 1;
    }
    assert!(checked > 0, "no case has learned_rule_iter0_grad");
}

#[test]
fn learned_maps_and_loss_traces_match_fixtures() {
    let device = device64();
    let mut checked = 0;
    for case in cases() {
        let net = model::<B>(&case, &device);
        let input = case.input::<B>(&device);
        for variant in VARIANTS {
            if !case.has_method(variant.method) {
                continue;
            }
            let explainer = (variant.config)().init::<B>().unwrap();
            let out = explainer.attribute(&net, &input, &[case.target]).unwrap();
            let expected = &case.tensor(&format!("expected.{}", variant.method)).values;
            let err = scaled_error(&values(&out.signed), expected);
            println!(
                "{} {} map scaled error {err:.3e}",
                case.file, variant.method
            );
            assert!(
                err <= TOLERANCE,
                "{} {}: map scaled error {err:.3e}",
                case.file,
                variant.method
            );
            if case.loss_traces.iter().any(|m| m == variant.method) {
                let trace: Vec<f64> = out.loss_trace.iter().map(|it| it[0].total).collect();
                let expected = &case
                    .tensor(&format!("loss_trace.{}", variant.method))
                    .values;
                let err = scaled_error(&trace, expected);
                println!(
                    "{} {} loss trace scaled error {err:.3e}",
                    case.file, variant.method
                );
                assert!(
                    err <= TOLERANCE,
                    "{} {}: loss trace scaled error {err:.3e}",
                    case.file,
                    variant.method
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no learned-rule case in the fixture set");
}
