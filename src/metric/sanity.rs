//! The model-randomisation sanity check (Adebayo et al. 2018).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::input::scalar;
use crate::method::Method;
use crate::Result;

/// Spearman's rank correlation of two equally long samples (ties get their
/// mean rank).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman: lengths differ");
    let ranks = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].partial_cmp(&v[j]).unwrap_or(std::cmp::Ordering::Equal));
        let mut r = vec![0.0; v.len()];
        let mut start = 0;
        while start < idx.len() {
            let mut end = start;
            while end + 1 < idx.len() && v[idx[end + 1]] == v[idx[start]] {
                end += 1;
            }
            let mean = (start + end) as f64 / 2.0;
            for &i in &idx[start..=end] {
                r[i] = mean;
            }
            start = end + 1;
        }
        r
    };
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// Counts the model's float parameters in visiting order.
struct Count(usize);

impl<B: Backend> ModuleVisitor<B> for Count {
    fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<B, D>>) {
        self.0 += 1;
    }
}

/// Re-draws the float parameters with visiting index ≥ `from` from N(0, σ²),
/// σ the parameter's own standard deviation (biases and norms included).
struct Randomise {
    from: usize,
    index: usize,
}

impl<B: Backend> ModuleMapper<B> for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let index = self.index;
        self.index += 1;
        let (id, tensor, mapper) = param.consume();
        let tensor = if index >= self.from {
            let n = tensor.shape().num_elements() as f64;
            let mean = scalar(tensor.clone().mean());
            let var = scalar(tensor.clone().sub_scalar(mean).powi_scalar(2).sum()) / n.max(1.0);
            let sigma = var.sqrt().max(1e-3);
            let dtype: burn::tensor::FloatDType = tensor.dtype().into();
            Tensor::<B, D>::random(
                tensor.shape(),
                Distribution::Normal(0.0, sigma),
                &tensor.device(),
            )
            .cast(dtype)
            .detach()
        } else {
            tensor
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// The cascading model-randomisation test: the parameters are re-drawn from
/// the output backwards (in steps of `per_step` parameter tensors), and after
/// each step the maps of `method` are compared with the original ones by
/// Spearman rank correlation (per image, of the channel-summed maps). A
/// method whose maps stay correlated while the model is destroyed does not
/// explain the model. Returns, per step, the number of randomised parameter
/// tensors and the mean correlation over images (the first entry is the
/// untouched model, correlation 1). Random draws come from the backend's
/// generator (seed it for repeatable results).
///
/// # Errors
/// As the method's.
pub fn cascading_randomisation<B, M, T>(
    model: &M,
    method: &T,
    images: &Tensor<B, 4>,
    targets: &[usize],
    per_step: usize,
) -> Result<Vec<(usize, f64)>>
where
    B: Backend,
    M: Module<B>,
    T: Method<B, M> + ?Sized,
{
    let flat = |t: Tensor<B, 4>| -> Vec<Vec<f64>> {
        let [n, _, h, w] = t.dims();
        let v: Vec<f64> = t.sum_dim(1).into_data().iter::<f64>().collect();
        (0..n)
            .map(|i| v[i * h * w..(i + 1) * h * w].to_vec())
            .collect()
    };
    let original = flat(method.attribute(model, images, targets)?);
    let mut counter = Count(0);
    model.visit(&mut counter);
    let total = counter.0;
    let mut out = vec![(0, 1.0)];
    let step = per_step.max(1);
    let mut randomised = step;
    while randomised < total + step {
        let count = randomised.min(total);
        let broken = model.clone().map(&mut Randomise {
            from: total - count,
            index: 0,
        });
        let maps = flat(method.attribute(&broken, images, targets)?);
        let mean = original
            .iter()
            .zip(&maps)
            .map(|(a, b)| spearman(a, b))
            .sum::<f64>()
            / original.len() as f64;
        out.push((count, mean));
        if count == total {
            break;
        }
        randomised += step;
    }
    Ok(out)
}
