//! Training and testing classifiers on in-memory datasets.
//!
//! Used to train the zoo's small CNNs and to retrain models for ROAR.
//! Training runs the model's hooked forward with true derivatives
//! ([`Explainable::logits`]), cross-entropy loss and Adam.

use burn::config::Config;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::TensorData;

use crate::data::{LabelledImages, Normalisation};
use crate::guard::catching_model_panics;
use crate::model::{Explainable, Model};
use crate::random::Rng;
use crate::{Error, Result};

/// Settings of [`train_classifier`].
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Passes over the training set.
    #[config(default = 4)]
    pub epochs: usize,
    /// Images per step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Seed of the shuffling order.
    #[config(default = 0)]
    pub seed: u64,
}

/// Progress of a training run, reported after every `report_every` steps
/// and at the end of every epoch.
#[derive(Debug, Clone, Copy)]
pub struct TrainProgress {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Mean loss over the steps since the last report.
    pub loss: f64,
}

/// Trains `model` on `data` with cross-entropy and Adam; `progress` is called
/// every 100 steps and at the end of each epoch.
///
/// # Errors
/// Invalid settings, an empty dataset, or a normalisation that does not fit
/// the images.
pub fn train_classifier<B, M>(
    mut model: M,
    data: &LabelledImages,
    normalisation: &Normalisation,
    config: &TrainConfig,
    device: &B::Device,
    mut progress: impl FnMut(TrainProgress),
) -> Result<M>
where
    B: AutodiffBackend,
    M: Model<B>,
{
    catching_model_panics("training", || {
        if config.batch_size == 0
            || !config.learning_rate.is_finite()
            || config.learning_rate <= 0.0
        {
            return Err(Error::InvalidConfig {
                setting: "batch_size / learning_rate",
                value: format!("{} / {}", config.batch_size, config.learning_rate),
                expected: "a batch size ≥ 1 and a learning rate > 0",
            });
        }
        if data.is_empty() {
            return Err(Error::EmptyBatch);
        }
        check_data(&model, data, normalisation, device)?;
        let mut optimizer = AdamConfig::new().init::<B, M>();
        let loss_fn = CrossEntropyLossConfig::new().init(device);
        let mut rng = Rng::new(config.seed);
        let mut order: Vec<usize> = (0..data.len()).collect();
        let steps_per_epoch = data.len().div_ceil(config.batch_size);
        for epoch in 1..=config.epochs {
            rng.shuffle(&mut order);
            let (mut running, mut count) = (0.0, 0usize);
            for (step, batch) in order.chunks(config.batch_size).enumerate() {
                let images = data.tensor::<B>(batch, normalisation, device)?;
                let labels: Vec<i64> = data
                    .labels_at(batch)?
                    .into_iter()
                    .map(|l| l as i64)
                    .collect();
                let targets = Tensor::<B, 1, Int>::from_data(
                    TensorData::new(labels, [batch.len()]).convert::<B::IntElem>(),
                    device,
                );
                let loss = loss_fn.forward(model.logits(images), targets);
                let value = crate::input::scalar(loss.clone());
                if !value.is_finite() {
                    return Err(Error::Diverged {
                        epoch,
                        step: step + 1,
                        loss: value,
                    });
                }
                running += value;
                count += 1;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(config.learning_rate, model, grads);
                if (step + 1) % 100 == 0 || step + 1 == steps_per_epoch {
                    progress(TrainProgress {
                        epoch,
                        step: step + 1,
                        steps_per_epoch,
                        loss: running / count as f64,
                    });
                    (running, count) = (0.0, 0);
                }
            }
        }
        crate::input::check_weights(&model)?;
        Ok(model)
    })
}

/// Checks the model's weights, the first image against the model (channels,
/// size) and every label against the model's class count.
fn check_data<B: Backend, M: Explainable<B>>(
    model: &M,
    data: &LabelledImages,
    normalisation: &Normalisation,
    device: &B::Device,
) -> Result<()> {
    let first = data.tensor::<B>(&[0], normalisation, device)?;
    crate::input::check_images(model, &first)?;
    let logits = model.logits(first);
    crate::input::check_logits(&logits)?;
    let classes = logits.dims()[1];
    match data.labels().iter().position(|&l| l >= classes) {
        Some(image) => Err(Error::TargetOutOfRange {
            image,
            target: data.labels()[image],
            classes,
        }),
        None => Ok(()),
    }
}

/// The fraction of `data` whose predicted class (arg max of the logits)
/// equals the label, evaluated in batches of `batch_size`.
///
/// The model is evaluated without gradient tracking (a `no_grad` copy), so
/// a model on an autodiff backend keeps no graph memory across batches.
///
/// # Errors
/// [`Error::EmptyBatch`] for no images, [`Error::InvalidConfig`] for a
/// batch size of 0, a normalisation that does not fit the images, images
/// that do not fit the model ([`check_images`](crate::input::check_images)),
/// non-finite weights or logits.
pub fn accuracy<B: Backend, M: Explainable<B>>(
    model: &M,
    data: &LabelledImages,
    normalisation: &Normalisation,
    batch_size: usize,
    device: &B::Device,
) -> Result<f64> {
    catching_model_panics("accuracy", || {
        if data.is_empty() {
            return Err(Error::EmptyBatch);
        }
        if batch_size == 0 {
            return Err(Error::InvalidConfig {
                setting: "batch_size",
                value: "0".into(),
                expected: "at least one image per evaluation",
            });
        }
        // 8-bit images through a checked normalisation are finite and all of
        // one size: the first image stands for the others.
        check_data(model, data, normalisation, device)?;
        let model = model.clone().no_grad();
        let indices: Vec<usize> = (0..data.len()).collect();
        let mut correct = 0usize;
        for batch in indices.chunks(batch_size) {
            let images = data.tensor::<B>(batch, normalisation, device)?;
            let logits = model.logits(images);
            crate::input::check_logits(&logits)?;
            let predicted = logits.argmax(1).into_data();
            correct += predicted
                .iter::<i64>()
                .zip(data.labels_at(batch)?)
                .filter(|&(p, l)| p as usize == l)
                .count();
        }
        Ok(correct as f64 / data.len() as f64)
    })
}
