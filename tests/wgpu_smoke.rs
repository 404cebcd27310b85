//! One `attribute` call on the wgpu backend, checked against the CPU
//! backend (f32).
//!
//! Runs with `--features wgpu`. Without a GPU, a software Vulkan device
//! (Mesa's lavapipe, Debian package `mesa-vulkan-drivers`) serves; `.ci/run`
//! installs it.
#![cfg(feature = "wgpu")]

mod common;

use burn::backend::wgpu::WgpuDevice;
use learnprop::{Cpu, ExplainerConfig, Gpu};

#[test]
fn wgpu_attribution_matches_the_cpu() {
    let case = common::cases()
        .into_iter()
        .find(|c| c.model == "model-b.safetensors")
        .expect("a trained-model case");
    let explainer = ExplainerConfig::new().with_iterations(2);

    let cpu_device = Default::default();
    let cpu_model = common::model::<Cpu>(&case, &cpu_device);
    let cpu = explainer
        .init::<Cpu>()
        .unwrap()
        .attribute(&cpu_model, &case.input::<Cpu>(&cpu_device), &[case.target])
        .unwrap();

    let gpu_device = WgpuDevice::default();
    let gpu_model = common::model::<Gpu>(&case, &gpu_device);
    let gpu = explainer
        .init::<Gpu>()
        .unwrap()
        .attribute(&gpu_model, &case.input::<Gpu>(&gpu_device), &[case.target])
        .unwrap();

    let gradient_error = common::scaled_error(
        &common::values(&gpu.input_gradient),
        &common::values(&cpu.input_gradient),
    );
    let map_error =
        common::scaled_error(&common::values(&gpu.signed), &common::values(&cpu.signed));
    println!("wgpu vs CPU: gated gradient {gradient_error:.2e}, 2-iteration map {map_error:.2e}");
    assert!(
        gradient_error < 1e-4,
        "gated gradient scaled error {gradient_error:e}"
    );
    assert!(map_error < 1e-3, "map scaled error {map_error:e}");
    for (a, b) in gpu.loss_trace.iter().zip(&cpu.loss_trace) {
        assert!((a[0].total - b[0].total).abs() < 1e-3 * b[0].total.abs().max(1.0));
    }
}
