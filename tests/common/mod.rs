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
        Tensor::from_data(TensorData::new(a.values.clone(), shape), device)
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

/// The tensors of a safetensors file, by name.
pub fn read_safetensors(path: &std::path::Path) -> HashMap<String, Array> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| (name, read_array(&view)))
        .collect()
}

/// An ONNX fixture of `tests/fixtures/onnx`.
pub fn onnx_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
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

/// The f64 backend of the test run: [`learnprop::Cpu`] (Flex) with f64
/// chosen at run time, or ndarray's typed f64 when the crate is built
/// without `flex`.
#[cfg(feature = "flex")]
pub type Cpu64 = learnprop::Cpu;
/// The f64 backend of the test run: [`learnprop::Cpu`] (Flex) with f64
/// chosen at run time, or ndarray's typed f64 when the crate is built
/// without `flex`.
#[cfg(not(feature = "flex"))]
pub type Cpu64 = learnprop::NdArrayCpu<f64>;
/// [`Cpu64`] without autodiff.
pub type Plain64 = learnprop::backend::Base<Cpu64>;

/// The CPU device, set to f64. Every test of an f64 binary calls it before
/// it creates a tensor (Burn fixes the device's float type at the first
/// tensor of the process, whichever test thread creates it).
pub fn device64() -> burn::tensor::Device<Cpu64> {
    let device = Default::default();
    learnprop::set_precision::<Cpu64>(&device, learnprop::Precision::F64)
        .expect("the CPU device computes in f64");
    device
}

/// Checks that both convolution paths of `learnprop::ops` give bit-equal
/// outputs wherever the windows are equal: on a constant image every
/// position whose window lies inside the image sees the same numbers, so
/// each channel's interior must hold one value exactly (a max-pool after
/// the convolution then sees exact ties, as METHOD.md requires). Covers
/// plain, strided, 1×1, grouped and depthwise layers and sizes whose
/// positions do not fill the backends' GEMM tiles evenly.
pub fn assert_equal_windows_give_equal_outputs<B: Backend>(device: &B::Device) {
    use learnprop::ops::{self, Conv2dGeometry};
    // (c_in, c_out, kernel, stride, groups, size)
    let layers = [
        (3, 8, 3, 1, 1, 23),
        (16, 16, 3, 1, 1, 45),
        (8, 12, 3, 2, 1, 31),
        (8, 16, 1, 1, 1, 37),
        (8, 8, 3, 1, 4, 29),
        (12, 12, 5, 2, 12, 57),
        (32, 32, 3, 1, 32, 113),
    ];
    for (c_in, c_out, k, s, g, size) in layers {
        let weights: Vec<f64> = (0..c_out * (c_in / g) * k * k)
            .map(|i| ((i * 7919) % 113) as f64 / 113.0 - 0.5)
            .collect();
        let weight =
            Tensor::<B, 4>::from_data(TensorData::new(weights, [c_out, c_in / g, k, k]), device);
        let bias = Tensor::<B, 1>::from_data(
            TensorData::new(
                (0..c_out).map(|i| i as f64 * 0.01).collect::<Vec<_>>(),
                [c_out],
            ),
            device,
        );
        let x = Tensor::<B, 4>::full([2, c_in, size, size], 0.3125, device);
        let pad = k / 2;
        let geometry = Conv2dGeometry {
            stride: [s, s],
            padding: [[pad, pad], [pad, pad]],
            dilation: [1, 1],
            groups: g,
        };
        for (path, out) in [
            (
                "native",
                ops::conv2d_native(x.clone(), weight.clone(), Some(bias.clone()), &geometry),
            ),
            (
                "windows",
                ops::conv2d_windows(x.clone(), weight.clone(), Some(bias.clone()), &geometry),
            ),
        ] {
            let [n, c, oh, ow] = out.dims();
            let v: Vec<f64> = out.into_data().iter::<f64>().collect();
            // Interior output positions: their windows avoid the padding.
            let first = pad.div_ceil(s);
            let last = (size - 1 - pad) / s;
            for image in 0..n {
                for channel in 0..c {
                    let base = (image * c + channel) * oh * ow;
                    let expected = v[base + first * ow + first];
                    for r in first..=last {
                        for col in first..=last {
                            let got = v[base + r * ow + col];
                            assert!(
                                got.to_bits() == expected.to_bits(),
                                "{path} conv {c_in}→{c_out} k{k} s{s} g{g} {size}²: channel {channel} \
                                 at ({r}, {col}) is {got:e}, at ({first}, {first}) {expected:e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `LEARNPROP_DATA`, or `data/` in the repository (where `.ci/fetch-data`
/// puts datasets, weights and the large ONNX exports).
pub fn data_dir() -> PathBuf {
    std::env::var_os("LEARNPROP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"))
}

/// A large ONNX export of `.ci/fetch-data` (`data/onnx/`).
pub fn large_onnx(name: &str) -> PathBuf {
    let path = data_dir().join("onnx").join(name);
    assert!(
        path.exists(),
        "{} is missing (run .ci/fetch-data first)",
        path.display()
    );
    path
}

/// The 20 ImageNet sample photos of `.ci/fetch-data`, sorted, with their
/// class labels (the file names end in `_<class>.jpg`).
pub fn imagenet_samples() -> Vec<(PathBuf, usize)> {
    let dir = data_dir().join("samples/imagenet");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run .ci/fetch-data first)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 20);
    files
        .into_iter()
        .map(|file| {
            let stem = file.file_stem().unwrap().to_str().unwrap();
            let label = stem.rsplit('_').next().unwrap().parse().unwrap();
            (file, label)
        })
        .collect()
}

/// Named methods of a model on the f64 test backend.
pub type Methods<M> = Vec<(&'static str, Box<dyn learnprop::method::Method<Cpu64, M>>)>;

/// The maps of `methods` and of the learned rules (`iterations` steps) on
/// the f64 test backend, by name.
pub fn method_maps<M>(
    model: &M,
    methods: Methods<M>,
    images: &Tensor<Cpu64, 4>,
    targets: &[usize],
    iterations: usize,
) -> Vec<(String, Vec<f64>)>
where
    M: learnprop::Explainable<Cpu64> + burn::module::AutodiffModule<Cpu64>,
    M::InnerModule:
        learnprop::Explainable<<Cpu64 as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
{
    let mut out: Vec<(String, Vec<f64>)> = methods
        .into_iter()
        .map(|(name, m)| {
            (
                name.to_string(),
                values(&m.attribute(model, images, targets).unwrap()),
            )
        })
        .collect();
    let explainer = learnprop::ExplainerConfig::new()
        .with_iterations(iterations)
        .init::<Cpu64>()
        .unwrap();
    let learned = explainer.attribute(model, images, targets).unwrap();
    out.push((
        format!("learned rules ({iterations} it.)"),
        values(&learned.signed),
    ));
    out
}

/// Asserts that two sets of [`method_maps`] agree to 1e-10 scaled.
pub fn maps_agree(what: &str, onnx: &[(String, Vec<f64>)], zoo: &[(String, Vec<f64>)]) {
    assert_eq!(onnx.len(), zoo.len());
    for ((name, a), (_, b)) in onnx.iter().zip(zoo) {
        let err = scaled_error(a, b);
        println!("{what} {name}: ONNX vs zoo scaled error {err:.2e} (f64)");
        assert!(err <= 1e-10, "{what} {name}: {err:e}");
    }
}
