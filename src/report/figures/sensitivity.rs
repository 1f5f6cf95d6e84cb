//! The sensitivity to the step size at one M: the optimisation view's criterion (and, with a
//! test set, the final test loss) against γ on the selection seeds, one line per α through the
//! seeds' median, their range as a band, ✕ where a seed diverged: how wide each method's good
//! range of γ is, with the selected bests and the predicted stability limits on it.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{alpha_keys, log_axis, log_range, method_color, on_log_axis, titled_with_legend};
use super::{Figure, SIZE, Sweep, render, selection_runs_at};
use crate::config::{Aggregate, Criterion};
use crate::report::analysis::Analysis;
use crate::report::format::{criterion_short, tick};
use crate::report::measures::distinct_gammas;
use crate::report::stability::Stability;
use crate::tune::{aggregate, run_score};

/// The figure at M: a panel for the optimisation view's criterion and, with a test set, one for
/// the final test loss; each view's selected bests circled, and the γ the sharpness at init
/// predicts stable marked per α when known.
pub(super) fn figure(
    sweep: &Sweep,
    m: usize,
    analysis: &Analysis,
    stability: &[Stability],
) -> Result<Figure> {
    let lines = sensitivity_lines(sweep, m, analysis, stability);
    let title = format!(
        "Sensitivity to γ, M = {m}: per α, the seeds' median (line) and range (band); ○ the selected bests, ✕ a seed \
         diverged, | the predicted limit"
    );
    let size = (SIZE.0 + 200 + if sweep.info.has_test_set() { 640 } else { 0 }, SIZE.1);
    render(format!("sensitivity-M{m}"), title.clone(), size, &|r| sensitivity(r, &title, &lines), &|r| {
        sensitivity(r, &title, &lines)
    })
}

/// One line of a sensitivity panel: per γ run, the seeds' values.
type SeedValues = Vec<(f64, Vec<f64>)>;

/// One panel of the sensitivity: its criterion, per α its points, and the view's bests.
struct SensitivityPanel {
    /// The y axis's words.
    name: String,
    /// Per α, the points (γ, seeds' values).
    lines: Vec<SeedValues>,
    /// The view's selected bests: (γ, α, fragile).
    bests: Vec<(f64, f64, bool)>,
}

/// The sensitivity of one M: per α, at each γ run, the seeds' values (+∞ for a diverged seed)
/// of the optimisation view's criterion and, with a test set, of the final test loss.
struct SensitivityLines {
    alphas: Vec<f64>,
    panels: Vec<SensitivityPanel>,
    /// How a point's seeds make its line: their median or their mean.
    aggregate: Aggregate,
    /// Per α, the γ the sharpness at init predicts stable, when known.
    limits: Vec<(f64, f64)>,
}

fn sensitivity_lines(
    sweep: &Sweep,
    m: usize,
    analysis: &Analysis,
    stability: &[Stability],
) -> SensitivityLines {
    let gammas = distinct_gammas(sweep.runs.iter().filter(|r| r.meta.hidden == m));
    let alphas = sweep.info.alpha.clone();
    let selection = sweep.info.selection();
    let mut views = vec![(&analysis.comparisons, selection.by)];
    if sweep.info.has_test_set() {
        views.push((&analysis.generalisation, Criterion::TestLoss));
    }
    let panels = views
        .into_iter()
        .map(|(comparisons, by)| {
            let lines = alphas
                .iter()
                .map(|&a| {
                    gammas
                        .iter()
                        .map(|&g| {
                            let at = selection_runs_at(sweep, m, g, a);
                            (g, at.iter().map(|r| run_score(r, by)).collect::<Vec<f64>>())
                        })
                        .filter(|(_, v)| !v.is_empty())
                        .collect()
                })
                .collect();
            let bests = comparisons
                .iter()
                .filter(|c| c.hidden == m)
                .flat_map(|c| [&c.gd, &c.momentum])
                .flatten()
                .map(|b| (b.gamma, b.alpha, b.is_fragile()))
                .collect();
            SensitivityPanel { name: criterion_short(by).to_string(), lines, bests }
        })
        .collect();
    let limits = stability.iter().filter(|s| s.hidden == m).map(|s| (s.alpha, s.predicted)).collect();
    SensitivityLines { alphas, panels, aggregate: selection.aggregate, limits }
}

