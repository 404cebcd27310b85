//! Bad input to the metrics, training, data and render functions: each is
//! an `Err` naming the problem, never a panic, a hang, a wrapped size or a
//! silently wrong result.

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::backend::Base;
use learnprop::data::{IdxArray, LabelledImages, Normalisation};
use learnprop::method::{RiseConfig, Saliency};
use learnprop::metric::{
    cascading_randomisation, pointing_game, removal_curves, remove_most_relevant, spearman,
    BoundingBox, Fill, RemovalConfig, RemovalUnit,
};
use learnprop::random::Rng;
use learnprop::render::{
    draw_text, grey_image, hstack, labelled_grid, line_plot, magnitude_heatmap, overlay, rgb_image,
    signed_heatmap, signed_heatmap_clipped, upscale, DisplayRange, GridRow, RgbImage, Series,
};
use learnprop::train::{accuracy, train_classifier, TrainConfig};
use learnprop::zoo::{FixtureCnnConfig, MnistCnnConfig};
use learnprop::{Cpu, Error};

type Plain = Base<Cpu>;

fn map(values: Vec<f32>, shape: [usize; 2]) -> Tensor<Plain, 2> {
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

#[test]
fn render_refuses_non_finite_maps_bad_settings_and_huge_pictures() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let m = || map(vec![0.0, 1.0, bad, 2.0], [2, 2]);
        for result in [
            signed_heatmap(m()),
            signed_heatmap_clipped(m(), 0.02),
            magnitude_heatmap(m()),
            grey_image(m()),
        ] {
            let err = result.unwrap_err();
            assert!(
                matches!(err, Error::NonFiniteMap { index: 2, .. }),
                "{bad}: {err}"
            );
        }
        let image = Tensor::<Plain, 3>::from_data(
            TensorData::new(vec![0.0, bad, 0.5, 0.5], [1, 2, 2]),
            &Default::default(),
        );
        assert!(rgb_image(image, &DisplayRange::MinMax).is_err());
    }
    let fine = || map(vec![-1.0, 0.0, 0.5, 1.0], [2, 2]);
    for outliers in [-0.1, 1.1, f64::NAN] {
        assert!(signed_heatmap_clipped(fine(), outliers).is_err());
    }
    // Extreme but finite values keep their order.
    let wide = map(vec![-f32::MAX, 0.0, f32::MAX, f32::MAX], [2, 2]);
    let heat = magnitude_heatmap(wide).unwrap();
    assert_ne!(heat.get_pixel(0, 0), heat.get_pixel(0, 1));

    let picture = RgbImage::new(3, 2);
    let heat = signed_heatmap(fine()).unwrap();
    assert!(matches!(
        overlay(&picture, &heat, 0.5),
        Err(Error::Shape { .. })
    ));
    for opacity in [-0.5, 1.5, f32::NAN] {
        assert!(overlay(&heat, &heat, opacity).is_err());
    }
    assert!(upscale(&heat, 0).is_err());
    for factor in [1 << 14, 1 << 30, u32::MAX] {
        let err = upscale(&heat, factor).unwrap_err();
        assert!(
            matches!(err, Error::PictureTooLarge { .. }),
            "{factor}: {err}"
        );
    }
    assert_eq!(upscale(&heat, 3).unwrap().dimensions(), (6, 6));
    let wide = RgbImage::new(u32::MAX / 2, 0);
    assert!(matches!(
        hstack(&[wide.clone(), wide.clone(), wide], 1),
        Err(Error::PictureTooLarge { .. })
    ));
    assert!(matches!(
        hstack(&[heat.clone(), heat.clone()], u32::MAX),
        Err(Error::PictureTooLarge { .. })
    ));
    let row = GridRow {
        label: "x".repeat(1 << 25),
        cells: vec![heat.clone()],
    };
    assert!(labelled_grid(&["a"], &[row], 2).is_err());

    // Huge text scales and infinite points draw in bounded time.
    let mut canvas = RgbImage::new(64, 32);
    draw_text(&mut canvas, 3, 3, "scale", u32::MAX, [0, 0, 0]);
    let curve = Series {
        label: "∞".into(),
        points: vec![(0.0, 1.0), (0.5, f64::INFINITY), (1.0, f64::NEG_INFINITY)],
    };
    line_plot(&[curve], "t", "x", "y", 300, 200).unwrap();
}

