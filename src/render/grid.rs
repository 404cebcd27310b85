//! Labelled grids of pictures: rows are images, columns are methods.

use image::RgbImage;

use super::canvas;
use super::text::{draw_text, text_width};
use crate::{Error, Result};

/// One row of a [`labelled_grid`]: its label and its pictures, one per column.
#[derive(Debug, Clone)]
pub struct GridRow {
    /// Text left of the row (e.g. the image's class).
    pub label: String,
    /// One picture per column.
    pub cells: Vec<RgbImage>,
}

/// Lays out pictures in a grid on white, with `column_labels` above the
/// columns and each row's label on its left, `gap` pixels between cells.
/// Cells may differ in size; each column is as wide as its widest cell.
///
/// # Errors
/// [`Error::Shape`] if a row has another number of cells than there are
/// column labels, or there is no row; [`Error::PictureTooLarge`] past
/// [`MAX_PICTURE_PIXELS`](super::MAX_PICTURE_PIXELS).
pub fn labelled_grid(column_labels: &[&str], rows: &[GridRow], gap: u32) -> Result<RgbImage> {
    if rows.is_empty() {
        return Err(Error::Shape {
            what: "grid rows",
            expected: "at least one row".into(),
            found: vec![0],
        });
    }
    if let Some(row) = rows.iter().find(|r| r.cells.len() != column_labels.len()) {
        return Err(Error::Shape {
            what: "grid row",
            expected: format!("{} cells, one per column label", column_labels.len()),
            found: vec![row.cells.len()],
        });
    }
    const SCALE: u32 = 1;
    let text_h = 8 * SCALE;
    let widths: Vec<u32> = (0..column_labels.len())
        .map(|c| {
            let cells = rows.iter().map(|r| r.cells[c].width()).max().unwrap_or(0);
            cells.max(text_width(column_labels[c], SCALE))
        })
        .collect();
    let heights: Vec<u32> = rows
        .iter()
        .map(|r| {
            r.cells
                .iter()
                .map(|c| c.height())
                .max()
                .unwrap_or(0)
                .max(text_h)
        })
        .collect();
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.label, SCALE))
        .max()
        .unwrap_or(0);
    let (gap64, text64) = (u64::from(gap), u64::from(text_h));
    let left = if label_w > 0 {
        u64::from(label_w) + gap64
    } else {
        0
    };
    let top = text64 + gap64;
    let columns = widths.len() as u64;
    let width = left
        + widths.iter().map(|&w| u64::from(w)).sum::<u64>()
        + gap64 * columns.saturating_sub(1)
        + gap64;
    let height =
        top + heights.iter().map(|&h| u64::from(h)).sum::<u64>() + gap64 * rows.len() as u64;
    let mut out = canvas::filled("grid", width + gap64, height + gap64, [255; 3])?;
    // Every position below is inside the checked picture, so fits in u32.
    let (left, top) = (left as u32, top as u32);
    let black = [0, 0, 0];
    let mut x = gap + left;
    for (c, label) in column_labels.iter().enumerate() {
        draw_text(&mut out, x, gap, label, SCALE, black);
        x += widths[c] + gap;
    }
    let mut y = gap + top;
    for (row, h) in rows.iter().zip(&heights) {
        draw_text(
            &mut out,
            gap,
            y + h.saturating_sub(text_h) / 2,
            &row.label,
            SCALE,
            black,
        );
        let mut x = gap + left;
        for (c, cell) in row.cells.iter().enumerate() {
            image::imageops::replace(&mut out, cell, x as i64, y as i64);
            x += widths[c] + gap;
        }
        y += h + gap;
    }
    Ok(out)
}
