//! A study's report, across its workloads: per workload, M and view the two bests and their
//! confirmed comparison (`study.csv`, `report.md`, `index.html` with a workload selector), a
//! performance profile of iterations to target over every (workload, M), and for conditioning
//! studies the speed-up against κ beside the quadratic model's √κ. Each workload's own report
//! is its sweep's, written as for any sweep.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::Sweep;
use super::analysis::{Analysis, Best, View};
use super::figures::{self, Figure};
use super::format::{csv_num, interval, num, p_value};
use super::stats::Interval;
use crate::store::study::{StudyDir, StudyMeta, StudyWorkload};
use crate::store::{ReportDir, replace_folder, write_atomic};
use crate::tune::median;

/// One method's best in a study row.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyBest {
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// Whether its verdict rests on one γ.
    pub fragile: bool,
    /// The median iterations to the target over the compared seeds (+∞ when censored).
    pub to_target: f64,
    /// The median λ_max/|λ_min| of the Hessian at its runs' final points, when
    /// `heavyball hessian` measured them.
    pub spread: Option<f64>,
}

/// One (workload, M, view) of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRow {
    /// The workload.
    pub workload: String,
    /// Its κ, for synthetic data.
    pub condition: Option<f64>,
    /// Its conditioning series (workloads that differ in κ alone), if any.
    pub series: Option<String>,
    /// M.
    pub hidden: usize,
    /// The view.
    pub view: View,
    /// `confirmation` or `selection`.
    pub seeds_used: &'static str,
    /// Plain GD's best.
    pub gd: Option<StudyBest>,
    /// Momentum's best.
    pub momentum: Option<StudyBest>,
    /// Seed pairs compared.
    pub pairs: usize,
    /// Momentum's value over GD's: median and interval.
    pub ratio: Option<Interval>,
    /// Wilcoxon's signed-rank p.
    pub signed_rank_p: Option<f64>,
    /// The sign test's p.
    pub sign_p: Option<f64>,
    /// GD's iterations to the target over momentum's: median and interval.
    pub speedup: Option<Interval>,
}

/// The rows of one workload's report.
pub fn rows(workload: &StudyWorkload, sweep: &Sweep, analysis: &Analysis) -> Vec<StudyRow> {
    let best = |b: &Option<Best>, m: usize| {
        b.as_ref().map(|b| {
            let shown = b.shown();
            let mut spreads: Vec<f64> = sweep
                .runs
                .iter()
                .filter(|r| (r.meta.hidden, r.meta.gamma, r.meta.alpha) == (m, b.gamma, b.alpha))
                .filter(|r| shown.seeds.contains(&r.meta.seed))
                .filter_map(|r| sweep.hessians.get(&r.dir_name)?.last)
                .map(|p| p.lambda_max / p.lambda_min.abs())
                .collect();
            let mut times = shown.to_target.clone();
            StudyBest {
                gamma: b.gamma,
                alpha: b.alpha,
                fragile: b.is_fragile(),
                to_target: if times.is_empty() { f64::NAN } else { median(&mut times) },
                spread: (!spreads.is_empty()).then(|| median(&mut spreads)),
            }
        })
    };
    analysis
        .all_views()
        .map(|c| StudyRow {
            workload: workload.name.clone(),
            condition: workload.condition,
            series: workload.series.clone(),
            hidden: c.hidden,
            view: c.view,
            seeds_used: c.stats.as_ref().map_or("selection", |s| s.seeds_used.name()),
            gd: best(&c.gd, c.hidden),
            momentum: best(&c.momentum, c.hidden),
            pairs: c.stats.as_ref().map_or(0, |s| s.pairs),
            ratio: c.stats.as_ref().and_then(|s| s.ratio),
            signed_rank_p: c.stats.as_ref().and_then(|s| s.signed_rank_p),
            sign_p: c.stats.as_ref().and_then(|s| s.sign_p),
            speedup: c.stats.as_ref().and_then(|s| s.speedup),
        })
        .collect()
}

/// One (workload, M) problem of the performance profile: each method's median iterations to
/// the target (+∞ when censored), in the optimisation view.
pub fn problems(rows: &[StudyRow]) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|r| r.view == View::Optimisation)
        .filter_map(|r| Some((r.gd.as_ref()?.to_target, r.momentum.as_ref()?.to_target)))
        .filter(|(g, m)| !g.is_nan() && !m.is_nan())
        .collect()
}

