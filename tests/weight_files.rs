//! Weight files in every element type, and damaged ones: each loads (half
//! precision widened exactly) or is an `Err` naming the problem — never a
//! panic, an abort or a silently zero-filled parameter.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::{Cpu, Error};
use safetensors::Dtype;

/// Parameters by PyTorch name: shape and f32 values.
type Weights = BTreeMap<String, (Vec<usize>, Vec<f32>)>;
/// One value to its little-endian bytes in some element type.
type Encode = fn(f32) -> Vec<u8>;
/// One value rounded to some element type and back.
type Round = fn(f32) -> f32;

fn model() -> FixtureCnn<Cpu> {
    FixtureCnnConfig::new().init::<Cpu>(&Default::default())
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-weight-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The trained fixture weights, by PyTorch name: shape and f32 values.
fn fixture_weights() -> Weights {
    read_safetensors(&repo("tests/fixtures/captum/model-b.safetensors"))
}

fn read_safetensors(path: &Path) -> Weights {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32);
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

/// Writes `weights` as safetensors, every tensor encoded as `dtype` by
/// `encode` (one value to its little-endian bytes).
fn write_as(
    name: &str,
    weights: &Weights,
    dtype: Dtype,
    encode: impl Fn(f32) -> Vec<u8>,
) -> PathBuf {
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .iter()
        .map(|(n, (shape, values))| {
            let bytes = values.iter().flat_map(|&v| encode(v)).collect();
            (n.clone(), shape.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = encoded
        .iter()
        .map(|(n, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes).unwrap();
            (n.clone(), view)
        })
        .collect();
    let path = scratch(name);
    safetensors::serialize_to_file(views, None, &path).unwrap();
    path
}

/// The loaded parameters, written back with PyTorch names and read.
fn parameters(model: &FixtureCnn<Cpu>, name: &str) -> Weights {
    let path = scratch(name);
    WeightFile::new(&path).save(model).unwrap();
    read_safetensors(&path)
}

/// `weights` with every value rounded through `round`.
fn rounded(weights: &Weights, round: impl Fn(f32) -> f32) -> Weights {
    weights
        .iter()
        .map(|(n, (s, v))| {
            (
                n.clone(),
                (s.clone(), v.iter().map(|&x| round(x)).collect()),
            )
        })
        .collect()
}

#[test]
fn safetensors_floats_of_every_width_load_exactly_widened() {
    let weights = fixture_weights();
    let cases: [(&str, Dtype, Encode, Round); 3] = [
        (
            "f16",
            Dtype::F16,
            |v| f16::from_f32(v).to_le_bytes().to_vec(),
            |v| f16::from_f32(v).to_f32(),
        ),
        (
            "bf16",
            Dtype::BF16,
            |v| bf16::from_f32(v).to_le_bytes().to_vec(),
            |v| bf16::from_f32(v).to_f32(),
        ),
        (
            "f64",
            Dtype::F64,
            |v| f64::from(v).to_le_bytes().to_vec(),
            |v| v,
        ),
    ];
    for (name, dtype, encode, round) in cases {
        let path = write_as(&format!("{name}.safetensors"), &weights, dtype, encode);
        let loaded = WeightFile::new(&path).load(model()).unwrap();
        assert_eq!(
            parameters(&loaded, &format!("{name}-back.safetensors")),
            rounded(&weights, round),
            "{name}"
        );
    }
}

#[test]
fn safetensors_integers_and_booleans_in_float_parameters_are_errors() {
    let weights = fixture_weights();
    let cases: [(&str, Dtype, Encode); 5] = [
        ("i64", Dtype::I64, |v| (v as i64).to_le_bytes().to_vec()),
        ("i32", Dtype::I32, |v| (v as i32).to_le_bytes().to_vec()),
        ("i16", Dtype::I16, |v| (v as i16).to_le_bytes().to_vec()),
        ("u8", Dtype::U8, |v| vec![v as u8]),
        ("bool", Dtype::BOOL, |v| vec![u8::from(v > 0.0)]),
    ];
    // Repeated, so that a double drop or a corrupted heap would show.
    for _ in 0..3 {
        for (name, dtype, encode) in cases {
            let path = write_as(&format!("{name}.safetensors"), &weights, dtype, encode);
            let err = WeightFile::new(&path).load(model()).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, Error::Weights { .. }), "{name}: {message}");
            assert!(
                message.to_uppercase().contains(&format!("{dtype:?}")),
                "{name}: {message}"
            );
            assert!(message.contains("floats"), "{name}: {message}");
        }
    }
    // One integer tensor among floats: the error names it.
    let mut mixed = weights.clone();
    mixed.remove("fc2.bias");
    let floats = write_as("floats.safetensors", &mixed, Dtype::F32, |v| {
        v.to_le_bytes().to_vec()
    });
    let bytes = std::fs::read(&floats).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let bias: Vec<u8> = (0..10i64).flat_map(|v| v.to_le_bytes()).collect();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> = file.tensors();
    views.push((
        "fc2.bias".into(),
        safetensors::tensor::TensorView::new(Dtype::I64, vec![10], &bias).unwrap(),
    ));
    let path = scratch("mixed.safetensors");
    safetensors::serialize_to_file(views, None, &path).unwrap();
    let err = WeightFile::new(&path)
        .load(model())
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc2.bias") && err.contains("I64"), "{err}");
}

#[test]
fn damaged_safetensors_are_errors_at_every_length() {
    let bytes = std::fs::read(repo("tests/fixtures/captum/model-b.safetensors")).unwrap();
    let path = scratch("cut.safetensors");
    for length in [0, 4, 8, 9, 100, 400, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..length]).unwrap();
        let err = WeightFile::new(&path).load(model()).unwrap_err();
        assert!(matches!(err, Error::Weights { .. }), "{length}: {err}");
    }
}