#[test]
fn pointing_game_spearman_and_sanity_check_their_input() {
    let device = Default::default();
    let maps = |values: Vec<f32>, shape: [usize; 3]| {
        Tensor::<Plain, 3>::from_data(TensorData::new(values, shape), &device)
    };
    let any_box = BoundingBox {
        top: 0,
        left: 0,
        bottom: 0,
        right: 0,
    };
    let err = pointing_game(maps(vec![], [1, 0, 4]), &[any_box], 0).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let err = pointing_game(maps(vec![], [1, 4, 0]), &[any_box], 0).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let nan = maps(vec![0.0, f32::NAN, 0.0, 0.0], [1, 2, 2]);
    assert!(matches!(
        pointing_game(nan, &[any_box], 0),
        Err(Error::NonFiniteMap { index: 1, .. })
    ));
    let upside_down = BoundingBox {
        top: 1,
        bottom: 0,
        ..any_box
    };
    let plain = || maps(vec![0.0, 1.0, 0.0, 0.0], [1, 2, 2]);
    assert!(pointing_game(plain(), &[upside_down], 0).is_err());
    assert_eq!(
        pointing_game(plain(), &[any_box], usize::MAX).unwrap(),
        vec![true]
    );

    assert!(matches!(
        spearman(&[1.0, 2.0], &[1.0]),
        Err(Error::Shape { .. })
    ));
    assert!(spearman(&[], &[]).is_err());
    assert!(matches!(
        spearman(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]),
        Err(Error::NonFiniteMap { index: 1, .. })
    ));
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap(), 0.0);

    type T = learnprop::Cpu;
    let model = FixtureCnnConfig::new().init::<T>(&device);
    let images = Tensor::<T, 4>::ones([1, 3, 32, 32], &device);
    let err = cascading_randomisation(&model, &Saliency::signed(), &images, &[0], 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                setting: "per_step",
                ..
            }
        ),
        "{err}"
    );
    let steps =
        cascading_randomisation(&model, &Saliency::signed(), &images, &[0], usize::MAX).unwrap();
    assert_eq!(
        steps.len(),
        2,
        "the untouched model, then everything at once"
    );
}

