//! The report's plots, drawn with plotters as SVG and PNG: loss curves per M, a heatmap of the
//! final loss over γ × α per M, and test accuracy curves.

use std::io::Write;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Sweep;
use super::analysis::{Analysis, Method, Stability, distinct_gammas, mean_final_loss, stability};
use super::render::num;
use crate::config::Criterion;
use crate::grid::short_number;
use crate::store::{ReportDir, RunRecord, write_atomic};
use crate::train::CurveRow;
use crate::tune::run_score;

/// A plot written as `<stem>.svg` and `<stem>.png`.
pub struct Figure {
    /// The caption.
    pub title: String,
    /// The SVG's file name, relative to the report folder.
    pub svg: String,
}

/// A line: its legend label, whether it is momentum (dashed), its colour index, its points.
type Series = (String, bool, usize, Vec<(f64, f64)>);

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (960, 600);
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; failing to parse it would be a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

type DrawSvg<'a> = dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()> + 'a;
type DrawPng<'a> = dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()> + 'a;

/// Renders one figure to SVG and to an RGB buffer, and writes each file atomically (the PNG
/// encoded as plotters did through `image`: fast compression, adaptive filtering).
fn render(out: &ReportDir, stem: &str, svg: &DrawSvg, png: &DrawPng) -> Result<()> {
    render_sized(out, stem, SIZE, svg, png)
}

/// [`render`] at a given size in pixels.
fn render_sized(out: &ReportDir, stem: &str, size: (u32, u32), svg: &DrawSvg, png: &DrawPng) -> Result<()> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        svg(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    write_atomic(&out.figure(stem, "svg"), |w| w.write_all(text.as_bytes()))?;
    let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        png(&root)?;
        root.present().map_err(|e| anyhow!("cannot draw {stem}.png: {e}"))?;
    }
    write_atomic(&out.figure(stem, "png"), |w| encode_png(w, size, &rgb).map_err(std::io::Error::other))
}

