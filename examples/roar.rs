//! ROAR (remove and retrain) on Fashion-MNIST: for each method, the top `p` %
//! pixels of every training and test image (ranked by the method's map of the
//! shipped Fashion-MNIST CNN for the true label) are replaced by the
//! per-channel training mean (`--fill mean`, Hooker et al.) or by noisy
//! linear imputation from their neighbours (`--fill imputation`, ROAD: the
//! shape of the removed set then hides the label), a fresh CNN of the same
//! architecture is trained on the result, and its test accuracy is reported.
//! Lower accuracy means the method found the pixels the task depends on.
//! A second table gives ROAD's evaluation without retraining: the shipped
//! CNN's accuracy on the same removed test images, which no removal pattern
//! can teach the label.
//!
//! ```sh
//! .ci/fetch-data
//! # the full protocol (all 60 000 training images; hours on two cores):
//! cargo run --release --example roar
//! # a subset that fits in about half an hour on two cores:
//! cargo run --release --example roar -- --train 5000 --test 2000 --epochs 3
//! cargo run --release --example roar -- --train 5000 --test 2000 --epochs 3 --fill imputation
//! ```
//!
//! Writes `output/roar/<subset>/results.md` (`results-imputation.md` for the
//! imputed fill). Maps are cached per method and split (`maps-*.bin`,
//! written in chunks, so an interrupted run resumes; both fills share them)
//! and each finished retraining is appended to `accuracies.tsv`
//! (`accuracies-imputation.tsv`), so a repeated run only does the missing
//! work.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::prelude::*;
use learnprop::data::{LabelledImages, Normalisation, Split};
use learnprop::method::{
    pixel_map, InputXGradient, Method, NoiseKind, NoiseTunnelConfig, Saliency,
};
use learnprop::metric::{channel_means, removal_accuracy, roar_accuracy, RoarFill};
use learnprop::random::Rng;
use learnprop::train::{accuracy, train_classifier, TrainConfig};
use learnprop::zoo::{pretrained, MnistCnn, MnistCnnConfig};
use learnprop::{Cpu, ExplainerConfig, GateShape, MaskStrategy};

/// The backend of the retrained models (one autodiff level is enough).
type Train = Autodiff<learnprop::backend::Base<Cpu>>;
type Boxed = Box<dyn Method<Cpu, MnistCnn<Cpu>>>;

/// The methods compared, with the class their maps explain: the true label,
/// or (`Some(k)`) class `k` for every image — a control whose maps cannot
/// encode the label.
fn methods() -> Vec<(&'static str, Option<Boxed>, Option<usize>)> {
    vec![
        ("random", None, None),
        (
            "sq-smoothgrad",
            Some(Box::new(
                NoiseTunnelConfig::new()
                    .with_kind(NoiseKind::SmoothGradSquared)
                    .init(Saliency::signed())
                    .unwrap(),
            )),
            None,
        ),
        ("gradient-x-input", Some(Box::new(InputXGradient)), None),
        (
            "learned-rules",
            Some(Box::new(
                ExplainerConfig::new().init::<Cpu>().unwrap().into_method(),
            )),
            None,
        ),
        (
            "learned-rules-sigmoid-top5",
            Some(Box::new(
                ExplainerConfig::new()
                    .with_gate(GateShape::Sigmoid { scale: 10.0 })
                    .with_use_reference(false)
                    .with_mask(MaskStrategy::TopFraction { fraction: 0.05 })
                    .init::<Cpu>()
                    .unwrap()
                    .into_method(),
            )),
            None,
        ),
        (
            "gradient-x-input-class-0",
            Some(Box::new(InputXGradient)),
            Some(0),
        ),
    ]
}

struct Args {
    train: usize,
    test: usize,
    epochs: usize,
    seed: u64,
    fractions: Vec<f64>,
    fill: RoarFill,
    out: PathBuf,
    data: PathBuf,
}

