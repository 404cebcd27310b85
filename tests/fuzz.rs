//! A standing fuzz suite: generated shapes, values, settings and byte strings
//! at every public entry point. Each case must return `Ok` with finite
//! output or an `Err` — never panic, abort or hang. Every property runs its
//! cases in a child process (proptest's `fork`), so an abort or a case past
//! the timeout fails the property instead of killing the suite.
//!
//! `LEARNPROP_FUZZ_CASES` sets the cases per property (default 12, the short
//! run of the default test command; CI runs a longer one).

use std::path::PathBuf;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::data::{parse_idx, Normalisation};
use learnprop::method::{
    Baseline, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig,
    GradCamConfig, GuidedBackprop, InputXGradient, IntegratedGradientsConfig,
    MeaningfulPerturbationConfig, Method, NoiseLevel, NoiseTunnelConfig, OcclusionConfig,
    Quadrature, RiseConfig, Saliency,
};
use learnprop::metric::{
    pointing_game, removal_curves, spearman, BoundingBox, Fill, RemovalConfig, RemovalOrder,
    RemovalUnit,
};
use learnprop::ops::{self, Conv2dGeometry, PoolGeometry};
use learnprop::render::{
    draw_text, hstack, line_plot, magnitude_heatmap, signed_heatmap, signed_heatmap_clipped,
    upscale, RgbImage, Series,
};
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::{
    Activation, ActivationHook, Base, Cpu, Explainable, ExplainerConfig, MaskStrategy,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

type Plain = Base<Cpu>;

fn config() -> ProptestConfig {
    let cases = std::env::var("LEARNPROP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    ProptestConfig {
        cases,
        fork: true,
        timeout: 120_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Floats a careless caller or a damaged file produces.
fn wild_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -2.0f64..2.0,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(-1e300),
        1 => Just(1e-300),
        1 => Just(f64::from(f32::MAX) * 2.0),
        1 => Just(-1.0),
    ]
}

/// Counts: small ones that run fast, and ones past every limit.
fn wild_count() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..4,
        1 => Just(usize::MAX),
        1 => Just(1usize << 40),
        1 => Just(10_000_001usize),
    ]
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A shipped model's code is correct: a panic inside it would be a bug of
/// the crate that the entry point's guard hides, so it fails the case.
fn not_a_hidden_panic<T>(result: &Result<T, learnprop::Error>) -> bool {
    !matches!(result, Err(learnprop::Error::ModelPanicked { .. }))
}

fn finite<B: Backend, const D: usize>(t: &Tensor<B, D>) -> bool {
    t.to_data().iter::<f64>().all(f64::is_finite)
}

/// Images `[n, c, h, w]` whose values cycle through `values`.
fn images<B: Backend>(dims: [usize; 4], values: &[f64]) -> Tensor<B, 4> {
    let count: usize = dims.iter().product();
    let data: Vec<f32> = (0..count)
        .map(|i| values[i % values.len()] as f32)
        .collect();
    Tensor::from_data(TensorData::new(data, dims), &Default::default())
}

fn fixture() -> FixtureCnn<Cpu> {
    FixtureCnnConfig::new().init::<Cpu>(&Default::default())
}

/// conv 3×3 (no padding) → ReLU → max-pool 2 → conv 3×3 → ReLU → global
/// average → linear: needs 8×8 images but does not say so.
#[derive(Module, Debug)]
struct TinyPooled<B: Backend> {
    conv1: Conv2d<B>,
    pool: MaxPool2d,
    conv2: Conv2d<B>,
    fc: Linear<B>,
}

fn tiny_pooled() -> TinyPooled<Cpu> {
    let device = Default::default();
    TinyPooled {
        conv1: Conv2dConfig::new([1, 2], [3, 3]).init(&device),
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        conv2: Conv2dConfig::new([2, 2], [3, 3]).init(&device),
        fc: LinearConfig::new(2, 3).init(&device),
    }
}

impl<B: Backend> Explainable<B> for TinyPooled<B> {
    fn input_channels(&self) -> usize {
        1
    }

    fn forward_hooked<H: ActivationHook<B>>(&self, x: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.activate(Activation::Relu, ops::conv2d(&self.conv1, x));
        let x = hook.max_pool2d(&self.pool, x);
        let x = hook.activate(Activation::Relu, ops::conv2d(&self.conv2, x));
        ops::linear(&self.fc, ops::global_avg_pool2d(x).flatten(1, 3))
    }
}

