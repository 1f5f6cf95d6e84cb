//! What one run, or the seeds of one setting, measured: final and lowest training loss, the
//! iterations to a target, whether it converged, and the means every table prints.

use crate::store::RunRecord;

/// The final training loss of a run, +∞ for a diverged run (or an empty curve).
pub fn final_loss(run: &RunRecord) -> f64 {
    if run.diverged() { f64::INFINITY } else { run.curve.last().map_or(f64::INFINITY, |r| r.train_loss) }
}

/// The lowest training loss on a run's curve (NaN rows ignored; +∞ for an empty curve).
pub fn lowest_loss(run: &RunRecord) -> f64 {
    run.curve.iter().map(|r| r.train_loss).filter(|l| !l.is_nan()).fold(f64::INFINITY, f64::min)
}

/// The first iteration whose training loss is at or below `target`; None when none is (the
/// run is censored: it never reached the target within its iterations).
pub fn iterations_to(run: &RunRecord, target: f64) -> Option<usize> {
    run.curve.iter().find(|r| r.train_loss <= target).map(|r| r.iteration)
}

/// True when a run converged: it finished (did not diverge) below its initial loss.
pub fn converged(run: &RunRecord) -> bool {
    let first = run.curve.first().map(|r| r.train_loss);
    !run.diverged() && first.is_some_and(|f| final_loss(run) < f)
}

/// The mean of the seeds' final losses: +∞ when a seed diverged.
pub fn mean_final_loss(runs: &[&RunRecord]) -> f64 {
    runs.iter().map(|r| final_loss(r)).sum::<f64>() / runs.len() as f64
}

/// The distinct γ values of some runs, ascending.
pub fn distinct_gammas<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> Vec<f64> {
    let mut gammas: Vec<f64> = runs.into_iter().map(|r| r.meta.gamma).collect();
    gammas.sort_by(f64::total_cmp);
    gammas.dedup();
    gammas
}

/// Mean and sample standard deviation (0 for one value); NaN for none.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() == 1 {
        return (mean, 0.0);
    }
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    if sd.is_finite() || !mean.is_finite() {
        return (mean, sd);
    }
    // Deviations beyond about 1e154 overflow their squares: scale them by the largest first.
    let scale = values.iter().fold(0.0f64, |a, v| a.max((v - mean).abs()));
    let scaled = values.iter().map(|v| ((v - mean) / scale).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, scale * scaled.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::run;

    #[test]
    fn a_spread_too_large_to_square_still_has_its_standard_deviation() {
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
        let (mean, sd) = mean_sd(&[1e200, 3e200]);
        assert!(mean == 2e200 && (sd / (2f64.sqrt() * 1e200) - 1.0).abs() < 1e-12, "{mean} {sd}");
        assert_eq!(mean_sd(&[5.0]), (5.0, 0.0));
        assert!(mean_sd(&[]).0.is_nan());
    }

    #[test]
    fn convergence_means_finishing_below_the_start() {
        // Finished below its start: converged; finished above it (a blow-up the divergence
        // factor did not stop): not; a loss of exactly 0 is a finished run that converged.
        assert!(converged(&run(0.1, 1.0, 0, &[1.47, 0.3])));
        assert!(!converged(&run(0.1, 1.0, 0, &[1.47, 156.0])));
        assert!(converged(&run(0.1, 1.0, 0, &[1.47, 0.0])));
        assert!(!converged(&run(0.1, 1.0, 0, &[1.47, f64::NAN])));
    }
}