/// The Dolan–Moré profile of one method at τ: the share of problems it solves within τ times
/// the faster method's iterations (a problem neither solves counts against both).
pub fn profile(problems: &[(f64, f64)], gd: bool, tau: f64) -> f64 {
    if problems.is_empty() {
        return f64::NAN;
    }
    let solved = problems
        .iter()
        .filter(|&&(g, m)| {
            let own = if gd { g } else { m };
            let best = g.min(m);
            own.is_finite() && own <= tau * best
        })
        .count();
    solved as f64 / problems.len() as f64
}

/// The least-squares slope of log(speed-up) on log(κ) at one M, with its 95% interval (Student's
/// t on n − 2 degrees of freedom); None with fewer than 3 points.
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(k, s)| *k > 0.0 && *s > 0.0 && s.is_finite())
        .map(|(k, s)| (k.ln(), s.ln()))
        .collect();
    let n = logs.len();
    if n < 3 {
        return None;
    }
    let (mx, my) =
        (logs.iter().map(|p| p.0).sum::<f64>() / n as f64, logs.iter().map(|p| p.1).sum::<f64>() / n as f64);
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let residual: f64 = logs.iter().map(|p| (p.1 - my - b * (p.0 - mx)).powi(2)).sum();
    let se = (residual / (n - 2) as f64 / sxx).sqrt();
    let half = T_975[(n - 3).min(T_975.len() - 1)] * se;
    Some((b, b - half, b + half))
}

