//! `report/index.html`: one self-contained page that works offline. Every run's curve is drawn
//! by a small canvas viewer of heavyball's own (`assets/report.js`, embedded): hover for the run,
//! γ, α, seed, iteration and loss; toggle runs by M, α and γ; log or linear axis. The report's
//! tables sit below it.
//!
//! Curves are downsampled for display (the CSV files keep every row): each keeps its first and
//! last point and, per bucket of iterations, its lowest and highest, so spikes and divergence
//! stay visible. The budget per curve shrinks as runs grow, so that a sweep of 10 000 runs still
//! gives a page a browser opens in seconds.

use std::fmt::Write as _;

use super::Sweep;
use super::figures::{Figure, downsample, hex_color, method_color};
use super::markdown::HEAD_TO_HEAD;
use super::measures::distinct_gammas;
use crate::grid::short_number;

const SCRIPT: &str = include_str!("../../assets/report.js");
const STYLE: &str = include_str!("../../assets/report.css");

/// Points drawn in all, across the curves of the page.
const POINT_BUDGET: usize = 400_000;
/// The fewest and the most points kept per curve.
const CURVE_POINTS: (usize, usize) = (24, 400);

/// A number for the page's data: 6 significant digits, `null` when not finite.
fn json_number(v: f64) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    let text = format!("{v:.5e}");
    // Shorter forms for round values: 1.00000e-3 → 1e-3.
    match text.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
            if e == "0" { m.to_string() } else { format!("{m}e{e}") }
        }
        None => text,
    }
}

/// A JSON string literal, safe inside a `<script>` element.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text escaped for HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page's data: the sweep's runs with their downsampled curves, as JSON.
fn data_json(sweep: &Sweep) -> String {
    let runs = &sweep.runs;
    let budget = (POINT_BUDGET / runs.len().max(1)).clamp(CURVE_POINTS.0, CURVE_POINTS.1);
    let has_test = sweep.info.has_test_set();
    let mut out = String::with_capacity(runs.len() * budget * 24);
    let list = |values: &[f64]| values.iter().map(|v| short_number(*v)).collect::<Vec<_>>().join(",");
    let _ = write!(
        out,
        "{{\"name\":{},\"iterations\":{},\"test\":{has_test},\"hidden\":[{}],\"alpha\":[{}],\"colors\":[{}],\"gamma\":[{}],\"runs\":[",
        json_string(&sweep.info.name),
        sweep.info.iterations,
        sweep.info.hidden.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(","),
        list(&sweep.info.alpha),
        sweep
            .info
            .alpha
            .iter()
            .map(|&a| json_string(&hex_color(method_color(a))))
            .collect::<Vec<_>>()
            .join(","),
        list(&distinct_gammas(runs))
    );
    for (i, r) in runs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let train: Vec<f64> = r.curve.iter().map(|c| c.train_loss).collect();
        let keep = downsample(&train, budget);
        let column =
            |f: &dyn Fn(usize) -> f64| keep.iter().map(|&k| json_number(f(k))).collect::<Vec<_>>().join(",");
        let _ = write!(
            out,
            "{{\"name\":{},\"m\":{},\"gamma\":{},\"alpha\":{},\"seed\":{},\"diverged\":{},\"it\":[{}],\"train\":[{}]",
            json_string(&r.meta.name),
            r.meta.hidden,
            short_number(r.meta.gamma),
            short_number(r.meta.alpha),
            r.meta.seed,
            r.diverged(),
            keep.iter().map(|&k| r.curve[k].iteration.to_string()).collect::<Vec<_>>().join(","),
            column(&|k| train[k])
        );
        if has_test {
            let _ = write!(out, ",\"test\":[{}]", column(&|k| r.curve[k].test_loss.unwrap_or(f64::NAN)));
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// The report's figure whose SVG is `file`, for inlining: its markup without the XML namespace
/// (HTML does not need it), or None when the report has no such figure.
fn inline_svg(figures: &[Figure], file: &str) -> Option<String> {
    let figure = figures.iter().find(|f| f.svg_name() == file)?;
    Some(figure.svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

/// Markdown (the report's own text: headings, paragraphs, `|` tables, `>` notes, figures) as
/// HTML. The figures it links are inlined from `figures`, so that the page stands alone.
fn markdown_to_html(md: &str, figures: &[Figure]) -> String {
    let mut out = String::new();
    let mut lines = md.lines().peekable();
    while let Some(line) = lines.next() {
        let inline = |s: &str| {
            let mut t = html(s);
            // `code` and **bold**, as the report writes them.
            for (mark, open, close) in [("`", "<code>", "</code>"), ("**", "<strong>", "</strong>")] {
                let parts: Vec<&str> = t.split(mark).collect();
                // Only balanced marks are formatting; a stray one stays as written.
                if parts.len() >= 3 && parts.len() % 2 == 1 {
                    let mut rebuilt = String::new();
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            rebuilt.push_str(if i % 2 == 1 { open } else { close });
                        }
                        rebuilt.push_str(p);
                    }
                    t = rebuilt;
                }
            }
            t
        };
        if let Some(h) = line.strip_prefix("### ") {
            let _ = writeln!(out, "<h3>{}</h3>", inline(h));
        } else if let Some(h) = line.strip_prefix("## ") {
            // An anchor from the heading's words: #plots, #best-settings-optimisation, …
            let slug: String = h
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", html(&slug), inline(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(h));
        } else if let Some(note) = line.strip_prefix("> ") {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(note));
        } else if line.starts_with('|') {
            let cells = |l: &str| -> Vec<String> {
                l.trim().trim_matches('|').split('|').map(|c| inline(c.trim())).collect()
            };
            let _ = write!(out, "<table><thead><tr>");
            for c in cells(line) {
                let _ = write!(out, "<th>{c}</th>");
            }
            let _ = writeln!(out, "</tr></thead><tbody>");
            // The separator row.
            lines.next_if(|l| l.starts_with("|-") || l.starts_with("|---"));
            while let Some(row) = lines.next_if(|l| l.starts_with('|')) {
                let _ = write!(out, "<tr>");
                for c in cells(row) {
                    let _ = write!(out, "<td>{c}</td>");
                }
                let _ = writeln!(out, "</tr>");
            }
            let _ = writeln!(out, "</tbody></table>");
        } else if let Some(image) = line.strip_prefix("![") {
            // A figure: `![title](file.svg)`, inlined from the report folder.
            if let Some((title, rest)) = image.split_once("](") {
                let file = rest.trim_end_matches(')');
                match inline_svg(figures, file) {
                    Some(svg) => {
                        let _ = writeln!(out, "<figure>{svg}</figure>");
                    }
                    None => {
                        let _ = writeln!(out, "<img src=\"{}\" alt=\"{}\">", html(file), html(title));
                    }
                }
            }
        } else if !line.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(line));
        }
    }
    out
}

