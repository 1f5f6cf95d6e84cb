//! The comparison of one M seed by seed: per seed, momentum's value of the criterion over GD's
//! and the speed-up to the target (GD's iterations over momentum's), each on a log axis with 1
//! marked, the median, and the 95% interval when the seeds allow one. Values off the axis (a
//! diverged or censored side) sit at its edge as ▲ or ▼; a seed on which both sides diverged
//! is a tie, drawn as ✕ on the line at 1.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{Key, log_axis, log_range, method_color, on_log_axis, titled_with_legend};
use super::{Figure, Sweep, render, runs_at};
use crate::report::analysis::{Best, Comparison};
use crate::report::format::{criterion_short, tick};
use crate::report::paired::{SeedPair, seed_pairs};
use crate::report::stats::Interval;
use crate::store::RunRecord;

/// One panel: its name, the per-seed values (seed, value), and the statistic's interval.
struct Panel {
    name: String,
    values: Vec<(u64, f64)>,
    interval: Option<Interval>,
}

/// The compared runs of one best: on the seeds its figures are shown on.
fn compared<'a>(sweep: &'a Sweep, m: usize, b: &Best) -> Vec<&'a RunRecord> {
    let seeds = &b.shown().seeds;
    runs_at(sweep, m, b.gamma, b.alpha).into_iter().filter(|r| seeds.contains(&r.meta.seed)).collect()
}

/// The figure at the comparison's M, or None without both bests and their statistics.
pub(super) fn figure(sweep: &Sweep, c: &Comparison) -> Result<Option<Figure>> {
    let (Some(gd), Some(mo), Some(stats)) = (&c.gd, &c.momentum, &c.stats) else { return Ok(None) };
    let m = c.hidden;
    let pairs: Vec<SeedPair> =
        seed_pairs(&compared(sweep, m, gd), &compared(sweep, m, mo), c.selection.by, c.target);
    let mut panels = vec![Panel {
        name: format!("momentum / GD: {} per seed", criterion_short(c.selection.by)),
        values: pairs.iter().map(|p| (p.seed, p.ratio)).collect(),
        interval: stats.ratio,
    }];
    if c.target.is_finite() {
        panels.push(Panel {
            name: "speed-up to the target per seed: GD's iterations / momentum's".into(),
            values: pairs.iter().filter_map(|p| Some((p.seed, p.speedup?))).collect(),
            interval: stats.speedup,
        });
    }
    let title = format!(
        "Seed by seed, M = {m} ({} view, {} seeds): below 1 momentum ends lower, above 1 it is faster",
        c.view.name(),
        stats.seeds_used.name()
    );
    let color = method_color(mo.alpha);
    let keys = vec![
        Key { label: "one seed".into(), color, dashed: false },
        Key {
            label: if panels.iter().any(|p| p.interval.is_some_and(|i| i.bounds.is_some())) {
                "median (shaded: its 95% interval)".into()
            } else {
                "median".into()
            },
            color,
            dashed: true,
        },
        Key { label: "equal (1)".into(), color: BLACK, dashed: false },
    ];
    let size = (480 * panels.len() as u32 + 80, 560);
    render(format!("seeds-M{m}"), title.clone(), size, &|r| draw(r, &title, &keys, &panels, color), &|r| {
        draw(r, &title, &keys, &panels, color)
    })
    .map(Some)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
    panels: &[Panel],
    color: RGBColor,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, keys)?;
    for (panel, area) in panels.iter().zip(body.split_evenly((1, panels.len()))) {
        let mut points: Vec<(f64, f64)> = panel.values.iter().map(|&(_, v)| (0.0, v)).collect();
        points.push((0.0, 1.0));
        if let Some(i) = panel.interval {
            points.push((0.0, i.estimate));
            if let Some((lo, hi)) = i.bounds {
                points.extend([(0.0, lo), (0.0, hi)]);
            }
        }
        let (y_lo, y_hi) = log_range(points.iter());
        let n = panel.values.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.name, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..n - 0.5, log_axis(y_lo, y_hi))
            .map_err(e)?;
        let seeds: Vec<u64> = panel.values.iter().map(|&(s, _)| s).collect();
        chart
            .configure_mesh()
            .x_desc("seed")
            .y_desc("ratio (log scale)")
            .y_labels(12)
            .x_labels(seeds.len().clamp(1, 12))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    seeds.get(i as usize).map_or(String::new(), u64::to_string)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        let across = |y: f64| vec![(-0.5, y), (n - 0.5, y)];
        if let Some(Interval { bounds: Some((lo, hi)), .. }) = panel.interval {
            let (lo, hi) = (lo.clamp(y_lo, y_hi), hi.clamp(y_lo, y_hi));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(-0.5, lo), (n - 0.5, hi)],
                    color.mix(0.12).filled(),
                )))
                .map_err(e)?;
        }
        chart.draw_series(LineSeries::new(across(1.0), BLACK.stroke_width(2))).map_err(e)?;
        if let Some(i) = panel.interval.filter(|i| on_log_axis(i.estimate)) {
            chart
                .draw_series(DashedLineSeries::new(across(i.estimate), 8, 5, color.stroke_width(2)))
                .map_err(e)?;
        }
        let on = panel.values.iter().enumerate().filter(|(_, v)| on_log_axis(v.1));
        chart.draw_series(on.map(|(k, v)| Circle::new((k as f64, v.1), 5, color.filled()))).map_err(e)?;
        // Off the axis: a diverged or censored side, at the edge it lies beyond.
        let font = ("sans-serif", 16).into_font().color(&color).pos(Pos::new(HPos::Center, VPos::Center));
        let off = panel.values.iter().enumerate().filter(|(_, v)| !on_log_axis(v.1));
        chart
            .draw_series(off.map(|(k, v)| {
                let (mark, y) = match v.1 {
                    // Both sides diverged: a tie, on the line.
                    r if r.is_nan() => ("✕", 1.0),
                    r if r > 1.0 => ("▲", y_hi / 1.2),
                    _ => ("▼", y_lo * 1.2),
                };
                Text::new(mark, (k as f64, y), font.clone())
            }))
            .map_err(e)?;
    }
    Ok(())
}