fn args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut args = Args {
        train: 60_000,
        test: 10_000,
        epochs: 4,
        seed: 1,
        fractions: vec![0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        fill: RoarFill::DatasetMean,
        out: "output/roar".into(),
        data: std::env::var_os("LEARNPROP_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| "data".into()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--train" => args.train = value.parse()?,
            "--test" => args.test = value.parse()?,
            "--epochs" => args.epochs = value.parse()?,
            "--seed" => args.seed = value.parse()?,
            "--fractions" => {
                args.fractions = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--fill" => {
                args.fill = match value.as_str() {
                    "mean" => RoarFill::DatasetMean,
                    // ROAD's noise: 1 % of the value range.
                    "imputation" => RoarFill::NoisyLinearImputation {
                        noise: 2.55,
                        seed: 0,
                    },
                    other => return Err(format!("--fill {other}: mean or imputation").into()),
                }
            }
            "--out" => args.out = value.into(),
            "--data" => args.data = value.into(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = args()?;
    let suffix = match &mut args.fill {
        RoarFill::DatasetMean => "",
        RoarFill::NoisyLinearImputation { seed, .. } => {
            *seed = args.seed;
            "-imputation"
        }
    };
    let accuracies_file = format!("accuracies{suffix}.tsv");
    let device = Default::default();
    let normalisation = Normalisation::fashion_mnist();
    let dir = args.data.join("fashion-mnist");
    let load = |split, count: usize| -> Result<LabelledImages, Box<dyn std::error::Error>> {
        let all = LabelledImages::load_mnist_layout(&dir, split)
            .map_err(|e| format!("{e}\nRun .ci/fetch-data first."))?;
        let indices: Vec<usize> = (0..count.min(all.len())).collect();
        Ok(all.subset(&indices)?)
    };
    let train = load(Split::Train, args.train)?;
    let test = load(Split::Test, args.test)?;
    let out = args.out.join(format!(
        "train{}-test{}-epochs{}-seed{}",
        train.len(),
        test.len(),
        args.epochs,
        args.seed
    ));
    std::fs::create_dir_all(&out)?;
    println!(
        "ROAR on Fashion-MNIST: {} training, {} test images, {} epochs, seed {}; output in {}",
        train.len(),
        test.len(),
        args.epochs,
        args.seed,
        out.display()
    );
    let model = pretrained::fashion_mnist_cnn::<Cpu>(&device)?;
    let config = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.seed);
    // Finished retrainings (from earlier runs too): method, fraction, accuracy.
    let mut results = read_accuracies(&out.join(&accuracies_file));
    let mut retrain = |name: &str,
                       fraction: f64,
                       train_maps: &[Vec<f64>],
                       test_maps: &[Vec<f64>]|
     -> Result<(), Box<dyn std::error::Error>> {
        if results
            .iter()
            .any(|(n, f, _)| n == name && (f - fraction).abs() < 1e-9)
        {
            return Ok(());
        }
        let start = Instant::now();
        Train::seed(&device, args.seed);
        let fresh = || MnistCnnConfig::new().init::<Train>(&device);
        let accuracy = if fraction == 0.0 {
            let model =
                train_classifier(fresh(), &train, &normalisation, &config, &device, |_| {})?;
            accuracy(&model.valid(), &test, &normalisation, 500, &device)?
        } else {
            roar_accuracy(
                fresh,
                &train,
                train_maps,
                &test,
                test_maps,
                fraction,
                args.fill,
                &normalisation,
                &config,
                &device,
            )?
        };
        println!(
            "{name} p = {:.0} %: test accuracy {:.2} % ({:.0} s)",
            100.0 * fraction,
            100.0 * accuracy,
            start.elapsed().as_secs_f64()
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out.join(&accuracies_file))?;
        writeln!(file, "{name}\t{fraction}\t{accuracy}")?;
        results.push((name.to_string(), fraction, accuracy));
        Ok(())
    };
    retrain("unmodified", 0.0, &[], &[])?;
    // Without retraining (ROAD): the shipped model on the removed test images.
    let shipped = pretrained::fashion_mnist_cnn::<learnprop::backend::Base<Cpu>>(&device)?;
    let means = channel_means(&train);
    let shipped_accuracy = accuracy(&shipped, &test, &normalisation, 500, &device)?;
    let mut no_retraining: Vec<(String, f64, f64)> = Vec::new();
    let names: Vec<&str> = methods().iter().map(|(n, ..)| *n).collect();
    for (name, method, class) in methods() {
        let explain = Explain {
            model: &model,
            method: method.as_ref(),
            class,
        };
        let train_maps = maps(&out, name, "train", &explain, &train, &normalisation)?;
        let test_maps = maps(&out, name, "test", &explain, &test, &normalisation)?;
        for &fraction in &args.fractions {
            retrain(name, fraction, &train_maps, &test_maps)?;
            let accuracy = removal_accuracy(
                &shipped,
                &test,
                &test_maps,
                fraction,
                args.fill,
                &means,
                &normalisation,
                &device,
            )?;
            no_retraining.push((name.to_string(), fraction, accuracy));
        }
    }
    // The table: one row per fraction, one column per method.
    let lookup = |name: &str, fraction: f64| {
        results
            .iter()
            .find(|(n, f, _)| n == name && (f - fraction).abs() < 1e-9)
            .map_or("–".to_string(), |(_, _, a)| format!("{:.2}", 100.0 * a))
    };
    let mut table = vec![
        format!(
            "# ROAR on Fashion-MNIST ({} training, {} test images, {} epochs, seed {})\n",
            train.len(),
            test.len(),
            args.epochs,
            args.seed
        ),
        format!(
            "Test accuracy (%) of a fresh CNN trained and tested with the top p % pixels replaced by {}; unmodified data: {} %. Lower is better.\n",
            match args.fill {
                RoarFill::DatasetMean => "the training mean".to_string(),
                RoarFill::NoisyLinearImputation { noise, .. } =>
                    format!("noisy linear imputation (noise {noise} levels)"),
            },
            lookup("unmodified", 0.0)
        ),
        format!("| removed | {} |", names.join(" | ")),
        format!("|---|{}", "---|".repeat(names.len())),
    ];
    for &fraction in &args.fractions {
        let cells: Vec<String> = names.iter().map(|n| lookup(n, fraction)).collect();
        table.push(format!(
            "| {:.0} % | {} |",
            100.0 * fraction,
            cells.join(" | ")
        ));
    }
    table.push(format!(
        "\nWithout retraining (ROAD's evaluation): accuracy (%) of the shipped CNN on the same test images with the same removal; unmodified: {:.2} %. Lower is better.\n",
        100.0 * shipped_accuracy
    ));
    table.push(format!("| removed | {} |", names.join(" | ")));
    table.push(format!("|---|{}", "---|".repeat(names.len())));
    for &fraction in &args.fractions {
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                no_retraining
                    .iter()
                    .find(|(m, f, _)| m == n && (f - fraction).abs() < 1e-9)
                    .map_or("–".to_string(), |(_, _, a)| format!("{:.2}", 100.0 * a))
            })
            .collect();
        table.push(format!(
            "| {:.0} % | {} |",
            100.0 * fraction,
            cells.join(" | ")
        ));
    }
    std::fs::write(
        out.join(format!("results{suffix}.md")),
        table.join("\n") + "\n",
    )?;
    println!("{}", table.join("\n"));
    Ok(())
}

