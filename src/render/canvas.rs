//! Checked picture sizes: every picture the crate draws is allocated here,
//! after its size is checked, so no size arithmetic wraps and no request
//! for a huge picture aborts on allocation.

use image::{Rgb, RgbImage};

use crate::{Error, Result};

/// The largest picture, in pixels, that the drawing functions allocate
/// (2²⁸ pixels, 768 MiB of RGB).
pub const MAX_PICTURE_PIXELS: u64 = 1 << 28;

/// Checks that a `width × height` picture fits in `u32` sides and
/// [`MAX_PICTURE_PIXELS`]; returns the sides.
pub(crate) fn picture_size(what: &'static str, width: u64, height: u64) -> Result<(u32, u32)> {
    let too_large = || Error::PictureTooLarge {
        what,
        width,
        height,
        max: MAX_PICTURE_PIXELS,
    };
    let pixels = width.checked_mul(height).ok_or_else(too_large)?;
    if pixels > MAX_PICTURE_PIXELS {
        return Err(too_large());
    }
    Ok((
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    ))
}

/// A `width × height` picture filled with `colour`, size checked.
pub(crate) fn filled(
    what: &'static str,
    width: u64,
    height: u64,
    colour: [u8; 3],
) -> Result<RgbImage> {
    let (w, h) = picture_size(what, width, height)?;
    Ok(RgbImage::from_pixel(w, h, Rgb(colour)))
}

/// A `width × height` picture with pixel `(x, y)` from `f`, size checked.
pub(crate) fn from_fn(
    what: &'static str,
    width: u64,
    height: u64,
    f: impl FnMut(u32, u32) -> Rgb<u8>,
) -> Result<RgbImage> {
    let (w, h) = picture_size(what, width, height)?;
    Ok(RgbImage::from_fn(w, h, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_the_limit_or_u32_are_errors() {
        assert_eq!(picture_size("p", 640, 480).unwrap(), (640, 480));
        assert_eq!(picture_size("p", 0, 5).unwrap(), (0, 5));
        assert!(picture_size("p", 1 << 14, 1 << 14).is_ok());
        for (w, h) in [
            (1 << 15, 1 << 14),
            (u64::MAX, 2),
            (1 << 33, 0),
            (0, 1 << 33),
        ] {
            let err = picture_size("p", w, h).unwrap_err();
            assert!(
                matches!(err, Error::PictureTooLarge { .. }),
                "{w} {h}: {err}"
            );
        }
    }
}