/// Encodes an 8-bit RGB image as PNG.
fn encode_png(w: &mut dyn Write, size: (u32, u32), rgb: &[u8]) -> Result<(), png::EncodingError> {
    let mut encoder = png::Encoder::new(w, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    encoder.write_header()?.write_image_data(rgb)
}

/// The seed-mean of a curve column, up to the shortest seed's length.
fn mean_curve(runs: &[&RunRecord], pick: impl Fn(&CurveRow) -> Option<f64>) -> Vec<(f64, f64)> {
    let len = runs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
    (0..len)
        .filter_map(|i| {
            let vals: Vec<f64> = runs.iter().filter_map(|r| pick(&r.curve[i])).collect();
            (vals.len() == runs.len()).then(|| (i as f64, vals.iter().sum::<f64>() / vals.len() as f64))
        })
        .collect()
}

fn runs_at(sweep: &Sweep, m: usize, g: f64, a: f64) -> Vec<&RunRecord> {
    sweep.runs.iter().filter(|r| r.meta.hidden == m && r.meta.gamma == g && r.meta.alpha == a).collect()
}

/// The heatmap's cells at M: every γ run at M (a tuned sweep adds γ values beyond the grid),
/// every α of the grid, and the predicted boundary per α from the stability rows.
fn heat_cells(sweep: &Sweep, m: usize, stability: &[Stability]) -> HeatCells {
    let gammas = distinct_gammas(sweep.runs.iter().filter(|r| r.meta.hidden == m));
    let alphas = sweep.info.alpha.clone();
    let cells = alphas
        .iter()
        .map(|&a| {
            gammas
                .iter()
                .map(|&g| {
                    let runs = runs_at(sweep, m, g, a);
                    (!runs.is_empty()).then(|| mean_final_loss(&runs))
                })
                .collect()
        })
        .collect();
    let boundary = alphas
        .iter()
        .map(|&a| stability.iter().find(|s| s.hidden == m && s.alpha == a).map(|s| s.predicted))
        .collect();
    HeatCells { gammas, alphas, cells, boundary }
}

/// Draws every figure and returns them in report order.
pub fn draw_all(sweep: &Sweep, analysis: &Analysis, out: &ReportDir) -> Result<Vec<Figure>> {
    register_font();
    let mut figures = Vec::new();
    let info = &sweep.info;
    let stability = stability(info, &sweep.runs, &sweep.curvature);
    for c in &analysis.comparisons {
        let m = c.hidden;
        // Loss curves as small multiples: one panel per γ, GD against every α < 1, shared axes.
        let panels = curve_panels(sweep, m);
        let title = format!(
            "Training loss, M = {m}: one panel per γ; plain GD (black) against each α (dashed); seed mean"
        );
        let stem = format!("curves-M{m}");
        let size = panels_size(panels.panels.len());
        render_sized(out, &stem, size, &|r| small_multiples(r, &title, &panels), &|r| {
            small_multiples(r, &title, &panels)
        })?;
        figures.push(Figure { title: title.clone(), svg: ReportDir::figure_name(&stem, "svg") });

        // Sensitivity to the step size: the final loss against γ, one line per α.
        let sens = sensitivity_lines(sweep, m);
        let title = format!(
            "Sensitivity to γ, M = {m}: final loss per α (seed mean, band = seeds' range; ✕ = diverged)"
        );
        let stem = format!("sensitivity-M{m}");
        let size = (SIZE.0 + if info.has_test_set() { 560 } else { 0 }, SIZE.1);
        render_sized(out, &stem, size, &|r| sensitivity(r, &title, &sens), &|r| {
            sensitivity(r, &title, &sens)
        })?;
        figures.push(Figure { title: title.clone(), svg: ReportDir::figure_name(&stem, "svg") });

        // Heatmap of the final loss, with the predicted stability boundary when known.
        let heat = heat_cells(sweep, m, &stability);
        let title = if heat.boundary.iter().any(Option::is_some) {
            format!(
                "Final training loss over γ × α, M = {m} (seed mean); white line: γ = 2(2−α)/(α·λ₀), stable by λ₀ at init"
            )
        } else {
            format!("Final training loss over γ × α, M = {m} (seed mean)")
        };
        let stem = format!("heatmap-M{m}");
        render(out, &stem, &|r| heatmap(r, &title, &heat), &|r| heatmap(r, &title, &heat))?;
        figures.push(Figure { title: title.clone(), svg: ReportDir::figure_name(&stem, "svg") });

        // The sharpness of the two best settings against each one's stability threshold, when
        // the curves carry it (the edge-of-stability picture).
        let mut sharp: Vec<Series> = Vec::new();
        for (i, b) in [&c.gd, &c.momentum].into_iter().flatten().enumerate() {
            let runs = runs_at(sweep, m, b.gamma, b.alpha);
            let points = mean_curve(&runs, |r| r.sharpness);
            let Some(&(last, _)) = points.last() else { continue };
            let momentum = b.method == Method::Momentum;
            let name = if momentum { "momentum" } else { "GD" };
            let label = format!("{name} γ={} α={}: sharpness", short_number(b.gamma), short_number(b.alpha));
            let limit = heavyball_core::model::stability_threshold(b.gamma, b.alpha);
            sharp.push((label, momentum, 2 * i, points));
            let label = format!("{name}: its threshold 2(2−α)/(αγ) = {}", num(limit));
            sharp.push((label, momentum, 2 * i + 1, vec![(0.0, limit), (last, limit)]));
        }
        if !sharp.is_empty() {
            let title =
                format!("Sharpness, M = {m}: λ_max along the best runs against their stability thresholds");
            let stem = format!("sharpness-M{m}");
            let y = "λ_max of the Hessian, seed mean (log scale)";
            render(out, &stem, &|r| lines(r, &title, y, &sharp, true), &|r| {
                lines(r, &title, y, &sharp, true)
            })?;
            figures.push(Figure { title, svg: ReportDir::figure_name(&stem, "svg") });
        }

        // Test accuracy of the two best settings.
        if info.has_test_set() {
            let mut acc = Vec::new();
            for (i, b) in [&c.gd, &c.momentum].into_iter().flatten().enumerate() {
                let runs = runs_at(sweep, m, b.gamma, b.alpha);
                let label = format!(
                    "{} γ={} α={}",
                    if b.method == Method::Gd { "GD" } else { "momentum" },
                    short_number(b.gamma),
                    short_number(b.alpha)
                );
                acc.push((label, b.method == Method::Momentum, i, mean_curve(&runs, |r| r.test_accuracy)));
            }
            if !acc.is_empty() {
                let title = format!("Test accuracy, M = {m}: best plain GD vs best momentum");
                let stem = format!("accuracy-M{m}");
                let y = "mean test accuracy";
                render(out, &stem, &|r| lines(r, &title, y, &acc, false), &|r| {
                    lines(r, &title, y, &acc, false)
                })?;
                figures.push(Figure { title, svg: ReportDir::figure_name(&stem, "svg") });
            }
        }
    }
    Ok(figures)
}

/// A curve's points, (iteration, value).
type Curve = Vec<(f64, f64)>;

/// One line of a sensitivity panel: per γ run, the seeds' values.
type SeedValues = Vec<(f64, Vec<f64>)>;

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
                    let runs = runs_at(sweep, m, g, a);
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

/// The colour of α's series: black for plain GD, else a palette colour by its place among the
/// α < 1 of the grid.
fn alpha_color(alphas: &[f64], alpha: f64) -> RGBColor {
    if alpha >= 1.0 {
        return BLACK;
    }
    let i = alphas.iter().filter(|&&a| a < 1.0).position(|&a| a == alpha).unwrap_or(0);
    COLORS[i % COLORS.len()]
}

/// Draws a legend strip: a short line and the label per α.
fn alpha_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, alphas: &[f64]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("legend: {e}");
    let font = ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = 20;
    for &a in alphas {
        let color = alpha_color(alphas, a);
        let label = if a >= 1.0 {
            "plain GD (α = 1)".to_string()
        } else {
            format!("momentum α = {}", short_number(a))
        };
        if a >= 1.0 {
            area.draw(&PathElement::new(vec![(x, 12), (x + 28, 12)], color.stroke_width(3))).map_err(e)?;
        } else {
            area.draw(&DashedPathElement::new(vec![(x, 12), (x + 28, 12)], 6, 4, color.stroke_width(2)))
                .map_err(e)?;
        }
        area.draw(&Text::new(label.clone(), (x + 34, 12), font.clone())).map_err(e)?;
        x += 60 + 8 * label.chars().count() as i32;
    }
    Ok(())
}

