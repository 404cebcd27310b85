//! The model-randomisation sanity check (Adebayo et al. 2018).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::guard::catching_model_panics;
use crate::input::{check_finite_map, scalar};
use crate::method::Method;
use crate::{Error, Result};

/// Spearman's rank correlation of two equally long samples (ties get their
/// mean rank). A constant sample has no order to correlate: the result is 0.
///
/// ```
/// use learnprop::metric::spearman;
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0])?, 1.0);
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0])?, -1.0);
/// assert!(spearman(&[1.0, 2.0], &[1.0]).is_err());
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Shape`] if the lengths differ or there are fewer than two
/// values, [`Error::NonFiniteMap`] if a value is NaN or infinite.
pub fn spearman(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return Err(Error::Shape {
            what: "spearman samples",
            expected: "two samples of the same length, at least 2 values each".into(),
            found: vec![a.len(), b.len()],
        });
    }
    check_finite_map("first spearman sample", a, a.len())?;
    check_finite_map("second spearman sample", b, b.len())?;
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
        return Ok(0.0);
    }
    Ok(sab / (saa * sbb).sqrt())
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
/// As the method's; [`Error::InvalidConfig`] for `per_step` 0,
/// [`Error::NonFiniteMap`] if a map holds NaN or an infinity.
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
    catching_model_panics("cascading randomisation", || {
        if per_step == 0 {
            return Err(Error::InvalidConfig {
                setting: "per_step",
                value: "0".into(),
                expected: "at least one parameter tensor per step",
            });
        }
        let name = method.name();
        let flat = |t: Tensor<B, 4>| -> Result<Vec<Vec<f64>>> {
            let [n, _, h, w] = t.dims();
            let v: Vec<f64> = t.sum_dim(1).into_data().iter::<f64>().collect();
            check_finite_map(&name, &v, h * w)?;
            Ok((0..n)
                .map(|i| v[i * h * w..(i + 1) * h * w].to_vec())
                .collect())
        };
        let original = flat(method.attribute(model, images, targets)?)?;
        let mut counter = Count(0);
        model.visit(&mut counter);
        let total = counter.0;
        let mut out = vec![(0, 1.0)];
        let mut count = 0;
        while count < total {
            count = count.saturating_add(per_step).min(total);
            let broken = model.clone().map(&mut Randomise {
                from: total - count,
                index: 0,
            });
            let maps = flat(method.attribute(&broken, images, targets)?)?;
            let mut sum = 0.0;
            for (a, b) in original.iter().zip(&maps) {
                sum += spearman(a, b)?;
            }
            out.push((count, sum / original.len() as f64));
        }
        Ok(out)
    })
}