#[test]
fn half_precision_pytorch_files_load_exactly_widened() {
    let expected = rounded(&fixture_weights(), |v| f16::from_f32(v).to_f32());
    for file in ["model-b-f16.pth", "model-b-f16-legacy.pth"] {
        let path = repo(&format!("tests/fixtures/weights/{file}"));
        let loaded = WeightFile::new(&path).load(model()).unwrap();
        assert_eq!(
            parameters(&loaded, &format!("{file}.safetensors")),
            expected,
            "{file}"
        );
    }
}

/// The fixture's zip entries, name and bytes, in order.
fn zip_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().to_string(), bytes)
        })
        .collect()
}

fn write_zip(name: &str, entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = scratch(name);
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
    path
}

#[test]
fn pytorch_files_with_short_or_missing_storages_are_errors() {
    let entries = zip_entries(&repo("tests/fixtures/weights/model-b-f16.pth"));
    // Rewritten unchanged, the archive still loads.
    let same = write_zip("same.pth", &entries);
    assert!(WeightFile::new(&same).load(model()).is_ok());
    // fc1.weight's storage (64 KiB) cut short, then missing.
    let big = entries.iter().position(|(_, b)| b.len() == 65536).unwrap();
    for keep in [0, 1, 65534] {
        let mut short = entries.clone();
        short[big].1.truncate(keep);
        let err = WeightFile::new(write_zip("short.pth", &short))
            .load(model())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fc1.weight") && err.contains(&format!("holds {keep} bytes")),
            "{keep}: {err}"
        );
    }
    let mut missing = entries.clone();
    missing.remove(big);
    let err = WeightFile::new(write_zip("missing.pth", &missing))
        .load(model())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fc1.weight") && err.contains("missing"),
        "{err}"
    );

    // The legacy format cut inside its last storage, inside the storages,
    // and inside the pickle.
    let legacy = std::fs::read(repo("tests/fixtures/weights/model-b-f16-legacy.pth")).unwrap();
    let path = scratch("cut-legacy.pth");
    for length in [
        legacy.len() - 1,
        legacy.len() - 700,
        legacy.len() / 2,
        300,
        10,
        0,
    ] {
        std::fs::write(&path, &legacy[..length]).unwrap();
        let err = WeightFile::new(&path).load(model()).unwrap_err();
        assert!(matches!(err, Error::Weights { .. }), "{length}: {err}");
    }
    // A zip archive cut anywhere.
    let zipped = std::fs::read(repo("tests/fixtures/weights/model-b-f16.pth")).unwrap();
    let path = scratch("cut-zip.pth");
    for length in [zipped.len() - 1, zipped.len() / 2, 100, 0] {
        std::fs::write(&path, &zipped[..length]).unwrap();
        let err = WeightFile::new(&path).load(model()).unwrap_err();
        assert!(matches!(err, Error::Weights { .. }), "{length}: {err}");
    }
}
