//! Text in pictures, with the public-domain 8×8 bitmap font of `font8x8`.

use font8x8::legacy::BASIC_LEGACY;
use image::{Rgb, RgbImage};

/// Width in pixels of `text` drawn at `scale` (8 pixels per character and scale).
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a
/// `scale × scale` block; characters outside ASCII show as `?`. Pixels off
/// the picture are skipped.
pub fn draw_text(image: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, color: [u8; 3]) {
    let scale = scale.max(1);
    for (i, ch) in text.chars().enumerate() {
        let glyph = BASIC_LEGACY[if ch.is_ascii() {
            ch as usize
        } else {
            '?' as usize
        }];
        let x0 = x + i as u32 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (x0 + col * scale + dx, y + row as u32 * scale + dy);
                        if px < image.width() && py < image.height() {
                            image.put_pixel(px, py, Rgb(color));
                        }
                    }
                }
            }
        }
    }
}