#[test]
fn removal_curves_refuse_bad_maps_and_settings() {
    let device = Default::default();
    let model = MnistCnnConfig::new().init::<Plain>(&device);
    let images = Tensor::<Plain, 4>::ones([1, 1, 28, 28], &device);
    let ok_map = Tensor::<Plain, 3>::ones([1, 28, 28], &device);
    let config = RemovalConfig::new();
    assert!(removal_curves(&model, &images, &ok_map, &[0], &config).is_ok());
    for bad in [f32::NAN, f32::INFINITY] {
        let mut values = vec![1.0f32; 784];
        values[30] = bad;
        let map = Tensor::<Plain, 3>::from_data(TensorData::new(values, [1, 28, 28]), &device);
        let err = removal_curves(&model, &images, &map, &[0], &config).unwrap_err();
        assert!(
            matches!(err, Error::NonFiniteMap { index: 30, .. }),
            "{err}"
        );
    }
    let no_channels = Tensor::<Plain, 4>::ones([1, 0, 28, 28], &device);
    assert!(matches!(
        removal_curves(&model, &images, &no_channels, &[0], &config),
        Err(Error::Shape { .. })
    ));
    for fill in [f64::NAN, f64::INFINITY] {
        let config = RemovalConfig::new().with_fill(Fill::Value { value: fill });
        assert!(matches!(
            removal_curves(&model, &images, &ok_map, &[0], &config),
            Err(Error::InvalidConfig {
                setting: "fill",
                ..
            })
        ));
    }
    let patches = RemovalConfig::new().with_unit(RemovalUnit::Patch { size: 0 });
    assert!(removal_curves(&model, &images, &ok_map, &[0], &patches).is_err());
    let err = removal_curves(
        &model,
        &images,
        &ok_map,
        &[0],
        &RemovalConfig::new().with_steps(usize::MAX),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                setting: "steps",
                ..
            }
        ),
        "{err}"
    );
    // Many more steps than pixels: each distinct count is evaluated once,
    // and the curve repeats the values.
    let fine = removal_curves(
        &model,
        &images,
        &ok_map,
        &[0],
        &RemovalConfig::new().with_steps(100_000),
    )
    .unwrap();
    assert_eq!(fine.curve.len(), 100_001);

    let data = LabelledImages::from_parts(vec![0; 4], vec![0], [1, 2, 2]).unwrap();
    let err = remove_most_relevant(&data, &[vec![0.0, f64::NAN, 0.0, 0.0]], 0.5, &[0]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFiniteMap {
                image: 0,
                index: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn data_checks_indices_sizes_and_normalisations() {
    assert!(Normalisation::new(vec![0.5, 0.5], vec![0.2]).is_err());
    assert!(Normalisation::new(vec![], vec![]).is_err());
    // Deviations and means whose normalised f32 values would overflow.
    for std in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
        assert!(Normalisation::new(vec![0.5], vec![std]).is_err(), "{std}");
    }
    for mean in [f64::NAN, 1e300, -2e6] {
        assert!(Normalisation::new(vec![mean], vec![1.0]).is_err(), "{mean}");
    }
    assert!(Normalisation::new(vec![123.7], vec![58.4]).is_ok());
    let n = Normalisation::mnist();
    assert!(n.apply(1, 0.5).is_err());
    assert!(n.apply(0, f64::NAN).is_err());
    assert!(n.apply(0, f64::INFINITY).is_err());
    let tiny = Normalisation::new(vec![0.0], vec![1e-6]).unwrap();
    let huge = Tensor::<Plain, 4>::full([1, 1, 2, 2], 1e35, &Default::default());
    assert!(tiny.normalise(huge).is_err());
    let nan = Tensor::<Plain, 4>::full([1, 1, 2, 2], f32::NAN, &Default::default());
    assert!(n.normalise(nan).is_err());
    let rgb = Tensor::<Plain, 4>::zeros([1, 3, 2, 2], &Default::default());
    assert!(matches!(n.normalise(rgb.clone()), Err(Error::Shape { .. })));
    assert!(n.denormalise(rgb).is_err());

    let data = LabelledImages::from_parts(vec![1, 2, 3, 4], vec![7], [1, 2, 2]).unwrap();
    assert!(data.pixels(1).is_err());
    assert!(data.labels_at(&[0, 1]).is_err());
    assert_eq!(data.labels_at(&[0]).unwrap(), vec![7]);
    assert!(LabelledImages::from_parts(vec![0; 4], vec![0; 2], [1, usize::MAX, 2]).is_err());
    let short = IdxArray {
        dims: vec![2, 2, 2],
        data: vec![0; 5],
    };
    let labels = IdxArray {
        dims: vec![2],
        data: vec![0, 1],
    };
    assert!(LabelledImages::from_idx(short, labels).is_err());

    let mut rng = Rng::new(1);
    assert_eq!(rng.below(0), None);
    let rise = RiseConfig::new().init().unwrap();
    assert!(matches!(rise.masks(0, 0), Err(Error::Shape { .. })));
    assert!(RiseConfig::new().with_masks(usize::MAX / 2).init().is_err());
    let many = RiseConfig::new().with_masks(1_000_000).init().unwrap();
    assert!(many.masks(1 << 20, 1 << 20).is_err());
    assert!(many.masks(usize::MAX, 3).is_err());
}

#[test]
fn training_and_accuracy_check_labels_batches_and_divergence() {
    type T = burn::backend::Autodiff<Plain>;
    let device = Default::default();
    let fresh = || MnistCnnConfig::new().init::<T>(&device);
    let pixels: Vec<u8> = (0..4 * 784).map(|i| (i % 251) as u8).collect();
    let config = TrainConfig::new().with_epochs(1).with_batch_size(2);
    let mnist = Normalisation::mnist();

    let bad_labels =
        LabelledImages::from_parts(pixels.clone(), vec![1, 2, 10, 3], [1, 28, 28]).unwrap();
    let err = train_classifier(fresh(), &bad_labels, &mnist, &config, &device, |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TargetOutOfRange {
                image: 2,
                target: 10,
                classes: 10
            }
        ),
        "{err}"
    );
    let data = LabelledImages::from_parts(pixels, vec![1, 2, 9, 3], [1, 28, 28]).unwrap();
    let wild = TrainConfig::new()
        .with_epochs(2)
        .with_batch_size(2)
        .with_learning_rate(1e300);
    let err = train_classifier(fresh(), &data, &mnist, &wild, &device, |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::Diverged { .. } | Error::NonFiniteWeights { .. }),
        "{err}"
    );
    let rgb = Normalisation::imagenet();
    assert!(train_classifier(fresh(), &data, &rgb, &config, &device, |_| {}).is_err());
    let wrong_size = LabelledImages::from_parts(vec![0; 16], vec![0], [1, 4, 4]).unwrap();
    assert!(train_classifier(fresh(), &wrong_size, &mnist, &config, &device, |_| {}).is_err());

    let model = MnistCnnConfig::new().init::<Plain>(&device);
    assert!(matches!(
        accuracy(&model, &data, &mnist, 0, &device),
        Err(Error::InvalidConfig {
            setting: "batch_size",
            ..
        })
    ));
    assert!(accuracy(&model, &wrong_size, &mnist, 8, &device).is_err());
    assert!(accuracy(&model, &data, &mnist, 3, &device).is_ok());
}

/// A method whose map overflows: `attribute` turns it into an error naming
/// the method and the element.
struct Overflowing;

impl<M> learnprop::method::Method<Plain, M> for Overflowing {
    fn name(&self) -> String {
        "overflowing".into()
    }

