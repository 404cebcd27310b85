//! Equal windows give bit-equal convolution outputs in f32, on both paths
//! (the f64 check is in `ops_second_order.rs`).

mod common;

#[test]
fn f32_equal_windows_give_equal_outputs() {
    common::assert_equal_windows_give_equal_outputs::<learnprop::backend::Base<learnprop::Cpu>>(
        &Default::default(),
    );
}
