//! Line plots of curves (MoRF/LeRF), with axes, ticks and a legend.

use image::{Rgb, RgbImage};

use super::canvas;
use super::text::{draw_text, text_width};
use crate::Result;

/// One line of a [`line_plot`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points `(x, y)` in data units, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// Distinct colours for 12 series; the next 12 reuse them dashed, the next
/// dotted (see [`line_style`]).
const PALETTE: [[u8; 3]; 12] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [0, 0, 0],
    [255, 215, 0],
];

/// Pixels on and off along a line: solid, dashed or dotted.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dash {
    on: f64,
    off: f64,
}

impl Dash {
    fn draws(&self, length: f64) -> bool {
        self.off == 0.0 || length % (self.on + self.off) < self.on
    }
}

/// Colour and dash of series `i`: 12 colours, then the same colours dashed,
/// then dotted, so 36 series stay distinguishable.
fn line_style(i: usize) -> ([u8; 3], Dash) {
    let dashes = [
        Dash { on: 1.0, off: 0.0 },
        Dash { on: 7.0, off: 4.0 },
        Dash { on: 2.0, off: 3.0 },
    ];
    (
        PALETTE[i % PALETTE.len()],
        dashes[(i / PALETTE.len()) % dashes.len()],
    )
}

/// Draws `series` as lines on a `width × height` white picture with a title,
/// axis labels, tick values at the ends of each axis and a legend on the
/// right. The axes span the data's range (the y range padded by 5 %). Series
/// beyond the twelfth reuse the colours with dashed, then dotted lines.
/// A point with a NaN or infinite coordinate is a gap in its line (as in
/// matplotlib); a picture too small for the axes is left blank.
///
/// ```
/// use learnprop::render::{line_plot, Series};
/// let curve = Series { label: "MoRF".into(), points: vec![(0.0, 1.0), (0.05, 0.4)] };
/// let plot = line_plot(&[curve], "deletion", "fraction", "F ratio", 400, 200)?;
/// assert_eq!(plot.dimensions(), (400, 200));
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::PictureTooLarge`](crate::Error::PictureTooLarge) past
/// [`MAX_PICTURE_PIXELS`](super::MAX_PICTURE_PIXELS).
pub fn line_plot(
    series: &[Series],
    title: &str,
    x_label: &str,
    y_label: &str,
    width: u32,
    height: u32,
) -> Result<RgbImage> {
    let mut image = canvas::filled("plot", u64::from(width), u64::from(height), [255; 3])?;
    let legend_w = series
        .iter()
        .map(|s| text_width(&s.label, 1).saturating_add(24))
        .max()
        .unwrap_or(0);
    let (left, right, top, bottom) = (56u32, legend_w.saturating_add(16), 24u32, 32u32);
    if u64::from(width) <= u64::from(left) + u64::from(right) + 10 || height <= top + bottom + 10 {
        return Ok(image);
    }
    let (pw, ph) = (width - left - right, height - top - bottom);
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (mut x0, mut x1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (mut y0, mut y1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater) {
        (x0, x1) = (0.0, 1.0);
    }
    if y1.partial_cmp(&y0) != Some(std::cmp::Ordering::Greater) {
        (y0, y1) = (y0 - 0.5, y0 + 0.5);
        if !y0.is_finite() {
            (y0, y1) = (0.0, 1.0);
        }
    }
    let pad = 0.05 * (y1 - y0);
    (y0, y1) = (y0 - pad, y1 + pad);
    let to_px = |x: f64, y: f64| -> (f64, f64) {
        (
            left as f64 + (x - x0) / (x1 - x0) * pw as f64,
            top as f64 + (1.0 - (y - y0) / (y1 - y0)) * ph as f64,
        )
    };
    let black = [0, 0, 0];
    // Axes and frame.
    for x in left..=left + pw {
        image.put_pixel(x, top + ph, Rgb(black));
    }
    for y in top..=top + ph {
        image.put_pixel(left, y, Rgb(black));
    }
    draw_text(&mut image, left, 6, title, 1, black);
    draw_text(
        &mut image,
        left,
        top + ph + 6,
        &format!("{x0:.3}"),
        1,
        black,
    );
    let xt = format!("{x1:.3}");
    draw_text(
        &mut image,
        left + pw - text_width(&xt, 1),
        top + ph + 6,
        &xt,
        1,
        black,
    );
    let xl_w = text_width(x_label, 1);
    draw_text(
        &mut image,
        left + pw.saturating_sub(xl_w) / 2,
        top + ph + 18,
        x_label,
        1,
        black,
    );
    draw_text(&mut image, 2, top, &format!("{y1:.2}"), 1, black);
    draw_text(&mut image, 2, top + ph - 8, &format!("{y0:.2}"), 1, black);
    draw_text(&mut image, 2, top + ph / 2 - 4, y_label, 1, black);
    for (i, s) in series.iter().enumerate() {
        let (colour, dash) = line_style(i);
        let mut length = 0.0;
        let finite = |p: (f64, f64)| p.0.is_finite() && p.1.is_finite();
        for pair in s.points.windows(2) {
            if !(finite(pair[0]) && finite(pair[1])) {
                continue;
            }
            let (a, b) = (to_px(pair[0].0, pair[0].1), to_px(pair[1].0, pair[1].1));
            length = draw_line(&mut image, a, b, colour, dash, length);
        }
        let Some(ly) = u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(12))
            .and_then(|dy| dy.checked_add(top + 4))
            .filter(|&ly| ly < height)
        else {
            // Legend entries below the picture are not drawn.
            continue;
        };
        for dx in 0..16 {
            for dy in 0..2 {
                let (px, py) = (left + pw + 8 + dx, ly + 3 + dy);
                if px < width && py < height && dash.draws(dx as f64) {
                    image.put_pixel(px, py, Rgb(colour));
                }
            }
        }
        draw_text(&mut image, left + pw + 28, ly, &s.label, 1, black);
    }
    Ok(image)
}

/// A two-pixel-wide line between two points (sub-pixel coordinates),
/// dashed by `dash` from arc length `start`; returns the arc length at `b`.
fn draw_line(
    image: &mut RgbImage,
    a: (f64, f64),
    b: (f64, f64),
    colour: [u8; 3],
    dash: Dash,
    start: f64,
) -> f64 {
    let span = (b.0 - a.0).hypot(b.1 - a.1);
    // A segment inside the picture needs at most its perimeter in steps.
    let most = 2 * (image.width() as usize + image.height() as usize) + 1;
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).clamp(1, most);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        if !dash.draws(start + t * span) {
            continue;
        }
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        for (dx, dy) in [(0.0, 0.0), (0.0, 1.0)] {
            let (px, py) = ((x + dx).round(), (y + dy).round());
            if px >= 0.0 && py >= 0.0 && (px as u32) < image.width() && (py as u32) < image.height()
            {
                image.put_pixel(px as u32, py as u32, Rgb(colour));
            }
        }
    }
    start + span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(image: &RgbImage, colour: [u8; 3]) -> usize {
        image.pixels().filter(|p| p.0 == colour).count()
    }

    #[test]
    fn series_beyond_the_palette_are_dashed_then_dotted() {
        let flat = |label: String, y: f64| Series {
            label,
            points: vec![(0.0, y), (1.0, y)],
        };
        let series: Vec<Series> = (0..25).map(|i| flat(format!("s{i}"), i as f64)).collect();
        let plot = line_plot(&series, "t", "x", "y", 900, 420).unwrap();
        // Series 0, 12 and 24 share a colour: solid, dashed, dotted.
        let alone = |i: usize| {
            let mut only = series.clone();
            for (j, s) in only.iter_mut().enumerate() {
                if j != i {
                    s.points.clear();
                }
            }
            count(
                &line_plot(&only, "t", "x", "y", 900, 420).unwrap(),
                PALETTE[0],
            )
        };
        let (solid, dashed, dotted) = (alone(0), alone(12), alone(24));
        assert!(
            solid > dashed && dashed > dotted && dotted > 0,
            "{solid} {dashed} {dotted}"
        );
        assert!(count(&plot, PALETTE[0]) >= solid);
        assert_ne!(line_style(0), line_style(12));
        assert_ne!(line_style(12), line_style(24));
        assert_eq!(line_style(1).0, line_style(13).0);
    }

    #[test]
    fn degenerate_input_draws_an_empty_frame() {
        let plot = line_plot(&[], "t", "x", "y", 300, 200).unwrap();
        assert_eq!(plot.dimensions(), (300, 200));
        let nan = Series {
            label: "nan".into(),
            points: vec![(0.0, f64::NAN), (1.0, 2.0)],
        };
        let plot = line_plot(&[nan], "t", "x", "y", 20, 20).unwrap();
        assert_eq!(plot.dimensions(), (20, 20));
    }

    #[test]
    fn non_finite_points_are_gaps_and_huge_sizes_errors() {
        let line = |points: Vec<(f64, f64)>| Series {
            label: "s".into(),
            points,
        };
        let clean = line(vec![(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]);
        let gapped = line(vec![
            (0.0, 0.0),
            (1.0, 1.0),
            (1.5, f64::INFINITY),
            (2.0, 0.0),
        ]);
        let far = line(vec![(0.0, f64::NEG_INFINITY), (f64::INFINITY, 1.0)]);
        let drawn = |s: &Series| {
            count(
                &line_plot(std::slice::from_ref(s), "t", "x", "y", 300, 200).unwrap(),
                PALETTE[0],
            )
        };
        // The gap removes the second segment: fewer pixels, but some.
        assert!(drawn(&gapped) < drawn(&clean) && drawn(&gapped) > 0);
        assert_eq!(drawn(&far), drawn(&line(vec![])));
        let extremes = line(vec![(-f64::MAX, -f64::MAX), (f64::MAX, f64::MAX)]);
        line_plot(&[extremes], "t", "x", "y", 300, 200).unwrap();
        let many: Vec<Series> = (0..100).map(|_| clean.clone()).collect();
        line_plot(&many, "t", "x", "y", 300, 200).unwrap();
        let err = line_plot(&[clean], "t", "x", "y", u32::MAX, u32::MAX).unwrap_err();
        assert!(matches!(err, crate::Error::PictureTooLarge { .. }), "{err}");
    }
}
