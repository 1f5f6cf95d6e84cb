//! The edge-of-stability picture: λ_max, the sharpness, along the two best runs of one M (seed
//! mean, when the curves carry the sharpness column), each against its own stability threshold
//! 2(2−α)/(αγ).

use anyhow::Result;
use heavyball_core::model::stability_threshold;

use super::lines::{Series, lines};
use super::style::{Key, method_color};
use super::{Figure, SIZE, Sweep, mean_curve, render, runs_at};
use crate::grid::short_number;
use crate::report::analysis::{Comparison, Method};
use crate::report::format::num;

/// The figure at the comparison's M, or None when no best run's curve has sharpness values.
pub(super) fn figure(sweep: &Sweep, c: &Comparison) -> Result<Option<Figure>> {
    let m = c.hidden;
    let mut series: Vec<Series> = Vec::new();
    for b in [&c.gd, &c.momentum].into_iter().flatten() {
        let runs = runs_at(sweep, m, b.gamma, b.alpha);
        let points = mean_curve(&runs, |r| r.sharpness);
        let Some(&(last, _)) = points.last() else { continue };
        let name = if b.method == Method::Momentum { "momentum" } else { "GD" };
        let color = method_color(b.alpha);
        let label = format!("{name} γ={} α={}: λ_max", short_number(b.gamma), short_number(b.alpha));
        series.push(Series { key: Key { label, color, dashed: false }, points });
        let limit = stability_threshold(b.gamma, b.alpha);
        let label = format!("{name}'s threshold 2(2−α)/(αγ) = {}", num(limit));
        series.push(Series {
            key: Key { label, color, dashed: true },
            points: vec![(0.0, limit), (last, limit)],
        });
    }
    if series.is_empty() {
        return Ok(None);
    }
    let title = format!("Sharpness, M = {m}: λ_max along the best runs against their stability thresholds");
    let y = "λ_max of the risk's Hessian, seed mean (log scale)";
    render(format!("sharpness-M{m}"), title.clone(), SIZE, &|r| lines(r, &title, y, &series, true), &|r| {
        lines(r, &title, y, &series, true)
    })
    .map(Some)
}
