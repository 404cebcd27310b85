//! Photos: decoding PNG/JPEG files and the usual classifier preprocessing.

use std::path::Path;

use burn::prelude::*;
use image::imageops::FilterType;
use image::RgbImage;

use super::Normalisation;
use crate::input::float_tensor;
use crate::{Error, Result};

/// Reads a PNG or JPEG file as 8-bit RGB (grey and alpha are converted).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Image`] if it cannot be
/// decoded.
pub fn load_photo(path: impl AsRef<Path>) -> Result<RgbImage> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    image::load_from_memory(&bytes)
        .map(|image| image.to_rgb8())
        .map_err(|source| Error::Image {
            path: path.to_path_buf(),
            source,
        })
}

/// Resize, centre crop and normalisation, as torchvision's
/// `Resize(shorter) → CenterCrop(crop) → ToTensor → Normalize`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoPreprocessing {
    /// Resize so that the shorter side has this length (bilinear with
    /// antialiasing, like PIL's), keeping the aspect ratio; `None` keeps the
    /// size.
    pub resize_shorter: Option<u32>,
    /// Crop this `[height, width]` from the centre; `None` keeps everything.
    pub crop: Option<[u32; 2]>,
    /// Normalisation of the `[0, 1]` pixel values.
    pub normalisation: Normalisation,
}

impl PhotoPreprocessing {
    /// The usual ImageNet preprocessing: shorter side 256, centre crop 224,
    /// ImageNet mean and std.
    pub fn imagenet() -> Self {
        Self {
            resize_shorter: Some(256),
            crop: Some([224, 224]),
            normalisation: Normalisation::imagenet(),
        }
    }

    /// EfficientNet-Lite's: shorter side 256, centre crop 224, `(x − 127) / 128`.
    pub fn efficientnet_lite() -> Self {
        Self {
            normalisation: Normalisation::efficientnet_lite(),
            ..Self::imagenet()
        }
    }

    /// The resized and cropped picture, before normalisation (for display).
    ///
    /// # Errors
    /// [`Error::Shape`] if the crop is larger than the resized picture or a
    /// size is zero.
    pub fn resize_and_crop(&self, photo: &RgbImage) -> Result<RgbImage> {
        let (w, h) = photo.dimensions();
        let bad = |what: &'static str, expected: String, found: Vec<usize>| Error::Shape {
            what,
            expected,
            found,
        };
        if w == 0 || h == 0 {
            return Err(bad(
                "photo",
                "a non-empty picture".into(),
                vec![h as usize, w as usize],
            ));
        }
        let resized = match self.resize_shorter {
            Some(0) => return Err(bad("resize_shorter", "a length ≥ 1".into(), vec![0])),
            Some(s) => {
                // torchvision: the longer side is int(s · long / short).
                let (nw, nh) = if w <= h {
                    (s, (s as u64 * h as u64 / w as u64) as u32)
                } else {
                    ((s as u64 * w as u64 / h as u64) as u32, s)
                };
                image::imageops::resize(photo, nw, nh, FilterType::Triangle)
            }
            None => photo.clone(),
        };
        match self.crop {
            None => Ok(resized),
            Some([ch, cw]) => {
                let (w, h) = resized.dimensions();
                if ch == 0 || cw == 0 || ch > h || cw > w {
                    return Err(bad(
                        "crop",
                        format!("at most the resized size {h}×{w}, at least 1×1"),
                        vec![ch as usize, cw as usize],
                    ));
                }
                // torchvision: offsets round((size − crop) / 2), ties to even.
                let top = ((h - ch) as f64 / 2.0).round_ties_even() as u32;
                let left = ((w - cw) as f64 / 2.0).round_ties_even() as u32;
                Ok(image::imageops::crop_imm(&resized, left, top, cw, ch).to_image())
            }
        }
    }
}

/// Preprocesses a photo into a normalised batch of one, `[1, 3, H, W]`.
///
/// # Errors
/// As [`PhotoPreprocessing::resize_and_crop`]; [`Error::Shape`] if the
/// normalisation is not for 3 channels.
pub fn preprocess_photo<B: Backend>(
    photo: &RgbImage,
    preprocessing: &PhotoPreprocessing,
    device: &B::Device,
) -> Result<Tensor<B, 4>> {
    let norm = &preprocessing.normalisation;
    if norm.channels() != 3 {
        return Err(Error::Shape {
            what: "normalisation",
            expected: "3 channels for an RGB photo".into(),
            found: vec![norm.channels()],
        });
    }
    let picture = preprocessing.resize_and_crop(photo)?;
    let (w, h) = picture.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut values = vec![0.0; 3 * h * w];
    for (x, y, pixel) in picture.enumerate_pixels() {
        for c in 0..3 {
            values[c * h * w + y as usize * w + x as usize] =
                norm.value(c, pixel[c] as f64 / 255.0);
        }
    }
    Ok(float_tensor(values, [1, 3, h, w], device))
}
