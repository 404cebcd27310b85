//! Heatmaps.
