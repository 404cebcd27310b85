//! Noisy linear imputation (Rong et al. 2022, "ROAD"): removed pixels take
//! the value their neighbourhood predicts, so the shape of the removed set
//! carries as little information as possible.

use crate::random::Rng;

/// Neighbour offsets and weights: 1 for the four direct neighbours, ½ for
/// the four diagonal ones (ROAD's 1/6 and 1/12 before normalisation).
const NEIGHBOURS: [(isize, isize, f64); 8] = [
    (-1, 0, 1.0),
    (1, 0, 1.0),
    (0, -1, 1.0),
    (0, 1, 1.0),
    (-1, -1, 0.5),
    (-1, 1, 0.5),
    (1, -1, 0.5),
    (1, 1, 0.5),
];

/// Weight pulling a removed region with no kept neighbour towards `fallback`
/// (relative to a pixel's total neighbour weight of up to 6).
const ANCHOR: f64 = 1e-6;

/// Replaces the pixels where `removed` is true, in one `h × w` channel, by
/// noisy linear imputation: the removed values solve
/// `x_i = Σ_j w_ij x_j / Σ_j w_ij` over each pixel's eight neighbours (the
/// kept pixels are fixed), then Gaussian noise of standard deviation `noise`
/// is added. A removed region that touches no kept pixel settles at
/// `fallback`. The system is solved by conjugate gradients (symmetric
/// form, relative residual below 1e-8).
///
/// Values are in whatever unit `channel` uses (8-bit levels for ROAR);
/// the caller rounds or clamps.
///
/// # Panics
/// If `channel` or `removed` is not `h·w` long (callers check shapes).
pub(crate) fn impute_channel(
    channel: &mut [f64],
    removed: &[bool],
    [h, w]: [usize; 2],
    noise: f64,
    fallback: f64,
    rng: &mut Rng,
) {
    assert!(channel.len() == h * w && removed.len() == h * w);
    let unknowns: Vec<usize> = (0..h * w).filter(|&p| removed[p]).collect();
    if unknowns.is_empty() {
        return;
    }
    let mut index = vec![usize::MAX; h * w];
    for (u, &p) in unknowns.iter().enumerate() {
        index[p] = u;
    }
    // Symmetric system A x = b: A_ii = Σ_j w_ij + ANCHOR, A_ij = −w_ij for
    // removed neighbours j; b_i = Σ_{kept j} w_ij x_j + ANCHOR·fallback.
    let neighbours = |p: usize| {
        let (r, c) = ((p / w) as isize, (p % w) as isize);
        NEIGHBOURS.iter().filter_map(move |&(dr, dc, weight)| {
            let (rr, cc) = (r + dr, c + dc);
            (rr >= 0 && cc >= 0 && rr < h as isize && cc < w as isize)
                .then(|| (rr as usize * w + cc as usize, weight))
        })
    };
    let mut diagonal = vec![ANCHOR; unknowns.len()];
    let mut b = vec![ANCHOR * fallback; unknowns.len()];
    for (u, &p) in unknowns.iter().enumerate() {
        for (q, weight) in neighbours(p) {
            diagonal[u] += weight;
            if !removed[q] {
                b[u] += weight * channel[q];
            }
        }
    }
    let apply = |x: &[f64], out: &mut [f64]| {
        for (u, &p) in unknowns.iter().enumerate() {
            let mut sum = diagonal[u] * x[u];
            for (q, weight) in neighbours(p) {
                if removed[q] {
                    sum -= weight * x[index[q]];
                }
            }
            out[u] = sum;
        }
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    // Start from the fallback value; conjugate gradients on the SPD system.
    let mut x = vec![fallback; unknowns.len()];
    let mut ax = vec![0.0; unknowns.len()];
    apply(&x, &mut ax);
    let mut residual: Vec<f64> = b.iter().zip(&ax).map(|(b, a)| b - a).collect();
    let mut direction = residual.clone();
    let mut r2 = dot(&residual, &residual);
    let tolerance = 1e-16 * dot(&b, &b).max(f64::MIN_POSITIVE);
    let mut a_dir = vec![0.0; unknowns.len()];
    for _ in 0..10 * unknowns.len() {
        if r2 <= tolerance {
            break;
        }
        apply(&direction, &mut a_dir);
        let step = r2 / dot(&direction, &a_dir);
        for u in 0..x.len() {
            x[u] += step * direction[u];
            residual[u] -= step * a_dir[u];
        }
        let next = dot(&residual, &residual);
        for u in 0..x.len() {
            direction[u] = residual[u] + next / r2 * direction[u];
        }
        r2 = next;
    }
    for (u, &p) in unknowns.iter().enumerate() {
        channel[p] = x[u] + noise * rng.normal();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_ramp_is_filled_exactly() {
        // A plane is harmonic for the symmetric 8-neighbour stencil, so the
        // interior of a ramp is recovered from its border.
        let (h, w) = (6, 7);
        let ramp: Vec<f64> = (0..h * w)
            .map(|p| 3.0 * (p / w) as f64 - 2.0 * (p % w) as f64 + 10.0)
            .collect();
        let removed: Vec<bool> = (0..h * w)
            .map(|p| (1..h - 1).contains(&(p / w)) && (1..w - 1).contains(&(p % w)))
            .collect();
        let mut channel = ramp.clone();
        for (v, &r) in channel.iter_mut().zip(&removed) {
            if r {
                *v = 0.0;
            }
        }
        impute_channel(&mut channel, &removed, [h, w], 0.0, 0.0, &mut Rng::new(0));
        for (a, b) in channel.iter().zip(&ramp) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn imputed_pixels_are_the_weighted_mean_of_their_neighbours() {
        let (h, w) = (5, 5);
        let mut rng = Rng::new(3);
        let mut channel: Vec<f64> = (0..h * w).map(|_| 255.0 * rng.uniform()).collect();
        let removed: Vec<bool> = (0..h * w).map(|p| p % 3 == 0).collect();
        impute_channel(&mut channel, &removed, [h, w], 0.0, 128.0, &mut rng);
        for p in (0..h * w).filter(|&p| removed[p]) {
            let (r, c) = ((p / w) as isize, (p % w) as isize);
            let (mut sum, mut total) = (0.0, 0.0);
            for &(dr, dc, weight) in &NEIGHBOURS {
                let (rr, cc) = (r + dr, c + dc);
                if rr >= 0 && cc >= 0 && rr < h as isize && cc < w as isize {
                    sum += weight * channel[rr as usize * w + cc as usize];
                    total += weight;
                }
            }
            // Exact up to the small pull towards the fallback.
            let expected = (sum + ANCHOR * 128.0) / (total + ANCHOR);
            assert!((channel[p] - expected).abs() < 1e-6, "pixel {p}");
        }
    }

    #[test]
    fn a_fully_removed_channel_takes_the_fallback_plus_noise() {
        let (h, w) = (4, 4);
        let mut channel = vec![7.0; h * w];
        let removed = vec![true; h * w];
        impute_channel(&mut channel, &removed, [h, w], 0.0, 100.0, &mut Rng::new(1));
        assert!(channel.iter().all(|&v| (v - 100.0).abs() < 1e-9));
        let mut noisy = vec![7.0; 4000];
        let removed = vec![true; 4000];
        impute_channel(&mut noisy, &removed, [40, 100], 2.0, 0.0, &mut Rng::new(1));
        let mean = noisy.iter().sum::<f64>() / 4000.0;
        let var = noisy.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4000.0;
        assert!(
            mean.abs() < 0.15 && (var.sqrt() - 2.0).abs() < 0.1,
            "{mean} {var}"
        );
    }
}