    fn compute(
        &self,
        _model: &M,
        images: &Tensor<Plain, 4>,
        _targets: &[usize],
    ) -> learnprop::Result<Tensor<Plain, 4>> {
        let [n, c, h, w] = images.dims();
        let mut values = vec![1.0f32; n * c * h * w];
        values[c * h * w + 5] = f32::INFINITY;
        Ok(Tensor::from_data(
            TensorData::new(values, [n, c, h, w]),
            &images.device(),
        ))
    }
}

#[test]
fn a_non_finite_map_from_any_method_is_an_error() {
    use learnprop::method::Method;
    let images = Tensor::<Plain, 4>::ones([2, 1, 4, 4], &Default::default());
    let err = Overflowing.attribute(&(), &images, &[0, 0]).unwrap_err();
    match err {
        Error::NonFiniteMap {
            what,
            image,
            index,
            value,
        } => assert_eq!(
            (what.as_str(), image, index, value),
            ("overflowing", 1, 5, f64::INFINITY)
        ),
        other => panic!("{other}"),
    }
    assert!(Overflowing.compute(&(), &images, &[0, 0]).is_ok());
}

#[test]
fn method_and_explainer_settings_are_checked_against_what_they_will_meet() {
    use learnprop::method::{
        ExtremalPerturbationConfig, IntegratedGradientsConfig, MeaningfulPerturbationConfig,
        Method, NoiseTunnelConfig, OcclusionConfig,
    };
    use learnprop::{ExplainerConfig, MaskStrategy};
    let invalid = |result: Result<(), Error>, setting: &str| match result {
        Err(Error::InvalidConfig { setting: s, .. }) if s == setting => {}
        other => panic!("{setting}: {other:?}"),
    };
    // Counts that would overflow, exhaust memory or never end.
    invalid(
        IntegratedGradientsConfig::new()
            .with_steps(usize::MAX)
            .init()
            .map(drop),
        "steps",
    );
    invalid(
        NoiseTunnelConfig::new()
            .with_samples(usize::MAX)
            .init(Saliency::signed())
            .map(drop),
        "samples",
    );
    invalid(
        RiseConfig::new().with_masks(1 << 40).init().map(drop),
        "masks",
    );
    invalid(
        RiseConfig::new().with_grid(usize::MAX).init().map(drop),
        "grid",
    );
    invalid(
        OcclusionConfig::new([3, 4, 4], [3, 4, 4])
            .with_windows_per_batch(usize::MAX)
            .init()
            .map(drop),
        "windows_per_batch",
    );
    invalid(
        ExplainerConfig::new()
            .with_iterations(usize::MAX)
            .validate(),
        "iterations",
    );
    invalid(
        ExplainerConfig::new()
            .with_mask(MaskStrategy::Gaussian { sigma: 1e-300 })
            .validate(),
        "mask.sigma",
    );
    invalid(
        ExtremalPerturbationConfig::new()
            .with_levels(usize::MAX)
            .init()
            .map(drop),
        "levels",
    );
    invalid(
        MeaningfulPerturbationConfig::new()
            .with_tv_beta(1e39)
            .init()
            .map(drop),
        "tv_beta",
    );
    invalid(
        MeaningfulPerturbationConfig::new()
            .with_image_blur(1e300)
            .init()
            .map(drop),
        "image_blur",
    );

    // Settings that only fail against the images' size.
    let device = Default::default();
    let model = FixtureCnnConfig::new().init::<Cpu>(&device);
    let images = Tensor::<Cpu, 4>::ones([1, 3, 32, 32], &device);
    let extremal = ExtremalPerturbationConfig::new()
        .with_step(1000)
        .with_iterations(1)
        .init()
        .unwrap();
    invalid(extremal.attribute(&model, &images, &[0]).map(drop), "step");
    let meaningful = MeaningfulPerturbationConfig::new()
        .with_mask_scale(33)
        .with_iterations(1)
        .init()
        .unwrap();
    invalid(
        meaningful.attribute(&model, &images, &[0]).map(drop),
        "mask_scale",
    );
    let tunnel = NoiseTunnelConfig::new().init(Saliency::signed()).unwrap();
    let empty = Tensor::<Cpu, 4>::zeros([1, 3, 0, 0], &device);
    assert!(matches!(
        tunnel.attribute(&model, &empty, &[0]),
        Err(Error::Shape { what: "images", .. })
    ));

    // A learning rate the precision cannot hold: the gates, not the model.
    let explainer = ExplainerConfig::new()
        .with_iterations(2)
        .with_learning_rate(1e300)
        .init::<Cpu>()
        .unwrap();
    let err = explainer.attribute(&model, &images, &[0]).unwrap_err();
    assert!(matches!(err, Error::NonFiniteGates { .. }), "{err}");
}
