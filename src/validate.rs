//! Checks of setting values, shared by every `…Config`: each returns
//! [`Error::InvalidConfig`] naming the setting, its value and what is valid.

use crate::{Error, Result};

fn invalid(setting: &'static str, value: impl ToString, expected: &'static str) -> Error {
    Error::InvalidConfig {
        setting,
        value: value.to_string(),
        expected,
    }
}

/// A finite number `> 0`.
pub(crate) fn positive(setting: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(setting, value, "a finite number > 0"))
    }
}

/// A finite number `≥ 0`.
pub(crate) fn non_negative(setting: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(setting, value, "a finite number ≥ 0"))
    }
}

/// A count of at least 1.
pub(crate) fn at_least_one(setting: &'static str, value: usize) -> Result<()> {
    if value >= 1 {
        Ok(())
    } else {
        Err(invalid(setting, value, "at least 1"))
    }
}

/// A number in `range`, with `expected` describing it.
pub(crate) fn within(
    setting: &'static str,
    value: f64,
    range: impl std::ops::RangeBounds<f64>,
    expected: &'static str,
) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(invalid(setting, value, expected))
    }
}

/// The most iterations of an optimising method (the learned rules,
/// meaningful and extremal perturbation).
pub(crate) const MAX_ITERATIONS: usize = 1_000_000;

/// An iteration count from 1 to [`MAX_ITERATIONS`].
pub(crate) fn iterations(value: usize) -> Result<()> {
    count_within("iterations", value, MAX_ITERATIONS, "from 1 to 1000000")
}

/// A count from 1 to `max` (bounded so that the work or memory it asks for
/// stays finite), with `expected` describing the range.
pub(crate) fn count_within(
    setting: &'static str,
    value: usize,
    max: usize,
    expected: &'static str,
) -> Result<()> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(setting, value, expected))
    }
}
