//! Metrics, rendering and normalisations.

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::data::Normalisation;
use learnprop::metric::{
    pointing_game, removal_curves, spearman, BoundingBox, Fill, RemovalConfig, RemovalOrder,
    RemovalUnit,
};
use learnprop::render::{
    draw_text, hstack, line_plot, magnitude_heatmap, signed_heatmap, signed_heatmap_clipped,
    upscale, Series,
};
use learnprop::Cpu;
use proptest::prelude::*;

use crate::{config, finite, fixture, images, not_a_hidden_panic, wild_count, wild_f64, Plain};

proptest! {
    #![proptest_config(config())]

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