/// The section of `markdown` that starts with the heading `heading` (up to the next `## `
/// heading), and the markdown without it.
fn split_section(markdown: &str, heading: &str) -> (String, String) {
    let Some(start) = markdown.find(&format!("{heading}\n")) else {
        return (String::new(), markdown.to_string());
    };
    let after = start + heading.len();
    let end = markdown[after..].find("\n## ").map_or(markdown.len(), |i| after + i + 1);
    (markdown[start..end].to_string(), format!("{}{}", &markdown[..start], &markdown[end..]))
}

/// The whole page: the viewer with its data, then the report's text, tables and figures (their
/// SVG inlined).
pub fn render(sweep: &Sweep, markdown: &str, figures: &[Figure]) -> String {
    let mut page = String::new();
    let title = format!("heavyball report: {}", sweep.info.name);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n",
        html(&title)
    );
    // The report's title first, then the bests head to head, then the viewer of every curve,
    // then the rest of the report.
    let (heading, rest) = match markdown.split_once('\n') {
        Some((first, rest)) if first.starts_with("# ") => (first, rest),
        _ => ("", markdown),
    };
    let (head, rest) = split_section(rest, HEAD_TO_HEAD);
    page.push_str(&markdown_to_html(heading, &[]));
    if !head.is_empty() {
        let _ = writeln!(
            page,
            "<section id=\"head-to-head-view\">\n{}</section>",
            markdown_to_html(&head, figures)
        );
    }
    let _ = write!(
        page,
        "<section id=\"viewer\">\n<h2>Every curve of the sweep</h2>\n\
         <p class=\"hint\">Hover a curve for its run; tick and untick M, α and γ to choose the runs drawn. \
         Curves are thinned for display (each keeps its first, last, lowest and highest points); the CSV files hold \
         every iteration.</p>\n\
         <div id=\"controls\"></div>\n<div id=\"plot\"><canvas id=\"canvas\"></canvas><div id=\"tooltip\" hidden></div></div>\n\
         <p id=\"status\"></p>\n</section>\n"
    );
    let _ = writeln!(page, "<section id=\"report\">\n{}</section>", markdown_to_html(&rest, figures));
    let _ = writeln!(page, "<script type=\"application/json\" id=\"data\">{}</script>", data_json(sweep));
    let _ = writeln!(page, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_keeps_ends_and_extremes_in_order() {
        let values: Vec<f64> =
            (0..1000).map(|i| if i == 437 { 50.0 } else { 1.0 / (1.0 + i as f64) }).collect();
        let kept = downsample(&values, 40);
        assert!(kept.len() <= 40, "{}", kept.len());
        assert_eq!((kept[0], *kept.last().unwrap()), (0, 999));
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        assert!(kept.contains(&437), "the spike is kept");
        // Short curves are kept whole.
        assert_eq!(downsample(&values[..30], 40), (0..30).collect::<Vec<_>>());
        // A diverging tail stays visible.
        let mut tail = values.clone();
        tail[998] = f64::NAN;
        assert!(downsample(&tail, 40).contains(&998));
    }

    #[test]
    fn json_pieces_are_valid_and_short() {
        assert_eq!(json_number(0.001), "1e-3");
        assert_eq!(json_number(2.5), "2.5");
        assert_eq!(json_number(123456.0), "1.23456e5");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(f64::INFINITY), "null");
        assert_eq!(json_string("a\"b</script>\n"), "\"a\\\"b\\u003c/script\\u003e\\u000a\"");
    }

    #[test]
    fn markdown_tables_headings_and_notes_become_html() {
        let md = "# T\n\n> a **note** with `code`\n\n| M | x |\n|---|---|\n| 4 | <1 |\n\ntext\n";
        let h = markdown_to_html(md, &[]);
        assert!(h.contains("<h1>T</h1>"));
        assert!(h.contains("<p class=\"note\">a <strong>note</strong> with <code>code</code></p>"), "{h}");
        assert!(h.contains("<th>M</th><th>x</th>"));
        assert!(h.contains("<td>4</td><td>&lt;1</td>"));
        assert!(!h.contains("---"));
        assert!(h.contains("<p>text</p>"));
    }
}
