//! Datasets and images: IDX files (MNIST, Fashion-MNIST), PNG/JPEG photos,
//! preprocessing and normalisation.
//!
//! Nothing here downloads: files come from paths the caller passes. The
//! repository's `.ci/fetch-data` script fetches the full datasets and the
//! EfficientNet-Lite0 weights from package registries into `data/`.

mod idx;
mod labelled;
mod normalisation;
mod photo;

pub use idx::{parse_idx, read_idx, IdxArray};
pub use labelled::{LabelledImages, Split};
pub use normalisation::Normalisation;
pub use photo::{load_photo, preprocess_photo, PhotoPreprocessing};