/// What to explain: the model, the method (`None`: uniform random maps) and
/// the class (`None`: each image's true label).
struct Explain<'a> {
    model: &'a MnistCnn<Cpu>,
    method: Option<&'a Boxed>,
    class: Option<usize>,
}

/// The maps for every image of `data`, read from or appended to
/// `maps-<name>-<split>.bin` in chunks of 500.
fn maps(
    out: &Path,
    name: &str,
    split: &str,
    explain: &Explain<'_>,
    data: &LabelledImages,
    normalisation: &Normalisation,
) -> Result<Vec<Vec<f64>>, Box<dyn std::error::Error>> {
    let [_, h, w] = data.image_shape();
    let path = out.join(format!("maps-{name}-{split}.bin"));
    let mut values: Vec<f64> = std::fs::read(&path)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    values.truncate(values.len() / (h * w) * (h * w));
    let start = Instant::now();
    let device = Default::default();
    let mut done = values.len() / (h * w);
    while done < data.len() {
        let last = (done + 500).min(data.len());
        let indices: Vec<usize> = (done..last).collect();
        let chunk: Vec<f64> = match explain.method {
            Some(method) => {
                let mut chunk = Vec::with_capacity(indices.len() * h * w);
                for part in indices.chunks(50) {
                    let images = data.tensor::<Cpu>(part, normalisation, &device)?;
                    let targets = match explain.class {
                        Some(class) => vec![class; part.len()],
                        None => data.labels_at(part)?,
                    };
                    let map = pixel_map(method.attribute(explain.model, &images, &targets)?);
                    chunk.extend(map.into_data().iter::<f64>());
                }
                chunk
            }
            None => {
                let mut rng = Rng::new(done as u64);
                (0..indices.len() * h * w).map(|_| rng.uniform()).collect()
            }
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        file.write_all(&bytes)?;
        values.extend(chunk);
        done = last;
        println!(
            "{name} maps ({split}): {done}/{} ({:.0} s)",
            data.len(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(values[..data.len() * h * w]
        .chunks_exact(h * w)
        .map(<[f64]>::to_vec)
        .collect())
}

fn read_accuracies(path: &Path) -> Vec<(String, f64, f64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            Some((
                parts.next()?.to_string(),
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            ))
        })
        .collect()
}
