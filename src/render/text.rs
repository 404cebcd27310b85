//! Text in pictures, with the public-domain 8×8 bitmap font of `font8x8`.

use font8x8::legacy::BASIC_LEGACY;
use image::{Rgb, RgbImage};

/// Width in pixels of `text` drawn at `scale` (8 pixels per character and
/// scale; a scale of 0 draws as 1), saturating at `u32::MAX`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    chars.saturating_mul(8).saturating_mul(scale.max(1))
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a
/// `scale × scale` block (a scale of 0 draws as 1); characters outside
/// ASCII show as `?`. What falls off the picture is skipped, so the work is
/// bounded by the picture's size whatever the scale.
pub fn draw_text(image: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, color: [u8; 3]) {
    let scale = u64::from(scale.max(1));
    let (width, height) = (u64::from(image.width()), u64::from(image.height()));
    let glyph_width = 8 * scale;
    for (i, ch) in text.chars().enumerate() {
        let x0 = (i as u64)
            .saturating_mul(glyph_width)
            .saturating_add(u64::from(x));
        if x0 >= width {
            break;
        }
        let glyph = BASIC_LEGACY[if ch.is_ascii() {
            ch as usize
        } else {
            '?' as usize
        }];
        for (row, bits) in glyph.iter().enumerate() {
            let top = u64::from(y) + row as u64 * scale;
            if top >= height {
                break;
            }
            let bottom = (top + scale).min(height);
            for col in 0..8u64 {
                let left = x0 + col * scale;
                if left >= width {
                    break;
                }
                if bits & (1 << col) == 0 {
                    continue;
                }
                let right = (left + scale).min(width);
                for py in top..bottom {
                    for px in left..right {
                        // Both below the picture's u32 sides.
                        image.put_pixel(px as u32, py as u32, Rgb(color));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_scales_and_positions_stay_inside_the_picture() {
        let mut image = RgbImage::new(20, 10);
        draw_text(&mut image, 0, 0, "AB", u32::MAX, [255, 0, 0]);
        draw_text(&mut image, u32::MAX, u32::MAX, "AB", 3, [255, 0, 0]);
        assert_eq!(text_width("AB", u32::MAX), u32::MAX);
        assert_eq!(text_width("AB", 0), 16);
        // Scale 2 is scale 1 with every font pixel doubled.
        let (mut one, mut two) = (RgbImage::new(8, 8), RgbImage::new(16, 16));
        draw_text(&mut one, 0, 0, "A", 1, [9, 9, 9]);
        draw_text(&mut two, 0, 0, "A", 2, [9, 9, 9]);
        for (x, y, p) in two.enumerate_pixels() {
            assert_eq!(p, one.get_pixel(x / 2, y / 2));
        }
        assert!(one.pixels().any(|p| p.0 == [9, 9, 9]));
    }
}
