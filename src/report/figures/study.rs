//! A study's figures: the performance profile of iterations to target over its (workload, M)
//! problems, and the speed-up against the data's condition number κ with the quadratic model's
//! √κ beside it.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{BEST_ALPHA, Key, log_axis, log_range, method_color, titled_with_legend};
use super::{Figure, SIZE, register_font, render};
use crate::report::format::tick;
use crate::report::stats::Interval;
use crate::report::study::profile as share;

/// Distinct colours for the M values of the κ figure (GD is black elsewhere; these are M's).
const M_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(255, 127, 14),
];

/// The Dolan–Moré performance profile: for plain GD and for momentum (its best α per problem),
/// the share of problems solved within τ times the faster method's iterations to target, τ from
/// 1 to 10 on a log axis; a problem whose target a method never reaches counts as unsolved.
pub(in crate::report) fn profile(study: &str, problems: &[(f64, f64)]) -> Result<Figure> {
    register_font();
    let title = format!("Performance profile of study {study}: {} problems (workload × M)", problems.len());
    let keys = vec![
        Key { label: "plain GD (α = 1)".into(), color: method_color(1.0), dashed: false },
        Key { label: "momentum (its best α)".into(), color: BEST_ALPHA, dashed: true },
    ];
    render("profile".into(), title.clone(), SIZE, &|r| draw_profile(r, &title, &keys, problems), &|r| {
        draw_profile(r, &title, &keys, problems)
    })
}

fn draw_profile<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
    problems: &[(f64, f64)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, keys)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(log_axis(1.0, 10.0), 0f64..1.05)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("τ: within this factor of the faster method's iterations to target (log scale)")
        .y_desc("share solved within τ × the faster method's iterations")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    // A step function, sampled finely on the log axis.
    let taus: Vec<f64> = (0..=400).map(|i| 10f64.powf(i as f64 / 400.0)).collect();
    for (gd, key) in [(true, &keys[0]), (false, &keys[1])] {
        let points: Vec<(f64, f64)> = taus.iter().map(|&t| (t, share(problems, gd, t))).collect();
        if key.dashed {
            chart.draw_series(DashedLineSeries::new(points, 8, 5, key.color.stroke_width(3))).map_err(e)?;
        } else {
            chart.draw_series(LineSeries::new(points, key.color.stroke_width(3))).map_err(e)?;
        }
    }
    Ok(())
}

/// The median speed-up (GD's iterations to target over momentum's) against κ, per conditioning
/// series and M, on log–log axes with its 95% interval as a bar, and the quadratic model's slope
/// ½ (√κ) dashed through each line's κ = 1 point: a reference, not a fit.
pub(in crate::report) fn conditioning(
    study: &str,
    curves: &[(String, Vec<(f64, Interval)>)],
) -> Result<Figure> {
    register_font();
    let title =
        format!("Speed-up against the data's condition number κ, study {study} (dashed: √κ through κ = 1)");
    let mut keys: Vec<Key> = curves
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Key { label: name.clone(), color: M_COLORS[i % M_COLORS.len()], dashed: false })
        .collect();
    keys.push(Key {
        label: "√κ through κ = 1 (the quadratic model: a reference, not a fit)".into(),
        color: RGBColor(120, 120, 120),
        dashed: true,
    });
    render(
        "conditioning".into(),
        title.clone(),
        SIZE,
        &|r| draw_conditioning(r, &title, &keys, curves),
        &|r| draw_conditioning(r, &title, &keys, curves),
    )
}

fn draw_conditioning<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
    curves: &[(String, Vec<(f64, Interval)>)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    let body = titled_with_legend(root, title, keys)?;
    let kappas: Vec<f64> = curves.iter().flat_map(|(_, p)| p.iter().map(|(k, _)| *k)).collect();
    let (k_lo, k_hi) =
        (kappas.iter().cloned().fold(f64::INFINITY, f64::min), kappas.iter().cloned().fold(0.0, f64::max));
    let mut ys: Vec<(f64, f64)> = Vec::new();
    for (_, points) in curves {
        for (k, i) in points {
            ys.push((*k, i.estimate));
            if let Some((lo, hi)) = i.bounds {
                ys.extend([(*k, lo), (*k, hi)]);
            }
        }
        // The reference's ends too, so that it reaches the largest κ, where it says most.
        if let Some((_, at_one)) = points.iter().find(|(k, i)| *k == 1.0 && i.estimate.is_finite()) {
            ys.extend([k_lo, k_hi].map(|k| (k, at_one.estimate * k.sqrt())));
        }
    }
    let (y_lo, y_hi) = log_range(ys.iter());
    let (y_lo, y_hi) = (y_lo.min(0.8), y_hi.max(1.25));
    let (x_lo, x_hi) = (k_lo / 1.5, (k_hi * 1.5).max(k_lo * 3.0));
    let mut chart = ChartBuilder::on(&body)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(log_axis(x_lo, x_hi), log_axis(y_lo, y_hi))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("κ, the condition number of the features' covariance (log scale)")
        .y_desc("speed-up: GD's iterations to target / momentum's (log scale)")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    chart.draw_series(LineSeries::new(vec![(x_lo, 1.0), (x_hi, 1.0)], BLACK.stroke_width(1))).map_err(e)?;
    for ((_, points), key) in curves.iter().zip(keys) {
        // (The last key is the reference's: zip stops before it.)
        let on = |y: f64| y.is_finite() && y > 0.0;
        let line: Vec<(f64, f64)> =
            points.iter().filter(|(_, i)| on(i.estimate)).map(|(k, i)| (*k, i.estimate)).collect();
        chart.draw_series(LineSeries::new(line.clone(), key.color.stroke_width(3))).map_err(e)?;
        chart.draw_series(line.iter().map(|&p| Circle::new(p, 5, key.color.filled()))).map_err(e)?;
        for (k, i) in points {
            if let Some((lo, hi)) = i.bounds {
                let (lo, hi) = (lo.clamp(y_lo, y_hi), if hi.is_finite() { hi.min(y_hi) } else { y_hi });
                chart
                    .draw_series(LineSeries::new(vec![(*k, lo), (*k, hi)], key.color.stroke_width(2)))
                    .map_err(e)?;
            }
        }
        // √κ through this M's κ = 1 point.
        if let Some((_, at_one)) = points.iter().find(|(k, i)| *k == 1.0 && on(i.estimate)) {
            let reference: Vec<(f64, f64)> = (0..=50)
                .map(|j| x_lo * (x_hi / x_lo).powf(j as f64 / 50.0))
                .map(|k| (k, at_one.estimate * k.sqrt()))
                .filter(|&(_, y)| y <= y_hi && y >= y_lo)
                .collect();
            chart
                .draw_series(DashedLineSeries::new(reference, 8, 6, key.color.mix(0.6).stroke_width(2)))
                .map_err(e)?;
        }
    }
    Ok(())
}
