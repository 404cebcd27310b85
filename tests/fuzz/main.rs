//! A standing fuzz suite: generated shapes, values, settings and byte strings
//! at every public entry point. Each case must return `Ok` with finite
//! output or an `Err` — never panic, abort or hang. Every property runs its
//! cases in a child process (proptest's `fork`), so an abort or a case past
//! the timeout fails the property instead of killing the suite.
//!
//! `LEARNPROP_FUZZ_CASES` sets the cases per property (default 12, the short
//! run of the default test command; CI runs a longer one).

mod files;
mod methods;
mod outputs;

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::backend::Base;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::Cpu;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

/// The CPU backend without autodiff.
pub type Plain = Base<Cpu>;

/// Cases per property from `LEARNPROP_FUZZ_CASES`; every property forks.
pub fn config() -> ProptestConfig {
    let cases = std::env::var("LEARNPROP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    ProptestConfig {
        cases,
        fork: true,
        timeout: 120_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Floats a careless caller or a damaged file produces.
pub fn wild_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -2.0f64..2.0,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(-1e300),
        1 => Just(1e-300),
        1 => Just(f64::from(f32::MAX) * 2.0),
        1 => Just(-1.0),
    ]
}

/// Counts: small ones that run fast, and ones past every limit.
pub fn wild_count() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..4,
        1 => Just(usize::MAX),
        1 => Just(1usize << 40),
        1 => Just(10_000_001usize),
    ]
}

/// A path in this process's scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A path inside the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A shipped model's code is correct: a panic inside it would be a bug of
/// the crate that the entry point's guard hides, so it fails the case.
pub fn not_a_hidden_panic<T>(result: &Result<T, learnprop::Error>) -> bool {
    !matches!(result, Err(learnprop::Error::ModelPanicked { .. }))
}

/// Whether every value is finite.
pub fn finite<B: Backend, const D: usize>(t: &Tensor<B, D>) -> bool {
    t.to_data().iter::<f64>().all(f64::is_finite)
}

/// Images `[n, c, h, w]` whose values cycle through `values`.
pub fn images<B: Backend>(dims: [usize; 4], values: &[f64]) -> Tensor<B, 4> {
    let count: usize = dims.iter().product();
    let data: Vec<f32> = (0..count)
        .map(|i| values[i % values.len()] as f32)
        .collect();
    Tensor::from_data(TensorData::new(data, dims), &Default::default())
}

/// The fixture CNN with random weights.
pub fn fixture() -> FixtureCnn<Cpu> {
    FixtureCnnConfig::new().init::<Cpu>(&Default::default())
}
