//! Measuring attribution maps: deletion curves (MoRF/LeRF, insertion and
//! deletion) with constant, blurred or imputed fills, the pointing game,
//! relevance mass in a region, sparseness and complexity, ROAR and the
//! model-randomisation sanity check.

mod complexity;
mod fill;
mod imputation;
mod mass;
mod pointing;
mod removal;
mod roar;
mod sanity;

pub use complexity::{complexity, sparseness};
pub use mass::relevance_mass;
pub use pointing::{pointing_game, BoundingBox};
pub use removal::{removal_curves, Fill, RemovalConfig, RemovalCurves, RemovalOrder, RemovalUnit};
pub use roar::{
    channel_means, impute_most_relevant, removal_accuracy, remove_most_relevant, remove_pixels,
    roar_accuracy, RoarFill,
};
pub use sanity::{cascading_randomisation, spearman};
