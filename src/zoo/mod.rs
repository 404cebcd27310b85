//! Reference models, written on the activation hook.

mod fixture_cnn;

pub use fixture_cnn::{FixtureCnn, FixtureCnnConfig};
