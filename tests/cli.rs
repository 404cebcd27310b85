//! The `learnprop` command-line tool, run as a subprocess on a committed
//! ONNX fixture.
#![cfg(feature = "cli")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::{Method, Saliency};
use learnprop::onnx::OnnxModel;
use learnprop::Cpu;

fn learnprop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_learnprop"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 28×28 grey digit-like PNG: a bright stroke on black.
fn write_digit(path: &Path, shift: u32) -> Vec<u8> {
    let picture = image::GrayImage::from_fn(28, 28, |x, y| {
        let on = (8 + shift..20 + shift).contains(&x) && (6..22).contains(&y) && (x + y) % 3 != 0;
        image::Luma([if on { 230 } else { 0 }])
    });
    picture.save(path).unwrap();
    picture.into_raw()
}

fn model_path() -> String {
    common::onnx_fixture("mnist-cnn-op13.onnx")
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn explain_prints_the_top_classes_and_writes_the_maps_the_library_computes() {
    let dir = temp_dir("explain");
    let image = dir.join("digit.png");
    let grey = write_digit(&image, 0);
    let (out, json) = (dir.join("map.png"), dir.join("maps.json"));
    let run = learnprop(&[
        "explain",
        "--model",
        &model_path(),
        "--image",
        image.to_str().unwrap(),
        "--method",
        "saliency",
        "--method",
        "learned",
        "--target",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", text(&run.stderr));
    assert!(stdout.contains("top-5 of 10 classes"), "{stdout}");
    assert!(
        stdout.contains("explaining class 3 (the logit before the model's softmax)"),
        "{stdout}"
    );
    let picture = image::open(&out).unwrap();
    assert!(picture.width() > 3 * 224, "input and two maps side by side");
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(document["target"], 3);
    assert_eq!(document["top5"].as_array().unwrap().len(), 5);
    let cli: Vec<f64> = document["maps"]["saliency"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // The same map from the library, for the input the tool prepares (grey
    // values / 255, MNIST normalisation).
    let device = Default::default();
    let model = OnnxModel::<Cpu>::from_file(model_path(), &device).unwrap();
    let values: Vec<f64> = grey
        .iter()
        .map(|&g| (g as f64 / 255.0 - 0.1307) / 0.3081)
        .collect();
    let input = Tensor::<Cpu, 4>::from_data(
        TensorData::new(values, [1, 1, 28, 28]).convert::<f32>(),
        &device,
    );
    let expected = common::values(&Saliency::signed().attribute(&model, &input, &[3]).unwrap());
    let err = common::scaled_error(&cli, &expected);
    assert!(err <= 1e-6, "CLI saliency vs library: {err:e}");
    let learned: Vec<f64> = document["maps"]["learned"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(learned.len(), 28 * 28);
    assert!(learned.iter().any(|&v| v != 0.0));
}

#[test]
fn evaluate_prints_the_removal_table_and_writes_the_plots() {
    let dir = temp_dir("evaluate");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..3 {
        write_digit(&images.join(format!("{i}.png")), i * 2);
    }
    let plots = dir.join("plots");
    let run = learnprop(&[
        "evaluate",
        "--model",
        &model_path(),
        "--images",
        images.to_str().unwrap(),
        "--method",
        "saliency",
        "--method",
        "input-x-gradient",
        "--steps",
        "4",
        "--out",
        plots.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", text(&run.stderr));
    assert!(stdout.contains("| method | MoRF area"), "{stdout}");
    assert!(
        stdout.contains("| saliency |") && stdout.contains("| input-x-gradient |"),
        "{stdout}"
    );
    for plot in ["morf.png", "lerf.png"] {
        assert!(image::open(plots.join(plot)).is_ok(), "{plot}");
    }
}

#[test]
fn errors_are_one_line_and_a_non_zero_exit_code() {
    let dir = temp_dir("errors");
    let image = dir.join("digit.png");
    write_digit(&image, 0);
    let broken = dir.join("broken.onnx");
    std::fs::write(&broken, b"not a model").unwrap();
    let missing = dir.join("none");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "explain",
                "--model",
                "no-such-model",
                "--image",
                image.to_str().unwrap(),
            ],
            "unknown model",
        ),
        (
            vec![
                "explain",
                "--model",
                broken.to_str().unwrap(),
                "--image",
                image.to_str().unwrap(),
            ],
            "not a valid ONNX file",
        ),
        (
            vec![
                "explain",
                "--model",
                "mnist-cnn",
                "--image",
                "/no/such/image.png",
            ],
            "cannot access",
        ),
        (
            vec![
                "explain",
                "--model",
                "mnist-cnn",
                "--image",
                image.to_str().unwrap(),
                "--target",
                "10",
            ],
            "the model has 10 classes",
        ),
        (
            vec![
                "explain",
                "--model",
                "mnist-cnn",
                "--image",
                image.to_str().unwrap(),
                "--preprocess",
                "imagenet",
            ],
            "3-channel",
        ),
        (
            vec![
                "explain",
                "--model",
                "efficientnet-lite0",
                "--image",
                image.to_str().unwrap(),
            ],
            "needs --weights",
        ),
        (
            vec![
                "evaluate",
                "--model",
                "mnist-cnn",
                "--images",
                missing.to_str().unwrap(),
            ],
            "No such file",
        ),
        (
            vec![
                "--threads",
                "0",
                "explain",
                "--model",
                "mnist-cnn",
                "--image",
                image.to_str().unwrap(),
            ],
            "--threads 0",
        ),
    ];
    for (args, expected) in cases {
        let run = learnprop(&args);
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("learnprop: error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}
