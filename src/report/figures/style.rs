//! What the figures share: one colour per method, by its α (plain GD black), the legend strip
//! above a chart, and the rules for log axes.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::grid::short_number;

/// The colour of a method, by its α alone, so that one α has one colour in every figure, in
/// the page and in every report of every sweep: plain GD (α = 1) black; α < 1 a hue read off
/// [`HUES`] on a log scale of α, from red-orange near 1 through orange, green and blue to
/// magenta at 0.01 and below.
pub fn method_color(alpha: f64) -> RGBColor {
    if alpha >= 1.0 {
        return BLACK;
    }
    let x = alpha.max(HUES[HUES.len() - 1].0).log10();
    let hue = HUES
        .windows(2)
        .find(|w| x >= w[1].0.log10())
        .map(|w| {
            let (a, b) = (w[0].0.log10(), w[1].0.log10());
            w[0].1 + (w[1].1 - w[0].1) * (x - a) / (b - a)
        })
        .unwrap_or(HUES[HUES.len() - 1].1);
    hsl(hue, 0.8, 0.42)
}

/// Momentum at whichever α was best for each problem, where a figure pools problems: a grey
/// that no single α's hue claims, beside plain GD's black.
pub const BEST_ALPHA: RGBColor = RGBColor(128, 128, 128);

/// Hues (degrees) at some α, in between interpolated on log α. Spaced by eye rather than
/// evenly, so that the α values people try (0.5, 0.2, 0.1, 0.05, 0.01) fall on hues that look
/// apart, with little of the wide band of greens between them.
const HUES: [(f64, f64); 6] =
    [(1.0, 10.0), (0.5, 35.0), (0.2, 125.0), (0.1, 210.0), (0.05, 275.0), (0.01, 325.0)];

/// A colour from hue (degrees), saturation and lightness.
fn hsl(hue: f64, saturation: f64, lightness: f64) -> RGBColor {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = (hue.rem_euclid(360.0)) / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

/// A colour as `#rrggbb`, for the page.
pub fn hex_color(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// One entry of a legend strip: a short line in the series' style and its label.
#[derive(Clone)]
pub(super) struct Key {
    /// The label.
    pub label: String,
    /// The line's colour.
    pub color: RGBColor,
    /// Dashed (momentum in the curve panels, thresholds, targets) or solid.
    pub dashed: bool,
}

/// The legend key of the method with α `alpha`: plain GD solid, momentum dashed.
pub(super) fn alpha_key(alpha: f64) -> Key {
    let label = if alpha >= 1.0 {
        "plain GD (α = 1)".to_string()
    } else {
        format!("momentum α = {}", short_number(alpha))
    };
    Key { label, color: method_color(alpha), dashed: alpha < 1.0 }
}

/// Draws a legend strip above a chart, off the data: a short line and a label per key, left to
/// right.
pub(super) fn legend_strip<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, keys: &[Key]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("legend: {e}");
    let font = ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = 20;
    for key in keys {
        if key.dashed {
            area.draw(&DashedPathElement::new(vec![(x, 12), (x + 28, 12)], 6, 4, key.color.stroke_width(2)))
                .map_err(e)?;
        } else {
            area.draw(&PathElement::new(vec![(x, 12), (x + 28, 12)], key.color.stroke_width(3)))
                .map_err(e)?;
        }
        area.draw(&Text::new(key.label.clone(), (x + 34, 12), font.clone())).map_err(e)?;
        x += 60 + 8 * key.label.chars().count() as i32;
    }
    Ok(())
}

/// Whether a value can be placed on a log axis: finite and within 1e-100..=1e100 (beyond, the
/// axis would need limits past what f64 holds, and its ticks could not be placed).
pub(super) fn on_log_axis(y: f64) -> bool {
    y.is_finite() && (1e-100..=1e100).contains(&y)
}

/// Starts a figure: a white background, the title, and a legend strip under it; returns the
/// area left for the charts.
pub(super) fn titled_with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(e)?;
    let body = root.titled(title, ("sans-serif", 18)).map_err(e)?;
    let (legend, body) = body.split_vertically(30);
    legend_strip(&legend, keys)?;
    Ok(body)
}

/// The legend keys of some α values, in their order.
pub(super) fn alpha_keys(alphas: &[f64]) -> Vec<Key> {
    alphas.iter().map(|&a| alpha_key(a)).collect()
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

/// The indices of the points of a curve of `len` kept within `budget`: all when they fit, else
/// the first, the last, and each bucket's lowest and highest value, in order.
pub fn downsample(values: &[f64], budget: usize) -> Vec<usize> {
    let len = values.len();
    if len <= budget.max(4) {
        return (0..len).collect();
    }
    let buckets = (budget.max(4) - 2) / 2;
    let mut kept = vec![0];
    for b in 0..buckets {
        let (from, to) = (1 + b * (len - 2) / buckets, 1 + (b + 1) * (len - 2) / buckets);
        if from >= to {
            continue;
        }
        // Non-finite values (a diverging run) rank highest, so they stay visible as gaps.
        let key = |i: &usize| if values[*i].is_finite() { values[*i] } else { f64::INFINITY };
        let lo = (from..to).min_by(|a, b| key(a).total_cmp(&key(b))).unwrap_or(from);
        let hi = (from..to).max_by(|a, b| key(a).total_cmp(&key(b))).unwrap_or(from);
        kept.extend(if lo <= hi { [lo, hi] } else { [hi, lo] });
    }
    kept.push(len - 1);
    kept.dedup();
    kept
}

/// The most points a line of a figure keeps: a figure is at most a few hundred pixels wide, so
/// each bucket's lowest and highest point draw the same line as every point, and a curve of
/// millions of iterations stays a small file (and a small page, which inlines the figures).
pub(super) const LINE_POINTS: usize = 1000;

/// A line's points thinned to [`LINE_POINTS`] by [`downsample`] of their y values.
pub(super) fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    downsample(&ys, LINE_POINTS).into_iter().map(|i| points[i]).collect()
}