/// Whether a value can be placed on a log axis: finite and within 1e-100..=1e100 (beyond, the
/// axis would need limits past what f64 holds, and its ticks could not be placed).
fn on_log_axis(y: f64) -> bool {
    y.is_finite() && (1e-100..=1e100).contains(&y)
}

/// Starts a figure of panels: a white background, the title, and the α legend strip; returns
/// the area left for the panels.
fn titled_with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    alphas: &[f64],
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(e)?;
    let body = root.titled(title, ("sans-serif", 18)).map_err(e)?;
    let (legend, body) = body.split_vertically(30);
    alpha_legend(&legend, alphas)?;
    Ok(body)
}

/// The y range that holds every positive finite point of the series (log axis), padded.
fn log_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points {
        if on_log_axis(y) {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if !lo.is_finite() {
        return (1e-3, 1.0);
    }
    if hi <= lo {
        hi = lo * 2.0;
    }
    (lo / 1.5, hi * 1.5)
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
    let body = titled_with_legend(root, title, &p.alphas)?;
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
            .build_cartesian_2d(0f64..x_max, (y_lo..y_hi).log_scale())
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
            let points: Vec<(f64, f64)> = curve.iter().copied().filter(|&(_, y)| on_log_axis(y)).collect();
            let color = alpha_color(&p.alphas, alpha);
            if alpha >= 1.0 {
                chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(e)?;
            } else {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2))).map_err(e)?;
            }
        }
    }
    Ok(())
}

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

