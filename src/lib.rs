//! # learnprop
//!
//! Attribution maps for image classifiers built with [Burn](https://burn.dev),
//! centred on **learned propagation rules**: at every activation the backward
//! derivative becomes a learnable gate `tanh(W ⊙ (f − f_ref))`, trained per
//! image so that the map's most positive pixels, when masked, lower the target
//! logit and its most negative pixels, when masked, raise it. Training the
//! gates differentiates through a backward pass (a double backward).
//!
//! An ONNX image classifier is explained as it is, with
//! [`onnx::OnnxModel`] (or the `learnprop` command-line tool). A Burn model
//! takes part by routing its activations and layers through a [`Hook`]
//! (see [`model`]); it then serves plain inference and every rule
//! ([`rule`]).
//!
//! ```
//! use burn::prelude::*;
//! use learnprop::zoo::FixtureCnnConfig;
//! use learnprop::{Cpu, ExplainerConfig, Explainable};
//!
//! let device = Default::default();
//! let model = FixtureCnnConfig::new().init::<Cpu>(&device);
//! let image = Tensor::<Cpu, 4>::ones([1, 3, 32, 32], &device);
//! let predicted = model.logits(image.clone()).argmax(1).into_scalar() as usize;
//!
//! let explainer = ExplainerConfig::new().with_iterations(2).init::<Cpu>()?;
//! let attribution = explainer.attribute(&model, &image, &[predicted])?;
//! assert_eq!(attribution.signed.dims(), [1, 32, 32]);
//! # Ok::<(), learnprop::Error>(())
//! ```
//!
//! ## Modules
//!
//! | what | modules |
//! |---|---|
//! | models | [`model`] (the [`Hook`], [`Explainable`], [`Model`]), [`zoo`], [`onnx`], [`weights`] |
//! | explaining | [`explainer`] (the learned rules), [`method`] (every other method), [`rule`] (rules and composites) |
//! | judging and showing | [`metric`], [`render`] |
//! | building blocks | [`ops`] (double-differentiable layers), [`data`] (datasets, photos, normalisation), [`backend`] |
//! | support | [`input`] (the checks every entry point runs), [`random`] (the seeded generator behind every stochastic method), [`train`] (training the zoo's small models) |
#![warn(missing_docs)]

mod activation;
pub mod backend;
mod check;
pub mod data;
mod error;
pub mod explainer;
mod guard;
pub mod input;
pub mod method;
pub mod metric;
pub mod model;
pub mod onnx;
pub mod ops;
mod precision;
pub mod random;
pub mod render;
pub mod rule;
pub mod train;
mod validate;
pub mod weights;
pub mod zoo;

#[cfg(any(feature = "flex", feature = "ndarray"))]
pub use backend::Cpu;
#[cfg(feature = "flex")]
pub use backend::FlexCpu;
#[cfg(feature = "wgpu")]
pub use backend::Gpu;
#[cfg(feature = "ndarray")]
pub use backend::NdArrayCpu;
/// The code of `docs/adopting-the-hook.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/adopting-the-hook.md")]
pub struct AdoptingTheHookGuide;
/// The code of `docs/onnx.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/onnx.md")]
pub struct OnnxGuide;
/// The code of `docs/method.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/method.md")]
pub struct MethodNotes;

pub use check::{check_model, ModelReport, SiteSummary};
pub use error::{Error, Result};
pub use explainer::{Attribution, Explainer, ExplainerConfig, MaskStrategy};
pub use model::{Activation, Explainable, Hook, Model};
pub use precision::{precision, set_precision, Precision};
pub use rule::SiteKind;
pub use rule::TrueGradient;
pub use rule::{GateShape, Granularity};
