//! Learned rules in f32 against the f64 fixtures: pointwise where f32 can be
//! (the starting gradient, 5 iterations), statistically for 20 iterations
//! (f32 `tanh` saturates where f64 still has a slope; see the fixture README).
//! Kept apart from the f64 tests: Burn's default float type is per device
//! type and shared by `NdArray<f32>` and `NdArray<f64>` within one process.

mod common;

use common::{cases, model, pearson, scaled_error, values};
use learnprop::{Cpu, ExplainerConfig};

type B = Cpu;

/// Fraction of the `k` largest entries of `expected` that are also among the
/// `k` largest of `actual`.
fn top_overlap(actual: &[f64], expected: &[f64], fraction: f64) -> f64 {
    let k = ((actual.len() as f64) * fraction).round() as usize;
    let top = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
        idx.truncate(k);
        idx
    };
    let a = top(actual);
    let e = top(expected);
    e.iter().filter(|i| a.contains(i)).count() as f64 / k as f64
}

#[test]
fn f32_learned_rules_agree_with_the_f64_fixtures() {
    let device = Default::default();
    let mut checked = 0;
    for case in cases() {
        let net = model::<B>(&case, &device);
        let input = case.input::<B>(&device);
        let run = |iterations| {
            ExplainerConfig::new()
                .with_iterations(iterations)
                .init::<B>()
                .unwrap()
                .attribute(&net, &input, &[case.target])
                .unwrap()
        };
        if case.has_method("learned_rule_iter0_grad") {
            let err = scaled_error(
                &values(&run(0).input_gradient),
                &case.tensor("expected.learned_rule_iter0_grad").values,
            );
            println!("{} iter0 f32 scaled error {err:.2e}", case.file);
            assert!(err < 1e-5, "{}: {err:e}", case.file);
        }
        if case.has_method("learned_rule_5") {
            let err = scaled_error(
                &values(&run(5).signed),
                &case.tensor("expected.learned_rule_5").values,
            );
            println!("{} learned_rule_5 f32 scaled error {err:.2e}", case.file);
            assert!(err < 1e-2, "{}: {err:e}", case.file);
        }
        if case.has_method("learned_rule_20") {
            let ours = values(&run(20).signed);
            let expected = &case.tensor("expected.learned_rule_20").values;
            let r = pearson(&ours, expected);
            let top = top_overlap(&ours, expected, 0.05);
            let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
            let bottom = top_overlap(&neg(&ours), &neg(expected), 0.05);
            println!(
                "{} learned_rule_20 f32: Pearson {r:.4}, top-5% overlap {top:.2}, bottom-5% overlap {bottom:.2}",
                case.file
            );
            assert!(r >= 0.9, "{}: Pearson {r}", case.file);
            checked += 1;
        }
    }
    assert!(checked > 0);
}
