//! How the report writes numbers and a few recurring phrases: table numbers, mean ± sd,
//! CSV fields, intervals, p-values, axis ticks and the criteria in words. Every table, figure
//! and text of the report formats through here.

use super::stats::Interval;
use crate::config::{Aggregate, Criterion, Selection};

/// A number for tables: 4 significant digits, `–` for NaN.
pub(super) fn num(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v == f64::INFINITY {
        "∞".into()
    } else if v == f64::NEG_INFINITY {
        "−∞".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4).chars().take(8).collect()
    }
}

pub(super) fn pm((mean, sd): (f64, f64)) -> String {
    if mean.is_nan() { "–".into() } else { format!("{} ± {}", num(mean), num(sd)) }
}

pub(super) fn csv_num(v: f64) -> String {
    if v.is_nan() { String::new() } else { v.to_string() }
}

/// What a best setting is chosen by, in words.
pub(super) fn criterion_words(by: Criterion) -> &'static str {
    match by {
        Criterion::LateTrainLoss => "late training loss (the mean over the last tenth of the iterations)",
        Criterion::FinalTrainLoss => "final training loss",
        Criterion::BestTrainLoss => "training loss along the curve",
        Criterion::TestLoss => "final test loss",
    }
}

/// A criterion in a few words, for table headers.
pub(super) fn criterion_short(by: Criterion) -> &'static str {
    match by {
        Criterion::LateTrainLoss => "late train loss",
        Criterion::FinalTrainLoss => "final train loss",
        Criterion::BestTrainLoss => "lowest train loss",
        Criterion::TestLoss => "final test loss",
    }
}

/// A selection in words: "late training loss (…), seeds by their median".
pub(super) fn selection_words(s: Selection) -> String {
    let how = match s.aggregate {
        Aggregate::Median => "median",
        Aggregate::Mean => "mean (+∞ when a seed diverged)",
    };
    format!("{}, seeds by their {how}", criterion_words(s.by))
}

/// An interval as `median [low, high]`; "median (n seeds: no 95% interval)" when the seeds are
/// too few for one; ∞ where a censored or diverged seed sets an end.
pub(super) fn interval(i: Option<Interval>, unit: &str) -> String {
    match i {
        Some(Interval { estimate, bounds: Some((low, high)), .. }) => {
            format!("{}{unit} [{}, {}]", num(estimate), num(low), num(high))
        }
        Some(i) if i.n == 1 => format!("{}{unit} (one seed)", num(i.estimate)),
        Some(i) => format!("{}{unit} ({} seeds: no 95% interval)", num(i.estimate), i.n),
        None => "–".into(),
    }
}

/// A median hitting time: "> T" when it is censored (more than half never reached the target).
pub(super) fn iterations(median: f64, last: usize) -> String {
    if median.is_finite() { num(median) } else { format!("> {last}") }
}

pub(super) fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.3}"),
        None => "–".into(),
    }
}

/// A tick label that reads at a glance: up to 3 significant digits, plain between 1e-3 and 1e5
/// (0.001, 0.25, 2000), otherwise as a power of ten (1e-4, 2.5e-6); never the float noise of a
/// computed tick such as `9999999999e-5`.
pub(super) fn tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { num(v) };
    }
    // Round to 3 significant digits first, so 9.9999e-5 becomes 1e-4.
    let rounded: f64 = format!("{v:.2e}").parse().unwrap_or(v);
    let exponent = rounded.abs().log10().floor() as i32;
    if (-3..5).contains(&exponent) {
        let decimals = (2 - exponent).max(0) as usize;
        let text = format!("{rounded:.decimals$}");
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
    } else {
        let text = format!("{rounded:.2e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_as_people_write_them() {
        let cases = [
            (9.999999999e-5, "1e-4"),
            (1e-5, "1e-5"),
            (2.5e-6, "2.5e-6"),
            (0.001, "0.001"),
            (0.25, "0.25"),
            (1.0, "1"),
            (20.000000001, "20"),
            (1000.0, "1000"),
            (99999.0, "1e5"),
            (1.234e7, "1.23e7"),
            (0.0, "0"),
            (-0.03, "-0.03"),
        ];
        for (v, want) in cases {
            assert_eq!(tick(v), want, "{v}");
        }
    }

    #[test]
    fn table_numbers_intervals_and_p_values() {
        assert_eq!((num(f64::NAN), num(f64::INFINITY), num(0.0)), ("–".into(), "∞".into(), "0".into()));
        assert_eq!(num(f64::NEG_INFINITY), "−∞");
        assert_eq!(
            (num(0.123456), num(1.5e-7), num(2.5e6)),
            ("0.1235".into(), "1.500e-7".into(), "2.500e6".into())
        );
        assert_eq!(pm((0.5, 0.25)), "0.5 ± 0.25");
        assert_eq!((csv_num(f64::NAN), csv_num(0.1)), (String::new(), "0.1".into()));
        let i = Interval { estimate: 0.5, bounds: Some((0.25, 1.0)), coverage: Some(0.99), n: 8 };
        assert_eq!(interval(Some(i), "×"), "0.5× [0.25, 1]");
        let none = Interval { bounds: None, coverage: None, ..i };
        assert_eq!(interval(Some(Interval { n: 1, ..none }), ""), "0.5 (one seed)");
        assert_eq!(interval(Some(Interval { n: 4, ..none }), ""), "0.5 (4 seeds: no 95% interval)");
        assert_eq!((iterations(12.5, 200), iterations(f64::INFINITY, 200)), ("12.5".into(), "> 200".into()));
        assert_eq!(
            (p_value(Some(0.0123)), p_value(Some(2e-5)), p_value(None)),
            ("0.012".into(), "2.0e-5".into(), "–".into())
        );
    }
}
