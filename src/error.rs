//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `learnprop` because of the caller's data,
/// settings, model or files.
///
/// Each variant carries the offending value and what was expected, so the
/// message alone tells what to fix. A panic inside the crate means a broken
/// internal invariant, never bad input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The batch holds no image.
    #[error("empty batch: `images` has batch size 0, at least one image is needed")]
    EmptyBatch,

    /// The images do not have the channel count the model reads.
    #[error(
        "channel mismatch: the model expects {expected} input channels, the images have {found}"
    )]
    ChannelMismatch {
        /// Channels the model reads.
        expected: usize,
        /// Channels of the images passed.
        found: usize,
    },

    /// The images do not have the spatial size the model needs.
    #[error("image size mismatch: the model expects {expected:?} (height, width), the images are {found:?}")]
    ImageSize {
        /// Height and width the model needs.
        expected: [usize; 2],
        /// Height and width of the images passed.
        found: [usize; 2],
    },

    /// The images are smaller than the model accepts.
    #[error("images too small: the model needs at least {minimum:?} (height, width), the images are {found:?}")]
    ImageTooSmall {
        /// Smallest height and width the model accepts.
        minimum: [usize; 2],
        /// Height and width of the images passed.
        found: [usize; 2],
    },

    /// A tensor has the wrong shape.
    #[error("shape mismatch for {what}: expected {expected}, found {found:?}")]
    Shape {
        /// Which argument.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape found.
        found: Vec<usize>,
    },

    /// The number of targets differs from the number of images.
    #[error(
        "target count mismatch: {images} images but {targets} targets (give one target per image)"
    )]
    TargetCount {
        /// Images in the batch.
        images: usize,
        /// Targets given.
        targets: usize,
    },

    /// A target class index is not a class of the model.
    #[error("target out of range: image {image} asks for class {target}, the model has {classes} classes (0..{classes})")]
    TargetOutOfRange {
        /// Index of the image in the batch.
        image: usize,
        /// The class asked for.
        target: usize,
        /// Number of classes (logits) of the model.
        classes: usize,
    },

    /// An image holds NaN or an infinity.
    #[error("non-finite input: image {image} holds {value} at flat index {index}")]
    NonFiniteInput {
        /// Index of the image in the batch.
        image: usize,
        /// Flat index of the first bad element inside that image.
        index: usize,
        /// The bad value.
        value: f64,
    },

    /// A model parameter holds NaN or an infinity.
    #[error("non-finite weights: parameter {parameter} holds NaN or infinity")]
    NonFiniteWeights {
        /// Name (or position) of the parameter.
        parameter: String,
    },

    /// The model produced NaN or infinite logits.
    #[error("non-finite model output: logit {logit} of image {image} is {value}")]
    NonFiniteOutput {
        /// Index of the image in the batch.
        image: usize,
        /// Index of the logit.
        logit: usize,
        /// The bad value.
        value: f64,
    },

    /// Training produced a NaN or infinite loss.
    #[error("training diverged: the loss is {loss} at epoch {epoch}, step {step} (lower the learning rate, or check the data's normalisation)")]
    Diverged {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The loss.
        loss: f64,
    },

    /// Learned-rule gate parameters hold NaN or an infinity (with
    /// [`Explainer`](crate::Explainer)'s Adam: a learning rate or initial
    /// weight too large for the precision).
    #[error("non-finite gates: the gates of site {site} hold {value} at flat index {index} (lower the learning rate or the initial weight)")]
    NonFiniteGates {
        /// The site, in call order.
        site: usize,
        /// Flat index of the first bad element of that site's gates.
        index: usize,
        /// The bad value.
        value: f64,
    },

    /// An attribution map holds NaN or an infinity.
    #[error("non-finite map: {what} of image {image} holds {value} at flat index {index}")]
    NonFiniteMap {
        /// Which map (a method's name, or the argument's).
        what: String,
        /// Index of the image in the batch (0 for a single map).
        image: usize,
        /// Flat index of the first bad element inside that image's map.
        index: usize,
        /// The bad value.
        value: f64,
    },

    /// A picture would be larger than [`render::MAX_PICTURE_PIXELS`](crate::render::MAX_PICTURE_PIXELS),
    /// or its size does not fit in `u32`.
    #[error("picture too large: {what} would be {width} × {height} pixels (at most {max} pixels)")]
    PictureTooLarge {
        /// Which picture.
        what: &'static str,
        /// The width asked for.
        width: u64,
        /// The height asked for.
        height: u64,
        /// The largest number of pixels allowed.
        max: u64,
    },

    /// The model never called its activation hook.
    #[error("the model has no activation site: its forward never called `Hook::activate`, so there is no rule to apply or learn")]
    NoActivationSites,

    /// The model's activation sites changed between two forwards of one run.
    #[error("activation sites changed between forwards: {details}")]
    SiteMismatch {
        /// What differed.
        details: String,
    },

    /// A configuration value is invalid.
    #[error("invalid setting `{setting}` = {value}: {expected}")]
    InvalidConfig {
        /// The setting's name.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },

    /// A tensor, a model or the device is in another float precision than
    /// the computation needs (Burn keeps one default float type per device
    /// type per process).
    #[error("precision mismatch: {what} is {found}, {expected} is needed (Burn keeps one default float type per device type per process: call `learnprop::set_precision` before creating any tensor, and run another precision in its own process)")]
    Precision {
        /// What has the wrong precision.
        what: String,
        /// Its precision.
        found: String,
        /// The precision needed.
        expected: String,
    },

    /// A layer's settings do not fit each other or its input (a stride,
    /// kernel or dilation of 0, channels that do not match the groups, a
    /// kernel larger than the padded input…).
    #[error("layer geometry: {op}: {problem}")]
    LayerGeometry {
        /// The op (`conv2d`, `max_pool2d`, `pooling`, …).
        op: &'static str,
        /// What does not fit.
        problem: String,
    },

    /// The model's own code panicked while the crate ran it: a Burn op on
    /// shapes that do not fit, a layer setting the crate's
    /// [`ops`](crate::ops) refuse, or an op Burn cannot differentiate twice.
    /// `hint` names the call to use where the cause is known. The
    /// process's panic hook still prints the message when it happens; a
    /// binary built with `panic = "abort"` aborts instead.
    #[error("the model panicked during {during}: {message} ({hint})")]
    ModelPanicked {
        /// What was running (a method's name, or the entry point's).
        during: String,
        /// The panic's message.
        message: String,
        /// What to do about it.
        hint: String,
    },

    /// A model's adoption of the hook is broken in a way that runs without a
    /// panic but gives wrong maps (found by [`check_model`](crate::check_model)).
    #[error("model check failed: {problem}")]
    ModelCheck {
        /// What is wrong, and what to change.
        problem: String,
    },

    /// An ONNX model that cannot be loaded: not a valid file, or a node,
    /// attribute or element type the interpreter does not implement (the
    /// problem names the node and its op).
    #[error("cannot load ONNX model {model}: {problem}")]
    Onnx {
        /// The file (or the name given to the bytes).
        model: String,
        /// What is wrong, naming the node and op where one is at fault.
        problem: String,
    },

    /// The model does not support what a method needs.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A weight file could not be loaded into a model.
    #[error("cannot load weights from {path}: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A dataset file is malformed.
    #[error("malformed dataset file {path}: {message}")]
    Dataset {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// An image could not be encoded or decoded.
    #[error("image error for {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
