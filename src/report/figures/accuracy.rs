//! The test accuracy of the two best runs of one M along training (seed mean).

use anyhow::Result;

use super::lines::{Series, lines};
use super::style::{Key, method_color};
use super::{Figure, SIZE, Sweep, mean_curve, render, runs_at};
use crate::grid::short_number;
use crate::report::analysis::{Comparison, Method};

/// The figure at the comparison's M, or None without a test set or a best run.
pub(super) fn figure(sweep: &Sweep, c: &Comparison) -> Result<Option<Figure>> {
    if !sweep.info.has_test_set() {
        return Ok(None);
    }
    let m = c.hidden;
    let mut series: Vec<Series> = Vec::new();
    for b in [&c.gd, &c.momentum].into_iter().flatten() {
        let runs = runs_at(sweep, m, b.gamma, b.alpha);
        let label = format!(
            "{} γ={} α={}",
            if b.method == Method::Gd { "GD" } else { "momentum" },
            short_number(b.gamma),
            short_number(b.alpha)
        );
        let key = Key { label, color: method_color(b.alpha), dashed: b.method == Method::Momentum };
        series.push(Series { key, points: mean_curve(&runs, |r| r.test_accuracy) });
    }
    if series.is_empty() {
        return Ok(None);
    }
    let title = format!("Test accuracy, M = {m}: best plain GD vs best momentum");
    let y = "test accuracy (share of samples right), seed mean";
    render(format!("accuracy-M{m}"), title.clone(), SIZE, &|r| lines(r, &title, y, &series, false), &|r| {
        lines(r, &title, y, &series, false)
    })
    .map(Some)
}
