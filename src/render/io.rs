//! Writing pictures.

use std::path::Path;

use image::RgbImage;

use crate::{Error, Result};

/// Writes `image` as a PNG file, creating missing parent directories.
///
/// # Errors
/// [`Error::Io`] when the directory cannot be created, [`Error::Image`] when
/// encoding or writing fails.
pub fn save_png(image: &RgbImage, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| Error::Image {
            path: path.to_path_buf(),
            source,
        })
}
