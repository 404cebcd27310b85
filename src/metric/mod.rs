//! Measuring attribution maps: deletion curves (MoRF/LeRF, insertion and
//! deletion), the pointing game, ROAR and the model-randomisation sanity
//! check.

mod pointing;
mod removal;
mod sanity;

pub use pointing::{pointing_game, BoundingBox};
pub use removal::{removal_curves, Fill, RemovalConfig, RemovalCurves, RemovalOrder, RemovalUnit};
pub use sanity::{cascading_randomisation, spearman};
