//! Means, standard errors and the paired comparison of per-image areas.

use super::{JUDGES, REMOVALS};

/// Mean and standard error of `values` (error 0 for fewer than two).
pub fn mean_and_error(values: &[f64]) -> (f64, f64) {
    let k = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, 0.0);
    }
    let mean = values.iter().sum::<f64>() / k;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (variance / k).sqrt())
}

/// Markdown tables, one per judge of [`JUDGES`], of every method whose name
/// starts with `learned` against the best other method (random excluded) of
/// each column: the paired mean difference of the per-image areas ± its
/// standard error. `areas[m]` is `(name, per curve of all_curves: the kept
/// images' areas)`; every method has the same kept images. A difference
/// more than two standard errors in the better direction is bold.
pub fn paired_table(areas: &[(String, Vec<Vec<f64>>)], learned: &str) -> Vec<String> {
    let mut out = vec![
        format!("\n### Each learned form against the best other method, paired\n"),
        "Mean difference of the per-image areas ± its standard error (negative is better for MoRF, positive for LeRF and insertion); bold: more than two standard errors better.\n".into(),
    ];
    let others: Vec<&(String, Vec<Vec<f64>>)> = areas
        .iter()
        .filter(|(name, _)| !name.starts_with(learned) && name != "random")
        .collect();
    let forms: Vec<&(String, Vec<Vec<f64>>)> = areas
        .iter()
        .filter(|(name, _)| name.starts_with(learned))
        .collect();
    if others.is_empty() || forms.is_empty() {
        return out;
    }
    for (judge, title) in JUDGES.iter().enumerate() {
        let lower_is_better = judge == 0;
        let mut best = Vec::new();
        for r in 0..REMOVALS.len() {
            let curve = 3 * r + judge;
            let mean = |m: &(String, Vec<Vec<f64>>)| mean_and_error(&m.1[curve]).0;
            let pick = others
                .iter()
                .copied()
                .min_by(|a, b| {
                    let (a, b) = (mean(a), mean(b));
                    if lower_is_better {
                        a.total_cmp(&b)
                    } else {
                        b.total_cmp(&a)
                    }
                })
                .expect("at least one other method");
            best.push((curve, pick, mean(pick)));
        }
        out.push(format!("\n{title}:\n"));
        out.push(format!(
            "| form | {} |",
            best.iter()
                .zip(REMOVALS)
                .map(|((_, m, area), r)| format!("{r} (vs {} {area:.3})", m.0))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        out.push(format!("|---|{}", "---|".repeat(REMOVALS.len())));
        for form in &forms {
            let cells: Vec<String> = best
                .iter()
                .map(|(curve, other, _)| {
                    let (a, b) = (&form.1[*curve], &other.1[*curve]);
                    assert_eq!(a.len(), b.len(), "different kept images");
                    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
                    let (mean, error) = mean_and_error(&differences);
                    let better = if lower_is_better { -mean } else { mean };
                    if better > 2.0 * error {
                        format!("**{mean:+.3} ± {error:.3}**")
                    } else {
                        format!("{mean:+.3} ± {error:.3}")
                    }
                })
                .collect();
            out.push(format!("| {} | {} |", form.0, cells.join(" | ")));
        }
    }
    out
}
