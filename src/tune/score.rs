//! Scores: a run's value of a criterion, a setting's score over its seeds, and how far its
//! seeds lie apart. Every choice of a best (tuning, confirmation, the report) is made of these.

use crate::config::{Aggregate, Criterion, Selection};
use crate::store::RunRecord;

/// The rows the late training loss averages: the last ⌊T/10⌋ of a curve of T iterations (rows
/// 0..=T), at least one.
pub fn late_window(iterations: usize) -> usize {
    (iterations / 10).max(1)
}

/// A finished run's value of `by`: +∞ when it diverged, or when the value is missing or NaN.
pub fn run_score(run: &RunRecord, by: Criterion) -> f64 {
    let last = run.curve.last();
    let value = match by {
        _ if run.diverged() => None,
        Criterion::LateTrainLoss => last.map(|row| {
            let window = late_window(row.iteration).min(run.curve.len());
            let rows = &run.curve[run.curve.len() - window..];
            // A NaN or infinite row makes the mean +∞: the run swung out of range in the window.
            let sum: f64 =
                rows.iter().map(|r| if r.train_loss.is_nan() { f64::INFINITY } else { r.train_loss }).sum();
            sum / window as f64
        }),
        Criterion::FinalTrainLoss => last.map(|r| r.train_loss),
        Criterion::BestTrainLoss => {
            run.curve.iter().map(|r| r.train_loss).filter(|l| !l.is_nan()).reduce(f64::min)
        }
        Criterion::TestLoss => last.and_then(|r| r.test_loss),
    };
    value.filter(|v| !v.is_nan()).unwrap_or(f64::INFINITY)
}

/// The median; NaN for no values. An even count gives the mean of the middle two (+∞ when
/// either is +∞).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        let (a, b) = (values[n / 2 - 1], values[n / 2]);
        if a == b { a } else { (a + b) / 2.0 }
    }
}

/// Seeds' values summed up: their median or their mean (+∞ when one is +∞). NaN for none.
pub fn aggregate(values: &[f64], how: Aggregate) -> f64 {
    match how {
        Aggregate::Median => median(&mut values.to_vec()),
        Aggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
    }
}

/// The score of one (M, γ, α): its seeds' values of the criterion, summed up as `selection`
/// says.
pub fn point_score(runs: &[&RunRecord], selection: Selection) -> f64 {
    let values: Vec<f64> = runs.iter().map(|r| run_score(r, selection.by)).collect();
    aggregate(&values, selection.aggregate)
}

/// How far apart one setting's seeds end: the largest value of the criterion over the
/// smallest (1 for one seed; +∞ when one seed diverged and another did not, or the smallest
/// is 0 and the largest is not).
pub fn seed_span(runs: &[&RunRecord], by: Criterion) -> f64 {
    let values: Vec<f64> = runs.iter().map(|r| run_score(r, by)).collect();
    span(&values)
}

/// The largest of some non-negative values over the smallest (see [`seed_span`]).
pub fn span(values: &[f64]) -> f64 {
    let lowest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() || highest == lowest {
        1.0
    } else if lowest <= 0.0 || !highest.is_finite() {
        f64::INFINITY
    } else {
        highest / lowest
    }
}

/// How many times worse than a best its nearest tried neighbour, or its own worst seed than
/// its best seed, may be before the best is fragile: the landscape there is too rough for a
/// verdict to rest on one step size.
pub const ROUGH: f64 = 100.0;

/// True when a neighbour's finite score `other` is more than [`ROUGH`] times `best` (from a
/// best of 0, any score above 0 is): the rule that stops tuning. A neighbour that diverged (+∞)
/// is a cliff, not roughness: bisecting towards it locates the edge of stability, as
/// bracketing should. (The report still marks a best beside a diverged γ fragile: see
/// `select::Fragility`.)
pub fn rough(best: f64, other: f64) -> bool {
    other.is_finite() && if best <= 0.0 { other > 0.0 } else { other > ROUGH * best }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures;

    /// A run at γ = 0.1, α = 1, seed 0 with these training losses at iterations 0, 1, …
    fn run(losses: &[f64]) -> RunRecord {
        fixtures::run(0.1, 1.0, 0, losses)
    }

    #[test]
    fn the_late_loss_is_the_mean_of_the_last_tenth() {
        // T = 20: the last 2 rows, 0.5 and 0.1 (a swing down at the very end scores 0.3).
        let mut losses = vec![1.0; 19];
        losses.extend([0.5, 0.1]);
        assert_eq!(run_score(&run(&losses), Criterion::LateTrainLoss), 0.3);
        assert_eq!(run_score(&run(&losses), Criterion::FinalTrainLoss), 0.1);
        // T = 9: ⌊0.9⌋ = 0 rows would be none, so the last row alone.
        let short: Vec<f64> = (0..10).map(|i| 1.0 / (i + 1) as f64).collect();
        assert_eq!(run_score(&run(&short), Criterion::LateTrainLoss), 0.1);
        // T = 0: the initial point.
        assert_eq!(run_score(&run(&[2.0]), Criterion::LateTrainLoss), 2.0);
        // T = 200: rows 181..=200.
        let long: Vec<f64> = (0..=200).map(|i| i as f64).collect();
        assert_eq!(
            run_score(&run(&long), Criterion::LateTrainLoss),
            (181..=200).sum::<usize>() as f64 / 20.0
        );
        assert_eq!((late_window(200), late_window(9), late_window(0), late_window(1999)), (20, 1, 1, 199));
        // A diverged run, or an infinite row in the window, scores +∞.
        assert_eq!(run_score(&run(&[1.0, f64::NAN]), Criterion::LateTrainLoss), f64::INFINITY);
        let mut spike = vec![1.0; 20];
        spike.push(f64::INFINITY);
        spike.push(0.5);
        assert_eq!(run_score(&run(&spike), Criterion::LateTrainLoss), f64::INFINITY);
    }

    #[test]
    fn seeds_are_summed_up_by_their_median_or_mean() {
        let (a, b, c) = (run(&[1.0, 0.2]), run(&[1.0, 0.4]), run(&[1.0, f64::NAN]));
        let median = Selection { by: Criterion::FinalTrainLoss, aggregate: Aggregate::Median };
        let mean = Selection { aggregate: Aggregate::Mean, ..median };
        // One diverged seed of three: the median is the middle value, the mean +∞.
        assert_eq!(point_score(&[&a, &b, &c], median), 0.4);
        assert_eq!(point_score(&[&a, &b, &c], mean), f64::INFINITY);
        assert!((point_score(&[&a, &b], mean) - 0.3).abs() < 1e-15);
        assert!((point_score(&[&a, &b], median) - 0.3).abs() < 1e-15);
    }

    #[test]
    fn spans_and_roughness() {
        assert_eq!(span(&[0.5]), 1.0);
        assert!((span(&[1e-6, 1e-3]) - 1000.0).abs() < 1e-9);
        assert_eq!(span(&[0.0, 1e-9]), f64::INFINITY);
        assert_eq!(span(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(span(&[0.0, 0.0]), 1.0);
        assert!(rough(1e-9, 1.01e-7) && !rough(1e-9, 1e-7));
        assert!(rough(0.0, 1e-300) && !rough(0.0, 0.0));
        assert!(!rough(1.0, f64::INFINITY));
    }
}
