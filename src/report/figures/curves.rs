//! The training-loss curves of one M as small multiples: one panel per γ, plain GD in black
//! against each α < 1 dashed, seed means, shared log axes.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{alpha_keys, log_axis, log_range, method_color, on_log_axis, thinned, titled_with_legend};
use super::{Figure, Sweep, mean_curve, render, seed_mean, selection_runs_at};
use crate::grid::short_number;
use crate::report::format::tick;
use crate::report::measures::distinct_gammas;

/// The figure at M.
pub(super) fn figure(sweep: &Sweep, m: usize) -> Result<Figure> {
    let panels = curve_panels(sweep, m);
    let title = format!(
        "Training loss per sample (nats, log scale) against the iteration, M = {m}: a panel per γ, {}",
        seed_mean(sweep)
    );
    let size = panels_size(panels.panels.len());
    render(format!("curves-M{m}"), title.clone(), size, &|r| small_multiples(r, &title, &panels), &|r| {
        small_multiples(r, &title, &panels)
    })
}

/// A curve's points, (iteration, value).
type Curve = Vec<(f64, f64)>;

/// The small multiples of one M: per γ, the seed-mean training-loss curve of every α.
struct CurvePanels {
    /// The α values, in grid order (GD's is 1): the series of every panel.
    alphas: Vec<f64>,
    /// Per γ, ascending: γ and, per α, its curve (empty when not run).
    panels: Vec<(f64, Vec<Curve>)>,
    /// The last iteration of the sweep.
    iterations: usize,
}

fn curve_panels(sweep: &Sweep, m: usize) -> CurvePanels {
    let gammas = distinct_gammas(sweep.runs.iter().filter(|r| r.meta.hidden == m));
    let alphas = sweep.info.alpha.clone();
    let panels = gammas
        .iter()
        .map(|&g| {
            let curves = alphas
                .iter()
                .map(|&a| {
                    let runs = selection_runs_at(sweep, m, g, a);
                    if runs.is_empty() { Vec::new() } else { mean_curve(&runs, |r| Some(r.train_loss)) }
                })
                .collect();
            (g, curves)
        })
        .collect();
    CurvePanels { alphas, panels, iterations: sweep.info.iterations }
}

/// Columns of a grid of `n` panels.
fn panel_columns(n: usize) -> usize {
    n.clamp(1, 4)
}

/// The figure size for `n` panels: 4 across at most, 270 pixels a row.
fn panels_size(n: usize) -> (u32, u32) {
    let rows = n.div_ceil(panel_columns(n)).max(1) as u32;
    (1200, 80 + 270 * rows)
}

/// One panel per γ, shared axes: plain GD solid and black, each α < 1 dashed in its colour.
fn small_multiples<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    p: &CurvePanels,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, &alpha_keys(&p.alphas))?;
    let (y_lo, y_hi) = log_range(p.panels.iter().flat_map(|(_, c)| c.iter().flatten()));
    let x_max = p.iterations.max(1) as f64;
    let columns = panel_columns(p.panels.len());
    let rows = p.panels.len().div_ceil(columns).max(1);
    let areas = body.split_evenly((rows, columns));
    for ((gamma, curves), area) in p.panels.iter().zip(&areas) {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("γ = {}", short_number(*gamma)), ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..x_max, log_axis(y_lo, y_hi))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 11))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        for (&alpha, curve) in p.alphas.iter().zip(curves) {
            let points = thinned(curve.iter().copied().filter(|&(_, y)| on_log_axis(y)).collect());
            let color = method_color(alpha);
            if alpha >= 1.0 {
                chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(e)?;
            } else {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2))).map_err(e)?;
            }
        }
    }
    Ok(())
}
