//! The two bests of one M head to head: each method's training loss against the iteration on
//! every compared seed (the confirmation seeds when the sweep has them) as a thin line, the
//! seeds' median bold, the target loss, and where each seed reaches it. The figure the page
//! opens on.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{Key, log_axis, log_range, method_color, on_log_axis, thinned, titled_with_legend};
use super::{Figure, SIZE, Sweep, render, runs_at};
use crate::grid::short_number;
use crate::report::analysis::{Best, Comparison};
use crate::report::format::{num, tick};
use crate::report::paired::hitting_time;
use crate::report::stats::median;
use crate::store::RunRecord;

/// One best's lines: its colour, every seed's curve, their median, and each seed's hitting
/// point.
struct Lines {
    color: RGBColor,
    seeds: Vec<Vec<(f64, f64)>>,
    median: Vec<(f64, f64)>,
    hits: Vec<(f64, f64)>,
}

/// The lines of one best on the seeds its figures are shown on.
fn lines(sweep: &Sweep, m: usize, b: &Best, target: f64) -> Lines {
    let seeds = &b.shown().seeds;
    let runs: Vec<&RunRecord> =
        runs_at(sweep, m, b.gamma, b.alpha).into_iter().filter(|r| seeds.contains(&r.meta.seed)).collect();
    let curve =
        |r: &RunRecord| r.curve.iter().map(|c| (c.iteration as f64, c.train_loss)).collect::<Vec<_>>();
    let shortest = runs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
    let median = (0..shortest)
        .map(|i| (i as f64, median(&mut runs.iter().map(|r| r.curve[i].train_loss).collect::<Vec<_>>())))
        .collect();
    // On the target line, where each seed first reaches it (a curve may jump past it).
    let hits =
        runs.iter().map(|r| hitting_time(r, target)).filter(|t| t.is_finite()).map(|t| (t, target)).collect();
    Lines { color: method_color(b.alpha), seeds: runs.iter().map(|r| curve(r)).collect(), median, hits }
}

/// The figure at the comparison's M, or None without both bests.
pub(super) fn figure(sweep: &Sweep, c: &Comparison) -> Result<Option<Figure>> {
    let (Some(gd), Some(mo)) = (&c.gd, &c.momentum) else { return Ok(None) };
    let m = c.hidden;
    let both = [lines(sweep, m, gd, c.target), lines(sweep, m, mo, c.target)];
    let which = if gd.confirmation.is_some() { "confirmation" } else { "selection" };
    let title = format!(
        "Head to head, M = {m}: the two bests on the {which} seeds (thin: a seed, bold: their median)"
    );
    let label = |name: &str, b: &Best| {
        let fragile = if b.is_fragile() { ", fragile" } else { "" };
        format!(
            "{name}{} γ = {} ({} seeds){fragile}",
            if b.alpha < 1.0 { format!(" α = {}", short_number(b.alpha)) } else { String::new() },
            short_number(b.gamma),
            b.shown().seeds.len()
        )
    };
    let keys = vec![
        Key { label: label("plain GD", gd), color: method_color(gd.alpha), dashed: false },
        Key { label: label("momentum", mo), color: method_color(mo.alpha), dashed: false },
        Key {
            label: format!("target {}, • reached", num(c.target)),
            color: RGBColor(120, 120, 120),
            dashed: true,
        },
    ];
    let target = c.target;
    let iterations = sweep.info.iterations as f64;
    render(
        format!("head-to-head-M{m}"),
        title.clone(),
        SIZE,
        &|r| draw(r, &title, &keys, &both, target, iterations),
        &|r| draw(r, &title, &keys, &both, target, iterations),
    )
    .map(Some)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
    both: &[Lines; 2],
    target: f64,
    iterations: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, keys)?;
    let points: Vec<(f64, f64)> = both.iter().flat_map(|l| l.seeds.iter().flatten().copied()).collect();
    let (y_lo, y_hi) = log_range(points.iter());
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..iterations.max(1.0), log_axis(y_lo, y_hi))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc("mean training loss per sample (nats, log scale)")
        .y_labels(12)
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    let usable = |line: &[(f64, f64)]| thinned(line.iter().copied().filter(|p| on_log_axis(p.1)).collect());
    for l in both {
        for seed in &l.seeds {
            chart.draw_series(LineSeries::new(usable(seed), l.color.mix(0.3).stroke_width(1))).map_err(e)?;
        }
    }
    for l in both {
        chart.draw_series(LineSeries::new(usable(&l.median), l.color.stroke_width(3))).map_err(e)?;
        chart.draw_series(l.hits.iter().map(|&p| Circle::new(p, 4, l.color.filled()))).map_err(e)?;
    }
    if on_log_axis(target) {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, target), (iterations, target)],
                8,
                5,
                grey.stroke_width(2),
            ))
            .map_err(e)?;
    }
    Ok(())
}
