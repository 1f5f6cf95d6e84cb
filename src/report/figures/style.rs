//! What the figures share: the palette (plain GD in black, each α < 1 a colour), the α legend
//! strip, and the rules for log axes.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::grid::short_number;

/// The series colours: a palette of eight, in order.
pub(super) const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// The colour of α's series: black for plain GD, else a palette colour by its place among the
/// α < 1 of the grid.
pub(super) fn alpha_color(alphas: &[f64], alpha: f64) -> RGBColor {
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
pub(super) fn on_log_axis(y: f64) -> bool {
    y.is_finite() && (1e-100..=1e100).contains(&y)
}

/// Starts a figure of panels: a white background, the title, and the α legend strip; returns
/// the area left for the panels.
pub(super) fn titled_with_legend<DB: DrawingBackend>(
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
pub(super) fn log_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
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