/// Student's t quantile 0.975 for 1, 2, … 30 degrees of freedom (then ~1.96).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The points of one conditioning series at M: (κ, speed-up median, its interval), in the
/// optimisation view.
pub fn conditioning(rows: &[StudyRow], series: &str, m: usize) -> Vec<(f64, Interval)> {
    let mut out: Vec<(f64, Interval)> = rows
        .iter()
        .filter(|r| r.view == View::Optimisation && r.hidden == m && r.series.as_deref() == Some(series))
        .filter_map(|r| Some((r.condition?, r.speedup?)))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

const HEADER: [&str; 24] = [
    "workload",
    "condition",
    "series",
    "hidden",
    "view",
    "seeds_used",
    "gd_gamma",
    "gd_fragile",
    "gd_to_target",
    "momentum_gamma",
    "momentum_alpha",
    "momentum_fragile",
    "momentum_to_target",
    "pairs",
    "ratio_median",
    "ratio_ci_low",
    "ratio_ci_high",
    "signed_rank_p",
    "sign_test_p",
    "speedup_median",
    "speedup_ci_low",
    "speedup_ci_high",
    "gd_hessian_spread",
    "momentum_hessian_spread",
];

/// The bytes of `study.csv`.
fn study_csv(rows: &[StudyRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    let opt = |v: Option<f64>| v.map_or(String::new(), csv_num);
    let bounds = |i: Option<Interval>| match i.and_then(|i| i.bounds) {
        Some((lo, hi)) => (csv_num(lo), csv_num(hi)),
        None => (String::new(), String::new()),
    };
    for r in rows {
        let (rl, rh) = bounds(r.ratio);
        let (sl, sh) = bounds(r.speedup);
        let g = r.gd.as_ref();
        let m = r.momentum.as_ref();
        w.write_record([
            r.workload.clone(),
            opt(r.condition),
            r.series.clone().unwrap_or_default(),
            r.hidden.to_string(),
            r.view.name().into(),
            r.seeds_used.into(),
            opt(g.map(|b| b.gamma)),
            g.map_or(String::new(), |b| b.fragile.to_string()),
            opt(g.map(|b| b.to_target)),
            opt(m.map(|b| b.gamma)),
            opt(m.map(|b| b.alpha)),
            m.map_or(String::new(), |b| b.fragile.to_string()),
            opt(m.map(|b| b.to_target)),
            r.pairs.to_string(),
            opt(r.ratio.map(|i| i.estimate)),
            rl,
            rh,
            opt(r.signed_rank_p),
            opt(r.sign_p),
            opt(r.speedup.map(|i| i.estimate)),
            sl,
            sh,
            opt(g.and_then(|b| b.spread)),
            opt(m.and_then(|b| b.spread)),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The study table's columns.
const COLUMNS: [&str; 12] = [
    "workload",
    "κ",
    "M",
    "view",
    "seeds",
    "GD γ",
    "momentum γ, α",
    "momentum / GD [95%]",
    "signed-rank p",
    "sign-test p",
    "speed-up [95%]",
    "Hessian λ_max/|λ_min| GD, momentum",
];

/// One row of the study's table, cell by cell (a fragile best marked `**fragile**`), for
/// report.md and the page alike.
fn cells(r: &StudyRow) -> [String; 12] {
    let mark = |b: &StudyBest| if b.fragile { " **fragile**" } else { "" };
    let gd = r.gd.as_ref().map_or("–".into(), |b| format!("{}{}", num(b.gamma), mark(b)));
    let mo = r
        .momentum
        .as_ref()
        .map_or("–".into(), |b| format!("{}, {}{}", num(b.gamma), num(b.alpha), mark(b)));
    let spread = |b: &Option<StudyBest>| b.as_ref().and_then(|b| b.spread).map_or("–".into(), num);
    [
        r.workload.clone(),
        r.condition.map_or("–".into(), num),
        r.hidden.to_string(),
        r.view.name().to_string(),
        format!("{} ({})", r.seeds_used, r.pairs),
        gd,
        mo,
        interval(r.ratio, ""),
        p_value(r.signed_rank_p),
        p_value(r.sign_p),
        if r.view == View::Optimisation { interval(r.speedup, "×") } else { "–".into() },
        format!("{}, {}", spread(&r.gd), spread(&r.momentum)),
    ]
}

/// The study's table, in markdown.
fn table(rows: &[StudyRow]) -> String {
    let header: Vec<String> = COLUMNS.iter().map(|c| c.replace('|', "\\|")).collect();
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(COLUMNS.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", cells(r).join(" | "));
    }
    out
}

/// What the study's table reports, said under it in report.md and on the page.
const TABLE_NOTE: &str = "The speed-up is GD's iterations to the target over momentum's, seed by seed, its median and \
     95% interval; the ratio is momentum's value of the view's criterion over GD's. Hessian values \
     come from `heavyball hessian` at the bests' final points, when measured.";

/// What the conditioning figure's dashed line is, in report.md and on the page.
const REFERENCE_NOTE: &str = "Speed-up against the data's condition number κ: the dashed line has the quadratic model's slope ½ (tuned heavy ball needs about √κ iterations per e-fold where GD needs κ), drawn through the κ = 1 point as a reference, not a fit.";

/// Writes the study's `report/` (in a staging folder put in place whole) and returns the text
/// for the terminal.
pub fn write(dir: &StudyDir, meta: &StudyMeta, rows: &[StudyRow]) -> Result<String> {
    let problems = problems(rows);
    let mut lines: Vec<(String, usize)> =
        rows.iter().filter_map(|r| Some((r.series.clone()?, r.hidden))).collect();
    lines.sort();
    lines.dedup();
    let curves: Vec<(String, Vec<(f64, Interval)>)> = lines
        .iter()
        .map(|(s, m)| (format!("{s}, M = {m}"), conditioning(rows, s, *m)))
        .filter(|(_, p)| p.len() >= 2)
        .collect();
    let mut drawn: Vec<Figure> = Vec::new();
    if !problems.is_empty() {
        drawn.push(figures::study::profile(&meta.name, &problems)?);
    }
    if !curves.is_empty() {
        drawn.push(figures::study::conditioning(&meta.name, &curves)?);
    }
    // One sentence per conditioning line: a list in report.md, the terminal and the page.
    let slopes: Vec<String> = curves
        .iter()
        .map(|(m, points)| {
            let medians: Vec<(f64, f64)> = points.iter().map(|(k, i)| (*k, i.estimate)).collect();
            match slope(&medians) {
                Some((b, lo, hi)) => format!(
                    "{m}: fitted slope of log speed-up on log κ {} [{}, {}] over {} values of κ (the quadratic model's is 0.5).",
                    num(b),
                    num(lo),
                    num(hi),
                    medians.len()
                ),
                None => format!("{m}: fewer than 3 values of κ with a speed-up; no slope fitted."),
            }
        })
        .collect();
    let listed: String = slopes.iter().map(|s| format!("- {s}\n")).collect();
    let mut md = format!(
        "# Study `{}`: momentum against plain gradient descent across workloads\n\n\
         Each workload is a sweep of its own, with its own report (linked below). The comparison's \
         statistics are on the confirmation seeds where the study confirms its bests ([confirm]), and \
         in-sample otherwise (the `seeds` column says which, with the pairs compared).\n\n{}\n",
        meta.name,
        table(rows)
    );
    md.push_str(TABLE_NOTE);
    md.push_str("\n\n");
    for f in &drawn {
        let _ = write!(md, "## {}\n\n![{}]({})\n\n", f.title, f.title, f.svg_name());
    }
    if !slopes.is_empty() {
        md.push_str(REFERENCE_NOTE);
        md.push_str("\n\n");
        md.push_str(&listed);
        md.push('\n');
    }
    md.push_str("## Workloads\n\n");
    for w in &meta.workloads {
        let _ = writeln!(md, "- [{}](../{}/report/report.md)", w.name, w.name);
    }
    let csv = study_csv(rows)?;
    let page = page(meta, rows, &drawn, &slopes);

    let staged = tempfile::Builder::new()
        .prefix(".report-")
        .tempdir_in(dir.root())
        .with_context(|| format!("cannot create a folder in {}", dir.root().display()))?;
    let out = ReportDir::at(staged.path());
    write_atomic(&staged.path().join("study.csv"), |w| w.write_all(&csv))?;
    for f in &drawn {
        write_atomic(&out.figure(&f.stem, "svg"), |w| w.write_all(f.svg.as_bytes()))?;
        write_atomic(&out.figure(&f.stem, "png"), |w| w.write_all(&f.png))?;
    }
    write_atomic(&out.markdown(), |w| w.write_all(md.as_bytes()))?;
    write_atomic(&out.page(), |w| w.write_all(page.as_bytes()))?;
    replace_folder(staged, &dir.report())?;
    let mut text = format!(
        "study {}: {} workloads, {} problems (workload, M)\n",
        meta.name,
        meta.workloads.len(),
        problems.len()
    );
    for r in rows.iter().filter(|r| r.view == View::Optimisation) {
        let _ = writeln!(
            text,
            "  {} M = {}: speed-up {}, momentum / GD {} ({} seeds; signed-rank p = {}, sign-test p = {})",
            r.workload,
            r.hidden,
            interval(r.speedup, "×"),
            interval(r.ratio, ""),
            r.seeds_used,
            p_value(r.signed_rank_p),
            p_value(r.sign_p)
        );
    }
    text.push_str(&listed);
    let _ = writeln!(text, "study report written to {}", dir.report().join("report.md").display());
    Ok(text)
}

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `index.html`: a workload selector (to each workload's own page), the table, its notes, the
/// figures and the fitted slopes, as report.md has them, in one self-contained file.
fn page(meta: &StudyMeta, rows: &[StudyRow], drawn: &[Figure], slopes: &[String]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>heavyball study {}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px}}</style>\
         </head><body>\n<h1>Study {}</h1>\n<label>Workload: <select id=\"workload\" onchange=\"if(this.value)location.href='../'+this.value+'/report/index.html'\">\
         <option value=\"\">(choose one to open its report)</option>",
        escape(&meta.name),
        escape(&meta.name)
    );
    for w in &meta.workloads {
        let _ = write!(out, "<option value=\"{}\">{}</option>", escape(&w.name), escape(&w.name));
    }
    out.push_str("</select></label>\n<table id=\"study\"><tr>");
    for c in COLUMNS {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in cells(r) {
            let _ = write!(out, "<td>{}</td>", escape(&c).replace("**fragile**", "<strong>fragile</strong>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let _ = writeln!(out, "<p>{}</p>", escape(TABLE_NOTE));
    for f in drawn {
        let _ = write!(out, "<h2>{}</h2>\n<div class=\"figure\">{}</div>\n", escape(&f.title), f.svg);
    }
    if !slopes.is_empty() {
        let _ = write!(out, "<p>{}</p>\n<ul>", escape(REFERENCE_NOTE));
        for line in slopes {
            let _ = write!(out, "<li>{}</li>", escape(line));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_counts_censored_problems_as_unsolved() {
        // GD 100 vs momentum 50; GD 80 vs momentum 100; GD never vs momentum 40; neither.
        let p = [(100.0, 50.0), (80.0, 100.0), (f64::INFINITY, 40.0), (f64::INFINITY, f64::INFINITY)];
        assert_eq!(profile(&p, false, 1.0), 0.5);
        assert_eq!(profile(&p, true, 1.0), 0.25);
        assert_eq!(profile(&p, true, 2.0), 0.5);
        assert_eq!(profile(&p, false, 1.25), 0.75);
        assert_eq!(profile(&p, false, 10.0), 0.75);
    }

    #[test]
    fn the_slope_on_log_axes_and_its_interval() {
        // Exactly √κ: slope ½ with a zero-width interval.
        let points: Vec<(f64, f64)> =
            [1.0, 10.0, 100.0, 1000.0].iter().map(|&k: &f64| (k, 2.0 * k.sqrt())).collect();
        let (b, lo, hi) = slope(&points).unwrap();
        assert!((b - 0.5).abs() < 1e-12 && (hi - lo).abs() < 1e-9, "{b} {lo} {hi}");
        // Noisy: the interval widens, by t with n − 2 = 2 degrees of freedom.
        let noisy = [(1.0, 1.0), (10.0, 4.0), (100.0, 9.0), (1000.0, 20.0)];
        let (b, lo, hi) = slope(&noisy).unwrap();
        assert!(lo < b && b < hi && hi - lo > 0.05, "{b} {lo} {hi}");
        assert!(slope(&noisy[..2]).is_none());
    }
}