/// A log axis over `lo..hi` with the ticks of [`log_ticks`].
pub(super) fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi))
}

/// Tick values for a log axis over `lo..hi`: the sparsest of powers of ten, 1-3, 1-2-5 and
/// 1-to-9 steps per decade that gives at least three ticks (plotters' own labels only powers of
/// ten, which leaves an axis shorter than a decade with one label or none); on a range so wide
/// that its powers of ten number more than twelve, every second, third, … of them.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    // Divides for negative decades, so that 0.3 is the double nearest 0.3 and not 3 × 0.1.
    let at = |m: f64, d: i32| if d < 0 { m / 10f64.powi(-d) } else { m * 10f64.powi(d) };
    let within = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (first..=last)
            .filter(|d| d.rem_euclid(every) == 0)
            .flat_map(|d| mantissas.iter().map(move |&m| at(m, d)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let decades = within(&[1.0], 1);
    if decades.len() > 12 {
        return (2..).map(|every| within(&[1.0], every)).find(|t| t.len() <= 12).unwrap_or_default();
    }
    let steps: [&[f64]; 3] = [&[1.0, 3.0], &[1.0, 2.0, 5.0], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]];
    std::iter::once(decades)
        .chain(steps.iter().map(|m| within(m, 1)))
        .find(|t| t.len() >= 3)
        .unwrap_or_else(|| within(steps[2], 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_has_one_colour_by_its_alpha_alone() {
        assert_eq!(method_color(1.0), BLACK);
        assert_eq!(method_color(0.2), method_color(0.2));
        let colours: Vec<RGBColor> = [0.5, 0.2, 0.1, 0.05, 0.01].map(method_color).into();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                let distance = (a.0 as i32 - b.0 as i32).abs()
                    + (a.1 as i32 - b.1 as i32).abs()
                    + (a.2 as i32 - b.2 as i32).abs();
                assert!(distance > 60, "{a:?} and {b:?} look alike");
            }
        }
        assert_eq!(hex_color(RGBColor(255, 0, 16)), "#ff0010");
        assert_eq!(hsl(0.0, 1.0, 0.5), RGBColor(255, 0, 0));
        assert_eq!(hsl(240.0, 1.0, 0.5), RGBColor(0, 0, 255));
    }

    #[test]
    fn a_long_curve_is_drawn_from_a_thousand_points_that_keep_its_extremes() {
        // 300 000 iterations once made a 2.4 MB figure (and the page that inlines it).
        let curve: Vec<(f64, f64)> =
            (0..300_000u64).map(|i| (i as f64, 1.0 + ((i * 7919) % 1000) as f64)).collect();
        let drawn = thinned(curve.clone());
        assert!(drawn.len() <= LINE_POINTS, "{}", drawn.len());
        assert_eq!((drawn[0], drawn[drawn.len() - 1]), (curve[0], curve[299_999]));
        assert!(drawn.windows(2).all(|w| w[0].0 < w[1].0));
        let highest = |c: &[(f64, f64)]| c.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let lowest = |c: &[(f64, f64)]| c.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        assert_eq!((lowest(&drawn), highest(&drawn)), (lowest(&curve), highest(&curve)));
        // Short curves keep every point: the figures of ordinary sweeps are unchanged.
        assert_eq!(thinned(curve[..201].to_vec()), curve[..201].to_vec());
    }

    #[test]
    fn a_log_axis_carries_at_least_two_ticks_and_at_most_twelve() {
        assert_eq!(log_ticks(0.6, 1.7), vec![0.6, 0.7, 0.8, 0.9, 1.0]);
        assert_eq!(log_ticks(0.15, 3.5), vec![0.3, 1.0, 3.0]);
        assert_eq!(log_ticks(0.15, 2.5), vec![0.2, 0.5, 1.0, 2.0]);
        assert_eq!(log_ticks(1e-3, 2e-1), vec![1e-3, 1e-2, 0.1]);
        assert_eq!(log_ticks(2e-9, 5e1), vec![1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0]);
        let wide = log_ticks(1e-90, 1e90);
        assert!((2..=12).contains(&wide.len()), "{wide:?}");
        for (lo, hi) in [(1e-7, 3.0), (0.9, 1.1), (5.0, 6.0), (1e-300, 1e300), (1e-5, 1e5)] {
            let ticks = log_ticks(lo, hi);
            assert!(ticks.len() <= 12 && ticks.iter().all(|t| (lo..=hi).contains(t)), "{lo} {hi}: {ticks:?}");
        }
        assert!(log_ticks(0.0, 1.0).is_empty());
    }
}