/// Line plot of several series; dashed series are momentum. With `log`, the y axis is
/// logarithmic and non-positive points are left out; so are non-finite and extreme ones.
fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &[Series],
    log: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(e)?;
    // Values past ±1e100 (or below 1e-100 on a log axis) are left out: the axis would need
    // limits beyond what f64 holds, and its ticks could not be placed.
    let keep = |y: f64| if log { on_log_axis(y) } else { y.is_finite() && y.abs() <= 1e100 };
    let pts = series.iter().flat_map(|s| s.3.iter()).filter(|p| keep(p.1));
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (if log { 1e-3 } else { 0.0 }, 1.0);
    }
    if y_max <= y_min {
        y_max = y_min * 2.0 + 1e-12;
    }
    let mut builder = ChartBuilder::on(root);
    builder.caption(title, ("sans-serif", 20)).margin(12).x_label_area_size(45).y_label_area_size(75);
    let style = |s: &Series| COLORS[s.2 % COLORS.len()].stroke_width(if s.1 { 2 } else { 3 });
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("iteration")
                .y_desc(y_label)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(e)?;
            for s in series {
                let points: Vec<(f64, f64)> = s.3.iter().copied().filter(|p| keep(p.1)).collect();
                let st = style(s);
                let color = COLORS[s.2 % COLORS.len()];
                if s.1 {
                    chart
                        .draw_series(DashedLineSeries::new(points, 8, 5, st))
                        .map_err(e)?
                        .label(s.0.clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                } else {
                    chart.draw_series(LineSeries::new(points, st)).map_err(e)?.label(s.0.clone()).legend(
                        move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)),
                    );
                }
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(e)?;
        }};
    }
    if log {
        draw!(builder.build_cartesian_2d(0f64..x_max, (y_min * 0.8..y_max * 1.25).log_scale()).map_err(e)?);
    } else {
        let pad = (y_max - y_min) * 0.05;
        draw!(builder.build_cartesian_2d(0f64..x_max, (y_min - pad)..(y_max + pad)).map_err(e)?);
    }
    Ok(())
}

/// A colour on a dark-blue → green → yellow ramp for t in [0, 1].
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// One heatmap's contents: the seed-mean final loss per (α, γ) at one M, and, when the
/// sharpness at init is known, the γ the theory predicts stable for each α.
struct HeatCells {
    /// γ values, ascending: the columns.
    gammas: Vec<f64>,
    /// α values, as the grid lists them: the rows, bottom to top.
    alphas: Vec<f64>,
    /// `cells[α][γ]`: the seed-mean final loss (+∞ when a seed diverged), None when not run.
    cells: Vec<Vec<Option<f64>>>,
    /// Per row, the largest γ predicted stable, 2(2−α)/(α·λ₀).
    boundary: Vec<Option<f64>>,
}

/// The width of the heatmap's colour scale, at the right of the figure.
const SCALE_WIDTH: u32 = 120;

