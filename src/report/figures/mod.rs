//! The report's figures, drawn with plotters in memory as SVG and PNG, one file per figure:
//!
//! - [`head_to_head`]: the two bests of one M, every compared seed and their median;
//! - [`ratios`]: the two bests seed by seed, with the statistic's median and interval;
//! - [`curves`]: the training-loss curves of one M as small multiples, a panel per γ;
//! - [`sensitivity`]: the selection criterion against γ, a line per α, the seeds' range as a band;
//! - [`heatmap`]: the final loss over γ × α, with the predicted stability boundary;
//! - [`sharpness`]: λ_max along the two best runs against their stability thresholds;
//! - [`accuracy`]: the test accuracy of the two best runs;
//!
//! beside what they share: [`style`] (colours, legends, log axes) and [`lines`] (a line plot
//! of several series). Nothing here writes a file: `report::write` does.

mod accuracy;
mod curves;
mod head_to_head;
mod heatmap;
mod lines;
mod ratios;
mod sensitivity;
mod sharpness;
pub(super) mod study;
mod style;

pub use style::{downsample, hex_color, method_color};

use std::io::Write;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Sweep;
use super::analysis::Analysis;
use super::stability::stability;
use crate::store::{ReportDir, RunRecord};
use crate::train::CurveRow;

/// A figure of the report, drawn: `<stem>.svg` and `<stem>.png` once written.
pub struct Figure {
    /// The caption.
    pub title: String,
    /// The file names' stem, such as `curves-M64`.
    pub stem: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG image.
    pub png: Vec<u8>,
}

impl Figure {
    /// True for the figures of the bests head to head and seed by seed.
    pub fn is_head_to_head(&self) -> bool {
        self.stem.starts_with("head-to-head-") || self.stem.starts_with("seeds-")
    }

    /// The SVG's file name, relative to the report folder.
    pub fn svg_name(&self) -> String {
        ReportDir::figure_name(&self.stem, "svg")
    }
}

const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// The size of a figure with one chart, in pixels.
const SIZE: (u32, u32) = (960, 600);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; failing to parse it would be a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

type DrawSvg<'a> = dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()> + 'a;
type DrawPng<'a> = dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()> + 'a;

/// Draws one figure of `size` pixels twice, as SVG and as an RGB image encoded as PNG (as
/// plotters did through `image`: fast compression, adaptive filtering). `svg` and `png` are the
/// same drawing on the two backends.
fn render(stem: String, title: String, size: (u32, u32), svg: &DrawSvg, png: &DrawPng) -> Result<Figure> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        svg(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        png(&root)?;
        root.present().map_err(|e| anyhow!("cannot draw {stem}.png: {e}"))?;
    }
    let mut bytes = Vec::new();
    encode_png(&mut bytes, size, &rgb).map_err(|e| anyhow!("cannot encode {stem}.png: {e}"))?;
    Ok(Figure { title, stem, svg: text, png: bytes })
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

/// The runs (one per seed) at (M, γ, α).
fn runs_at(sweep: &Sweep, m: usize, g: f64, a: f64) -> Vec<&RunRecord> {
    sweep.runs.iter().filter(|r| r.meta.hidden == m && r.meta.gamma == g && r.meta.alpha == a).collect()
}

/// The runs at (M, γ, α) on the selection seeds (the grid's) only: what figures comparing
/// settings average, so that the bests, which a confirmed sweep also trains on fresh seeds,
/// are averaged over the same seeds as every other setting.
fn selection_runs_at(sweep: &Sweep, m: usize, g: f64, a: f64) -> Vec<&RunRecord> {
    let mut runs = runs_at(sweep, m, g, a);
    runs.retain(|r| sweep.info.seed.contains(&r.meta.seed));
    runs
}

/// How a figure comparing settings names its average: over the grid's seeds, said so when a
/// confirmation round trained the bests on others too.
fn seed_mean(sweep: &Sweep) -> &'static str {
    if sweep.info.confirm.is_some() { "mean of the selection seeds" } else { "seed mean" }
}

/// Draws every figure, in report order: per M, the two bests head to head and seed by seed,
/// the curves, the sensitivity, the heatmap, and (when there is something to draw) the
/// sharpness and the test accuracy.
pub fn draw_all(sweep: &Sweep, analysis: &Analysis) -> Result<Vec<Figure>> {
    register_font();
    let mut figures = Vec::new();
    let stability = stability(&sweep.info, &sweep.runs, &sweep.hessians);
    for c in &analysis.comparisons {
        let m = c.hidden;
        figures.extend(head_to_head::figure(sweep, c)?);
        figures.extend(ratios::figure(sweep, c)?);
        figures.push(curves::figure(sweep, m)?);
        figures.push(sensitivity::figure(sweep, m, analysis, &stability)?);
        figures.push(heatmap::figure(sweep, m, &stability)?);
        figures.extend(sharpness::figure(sweep, c)?);
        figures.extend(accuracy::figure(sweep, c)?);
    }
    Ok(figures)
}
