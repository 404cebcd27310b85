//! Reading image files into the model's input, and back into pictures.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use clap::ValueEnum;
use image::imageops::FilterType;
use image::RgbImage;
use learnprop::data::{load_photo, preprocess_photo, Normalisation, PhotoPreprocessing};
use learnprop::render::rgb_image;
use learnprop::Cpu;

use crate::Failure;

/// How an image file becomes the model's input.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// Shorter side to 256, centre crop 224, ImageNet mean and std.
    Imagenet,
    /// As imagenet, then `(x − 127) / 128` (TensorFlow-origin models).
    EfficientnetLite,
    /// Grey, resized to the model's size, MNIST mean and std.
    Mnist,
    /// Grey, resized to the model's size, Fashion-MNIST mean and std.
    FashionMnist,
    /// Resized to the model's size, values in [0, 1].
    None,
}

/// A prepared image: the model input `[1, C, H, W]` and how it looks.
pub struct Prepared {
    pub input: Tensor<Cpu, 4>,
    pub picture: RgbImage,
}

/// Reads `path` for a model with `channels` and (if fixed) `size`.
pub fn prepare(
    path: &Path,
    preprocess: Preprocess,
    channels: usize,
    size: Option<[usize; 2]>,
) -> Result<Prepared, Failure> {
    let device = Default::default();
    let photo = load_photo(path).map_err(|e| e.to_string())?;
    let (normalisation, photo_steps) = match preprocess {
        Preprocess::Imagenet => (
            Normalisation::imagenet(),
            Some(PhotoPreprocessing::imagenet()),
        ),
        Preprocess::EfficientnetLite => (
            Normalisation::efficientnet_lite(),
            Some(PhotoPreprocessing::efficientnet_lite()),
        ),
        Preprocess::Mnist => (Normalisation::mnist(), None),
        Preprocess::FashionMnist => (Normalisation::fashion_mnist(), None),
        Preprocess::None => (Normalisation::identity(channels), None),
    };
    if normalisation.channels() != channels {
        return Err(format!(
            "--preprocess {preprocess:?} makes {}-channel images, the model reads {channels} channels",
            normalisation.channels()
        ));
    }
    let input = match photo_steps {
        Some(steps) => {
            preprocess_photo::<Cpu>(&photo, &steps, &device).map_err(|e| e.to_string())?
        }
        None => {
            let [h, w] = size.unwrap_or([photo.height() as usize, photo.width() as usize]);
            if h == 0 || w == 0 || h * w > 1 << 26 {
                return Err(format!("cannot resize to {h}×{w}"));
            }
            let resized = image::imageops::resize(&photo, w as u32, h as u32, FilterType::Triangle);
            let mut values = vec![0.0f64; channels * h * w];
            for (x, y, p) in resized.enumerate_pixels() {
                let at = y as usize * w + x as usize;
                if channels == 1 {
                    let grey =
                        (0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64) / 255.0;
                    values[at] = grey;
                } else {
                    for c in 0..channels.min(3) {
                        values[c * h * w + at] = p[c] as f64 / 255.0;
                    }
                }
            }
            let unit = Tensor::from_data(
                TensorData::new(values, [1, channels, h, w]).convert::<f32>(),
                &device,
            );
            normalisation.normalise(unit).map_err(|e| e.to_string())?
        }
    };
    let [_, _, h, w] = input.dims();
    if let Some(expected) = size {
        if expected != [h, w] {
            return Err(format!(
                "--preprocess {preprocess:?} makes {h}×{w} images, the model needs {}×{}",
                expected[0], expected[1]
            ));
        }
    }
    let picture = match channels {
        3 => rgb_image(
            input.clone().squeeze_dim::<3>(0),
            &normalisation.display_range(),
        ),
        _ => {
            let grey = input
                .clone()
                .slice([0..1, 0..1, 0..h, 0..w])
                .squeeze_dim::<3>(0)
                .repeat_dim(0, 3);
            rgb_image(
                grey,
                &Normalisation::new(
                    vec![normalisation.mean()[0]; 3],
                    vec![normalisation.std()[0]; 3],
                )
                .map_err(|e| e.to_string())?
                .display_range(),
            )
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(Prepared { input, picture })
}
