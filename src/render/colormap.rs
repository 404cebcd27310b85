//! Piecewise-linear colormaps.

/// A colormap given by equally spaced control colours on `[0, 1]`.
#[derive(Debug, Clone, Copy)]
pub struct Colormap {
    stops: &'static [[u8; 3]],
}

/// Blue – white – red (ColorBrewer RdBu, reversed): for signed maps, with
/// white at the centre.
pub const DIVERGING: Colormap = Colormap {
    stops: &[
        [5, 48, 97],
        [33, 102, 172],
        [67, 147, 195],
        [146, 197, 222],
        [209, 229, 240],
        [255, 255, 255],
        [253, 219, 199],
        [244, 165, 130],
        [214, 96, 77],
        [178, 24, 43],
        [103, 0, 31],
    ],
};

/// Black – purple – orange – yellow (matplotlib's inferno, sampled): for
/// magnitudes.
pub const SEQUENTIAL: Colormap = Colormap {
    stops: &[
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
};

impl Colormap {
    /// The colour at `t`, clamped to `[0, 1]` (NaN maps to 0).
    pub fn color(&self, t: f64) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let segments = (self.stops.len() - 1) as f64;
        let position = t * segments;
        let i = (position.floor() as usize).min(self.stops.len() - 2);
        let frac = position - i as f64;
        let (a, b) = (self.stops[i], self.stops[i + 1]);
        std::array::from_fn(|c| (a[c] as f64 + (b[c] as f64 - a[c] as f64) * frac).round() as u8)
    }
}
