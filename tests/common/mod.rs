//! Reading the parity fixture set (`tests/fixtures/captum`, or the directory
//! named by `LEARNPROP_FIXTURES`) and comparing maps.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};

/// The fixture directory.
pub fn fixture_dir() -> PathBuf {
    match std::env::var_os("LEARNPROP_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum"),
    }
}

/// A tensor of a case file, as f64 values with its shape.
#[derive(Debug, Clone)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// One case of `cases.json` with its tensors.
#[derive(Debug)]
pub struct Case {
    pub file: String,
    pub model: String,
    pub target: usize,
    pub predicted: usize,
    pub target_logit: f64,
    pub methods: Vec<String>,
    pub loss_traces: Vec<String>,
    pub curves: serde_json::Value,
    pub tensors: HashMap<String, Array>,
}

impl Case {
    pub fn tensor(&self, name: &str) -> &Array {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor {name}", self.file))
    }

    pub fn has_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    pub fn input<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        let a = self.tensor("input");
        let shape: [usize; 4] = a.shape.clone().try_into().unwrap();
        Tensor::from_data(
            TensorData::new(a.values.clone(), shape).convert::<B::FloatElem>(),
            device,
        )
    }
}

fn read_array(view: &safetensors::tensor::TensorView) -> Array {
    use safetensors::Dtype;
    let bytes = view.data();
    let values: Vec<f64> = match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::I64 => bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        other => panic!("unexpected dtype {other:?}"),
    };
    Array {
        shape: view.shape().to_vec(),
        values,
    }
}

/// Every case listed in `cases.json`, with its tensors.
pub fn cases() -> Vec<Case> {
    let dir = fixture_dir();
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("cases.json")).expect("cases.json of the fixture set"),
    )
    .expect("valid cases.json");
    assert_eq!(index["architecture"], "fixture-cnn");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    index["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .map(|c| {
            let file = c["file"].as_str().unwrap().to_string();
            let bytes = std::fs::read(dir.join(&file)).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let tensors = st
                .tensors()
                .into_iter()
                .map(|(name, view)| (name, read_array(&view)))
                .collect();
            Case {
                file,
                model: c["model"].as_str().unwrap().to_string(),
                target: c["target"].as_u64().unwrap() as usize,
                predicted: c["predicted"].as_u64().unwrap() as usize,
                target_logit: c["target_logit"].as_f64().unwrap(),
                methods: strings(&c["methods"]),
                loss_traces: strings(&c["loss_traces"]),
                curves: c["curves"].clone(),
                tensors,
            }
        })
        .collect()
}

/// The fixture CNN with a case's weights.
pub fn model<B: Backend>(case: &Case, device: &B::Device) -> FixtureCnn<B> {
    let model = FixtureCnnConfig::new().init::<B>(device);
    WeightFile::new(fixture_dir().join(&case.model))
        .load(model)
        .expect("fixture weights load")
}

/// Tensor values as f64.
pub fn values<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f64> {
    t.to_data().iter::<f64>().collect()
}

/// max|a − b| / max|expected|.
pub fn scaled_error(actual: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Pearson correlation.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa.sqrt() * sbb.sqrt())
}
