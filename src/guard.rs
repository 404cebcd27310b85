//! Panics of a model's own code, turned into errors at the crate's entry
//! points.
//!
//! A model's forward pass is the user's code: Burn's tensor ops (and the
//! crate's [`ops`](crate::ops)) panic on shapes and settings that do not fit,
//! and Burn 0.21 panics when an op without a second derivative (its fused
//! `linear`, its pooling) is differentiated twice. Every entry point that
//! runs a model does so inside [`catching_model_panics`], so such a panic
//! becomes [`Error::ModelPanicked`] with the panic's message and, where the
//! cause is known, the call to use instead. The process's panic hook still
//! prints the message when the panic happens; with `panic = "abort"` there
//! is nothing to catch.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Error, Result};

/// Runs `work`, turning a panic inside it into [`Error::ModelPanicked`]
/// (`during` says what was running, e.g. `"saliency"`).
///
/// Only owned values and shared references cross the boundary, so nothing is
/// left half-moved by the unwind; Burn's autodiff graph uses non-poisoning
/// locks and gives later graphs fresh node ids.
pub(crate) fn catching_model_panics<T>(
    during: impl Into<String>,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message")
                .to_string();
            Err(Error::ModelPanicked {
                during: during.into(),
                hint: hint(&message).to_string(),
                message,
            })
        }
    }
}

/// What to do about a panic with `message`, where the cause is known.
fn hint(message: &str) -> &'static str {
    const CANNOT_TWICE: &str = "this Burn op has no second derivative in Burn 0.21: the learned rules cannot run through it; methods on one autodiff level still can";
    let table: [(&str, &'static str); 9] = [
        ("linear_", "call `learnprop::ops::linear(&layer, x)` instead of `Linear::forward` (Burn's fused linear op cannot be differentiated twice)"),
        ("max pool2d", "call `hook.max_pool2d(&pool, x)` instead of `MaxPool2d::forward`, so the pooling is a site and is differentiable twice"),
        ("adaptive avg pool2d", "call `learnprop::ops::adaptive_avg_pool2d(&pool, x)` instead of `AdaptiveAvgPool2d::forward`"),
        ("avg pool 2d", "call `learnprop::ops::avg_pool2d(&pool, x)` instead of `AvgPool2d::forward`"),
        ("interpolate", CANNOT_TWICE),
        ("embedding", CANNOT_TWICE),
        ("deform conv", CANNOT_TWICE),
        ("Data type mismatch", "tensors of two float precisions met: call `learnprop::set_precision` before creating any tensor, and build the model and images on that device"),
        ("learnprop::ops::", "the layer's settings do not fit its input: fix the model definition, or give it larger images (declare the smallest size in `Explainable::min_input_size`)"),
    ];
    table
        .iter()
        .find(|(pattern, _)| message.contains(pattern))
        .map(|&(_, hint)| hint)
        .unwrap_or("`learnprop::check_model` checks a model's adoption of the hook; see docs/adopting-the-hook.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message_and_a_hint() {
        let result: Result<()> = catching_model_panics("a test", || {
            panic!("Can't differentiate linear_x_backward.")
        });
        match result {
            Err(Error::ModelPanicked {
                during,
                message,
                hint,
            }) => {
                assert_eq!(during, "a test");
                assert_eq!(message, "Can't differentiate linear_x_backward.");
                assert!(hint.contains("ops::linear"), "{hint}");
            }
            other => panic!("expected ModelPanicked, got {other:?}"),
        }
    }

    #[test]
    fn results_pass_through_unchanged() {
        assert_eq!(catching_model_panics("a test", || Ok(3)).unwrap(), 3);
        let error = catching_model_panics::<()>("a test", || Err(Error::EmptyBatch));
        assert!(matches!(error, Err(Error::EmptyBatch)));
    }
}
