//! The models the tool explains: ONNX files and the zoo's trained models.

use std::path::{Path, PathBuf};

use clap::Args;
use learnprop::onnx::OnnxModel;
use learnprop::weights::WeightFile;
use learnprop::zoo::{self, EfficientNetLite0, EfficientNetLite0Config, MnistCnn};
use learnprop::{Cpu, Explainable};

use crate::images::Preprocess;
use crate::Failure;

/// Which model, and how its images are prepared.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// An `.onnx` file, or a zoo model: mnist-cnn, fashion-mnist-cnn,
    /// efficientnet-lite0 (with --weights).
    #[arg(long)]
    pub model: String,
    /// The PyTorch weights of a zoo model that ships without them
    /// (efficientnet-lite0: `efficientnet-lite0-57934424.pth`).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// How images are resized and normalised (default: the zoo model's own;
    /// for ONNX models imagenet for 3-channel 224×224 inputs, mnist for
    /// 1-channel inputs, none otherwise).
    #[arg(long, value_enum)]
    pub preprocess: Option<Preprocess>,
}

/// A loaded model of one of the supported kinds.
pub enum Loaded {
    Onnx(OnnxModel<Cpu>),
    Small(Box<MnistCnn<Cpu>>),
    EfficientNet(Box<EfficientNetLite0<Cpu>>),
}

/// A loaded model with what the tool needs around it.
pub struct Model {
    pub loaded: Loaded,
    pub preprocess: Preprocess,
    pub class_names: Option<Vec<String>>,
    pub ends_in_softmax: bool,
}

/// Runs `$body` with `$m` bound to the concrete model.
macro_rules! with_model {
    ($model:expr, $m:ident => $body:expr) => {
        match &$model.loaded {
            $crate::models::Loaded::Onnx($m) => $body,
            $crate::models::Loaded::Small(boxed) => {
                let $m = boxed.as_ref();
                $body
            }
            $crate::models::Loaded::EfficientNet(boxed) => {
                let $m = boxed.as_ref();
                $body
            }
        }
    };
}
pub(crate) use with_model;

const FASHION: [&str; 10] = [
    "T-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

fn names(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

impl Model {
    /// Loads the model named by `args`.
    pub fn load(args: &ModelArgs) -> Result<Self, Failure> {
        let device = Default::default();
        let text = |e: learnprop::Error| e.to_string();
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        let (loaded, preprocess, class_names) = match args.model.as_str() {
            "mnist-cnn" => (Loaded::Small(Box::new(zoo::pretrained::mnist_cnn(&device).map_err(text)?)), Preprocess::Mnist, Some(digits)),
            "fashion-mnist-cnn" => {
                (Loaded::Small(Box::new(zoo::pretrained::fashion_mnist_cnn(&device).map_err(text)?)), Preprocess::FashionMnist, names(&FASHION))
            }
            "efficientnet-lite0" => {
                let weights = args.weights.as_ref().ok_or("efficientnet-lite0 needs --weights efficientnet-lite0-57934424.pth (.ci/fetch-data puts it in data/weights)")?;
                let model = WeightFile::new(weights)
                    .with_key_remappings(EfficientNetLite0::<Cpu>::pytorch_key_remapping())
                    .load(EfficientNetLite0Config::new().init::<Cpu>(&device))
                    .map_err(text)?;
                (Loaded::EfficientNet(Box::new(model)), Preprocess::EfficientnetLite, Some(imagenet()))
            }
            path if Path::new(path).extension().is_some_and(|e| e == "onnx") => {
                if args.weights.is_some() {
                    return Err("--weights is for zoo models; an ONNX file holds its own weights".into());
                }
                let model = OnnxModel::<Cpu>::from_file(path, &device).map_err(text)?;
                let preprocess = match (model.input_channels(), model.input_size()) {
                    (3, Some([224, 224])) => Preprocess::Imagenet,
                    (1, _) => Preprocess::Mnist,
                    _ => Preprocess::None,
                };
                let class_names = (model.classes() == Some(1000)).then(imagenet);
                (Loaded::Onnx(model), preprocess, class_names)
            }
            other => {
                return Err(format!(
                    "unknown model `{other}`: give an .onnx file or one of mnist-cnn, fashion-mnist-cnn, efficientnet-lite0"
                ))
            }
        };
        let ends_in_softmax = matches!(&loaded, Loaded::Onnx(m) if m.ends_in_softmax());
        Ok(Self {
            loaded,
            preprocess: args.preprocess.unwrap_or(preprocess),
            class_names,
            ends_in_softmax,
        })
    }

    /// Input channels and fixed size.
    pub fn input(&self) -> (usize, Option<[usize; 2]>) {
        with_model!(self, m => (m.input_channels(), m.input_size()))
    }

    /// A class's printable name.
    pub fn class_name(&self, class: usize) -> String {
        match self.class_names.as_ref().and_then(|n| n.get(class)) {
            Some(name) => format!("{class} ({name})"),
            None => class.to_string(),
        }
    }
}

fn imagenet() -> Vec<String> {
    zoo::imagenet_classes()
        .into_iter()
        .map(String::from)
        .collect()
}
