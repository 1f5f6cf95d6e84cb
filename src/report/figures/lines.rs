//! A line plot of several series against the iteration, on a linear or a log axis, with a
//! legend: what the sharpness and accuracy figures draw.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{Key, legend_strip, log_axis, on_log_axis, thinned};
use crate::report::format::tick;

/// A line: its legend key (label, colour, dashed or not) and its points.
pub(super) struct Series {
    /// How it is drawn and named.
    pub key: Key,
    /// (iteration, value).
    pub points: Vec<(f64, f64)>,
}

/// Line plot of several series, the legend in a strip above the chart. With `log`, the y axis
/// is logarithmic and non-positive points are left out; so are non-finite and extreme ones.
pub(super) fn lines<DB: DrawingBackend>(
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
    let body = root.titled(title, ("sans-serif", 18)).map_err(e)?;
    let (legend, body) = body.split_vertically(30);
    legend_strip(&legend, &series.iter().map(|s| s.key.clone()).collect::<Vec<_>>())?;
    // Values past ±1e100 (or below 1e-100 on a log axis) are left out: the axis would need
    // limits beyond what f64 holds, and its ticks could not be placed.
    let keep = |y: f64| if log { on_log_axis(y) } else { y.is_finite() && y.abs() <= 1e100 };
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|p| keep(p.1));
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
    let mut builder = ChartBuilder::on(&body);
    builder.margin(12).x_label_area_size(45).y_label_area_size(75);
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
                let points = thinned(s.points.iter().copied().filter(|p| keep(p.1)).collect());
                if s.key.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(points, 8, 5, s.key.color.stroke_width(2)))
                        .map_err(e)?;
                } else {
                    chart.draw_series(LineSeries::new(points, s.key.color.stroke_width(3))).map_err(e)?;
                }
            }
        }};
    }
    if log {
        draw!(builder.build_cartesian_2d(0f64..x_max, log_axis(y_min * 0.8, y_max * 1.25)).map_err(e)?);
    } else {
        let pad = (y_max - y_min) * 0.05;
        draw!(builder.build_cartesian_2d(0f64..x_max, (y_min - pad)..(y_max + pad)).map_err(e)?);
    }
    Ok(())
}