/// A γ × α grid of cells coloured by log10 of the final loss, with a colour scale; diverged
/// cells are grey with a ✕, cells not run white with a dash. When known, the predicted
/// stability boundary is drawn over it as a black-edged white line: per row, a vertical mark at
/// the predicted γ (placed between the columns on a log scale), joined from row to row.
fn heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, h: &HeatCells) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(e)?;
    let (width, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(width.saturating_sub(SCALE_WIDTH));
    let finite: Vec<f64> = h.cells.iter().flatten().flatten().copied().filter(|v| on_log_axis(*v)).collect();
    let mut lo = finite.iter().copied().fold(f64::INFINITY, f64::min).log10();
    let mut hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max).log10();
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    } else if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let (ng, na) = (h.gammas.len() as u32, h.alphas.len() as u32);
    let mut chart = ChartBuilder::on(&left)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        // Integer ranges are inclusive of their end here: 0..n−1 makes exactly n segments.
        .build_cartesian_2d((0..ng.max(1) - 1).into_segmented(), (0..na.max(1) - 1).into_segmented())
        .map_err(e)?;
    // With many columns (a tuned sweep's), every k-th is labelled so that labels do not overlap.
    let every = |n: usize| n.div_ceil(12).max(1);
    let label = |v: &SegmentValue<u32>, values: &[f64]| match v {
        SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(every(values.len())) => {
            values.get(*i as usize).map_or(String::new(), |&x| short_number(x))
        }
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("step size γ")
        .y_desc("α (1 = plain GD)")
        .x_labels(ng as usize)
        .y_labels(na as usize)
        .x_label_formatter(&|v| label(v, &h.gammas))
        .y_label_formatter(&|v| label(v, &h.alphas))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    let centred = |size: u32, ink: &RGBColor| {
        ("sans-serif", size).into_font().color(ink).pos(Pos::new(HPos::Center, VPos::Center))
    };
    // The last segment of each axis ends at `Last`, not at a value of the range.
    let end = |i: u32, n: u32| if i + 1 < n { SegmentValue::Exact(i + 1) } else { SegmentValue::Last };
    let cell_width = {
        let a = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0)));
        let b = chart.backend_coord(&(end(0, ng), SegmentValue::Exact(0)));
        (b.0 - a.0).unsigned_abs()
    };
    // Values are written in the cells only when they fit.
    let text_size = if cell_width >= 70 {
        14
    } else if cell_width >= 48 {
        11
    } else {
        0
    };
    let shade = |v: f64| ((v.max(1e-300).log10() - lo) / (hi - lo)).clamp(0.0, 1.0);
    for (ai, row) in h.cells.iter().enumerate() {
        for (gi, cell) in row.iter().enumerate() {
            let (x, y) = (gi as u32, ai as u32);
            let corners = [(SegmentValue::Exact(x), SegmentValue::Exact(y)), (end(x, ng), end(y, na))];
            let (fill, text, ink) = match cell {
                None => (WHITE, "–".to_string(), BLACK),
                Some(v) if !v.is_finite() => (RGBColor(170, 170, 170), "✕".to_string(), BLACK),
                Some(v) => {
                    let t = shade(*v);
                    (ramp(t), num(*v), if t > 0.6 { BLACK } else { WHITE })
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(corners, fill.filled()))).map_err(e)?;
            let size = if text == "✕" { 22 } else { text_size };
            if size > 0 {
                let at = (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y));
                chart.draw_series(std::iter::once(Text::new(text, at, centred(size, &ink)))).map_err(e)?;
            }
        }
    }

    // The predicted boundary, in backend pixels: x interpolated on log γ between the columns'
    // centres (extrapolated by the edge spacing, and held at the plot's edge beyond it).
    let centre =
        |i: usize| chart.backend_coord(&(SegmentValue::CenterOf(i as u32), SegmentValue::CenterOf(0))).0;
    let x_min = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0))).0;
    let x_max = chart.backend_coord(&(SegmentValue::Last, SegmentValue::Exact(0))).0;
    let place = |g: f64| -> i32 {
        let n = h.gammas.len();
        if n == 1 {
            return if g < h.gammas[0] { x_min } else { x_max };
        }
        let i = h.gammas.iter().rposition(|&v| v <= g).unwrap_or(0).min(n - 2);
        let t = (g.ln() - h.gammas[i].ln()) / (h.gammas[i + 1].ln() - h.gammas[i].ln());
        let x = centre(i) as f64 + t * (centre(i + 1) - centre(i)) as f64;
        x.round().clamp(x_min as f64, x_max as f64) as i32
    };
    let mut path: Vec<(i32, i32)> = Vec::new();
    for (ai, g) in h.boundary.iter().enumerate() {
        let Some(g) = g.filter(|g| g.is_finite() && *g > 0.0) else { continue };
        let x = place(g);
        let bottom = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(ai as u32))).1;
        let top = chart.backend_coord(&(SegmentValue::Exact(0), end(ai as u32, na))).1;
        path.push((x, bottom));
        path.push((x, top));
    }
    if !path.is_empty() {
        root.draw(&PathElement::new(path.clone(), BLACK.stroke_width(6))).map_err(e)?;
        root.draw(&PathElement::new(path, WHITE.stroke_width(3))).map_err(e)?;
    }

    // The colour scale: the ramp from the lowest to the highest finite loss, ticked at powers of
    // ten (or at both ends when the losses span less than a decade).
    let plot_top = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Last)).1;
    let plot_bottom = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0))).1;
    let (x0, _) = right.get_base_pixel();
    let bar = (x0 + 10, x0 + 34);
    let span = (plot_bottom - plot_top).max(1);
    // 64 bands: smooth to the eye, and 64 elements in the SVG rather than one per pixel.
    const BANDS: i32 = 64;
    for k in 0..BANDS {
        let (y0, y1) = (plot_top + span * k / BANDS, plot_top + span * (k + 1) / BANDS);
        let t = 1.0 - (k as f64 + 0.5) / BANDS as f64;
        root.draw(&Rectangle::new([(bar.0, y0), (bar.1, y1)], ramp(t).filled())).map_err(e)?;
    }
    root.draw(&Rectangle::new([(bar.0, plot_top), (bar.1, plot_bottom)], BLACK.stroke_width(1)))
        .map_err(e)?;
    let mut ticks: Vec<f64> = (lo.ceil() as i32..=hi.floor() as i32).map(f64::from).collect();
    if ticks.len() < 2 {
        ticks = vec![lo, hi];
    }
    let left_text = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    for t in ticks {
        let y = plot_bottom - ((t - lo) / (hi - lo) * span as f64).round() as i32;
        root.draw(&PathElement::new(vec![(bar.1, y), (bar.1 + 5, y)], BLACK.stroke_width(1))).map_err(e)?;
        root.draw(&Text::new(tick(10f64.powf(t)), (bar.1 + 8, y), left_text.clone())).map_err(e)?;
    }
    let caption = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Bottom));
    root.draw(&Text::new("final loss", (bar.0, plot_top - 8), caption)).map_err(e)?;
    let mut y = plot_bottom + 24;
    if h.cells.iter().flatten().any(|c| c.is_some_and(|v| !v.is_finite())) {
        let grey = RGBColor(170, 170, 170).filled();
        root.draw(&Rectangle::new([(bar.0, y - 8), (bar.0 + 16, y + 8)], grey)).map_err(e)?;
        root.draw(&Text::new("✕ diverged", (bar.0 + 20, y), left_text.clone())).map_err(e)?;
        y += 22;
    }
    if h.cells.iter().flatten().any(Option::is_none) {
        root.draw(&Rectangle::new([(bar.0, y - 8), (bar.0 + 16, y + 8)], BLACK.stroke_width(1)))
            .map_err(e)?;
        root.draw(&Text::new("not run", (bar.0 + 20, y), left_text.clone())).map_err(e)?;
    }
    Ok(())
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
    fn the_ramp_runs_from_dark_to_bright() {
        let luminance = |c: RGBColor| 0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64;
        let steps: Vec<f64> = (0..=20).map(|i| luminance(ramp(i as f64 / 20.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }
}
