//! Times the two exact convolution formulations of `learnprop::ops` per
//! layer shape on the CPU backend: the backend's own `conv2d` and the
//! crate's shifted windows + matrix product (`ops::conv2d_windows`).
//!
//! Three costs per shape, each the median of several runs:
//! - `forward`: plain tensors, no autodiff;
//! - `gradient`: one autodiff level, forward and input gradient (what the
//!   gradient methods pay);
//! - `double`: two levels, the learned rules' pattern: forward, a backward
//!   seeded with a gate-dependent tensor, and the backward of that input
//!   gradient with respect to the gate.
//!
//! `cargo run --release --example conv_paths [-- --only NAME]`

use std::time::Instant;

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::Distribution;
use learnprop::backend::Base;
use learnprop::ops::{self, Conv2dGeometry};
use learnprop::Cpu;

type Plain = Base<Cpu>;
type Single = Autodiff<Plain>;

struct Shape {
    name: &'static str,
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    padding: [[usize; 2]; 2],
}

const fn shape(
    name: &'static str,
    batch: usize,
    [c_in, c_out]: [usize; 2],
    size: usize,
    [kernel, stride, groups]: [usize; 3],
    padding: [[usize; 2]; 2],
) -> Shape {
    Shape {
        name,
        batch,
        c_in,
        c_out,
        size,
        kernel,
        stride,
        groups,
        padding,
    }
}

const SHAPES: &[Shape] = &[
    shape(
        "cifar conv1 3→32 3×3 32² b16",
        16,
        [3, 32],
        32,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "cifar conv2 32→32 3×3 32² b16",
        16,
        [32, 32],
        32,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "cifar conv4 64→64 3×3 16² b16",
        16,
        [64, 64],
        16,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "vgg 3→64 3×3 224²",
        1,
        [3, 64],
        224,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "vgg 64→64 3×3 224²",
        1,
        [64, 64],
        224,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "vgg 256→256 3×3 56²",
        1,
        [256, 256],
        56,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "vgg 512→512 3×3 14²",
        1,
        [512, 512],
        14,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "resnet stem 3→64 7×7 s2 224²",
        1,
        [3, 64],
        224,
        [7, 2, 1],
        [[3, 3], [3, 3]],
    ),
    shape(
        "resnet 64→128 3×3 s2 56²",
        1,
        [64, 128],
        56,
        [3, 2, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "resnet 64→128 1×1 s2 56²",
        1,
        [64, 128],
        56,
        [1, 2, 1],
        [[0, 0], [0, 0]],
    ),
    shape(
        "resnet 256→256 3×3 14²",
        1,
        [256, 256],
        14,
        [3, 1, 1],
        [[1, 1], [1, 1]],
    ),
    shape(
        "effnet 1×1 16→96 112²",
        1,
        [16, 96],
        112,
        [1, 1, 1],
        [[0, 0], [0, 0]],
    ),
    shape(
        "effnet 1×1 320→1280 7²",
        1,
        [320, 1280],
        7,
        [1, 1, 1],
        [[0, 0], [0, 0]],
    ),
    shape(
        "effnet dw 3×3 32 112²",
        1,
        [32, 32],
        112,
        [3, 1, 32],
        [[1, 1], [1, 1]],
    ),
    shape(
        "effnet dw 3×3 s2 96 112²",
        1,
        [96, 96],
        112,
        [3, 2, 96],
        [[0, 1], [0, 1]],
    ),
    shape(
        "effnet dw 5×5 s2 144 56²",
        1,
        [144, 144],
        56,
        [5, 2, 144],
        [[1, 2], [1, 2]],
    ),
    shape(
        "effnet dw 5×5 480 14²",
        1,
        [480, 480],
        14,
        [5, 1, 480],
        [[2, 2], [2, 2]],
    ),
];

type Conv<B> =
    fn(Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>, &Conv2dGeometry) -> Tensor<B, 4>;

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn inputs<B: Backend>(s: &Shape) -> (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 1>, Conv2dGeometry) {
    let device = Default::default();
    let x = Tensor::random(
        [s.batch, s.c_in, s.size, s.size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let w = Tensor::random(
        [s.c_out, s.c_in / s.groups, s.kernel, s.kernel],
        Distribution::Normal(0.0, 0.1),
        &device,
    );
    let b = Tensor::random([s.c_out], Distribution::Normal(0.0, 0.1), &device);
    let geometry = Conv2dGeometry {
        stride: [s.stride, s.stride],
        padding: s.padding,
        dilation: [1, 1],
        groups: s.groups,
    };
    (x, w, b, geometry)
}

fn forward(s: &Shape, conv: Conv<Plain>, repeats: usize) -> f64 {
    let (x, w, b, g) = inputs::<Plain>(s);
    time(repeats, || {
        let _ = conv(x.clone(), w.clone(), Some(b.clone()), &g).into_data();
    })
}

fn gradient(s: &Shape, conv: Conv<Single>, repeats: usize) -> f64 {
    let (x, w, b, g) = inputs::<Single>(s);
    time(repeats, || {
        let x = x.clone().require_grad();
        let y = conv(x.clone(), w.clone(), Some(b.clone()), &g);
        let grads = y.sum().backward();
        let _ = x.grad(&grads).unwrap().into_data();
    })
}

fn double(s: &Shape, conv: Conv<Cpu>, repeats: usize) -> f64 {
    let (x, w, b, g) = inputs::<Cpu>(s);
    let out = conv(x.clone(), w.clone(), Some(b.clone()), &g).dims();
    let gate =
        Tensor::<Single, 4>::random(out, Distribution::Normal(0.0, 1.0), &Default::default());
    time(repeats, || {
        let x = x.clone().require_grad();
        let gate = gate.clone().require_grad();
        let y = conv(x.clone(), w.clone(), Some(b.clone()), &g);
        let seeded = y * Tensor::<Cpu, 4>::from_inner(gate.clone());
        let grads = seeded.sum().backward();
        let input_gradient = x.grad(&grads).unwrap();
        let second = input_gradient.powi_scalar(2).sum().backward();
        let _ = gate.grad(&second).unwrap().into_data();
    })
}

fn main() {
    let only = std::env::args().skip_while(|a| a != "--only").nth(1);
    let repeats = 5;
    println!("backend: {}", <Plain as Backend>::name(&Default::default()));
    println!("| shape | forward: backend / windows (ms) | gradient | double backward |");
    println!("|---|---|---|---|");
    for s in SHAPES {
        if only.as_deref().is_some_and(|o| !s.name.contains(o)) {
            continue;
        }
        let f = [
            forward(s, ops::conv2d_native, repeats),
            forward(s, ops::conv2d_windows, repeats),
        ];
        let g = [
            gradient(s, ops::conv2d_native, repeats),
            gradient(s, ops::conv2d_windows, repeats),
        ];
        let d = [
            double(s, ops::conv2d_native, repeats),
            double(s, ops::conv2d_windows, repeats),
        ];
        let cell = |[a, b]: [f64; 2]| format!("{:.2} / {:.2}", a * 1e3, b * 1e3);
        println!("| {} | {} | {} | {} |", s.name, cell(f), cell(g), cell(d));
    }
}
