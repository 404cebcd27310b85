//! Trains the zoo's MNIST CNN on MNIST or Fashion-MNIST on the CPU and
//! prints its test accuracy.
//!
//! ```sh
//! .ci/fetch-data                                   # once: datasets into data/
//! cargo run --release --example train_mnist -- mnist
//! cargo run --release --example train_mnist -- fashion-mnist
//! ```
//!
//! Options: `--data DIR` (default `data/<dataset>`), `--epochs N`,
//! `--seed S`, `--out FILE.safetensors` (default
//! `output/<dataset>-cnn.safetensors`).

use std::path::PathBuf;
use std::time::Instant;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::prelude::*;
use learnprop::data::{LabelledImages, Normalisation, Split};
use learnprop::train::{accuracy, train_classifier, TrainConfig};
use learnprop::weights::WeightFile;
use learnprop::zoo::MnistCnnConfig;

type B = Autodiff<learnprop::backend::Base<learnprop::Cpu>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dataset = args.next().unwrap_or_else(|| "mnist".into());
    let normalisation = match dataset.as_str() {
        "mnist" => Normalisation::mnist(),
        "fashion-mnist" => Normalisation::fashion_mnist(),
        other => return Err(format!("unknown dataset {other}: use mnist or fashion-mnist").into()),
    };
    let mut data_dir = PathBuf::from("data").join(&dataset);
    let mut out = PathBuf::from("output").join(format!("{dataset}-cnn.safetensors"));
    let mut config = TrainConfig::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data_dir = value.into(),
            "--out" => out = value.into(),
            "--epochs" => config.epochs = value.parse()?,
            "--seed" => config.seed = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let train = LabelledImages::load_mnist_layout(&data_dir, Split::Train).map_err(|e| {
        format!(
            "{e}\nRun .ci/fetch-data first (it puts the datasets into data/), or pass --data DIR."
        )
    })?;
    let test = LabelledImages::load_mnist_layout(&data_dir, Split::Test)?;
    println!(
        "{dataset}: {} training and {} test images; {} epochs, batch {}, Adam lr {}, seed {}",
        train.len(),
        test.len(),
        config.epochs,
        config.batch_size,
        config.learning_rate,
        config.seed
    );

    let device = Default::default();
    B::seed(&device, config.seed);
    let model = MnistCnnConfig::new().init::<B>(&device);
    let start = Instant::now();
    let model = train_classifier(model, &train, &normalisation, &config, &device, |p| {
        println!(
            "epoch {} step {:>4}/{}  loss {:.4}  ({:.0} s)",
            p.epoch,
            p.step,
            p.steps_per_epoch,
            p.loss,
            start.elapsed().as_secs_f64()
        );
    })?;
    let model = model.valid();
    let acc = accuracy(&model, &test, &normalisation, 500, &device)?;
    println!(
        "test accuracy {:.2} % ({} images) after {:.0} s",
        100.0 * acc,
        test.len(),
        start.elapsed().as_secs_f64()
    );
    WeightFile::new(&out).save(&model)?;
    println!("wrote {}", out.display());
    Ok(())
}
