//! ONNX models exported by PyTorch, in f32: logits against PyTorch's, and
//! files that must be refused with an error naming what is wrong.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{onnx_fixture, read_safetensors, scaled_error, values};
use learnprop::onnx::OnnxModel;
use learnprop::{Cpu, Error, Explainable, ExplainerConfig};

fn load(name: &str) -> OnnxModel<Cpu> {
    OnnxModel::from_file(onnx_fixture(name), &Default::default()).unwrap()
}

fn expected(name: &str) -> (Tensor<Cpu, 4>, Vec<f64>) {
    let tensors = read_safetensors(&onnx_fixture(&format!("{name}.expected.safetensors")));
    let input = &tensors["input"];
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let images = Tensor::from_data(
        TensorData::new(input.values.clone(), shape),
        &Default::default(),
    );
    (images, tensors["logits"].values.clone())
}

#[test]
fn fixture_and_mnist_cnns_equal_pytorch_in_f32() {
    for (name, files) in [
        (
            "fixture-cnn",
            &["fixture-cnn-op13.onnx", "fixture-cnn-op18.onnx"][..],
        ),
        ("mnist-cnn", &["mnist-cnn-op13.onnx"][..]),
    ] {
        let (images, logits) = expected(name);
        for file in files {
            let model = load(file);
            let err = scaled_error(&values(&model.logits(images.clone())), &logits);
            println!("{file}: logits scaled error {err:.2e} (f32)");
            assert!(err <= 1e-5, "{file}: {err:e}");
        }
    }
}

#[test]
fn an_onnx_model_is_explained_by_the_learned_rules() {
    let model = load("mnist-cnn-op13.onnx");
    assert_eq!(model.classes(), Some(10));
    let (images, _) = expected("mnist-cnn");
    let explainer = ExplainerConfig::new()
        .with_iterations(3)
        .init::<Cpu>()
        .unwrap();
    let out = explainer.attribute(&model, &images, &[1, 2, 3]).unwrap();
    assert_eq!(out.signed.dims(), [3, 28, 28]);
    assert!(values(&out.signed).iter().all(|v| v.is_finite()));
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(onnx_fixture(name)).unwrap()
}

/// The bytes with the first occurrence of `from` replaced by `to` (same length).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    patched_bytes(bytes, from.as_bytes(), to.as_bytes())
}

fn patched_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:?} not in the file"));
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

fn load_error(bytes: &[u8]) -> String {
    match OnnxModel::<Cpu>::from_bytes("patched.onnx", bytes, &Default::default()) {
        Ok(_) => panic!("the patched model loaded"),
        Err(e @ Error::Onnx { .. }) => e.to_string(),
        Err(other) => panic!("not an ONNX error: {other}"),
    }
}

#[test]
fn unsupported_nodes_and_attributes_are_refused_at_load_naming_the_node() {
    let bytes = fixture_bytes("mnist-cnn-op13.onnx");
    // `"\x04` is the op_type field (4, length-delimited) of 4 bytes.
    let message = load_error(&patched(&bytes, "\"\x04Relu", "\"\x04Selu"));
    assert!(
        message.contains("node `/Relu`") && message.contains("Selu is not supported"),
        "{message}"
    );
    let message = load_error(&patched(&bytes, "ceil_mode", "ceil_moda"));
    assert!(
        message.contains("(MaxPool)") && message.contains("attribute `ceil_moda`"),
        "{message}"
    );
    let message = load_error(&patched(&bytes, "\"\x07Softmax", "\"\x07Sigmoid"));
    assert!(message.contains("(Sigmoid): attribute `axis`"), "{message}");
    // An Erf outside the GELU pattern: its divisor √2 changed to 1.5.
    let bytes = fixture_bytes("ops-net-op18.onnx");
    let sqrt2 = std::f64::consts::SQRT_2.to_le_bytes();
    let message = load_error(&patched_bytes(&bytes, &sqrt2, &1.5f64.to_le_bytes()));
    assert!(
        message.contains("(Erf): Erf outside the GELU pattern"),
        "{message}"
    );
    // Keras' hard sigmoid (alpha 0.2) is not PyTorch's.
    let bytes = fixture_bytes("mobile-ops-op13.onnx");
    let sixth = (1.0f32 / 6.0).to_le_bytes();
    let message = load_error(&patched_bytes(&bytes, &sixth, &0.2f32.to_le_bytes()));
    assert!(
        message.contains("(HardSigmoid): HardSigmoid with alpha = 0.2"),
        "{message}"
    );
}

#[test]
fn damaged_files_are_errors_never_panics() {
    let bytes = fixture_bytes("fixture-cnn-op13.onnx");
    for cut in [0, 1, 10, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
        let message = load_error(&bytes[..cut]);
        assert!(
            message.starts_with("cannot load ONNX model patched.onnx"),
            "{message}"
        );
    }
    assert!(load_error(b"definitely not protobuf \xff\xff\xff").contains("not a valid ONNX file"));
    // Single-byte damage anywhere in the graph's structure: an error or a
    // model that still runs, never a panic or an abort.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut loaded = 0;
    for _ in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut damaged = bytes.clone();
        let at = (state % damaged.len() as u64) as usize;
        damaged[at] ^= 1 << (state >> 61);
        if let Ok(model) =
            OnnxModel::<Cpu>::from_bytes("damaged.onnx", &damaged, &Default::default())
        {
            loaded += 1;
            let _ = learnprop::input::check_logits(
                &model.logits(Tensor::zeros([1, 3, 32, 32], &Default::default())),
            );
        }
    }
    println!("{loaded} of 300 damaged files still loaded");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err =
        OnnxModel::<Cpu>::from_file("/nonexistent/model.onnx", &Default::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}