/// Every method of the crate, with a few cheap settings, by index.
fn method(index: usize) -> Box<dyn Method<Cpu, FixtureCnn<Cpu>>> {
    match index % 14 {
        0 => Box::new(Saliency::signed()),
        1 => Box::new(InputXGradient),
        2 => Box::new(GuidedBackprop),
        3 => Box::new(Deconvnet),
        4 => Box::new(
            IntegratedGradientsConfig::new()
                .with_steps(3)
                .init()
                .unwrap(),
        ),
        5 => Box::new(DeepLiftConfig::new().init().unwrap()),
        6 => Box::new(EpsilonLrpConfig::new().init().unwrap()),
        7 => Box::new(GradCamConfig::new().init()),
        8 => Box::new(
            OcclusionConfig::new([3, 16, 16], [3, 16, 16])
                .init()
                .unwrap(),
        ),
        9 => Box::new(RiseConfig::new().with_masks(4).init().unwrap()),
        10 => Box::new(
            NoiseTunnelConfig::new()
                .with_samples(2)
                .init(Saliency::signed())
                .unwrap(),
        ),
        11 => Box::new(
            MeaningfulPerturbationConfig::new()
                .with_iterations(2)
                .init()
                .unwrap(),
        ),
        12 => Box::new(
            ExtremalPerturbationConfig::new()
                .with_iterations(2)
                .init()
                .unwrap(),
        ),
        _ => Box::new(
            ExplainerConfig::new()
                .with_iterations(1)
                .init::<Cpu>()
                .unwrap(),
        ),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any method on any batch: wrong sizes and channels, empty batches,
    /// NaN and huge values, wrong and out-of-range targets.
    #[test]
    fn methods_on_any_batch(
        which in 0usize..14,
        n in prop_oneof![4 => 1usize..3, 1 => Just(0usize)],
        c in prop_oneof![4 => Just(3usize), 1 => 0usize..5],
        side in prop_oneof![4 => Just(32usize), 1 => Just(0usize), 1 => Just(1usize), 1 => Just(31usize)],
        values in prop_oneof![
            4 => prop::collection::vec(-2.0f64..2.0, 1..6),
            1 => prop::collection::vec(wild_f64(), 1..6),
        ],
        classes in prop::collection::vec(0usize..10, 3),
        mangle in 0u8..8,
    ) {
        let model = fixture();
        let x = images::<Cpu>([n, c, side, side], &values);
        let mut targets = classes;
        match mangle {
            0 => targets.clear(),
            1 => targets[0] = usize::MAX,
            2 => targets[0] = 10,
            _ => targets.truncate(n),
        }
        let result = method(which).attribute(&model, &x, &targets);
        prop_assert!(not_a_hidden_panic(&result), "{:?}", result.err());
        if let Ok(map) = result {
            prop_assert!(finite(&map));
        }
    }

    /// Every method's settings, from zero to absurd, on a valid batch.
    #[test]
    fn method_settings(
        which in 0usize..8,
        count in wild_count(),
        other in wild_count(),
        value in wild_f64(),
        window in prop::array::uniform3(wild_count()),
    ) {
        let model = fixture();
        let x = images::<Cpu>([1, 3, 32, 32], &[0.2, -0.4, 0.9]);
        let result: Result<Box<dyn Method<Cpu, FixtureCnn<Cpu>>>, learnprop::Error> = match which {
            0 => IntegratedGradientsConfig::new()
                .with_steps(count)
                .with_steps_per_batch(other)
                .with_quadrature(Quadrature::RiemannTrapezoid)
                .with_baseline(Baseline::Constant { value })
                .init()
                .map(|m| Box::new(m) as _),
            1 => NoiseTunnelConfig::new()
                .with_samples(count)
                .with_samples_per_batch(other)
                .with_noise(NoiseLevel::Absolute { sigma: value })
                .init(Saliency::signed())
                .map(|m| Box::new(m) as _),
            2 => RiseConfig::new()
                .with_masks(count)
                .with_grid(other)
                .with_keep_probability(value)
                .init()
                .map(|m| Box::new(m) as _),
            3 => OcclusionConfig::new(window, window)
                .with_windows_per_batch(count.max(1))
                .with_baseline(Baseline::Constant { value })
                .init()
                .map(|m| Box::new(m) as _),
            4 => MeaningfulPerturbationConfig::new()
                .with_iterations(count)
                .with_mask_scale(other)
                .with_tv_beta(value)
                .with_learning_rate(value.abs())
                .init()
                .map(|m| Box::new(m) as _),
            5 => ExtremalPerturbationConfig::new()
                .with_iterations(count)
                .with_step(other)
                .with_sigma(value)
                .with_max_blur(value.abs())
                .init()
                .map(|m| Box::new(m) as _),
            6 => DeepLiftConfig::new()
                .with_epsilon(value)
                .with_baseline(Baseline::Values { shape: [1, 3, count.min(64), 32], values: vec![value; 3] })
                .init()
                .map(|m| Box::new(m) as _),
            _ => ExplainerConfig::new()
                .with_iterations(count)
                .with_learning_rate(value.abs())
                .with_initial_weight(value)
                .with_mask(MaskStrategy::Gaussian { sigma: value })
                .init::<Cpu>()
                .map(|m| Box::new(m) as _),
        };
        if let Ok(method) = result {
            let result = method.attribute(&model, &x, &[3]);
            prop_assert!(not_a_hidden_panic(&result), "{:?}", result.err());
            if let Ok(map) = result {
                prop_assert!(finite(&map));
            }
        }
    }

    /// A model that declares no minimum size (pooling and unpadded
    /// convolutions inside) on any image size: a layer that does not fit is
    /// an error naming the op.
    #[test]
    fn an_undeclared_minimum_size(
        which in 0usize..3,
        h in 0usize..12,
        w in 0usize..12,
    ) {
        let model = tiny_pooled();
        let x = images::<Cpu>([1, 1, h, w], &[0.5, -0.5, 0.25]);
        let result = match which {
            0 => Saliency::signed().attribute(&model, &x, &[1]),
            1 => GuidedBackprop.attribute(&model, &x, &[1]),
            _ => ExplainerConfig::new()
                .with_iterations(1)
                .init::<Cpu>()
                .unwrap()
                .attribute(&model, &x, &[1])
                .map(|a| a.input_gradient),
        };
        match &result {
            Ok(map) => prop_assert!(finite(map)),
            Err(learnprop::Error::ModelPanicked { message, .. }) => {
                prop_assert!(message.starts_with("learnprop::ops::"), "{}", message)
            }
            Err(_) => {}
        }
    }

    /// Convolution and pooling geometry: what `output_size` accepts runs and
    /// has that size.
    #[test]
    fn layer_geometry(
        stride in prop::array::uniform2(0usize..4),
        dilation in prop::array::uniform2(0usize..3),
        padding in prop::array::uniform2(prop::array::uniform2(0usize..4)),
        groups in 0usize..4,
        kernel in prop::array::uniform2(0usize..5),
        c_in in 1usize..5,
        c_out_group in 1usize..3,
        size in prop::array::uniform2(0usize..9),
        ceil_mode in any::<bool>(),
    ) {
        let geometry = Conv2dGeometry { stride, padding, dilation, groups };
        let c_in_group = if groups > 0 { c_in / groups.max(1) } else { c_in };
        let weight_dims = [c_out_group * groups.max(1), c_in_group, kernel[0], kernel[1]];
        let input = [1, c_in, size[0], size[1]];
        if let Ok(out) = geometry.output_size(input, weight_dims) {
            let x = images::<Plain>(input, &[0.5, -1.0, 2.0]);
            let weight = images::<Plain>(weight_dims, &[0.25, -0.5]);
            let y = ops::conv2d_with(x, weight, None, &geometry);
            prop_assert_eq!(&y.dims()[2..], &out[..]);
            prop_assert!(finite(&y));
        }
        let pool = PoolGeometry { kernel, stride, padding, ceil_mode };
        if let Ok(out) = pool.output_size(size) {
            let x = images::<Plain>([1, 2, size[0], size[1]], &[0.5, -1.0, 2.0]);
            let max = ops::max_pool2d_with(x.clone(), &pool);
            let avg = ops::avg_pool2d_with(x, &pool, false);
            prop_assert_eq!(&max.dims()[2..], &out[..]);
            prop_assert_eq!(&avg.dims()[2..], &out[..]);
            prop_assert!(finite(&max) && finite(&avg));
        }
    }

    /// IDX bytes: valid headers with any dimensions and any payload length,
    /// and plain noise.
    #[test]
    fn idx_bytes(
        kind in prop_oneof![Just(0x08u8), Just(0x09), Just(0x0b), Just(0x0c), Just(0x0d), Just(0x0e), any::<u8>()],
        dims in prop::collection::vec(prop_oneof![0u32..6, Just(u32::MAX), Just(1 << 20)], 0..5),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        use_noise in any::<bool>(),
    ) {
        let bytes = if use_noise {
            noise
        } else {
            let mut b = vec![0, 0, kind, dims.len() as u8];
            for d in &dims {
                b.extend_from_slice(&d.to_be_bytes());
            }
            b.extend_from_slice(&payload);
            b
        };
        if let Ok(array) = parse_idx(&bytes) {
            let count = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            prop_assert_eq!(count, Some(array.data.len()));
        }
    }

    /// Photo bytes: PNG and JPEG signatures followed by noise, and truncated
    /// real encodings, loaded and preprocessed.
    #[test]
    fn photo_bytes(
        signature in prop_oneof![
            Just(vec![0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]),
            Just(vec![0xffu8, 0xd8, 0xff, 0xe0]),
            Just(Vec::<u8>::new()),
        ],
        body in prop::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..400,
        real in any::<bool>(),
    ) {
        let bytes = if real {
            let mut png = Vec::new();
            let picture = RgbImage::from_fn(9, 7, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
            picture.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            png.truncate(cut.min(png.len()));
            png
        } else {
            [signature, body].concat()
        };
        let path = scratch("photo.png");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(photo) = learnprop::data::load_photo(&path) {
            let prep = learnprop::data::PhotoPreprocessing::imagenet();
            if let Ok(x) = learnprop::data::preprocess_photo::<Plain>(&photo, &prep, &Default::default()) {
                prop_assert!(finite(&x));
            }
        }
    }

    /// Weight files: the fixture's safetensors and half-precision `.pth`
    /// files truncated and with bytes overwritten, loaded into the model.
    #[test]
    fn weight_file_bytes(
        file in prop_oneof![
            Just("tests/fixtures/captum/model-b.safetensors"),
            Just("tests/fixtures/weights/model-b-f16.pth"),
            Just("tests/fixtures/weights/model-b-f16-legacy.pth"),
        ],
        cut in prop_oneof![Just(usize::MAX), 0usize..80_000],
        edits in prop::collection::vec((0usize..80_000, any::<u8>()), 0..6),
    ) {
        let mut bytes = std::fs::read(repo(file)).unwrap();
        bytes.truncate(cut.min(bytes.len()));
        for (at, value) in edits {
            if let Some(b) = bytes.get_mut(at) {
                *b = value;
            }
        }
        let extension = if file.ends_with(".pth") { "pth" } else { "safetensors" };
        let path = scratch(&format!("weights.{extension}"));
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(model) = WeightFile::new(&path).load(fixture()) {
            prop_assert!(learnprop::input::check_weights(&model).is_ok());
        }
    }

    /// Safetensors headers naming any element type, shape and offsets.
    #[test]
    fn safetensors_headers(
        dtype in prop_oneof![
            Just("F16"), Just("BF16"), Just("F32"), Just("F64"), Just("I64"),
            Just("I32"), Just("U8"), Just("BOOL"), Just("F8_E4M3"), Just("XX"),
        ],
        shape in prop::collection::vec(prop_oneof![0usize..5, Just(8), Just(usize::MAX)], 0..5),
        offsets in prop::array::uniform2(prop_oneof![0usize..600, Just(usize::MAX)]),
        payload in 0usize..700,
    ) {
        let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
        let header = format!(
            r#"{{"fc2.bias":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{},{}]}}}}"#,
            shape.join(","),
            offsets[0],
            offsets[1]
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0x3c, payload));
        let path = scratch("header.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(model) = WeightFile::new(&path).load(fixture()) {
            prop_assert!(learnprop::input::check_weights(&model).is_ok());
        }
    }

    /// Deletion and insertion curves with any maps and settings.
    #[test]
    fn removal_curve_settings(
        map_values in prop::collection::vec(wild_f64(), 1..5),
        map_channels in 0usize..4,
        fraction in wild_f64(),
        steps in wild_count(),
        batch in wild_count(),
        fill in wild_f64(),
        patch in prop_oneof![Just(None), Just(Some(0usize)), Just(Some(3)), Just(Some(usize::MAX))],
        insertion in any::<bool>(),
    ) {
        let model = fixture();
        let x = images::<Cpu>([2, 3, 32, 32], &[0.1, 0.7, -0.3]);
        let maps = images::<Cpu>([2, map_channels, 32, 32], &map_values);
        let config = RemovalConfig::new()
            .with_order(RemovalOrder::LeastRelevantFirst)
            .with_max_fraction(fraction)
            .with_steps(steps.min(40))
            .with_batch_size(batch)
            .with_fill(Fill::Value { value: fill })
            .with_unit(patch.map_or(RemovalUnit::Pixel, |size| RemovalUnit::Patch { size }))
            .with_insertion(insertion);
        let result = removal_curves(&model, &x, &maps, &[1, 2], &config);
        prop_assert!(not_a_hidden_panic(&result), "{:?}", result.err());
        if let Ok(curves) = result {
            prop_assert!(curves.areas().iter().all(|a| a.is_finite()));
        }
    }

    /// The pointing game and Spearman's ρ with any maps, boxes and vectors.
    #[test]
    fn pointing_and_rank_correlation(
        h in 0usize..6,
        w in 0usize..6,
        values in prop::collection::vec(wild_f64(), 1..5),
        corners in prop::array::uniform4(prop_oneof![0usize..8, Just(usize::MAX)]),
        tolerance in prop_oneof![0usize..3, Just(usize::MAX)],
        a in prop::collection::vec(wild_f64(), 0..6),
        b in prop::collection::vec(wild_f64(), 0..6),
    ) {
        let count = h * w;
        let data: Vec<f32> = (0..count).map(|i| values[i % values.len()] as f32).collect();
        let maps = Tensor::<Plain, 3>::from_data(TensorData::new(data, [1, h, w]), &Default::default());
        let [top, left, bottom, right] = corners;
        let _ = pointing_game(maps, &[BoundingBox { top, left, bottom, right }], tolerance);
        if let Ok(rho) = spearman(&a, &b) {
            prop_assert!(rho.is_finite() && (-1.0 - 1e-12..=1.0 + 1e-12).contains(&rho));
        }
    }

    /// Heatmaps, upscaling, stacking, plots and text with any sizes and values.
    #[test]
    fn render_anything(
        h in 0usize..5,
        w in 0usize..5,
        values in prop::collection::vec(wild_f64(), 1..5),
        outliers in wild_f64(),
        factor in prop_oneof![0u32..4, Just(1 << 15), Just(u32::MAX)],
        gap in prop_oneof![0u32..3, Just(u32::MAX)],
        points in prop::collection::vec((wild_f64(), wild_f64()), 0..5),
        size in prop::array::uniform2(prop_oneof![0u32..200, Just(1 << 16), Just(u32::MAX)]),
        scale in prop_oneof![0u32..3, Just(1 << 20), Just(u32::MAX)],
        at in prop::array::uniform2(prop_oneof![0u32..10, Just(u32::MAX)]),
    ) {
        let count = h * w;
        let data: Vec<f32> = (0..count).map(|i| values[i % values.len()] as f32).collect();
        let map = || Tensor::<Plain, 2>::from_data(TensorData::new(data.clone(), [h, w]), &Default::default());
        let _ = signed_heatmap(map());
        let _ = signed_heatmap_clipped(map(), outliers);
        if let Ok(heat) = magnitude_heatmap(map()) {
            if let Ok(big) = upscale(&heat, factor) {
                let _ = hstack(&[big.clone(), heat], gap);
            }
        }
        let series = [Series { label: "curve".into(), points }];
        if let Ok(mut plot) = line_plot(&series, "title", "x", "y", size[0], size[1]) {
            draw_text(&mut plot, at[0], at[1], "text", scale, [0, 0, 0]);
        }
    }

    /// Normalisations with any means and deviations, on any channel count.
    #[test]
    fn normalisations(
        mean in prop::collection::vec(wild_f64(), 0..4),
        std in prop::collection::vec(wild_f64(), 0..4),
        channels in 0usize..5,
        value in wild_f64(),
    ) {
        if let Ok(norm) = Normalisation::new(mean, std) {
            if let Ok(v) = norm.apply(channels, value) {
                prop_assert!(v.is_finite());
            }
            let x = images::<Plain>([1, channels, 2, 2], &[value, 0.5]);
            if let Ok(y) = norm.normalise(x) {
                prop_assert!(finite(&y));
            }
        }
    }
}
