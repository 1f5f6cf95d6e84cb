//! The sensitivity to the step size at one M: the final training (and test) loss against γ,
//! one line per α through the seed means, the seeds' range as a band, ✕ where a seed diverged:
//! how wide each method's good range of γ is.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{alpha_color, log_range, on_log_axis, titled_with_legend};
use super::{Figure, SIZE, Sweep, render, runs_at};
use crate::config::Criterion;
use crate::report::analysis::distinct_gammas;
use crate::report::format::tick;
use crate::tune::run_score;

/// The figure at M: a panel for the training loss and, with a test set, one for the test loss.
pub(super) fn figure(sweep: &Sweep, m: usize) -> Result<Figure> {
    let lines = sensitivity_lines(sweep, m);
    let title =
        format!("Sensitivity to γ, M = {m}: final loss per α (seed mean, band = seeds' range; ✕ = diverged)");
    let size = (SIZE.0 + if sweep.info.has_test_set() { 560 } else { 0 }, SIZE.1);
    render(format!("sensitivity-M{m}"), title.clone(), size, &|r| sensitivity(r, &title, &lines), &|r| {
        sensitivity(r, &title, &lines)
    })
}

/// One line of a sensitivity panel: per γ run, the seeds' values.
type SeedValues = Vec<(f64, Vec<f64>)>;

/// The sensitivity of one M: per α, at each γ run, the seeds' final losses (+∞ for a diverged
/// seed), for the training loss and, with a test set, the test loss.
struct SensitivityLines {
    alphas: Vec<f64>,
    /// Per panel: its name and, per α, the points (γ, seeds' values).
    panels: Vec<(&'static str, Vec<SeedValues>)>,
}

fn sensitivity_lines(sweep: &Sweep, m: usize) -> SensitivityLines {
    let gammas = distinct_gammas(sweep.runs.iter().filter(|r| r.meta.hidden == m));
    let alphas = sweep.info.alpha.clone();
    let mut criteria = vec![("final training loss", Criterion::FinalTrainLoss)];
    if sweep.info.has_test_set() {
        criteria.push(("final test loss", Criterion::TestLoss));
    }
    let panels = criteria
        .into_iter()
        .map(|(name, by)| {
            let lines = alphas
                .iter()
                .map(|&a| {
                    gammas
                        .iter()
                        .map(|&g| {
                            (
                                g,
                                runs_at(sweep, m, g, a)
                                    .iter()
                                    .map(|r| run_score(r, by))
                                    .collect::<Vec<f64>>(),
                            )
                        })
                        .filter(|(_, v)| !v.is_empty())
                        .collect()
                })
                .collect();
            (name, lines)
        })
        .collect();
    SensitivityLines { alphas, panels }
}

/// Final loss against γ (both log), one line per α through the seed means where no seed
/// diverged, the seeds' range as a band, and a ✕ at the top edge where a seed diverged.
fn sensitivity<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &SensitivityLines,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, &s.alphas)?;
    let areas = body.split_evenly((1, s.panels.len().max(1)));
    for ((name, lines), area) in s.panels.iter().zip(&areas) {
        let all: Vec<(f64, f64)> =
            lines.iter().flatten().flat_map(|(g, v)| v.iter().map(move |&y| (*g, y))).collect();
        let (y_lo, y_hi) = log_range(all.iter());
        let gammas = all.iter().map(|p| p.0).filter(|g| *g > 0.0);
        let (g_lo, g_hi) = gammas.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), g| (a.min(g), b.max(g)));
        let (g_lo, g_hi) =
            if g_lo.is_finite() && g_hi > g_lo { (g_lo / 1.5, g_hi * 1.5) } else { (1e-3, 1.0) };
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{name} against γ"), ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((g_lo..g_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step size γ (log scale)")
            .y_desc(format!("{name}, seed mean (log scale)"))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        for (k, (&alpha, points)) in s.alphas.iter().zip(lines).enumerate() {
            let color = alpha_color(&s.alphas, alpha);
            // The band: the seeds' lowest to highest, over the γ where every seed is usable.
            let kept: Vec<(f64, f64, f64, f64)> = points
                .iter()
                .filter(|(_, v)| v.iter().all(|&y| on_log_axis(y)))
                .map(|(g, v)| {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (*g, lo, v.iter().sum::<f64>() / v.len() as f64, hi)
                })
                .collect();
            if kept.len() > 1 {
                let band: Vec<(f64, f64)> =
                    kept.iter().map(|p| (p.0, p.3)).chain(kept.iter().rev().map(|p| (p.0, p.1))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(band, color.mix(0.15).filled())))
                    .map_err(e)?;
            }
            let mean: Vec<(f64, f64)> = kept.iter().map(|p| (p.0, p.2)).collect();
            let style = color.stroke_width(if alpha >= 1.0 { 3 } else { 2 });
            if alpha >= 1.0 {
                chart.draw_series(LineSeries::new(mean.clone(), style)).map_err(e)?;
            } else {
                chart.draw_series(DashedLineSeries::new(mean.clone(), 6, 4, style)).map_err(e)?;
            }
            chart.draw_series(mean.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(e)?;
            // A seed that diverged (or whose value is off the axis): ✕ near the top edge, one
            // height per α so that marks at one γ do not hide each other.
            let y = y_hi / 1.25 / (y_hi / y_lo).powf(0.04 * k as f64);
            let crossed = points.iter().filter(|(_, v)| v.iter().any(|&y| !on_log_axis(y)));
            let font = ("sans-serif", 16).into_font().color(&color).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(crossed.map(|(g, _)| Text::new("✕", (*g, y), font.clone()))).map_err(e)?;
        }
    }
    Ok(())
}
