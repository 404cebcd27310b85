//! Attribution methods behind one trait.
//!
//! Every method maps a batch of images and one target class per image to an
//! attribution of the same height and width: per input element
//! (`[N, C, H, W]`, gradient-type methods) or per pixel (`[N, 1, H, W]`,
//! e.g. Grad-CAM and perturbation masks). [`pixel_map`] sums channels.

mod gradient;

pub use gradient::{InputXGradient, Saliency};

use burn::prelude::*;

use crate::Result;

/// An attribution method for models of type `M` on backend `B`.
///
/// Object safe, so a list of methods can be `Vec<Box<dyn Method<B, M>>>`.
pub trait Method<B: Backend, M> {
    /// A short name for tables and pictures (e.g. `"saliency"`).
    fn name(&self) -> String;

    /// Attributes `targets[i]` for each image `images[i]`.
    ///
    /// # Shapes
    /// `images` `[N, C, H, W]` → `[N, C, H, W]` or `[N, 1, H, W]`.
    ///
    /// # Errors
    /// Bad images or targets ([`crate::input`]) and the method's own.
    fn attribute(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Tensor<B, 4>>;
}

/// The per-pixel map `[N, H, W]` of an attribution: the sum over channels.
pub fn pixel_map<B: Backend>(attribution: Tensor<B, 4>) -> Tensor<B, 3> {
    attribution.sum_dim(1).squeeze_dim(1)
}
