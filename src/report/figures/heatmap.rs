//! The final loss over γ × α at one M, coloured by its log, with a colour scale and, when the
//! sharpness at init is known, the stability boundary the theory predicts.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordu32;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::on_log_axis;
use super::{Figure, SIZE, Sweep, render, seed_mean, selection_runs_at};
use crate::grid::short_number;
use crate::report::format::{num, tick};
use crate::report::measures::{distinct_gammas, mean_final_loss};
use crate::report::stability::Stability;

/// The figure at M.
pub(super) fn figure(sweep: &Sweep, m: usize, stability: &[Stability]) -> Result<Figure> {
    let cells = heat_cells(sweep, m, stability);
    let title = if cells.boundary.iter().any(Option::is_some) {
        format!(
            "Final training loss over γ × α, M = {m} ({}); white line: γ = 2(2−α)/(α·λ₀), stable by λ₀ at init",
            seed_mean(sweep)
        )
    } else {
        format!("Final training loss over γ × α, M = {m} ({})", seed_mean(sweep))
    };
    render(format!("heatmap-M{m}"), title.clone(), SIZE, &|r| heatmap(r, &title, &cells), &|r| {
        heatmap(r, &title, &cells)
    })
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
                    let runs = selection_runs_at(sweep, m, g, a);
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

impl HeatCells {
    /// The colour scale's range, log10 of the lowest and highest loss on a log axis (a decade
    /// around a single value, 0..1 when there is none).
    fn log_range(&self) -> (f64, f64) {
        let finite: Vec<f64> =
            self.cells.iter().flatten().flatten().copied().filter(|v| on_log_axis(*v)).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min).log10();
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max).log10();
        if !(lo.is_finite() && hi.is_finite()) {
            (0.0, 1.0)
        } else if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        }
    }
}

/// The heatmap's chart: γ columns by α rows, one segment each.
type Grid<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordu32>, SegmentedCoord<RangedCoordu32>>>;

/// The end of segment i of n: the next segment's start, or `Last` for the last one.
fn end(i: u32, n: u32) -> SegmentValue<u32> {
    if i + 1 < n { SegmentValue::Exact(i + 1) } else { SegmentValue::Last }
}

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
    let range = h.log_range();
    let mut chart = grid(&left, title, h)?;
    draw_cells(&mut chart, h, range)?;
    let path = boundary_path(&chart, h);
    if !path.is_empty() {
        root.draw(&PathElement::new(path.clone(), BLACK.stroke_width(6))).map_err(e)?;
        root.draw(&PathElement::new(path, WHITE.stroke_width(3))).map_err(e)?;
    }
    let plot_top = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Last)).1;
    let plot_bottom = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0))).1;
    draw_scale(root, right.get_base_pixel().0, (plot_top, plot_bottom), range, h)
}

/// The chart with its axes: γ along the bottom, α up the side, every k-th column labelled when
/// there are many (a tuned sweep's), so that labels do not overlap.
fn grid<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    h: &HeatCells,
) -> Result<Grid<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let (ng, na) = (h.gammas.len() as u32, h.alphas.len() as u32);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        // Integer ranges are inclusive of their end here: 0..n−1 makes exactly n segments.
        .build_cartesian_2d((0..ng.max(1) - 1).into_segmented(), (0..na.max(1) - 1).into_segmented())
        .map_err(e)?;
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
    Ok(chart)
}

/// The cells, coloured on the ramp over `(lo, hi)` (log10 of the loss), with their values
/// written in them when they fit.
fn draw_cells<DB: DrawingBackend>(chart: &mut Grid<'_, DB>, h: &HeatCells, (lo, hi): (f64, f64)) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("heatmap cells: {e}");
    let (ng, na) = (h.gammas.len() as u32, h.alphas.len() as u32);
    let centred = |size: u32, ink: &RGBColor| {
        ("sans-serif", size).into_font().color(ink).pos(Pos::new(HPos::Center, VPos::Center))
    };
    let cell_width = {
        let a = chart.backend_coord(&(SegmentValue::Exact(0), SegmentValue::Exact(0)));
        let b = chart.backend_coord(&(end(0, ng), SegmentValue::Exact(0)));
        (b.0 - a.0).unsigned_abs()
    };
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
    Ok(())
}

/// The predicted boundary, in backend pixels: per row, a vertical mark at the predicted γ, x
/// interpolated on log γ between the columns' centres (extrapolated by the edge spacing, and
/// held at the plot's edge beyond it). Empty when no row has a prediction.
fn boundary_path<DB: DrawingBackend>(chart: &Grid<'_, DB>, h: &HeatCells) -> Vec<(i32, i32)> {
    let na = h.alphas.len() as u32;
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
    path
}

/// The colour scale right of the plot, from `x0` and between the plot's top and bottom pixels:
/// the ramp from the lowest to the highest finite loss, ticked at powers of ten (or at both
/// ends when the losses span less than a decade), then the keys for diverged and not-run cells.
fn draw_scale<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x0: i32,
    (plot_top, plot_bottom): (i32, i32),
    (lo, hi): (f64, f64),
    h: &HeatCells,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("heatmap scale: {e}");
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
    root.draw(&Text::new("final loss (nats)", (bar.0, plot_top - 8), caption)).map_err(e)?;
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
        root.draw(&Text::new("not run", (bar.0 + 20, y), left_text)).map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_runs_from_dark_to_bright() {
        let luminance = |c: RGBColor| 0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64;
        let steps: Vec<f64> = (0..=20).map(|i| luminance(ramp(i as f64 / 20.0))).collect();
        assert!(steps.windows(2).all(|w| w[1] > w[0]), "{steps:?}");
    }
}