/// The criterion against γ (both log), one line per α through the seeds' median (or mean),
/// their range as a band, a ✕ at the top edge where a seed diverged, a ring at the bottom edge
/// for a loss of exactly 0 (a finished run), the bests circled and the predicted limits marked.
fn sensitivity<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &SensitivityLines,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, &alpha_keys(&s.alphas))?;
    let areas = body.split_evenly((1, s.panels.len().max(1)));
    for (panel, area) in s.panels.iter().zip(&areas) {
        let (name, lines) = (&panel.name, &panel.lines);
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
            .build_cartesian_2d(log_axis(g_lo, g_hi), log_axis(y_lo, y_hi))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step size γ (log scale)")
            .y_desc(format!("{name} per sample (nats, log scale)"))
            .light_line_style(WHITE.mix(0.0))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        for (k, (&alpha, points)) in s.alphas.iter().zip(lines).enumerate() {
            let color = method_color(alpha);
            // The band: the seeds' lowest to highest, over the γ where every seed is usable (a
            // loss of exactly 0 sits at the axis's bottom).
            let placed = |y: f64| if y == 0.0 { y_lo } else { y };
            let kept: Vec<(f64, f64, f64, f64)> = points
                .iter()
                .filter(|(_, v)| v.iter().all(|&y| on_log_axis(placed(y))))
                .map(|(g, v)| {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (*g, placed(lo), placed(aggregate(v, s.aggregate)), placed(hi))
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
            // A seed that diverged (or whose value is off the axis above): ✕ near the top edge,
            // one height per α so that marks at one γ do not hide each other. A loss of exactly
            // 0 is a finished run: a ring at the bottom edge, never ✕.
            let y = y_hi / 1.25 / (y_hi / y_lo).powf(0.04 * k as f64);
            let crossed = points.iter().filter(|(_, v)| v.iter().any(|&y| y != 0.0 && !on_log_axis(y)));
            let font = ("sans-serif", 16).into_font().color(&color).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(crossed.map(|(g, _)| Text::new("✕", (*g, y), font.clone()))).map_err(e)?;
            let zeros = points.iter().filter(|(_, v)| v.contains(&0.0));
            chart
                .draw_series(zeros.map(|(g, _)| Circle::new((*g, y_lo * 1.05), 5, color.stroke_width(2))))
                .map_err(e)?;
            // The γ the sharpness at init predicts stable for this α: a vertical mark.
            for &(_, limit) in s.limits.iter().filter(|(a, l)| *a == alpha && *l >= g_lo && *l <= g_hi) {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(limit, y_lo), (limit, y_hi)],
                        3,
                        4,
                        color.stroke_width(1),
                    ))
                    .map_err(e)?;
            }
            // The view's selected best at this α: circled, and named fragile when it is.
            for &(gamma, _, fragile) in panel.bests.iter().filter(|b| b.1 == alpha) {
                let Some(&(_, _, y, _)) = kept.iter().find(|p| p.0 == gamma) else { continue };
                chart
                    .draw_series(std::iter::once(Circle::new((gamma, y), 9, color.stroke_width(2))))
                    .map_err(e)?;
                if fragile {
                    let label =
                        ("sans-serif", 13).into_font().color(&color).pos(Pos::new(HPos::Left, VPos::Bottom));
                    chart
                        .draw_series(std::iter::once(Text::new("fragile", (gamma * 1.08, y * 1.1), label)))
                        .map_err(e)?;
                }
            }
        }
    }
    Ok(())
}
