//! Pictures of attribution maps: colormaps, heatmaps, overlays.
//!
//! Everything here is a pure function from tensors or pixel buffers to an
//! [`RgbImage`]; [`save_png`] is the one function that touches the file
//! system. Maps with NaN or infinite values are errors, and no picture
//! larger than [`MAX_PICTURE_PIXELS`] is allocated.
//!
//! ```
//! use burn::prelude::*;
//! use learnprop::render::{signed_heatmap, overlay, grey_image};
//! type Plain = learnprop::backend::Base<learnprop::Cpu>;
//!
//! let device = Default::default();
//! let map = Tensor::<Plain, 2>::from_floats([[-1.0, 0.0], [0.5, 1.0]], &device);
//! let heat = signed_heatmap(map)?;
//! assert_eq!(heat.dimensions(), (2, 2));
//! // Negative evidence is blue, positive red, zero white.
//! assert!(heat.get_pixel(0, 0)[2] > heat.get_pixel(0, 0)[0]);
//! assert_eq!(heat.get_pixel(1, 0).0, [255, 255, 255]);
//! assert!(heat.get_pixel(1, 1)[0] > heat.get_pixel(1, 1)[2]);
//! let base = grey_image(Tensor::<Plain, 2>::zeros([2, 2], &device))?;
//! assert_eq!(overlay(&base, &heat, 0.5)?.dimensions(), (2, 2));
//! // A NaN map is an error, not a white pixel.
//! let nan = Tensor::<Plain, 2>::from_floats([[f32::NAN]], &device);
//! assert!(signed_heatmap(nan).is_err());
//! # Ok::<(), learnprop::Error>(())
//! ```

mod canvas;
mod colormap;
mod grid;
mod heatmap;
mod io;
mod plot;
mod text;

pub use canvas::MAX_PICTURE_PIXELS;
pub use colormap::{Colormap, DIVERGING, SEQUENTIAL};
pub use grid::{labelled_grid, GridRow};
pub use heatmap::{
    grey_image, hstack, magnitude_heatmap, overlay, rgb_image, signed_heatmap,
    signed_heatmap_clipped, upscale, DisplayRange,
};
pub use image::RgbImage;
pub use io::save_png;
pub use plot::{line_plot, Series};
pub use text::{draw_text, text_width};
