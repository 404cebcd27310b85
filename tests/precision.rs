//! Precision in one process: the CPU device stays f32 here (every test
//! creates f32 tensors), so asking for f64, or handing in f64 tensors, must
//! be a clear error; and f32 results are exact to rounding.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use learnprop::method::{Method, Saliency};
use learnprop::weights::WeightFile;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{
    ops, precision, set_precision, Activation, Cpu, Error, ExplainerConfig, Precision,
};

fn device() -> burn::tensor::Device<Cpu> {
    let device = Default::default();
    set_precision::<Cpu>(&device, Precision::F32).expect("the CPU device computes in f32");
    device
}

fn fixture_weights() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captum/model-b.safetensors")
}

#[test]
fn asking_for_f64_after_f32_is_an_error() {
    let device = device();
    let _ = Tensor::<Cpu, 1>::zeros([2], &device);
    assert_eq!(precision::<Cpu>(&device), Some(Precision::F32));
    assert!(set_precision::<Cpu>(&device, Precision::F32).is_ok());
    let err = set_precision::<Cpu>(&device, Precision::F64).unwrap_err();
    assert!(
        matches!(&err, Error::Precision { found, expected, .. } if found == "f32" && expected == "f64"),
        "{err}"
    );
    assert!(err.to_string().contains("set_precision"), "{err}");
}

#[test]
fn f64_images_on_an_f32_device_are_an_error() {
    let device = device();
    let model = FixtureCnnConfig::new().init::<Cpu>(&device);
    let values = vec![0.5f64; 3 * 32 * 32];
    let images = Tensor::<Cpu, 4>::from_data(
        TensorData::new(values, [1, 3, 32, 32]),
        (&device, DType::F64),
    );
    let explainer = ExplainerConfig::new()
        .with_iterations(1)
        .init::<Cpu>()
        .unwrap();
    let err = explainer.attribute(&model, &images, &[0]).unwrap_err();
    assert!(
        matches!(&err, Error::Precision { what, found, expected } if what == "the images" && found == "f64" && expected == "f32"),
        "{err}"
    );
    let err = Saliency::signed()
        .attribute(&model, &images, &[0])
        .unwrap_err();
    assert!(matches!(err, Error::Precision { .. }), "{err}");
}

/// Casts every float parameter to f64.
struct ToF64;

impl<B: Backend> ModuleMapper<B> for ToF64 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.cast(burn::tensor::FloatDType::F64), mapper)
    }
}

#[test]
fn f64_weights_on_an_f32_device_are_an_error_naming_the_parameter() {
    let device = device();
    let model = FixtureCnnConfig::new().init::<Cpu>(&device).map(&mut ToF64);
    let images = Tensor::<Cpu, 4>::ones([1, 3, 32, 32], &device);
    let explainer = ExplainerConfig::new()
        .with_iterations(1)
        .init::<Cpu>()
        .unwrap();
    let err = explainer.attribute(&model, &images, &[0]).unwrap_err();
    assert!(
        matches!(&err, Error::Precision { what, found, .. } if what.starts_with("parameter ") && what.contains("conv1") && found == "f64"),
        "{err}"
    );
}

#[test]
fn weights_load_in_the_device_precision() {
    let device = device();
    let model = WeightFile::new(fixture_weights())
        .load(FixtureCnnConfig::new().init::<Cpu>(&device).map(&mut ToF64))
        .unwrap();
    let images = Tensor::<Cpu, 4>::ones([1, 3, 32, 32], &device);
    assert!(Saliency::signed().attribute(&model, &images, &[0]).is_ok());
}

/// `NdArrayCpu<f64>` names f64, but this process fixed the device to f32:
/// loading weights and explaining are errors, not an f32 computation.
#[cfg(feature = "ndarray")]
#[test]
fn a_typed_f64_backend_on_an_f32_device_is_an_error() {
    type D = learnprop::NdArrayCpu<f64>;
    let _ = device();
    let ndarray_device = Default::default();
    let _ = Tensor::<learnprop::NdArrayCpu, 1>::zeros([1], &ndarray_device);
    let model = FixtureCnnConfig::new().init::<D>(&ndarray_device);
    let err = WeightFile::new(fixture_weights())
        .load(model.clone())
        .unwrap_err();
    assert!(matches!(err, Error::Precision { .. }), "{err}");
    let images = Tensor::<D, 4>::ones([1, 3, 32, 32], &ndarray_device);
    let err = Saliency::signed()
        .attribute(&model, &images, &[0])
        .unwrap_err();
    assert!(matches!(err, Error::Precision { .. }), "{err}");
}

/// `ops::sigmoid` (and SiLU, which uses it) in f32 against the closed form
/// in f64: within a few units in the last place on every CPU backend (an
/// approximate `recip` would be off by ~4e-5).
#[test]
fn f32_sigmoid_and_silu_are_exact_to_rounding() {
    let device = device();
    let xs: Vec<f32> = (-400..=400).map(|i| i as f32 * 0.05).collect();
    let x = Tensor::<Cpu, 1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device);
    let read = |t: Tensor<Cpu, 1>| -> Vec<f64> { t.into_data().iter::<f64>().collect() };
    let sigmoid = read(ops::sigmoid(x.clone()));
    let silu = read(Activation::Silu.apply(x));
    for (i, &x) in xs.iter().enumerate() {
        let x = x as f64;
        let exact = 1.0 / (1.0 + (-x).exp());
        let relative = (sigmoid[i] - exact).abs() / exact;
        assert!(
            relative < 4.0 * f32::EPSILON as f64,
            "sigmoid({x}): {} vs {exact}",
            sigmoid[i]
        );
        let exact = x * exact;
        let error = (silu[i] - exact).abs() / exact.abs().max(1e-30);
        assert!(
            error < 6.0 * f32::EPSILON as f64 || exact == 0.0,
            "silu({x}): {} vs {exact}",
            silu[i]
        );
    }
}
