//! The report's plots, drawn with plotters as SVG and PNG: loss curves per M, a heatmap of the
//! final loss over γ × α per M, and test accuracy curves.

use std::io::Write;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Sweep;
use super::analysis::{Analysis, Method, final_loss, mean_final_loss};
use super::render::num;
use crate::grid::short_number;
use crate::store::{ReportDir, RunRecord, write_atomic};
use crate::train::CurveRow;

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
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        svg(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    write_atomic(&out.figure(stem, "svg"), |w| w.write_all(text.as_bytes()))?;
    let mut rgb = vec![0u8; 3 * SIZE.0 as usize * SIZE.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        png(&root)?;
        root.present().map_err(|e| anyhow!("cannot draw {stem}.png: {e}"))?;
    }
    write_atomic(&out.figure(stem, "png"), |w| encode_png(w, &rgb).map_err(std::io::Error::other))
}

/// Encodes an 8-bit RGB image of `SIZE` as PNG.
fn encode_png(w: &mut dyn Write, rgb: &[u8]) -> Result<(), png::EncodingError> {
    let mut encoder = png::Encoder::new(w, SIZE.0, SIZE.1);
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

/// Draws every figure and returns them in report order.
pub fn draw_all(sweep: &Sweep, analysis: &Analysis, out: &ReportDir) -> Result<Vec<Figure>> {
    register_font();
    let mut figures = Vec::new();
    let info = &sweep.info;
    for c in &analysis.comparisons {
        let m = c.hidden;
        // Loss curves: at each γ, GD against the best α < 1 at that γ.
        let mut series: Vec<Series> = Vec::new();
        for (gi, &g) in info.gamma.iter().enumerate() {
            let gd = runs_at(sweep, m, g, 1.0);
            if !gd.is_empty() {
                series.push((
                    format!("GD γ={}", short_number(g)),
                    false,
                    gi,
                    mean_curve(&gd, |r| Some(r.train_loss)),
                ));
            }
            let best = info
                .alpha
                .iter()
                .filter(|&&a| a < 1.0)
                .map(|&a| (a, runs_at(sweep, m, g, a)))
                .filter(|(_, r)| !r.is_empty())
                .min_by(|x, y| {
                    let score = |r: &Vec<&RunRecord>| r.iter().map(|r| final_loss(r)).sum::<f64>();
                    score(&x.1).total_cmp(&score(&y.1))
                });
            if let Some((a, runs)) = best {
                let label = format!("momentum γ={} α={}", short_number(g), short_number(a));
                series.push((label, true, gi, mean_curve(&runs, |r| Some(r.train_loss))));
            }
        }
        let title = format!("Training loss, M = {m}: plain GD (solid) vs best momentum α (dashed) at each γ");
        let stem = format!("curves-M{m}");
        let y = "mean training loss (log scale)";
        render(out, &stem, &|r| lines(r, &title, y, &series, true), &|r| lines(r, &title, y, &series, true))?;
        figures.push(Figure { title: title.clone(), svg: ReportDir::figure_name(&stem, "svg") });

        // Heatmap of the final loss.
        let title = format!("Final training loss over γ × α, M = {m} (seed mean; ✕ = diverged)");
        let stem = format!("heatmap-M{m}");
        let cells: Vec<Vec<Option<f64>>> = info
            .alpha
            .iter()
            .map(|&a| {
                info.gamma
                    .iter()
                    .map(|&g| {
                        let runs = runs_at(sweep, m, g, a);
                        (!runs.is_empty()).then(|| mean_final_loss(&runs))
                    })
                    .collect()
            })
            .collect();
        let gammas: Vec<String> = info.gamma.iter().map(|&g| short_number(g)).collect();
        let alphas: Vec<String> = info.alpha.iter().map(|&a| short_number(a)).collect();
        render(out, &stem, &|r| heatmap(r, &title, &gammas, &alphas, &cells), &|r| {
            heatmap(r, &title, &gammas, &alphas, &cells)
        })?;
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
            let limit = crate::sharpness::stability_threshold(b.gamma, b.alpha);
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
    let keep = |y: f64| y.is_finite() && y.abs() <= 1e100 && (!log || y >= 1e-100);
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

/// A γ × α grid of cells coloured by log10 of the final loss; diverged cells are grey with a ✕,
/// missing ones white.
fn heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    gammas: &[String],
    alphas: &[String],
    cells: &[Vec<Option<f64>>],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(e)?;
    let finite: Vec<f64> = cells
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite() && *v >= 1e-100 && *v <= 1e100)
        .collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min).log10();
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max).log10();
    let (ng, na) = (gammas.len() as u32, alphas.len() as u32);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        // Integer ranges are inclusive of their end here: 0..n−1 makes exactly n segments.
        .build_cartesian_2d((0..ng.max(1) - 1).into_segmented(), (0..na.max(1) - 1).into_segmented())
        .map_err(e)?;
    let label = |v: &SegmentValue<u32>, names: &[String]| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("step size γ")
        .y_desc("α (1 = plain GD)")
        .x_labels(ng as usize)
        .y_labels(na as usize)
        .x_label_formatter(&|v| label(v, gammas))
        .y_label_formatter(&|v| label(v, alphas))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    for (ai, row) in cells.iter().enumerate() {
        for (gi, cell) in row.iter().enumerate() {
            let (x, y) = (gi as u32, ai as u32);
            // The last segment of each axis ends at `Last`, not at a value of the range.
            let end =
                |i: u32, n: u32| if i + 1 < n { SegmentValue::Exact(i + 1) } else { SegmentValue::Last };
            let corners = [(SegmentValue::Exact(x), SegmentValue::Exact(y)), (end(x, ng), end(y, na))];
            let (fill, text, ink) = match cell {
                None => (WHITE, "–".to_string(), BLACK),
                Some(v) if !v.is_finite() => (RGBColor(170, 170, 170), "✕ diverged".to_string(), BLACK),
                Some(v) => {
                    let t = if hi > lo { (v.max(1e-300).log10() - lo) / (hi - lo) } else { 0.5 };
                    (ramp(t), num(*v), if t > 0.6 { BLACK } else { WHITE })
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(corners, fill.filled()))).map_err(e)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    ("sans-serif", 14).into_font().color(&ink).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
                )))
                .map_err(e)?;
        }
    }
    Ok(())
}
