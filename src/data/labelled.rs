//! Image classification datasets held in memory as bytes.

use std::path::Path;

use burn::prelude::*;

use super::{read_idx, IdxArray, Normalisation};
use crate::input::float_tensor;
use crate::{Error, Result};

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set (`train-*` files).
    Train,
    /// The test set (`t10k-*` files).
    Test,
}

/// Labelled 8-bit images `[N, C, H, W]`, e.g. MNIST or Fashion-MNIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledImages {
    pixels: Vec<u8>,
    labels: Vec<usize>,
    shape: [usize; 3],
}

impl LabelledImages {
    /// Images `[N, H, W]` (grey) or `[N, C, H, W]` and labels `[N]` from IDX
    /// arrays.
    ///
    /// # Errors
    /// [`Error::Shape`] if the ranks or the counts do not fit.
    pub fn from_idx(images: IdxArray, labels: IdxArray) -> Result<Self> {
        let shape = match images.dims.as_slice() {
            [_, h, w] => [1, *h, *w],
            [_, c, h, w] => [*c, *h, *w],
            other => {
                return Err(Error::Shape {
                    what: "IDX images",
                    expected: "[N, H, W] or [N, C, H, W]".into(),
                    found: other.to_vec(),
                })
            }
        };
        if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
            return Err(Error::Shape {
                what: "IDX labels",
                expected: format!("[{}] (one label per image)", images.dims[0]),
                found: labels.dims,
            });
        }
        Self::from_parts(
            images.data,
            labels.data.into_iter().map(usize::from).collect(),
            shape,
        )
    }

    /// Images from raw parts: `pixels` holds `labels.len()` images of
    /// `shape` (`[C, H, W]`) in row-major order.
    ///
    /// # Errors
    /// [`Error::Shape`] if the sizes do not agree.
    pub fn from_parts(pixels: Vec<u8>, labels: Vec<usize>, shape: [usize; 3]) -> Result<Self> {
        let expected = shape
            .iter()
            .try_fold(labels.len(), |n, &d| n.checked_mul(d));
        if expected != Some(pixels.len()) {
            return Err(Error::Shape {
                what: "pixels",
                expected: format!("{} images of {shape:?}", labels.len()),
                found: vec![pixels.len()],
            });
        }
        Ok(Self {
            pixels,
            labels,
            shape,
        })
    }

    /// Reads an image file and a label file (IDX, raw or gzip).
    ///
    /// # Errors
    /// As [`read_idx`] and [`LabelledImages::from_idx`].
    pub fn load_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        Self::from_idx(read_idx(images)?, read_idx(labels)?)
    }

    /// Reads a split of an MNIST-layout directory: `train-images-idx3-ubyte`
    /// and `train-labels-idx1-ubyte` (or `t10k-…` for the test split), each
    /// with or without `.gz`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the missing file, otherwise as [`LabelledImages::load_idx`].
    pub fn load_mnist_layout(dir: impl AsRef<Path>, split: Split) -> Result<Self> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let find = |stem: String| {
            let plain = dir.join(&stem);
            let gz = dir.join(format!("{stem}.gz"));
            if gz.exists() {
                Ok(gz)
            } else if plain.exists() {
                Ok(plain)
            } else {
                Err(Error::Io {
                    path: gz,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("neither {stem} nor {stem}.gz exists"),
                    ),
                })
            }
        };
        Self::load_idx(
            find(format!("{prefix}-images-idx3-ubyte"))?,
            find(format!("{prefix}-labels-idx1-ubyte"))?,
        )
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of one image.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The raw bytes of image `i` (`C·H·W` values, row-major).
    ///
    /// # Errors
    /// [`Error::Shape`] if `i` is out of range.
    pub fn pixels(&self, i: usize) -> Result<&[u8]> {
        self.check_indices(&[i])?;
        Ok(self.bytes(i))
    }

    /// The bytes of image `i`, known to exist.
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        let size = self.shape.iter().product::<usize>();
        &self.pixels[i * size..(i + 1) * size]
    }

    /// The images at `indices`, as a new set.
    ///
    /// # Errors
    /// [`Error::Shape`] if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        self.check_indices(indices)?;
        Ok(Self {
            pixels: indices
                .iter()
                .flat_map(|&i| self.bytes(i).iter().copied())
                .collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
        })
    }

    /// The images at `indices` as a tensor `[n, C, H, W]`: bytes divided by
    /// 255, then normalised.
    ///
    /// # Errors
    /// [`Error::Shape`] if an index is out of range or the normalisation has
    /// another channel count.
    pub fn tensor<B: Backend>(
        &self,
        indices: &[usize],
        normalisation: &Normalisation,
        device: &B::Device,
    ) -> Result<Tensor<B, 4>> {
        self.check_indices(indices)?;
        let [c, h, w] = self.shape;
        if normalisation.channels() != c {
            return Err(Error::Shape {
                what: "normalisation",
                expected: format!("{c} channels"),
                found: vec![normalisation.channels()],
            });
        }
        let values: Vec<f64> = indices
            .iter()
            .flat_map(|&i| {
                self.bytes(i)
                    .iter()
                    .enumerate()
                    .map(move |(j, &p)| normalisation.value(j / (h * w), p as f64 / 255.0))
            })
            .collect();
        Ok(float_tensor(values, [indices.len(), c, h, w], device))
    }

    /// The labels at `indices`.
    ///
    /// # Errors
    /// [`Error::Shape`] if an index is out of range.
    pub fn labels_at(&self, indices: &[usize]) -> Result<Vec<usize>> {
        self.check_indices(indices)?;
        Ok(indices.iter().map(|&i| self.labels[i]).collect())
    }

    fn check_indices(&self, indices: &[usize]) -> Result<()> {
        match indices.iter().find(|&&i| i >= self.len()) {
            None => Ok(()),
            Some(&i) => Err(Error::Shape {
                what: "image index",
                expected: format!("below {}", self.len()),
                found: vec![i],
            }),
        }
    }
}
