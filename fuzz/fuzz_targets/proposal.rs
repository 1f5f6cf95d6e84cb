//! The tuning rule on any tried values, ratio and resolution: what it proposes is a normal
//! positive γ that was not tried, and the best it names is a tried γ.
#![no_main]

use heavyball::tune::{Tried, Verdict, judge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut numbers = data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")));
    let (Some(ratio), Some(resolution)) = (numbers.next(), numbers.next()) else { return };
    // The rule's contract: a ratio and a resolution above 1, normal positive γ values,
    // ascending and distinct, scores ≥ 0 or +∞ (NaN is never a score).
    let (ratio, resolution) = (ratio.abs(), resolution.abs());
    if !(ratio > 1.0 && ratio.is_finite() && resolution > 1.0 && resolution.is_finite()) {
        return;
    }
    let mut tried: Vec<Tried> = Vec::new();
    while let (Some(gamma), Some(score), Some(span)) = (numbers.next(), numbers.next(), numbers.next()) {
        let gamma = gamma.abs();
        if gamma.is_normal() && !score.is_nan() && !span.is_nan() {
            tried.push(Tried { gamma, score: score.abs(), span: span.abs().max(1.0) });
        }
    }
    tried.sort_by(|a, b| a.gamma.total_cmp(&b.gamma));
    tried.dedup_by(|a, b| a.gamma == b.gamma);
    if tried.is_empty() {
        return;
    }
    let verdict = judge(&tried, ratio, resolution);
    if let Verdict::Open { next, .. } = verdict {
        assert!(next.is_normal() && next > 0.0, "{verdict:?}");
        assert!(tried.iter().all(|t| t.gamma != next), "{next} was tried: {verdict:?}");
    }
    if let Some(best) = verdict.best() {
        assert!(tried.iter().any(|t| t.gamma == best), "{verdict:?}");
    }
    let _ = verdict.to_string();
});
