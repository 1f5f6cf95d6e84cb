//! The report's file writing, all of it: every file of `report/` is written into a staging
//! folder, which then replaces `report/` whole.

use std::path::Path;

use anyhow::{Context, Result};

use super::analysis::Analysis;
use super::markdown::render_markdown;
use super::terminal::terminal_text;
use super::{Sweep, csvs, figures, page};
use crate::store::{ReportDir, replace_folder, write_atomic};

/// Writes `report/comparison.csv`, `report/paired.csv`, the figures (SVG and PNG),
/// `report/report.md` and `report/index.html`, and returns the text printed on the terminal.
pub fn write(sweep: &Sweep, analysis: &Analysis) -> Result<String> {
    // Everything is made first, then written into a staging folder beside `report/` and put in
    // its place whole: a crash or an error leaves the previous report as it was, never a mix.
    let with_test = sweep.info.has_test_set();
    let comparison = csvs::comparison(analysis)?;
    let paired = csvs::paired(analysis)?;
    let figures = figures::draw_all(sweep, analysis)?;
    let markdown = render_markdown(sweep, analysis, &figures, with_test);
    let page = page::render(sweep, &markdown, &figures);

    let dest = sweep.dir.report();
    remove_abandoned_staging(sweep.dir.root());
    let staged = tempfile::Builder::new()
        .prefix(".report-")
        .tempdir_in(sweep.dir.root())
        .with_context(|| format!("cannot create a folder in {}", sweep.dir.root().display()))?;
    let out = ReportDir::at(staged.path());
    write_atomic(&out.comparison(), |w| w.write_all(&comparison))?;
    write_atomic(&out.paired(), |w| w.write_all(&paired))?;
    for f in &figures {
        write_atomic(&out.figure(&f.stem, "svg"), |w| w.write_all(f.svg.as_bytes()))?;
        write_atomic(&out.figure(&f.stem, "png"), |w| w.write_all(&f.png))?;
    }
    write_atomic(&out.markdown(), |w| w.write_all(markdown.as_bytes()))?;
    write_atomic(&out.page(), |w| w.write_all(page.as_bytes()))?;
    replace_folder(staged, dest.path())?;
    Ok(terminal_text(sweep, analysis, with_test))
}

/// Removes the staging folders of reports that crashed: hidden `.report-*` folders of the sweep
/// untouched for an hour (a report writes for seconds, so none of these is being
/// written). Best effort: what cannot be removed stays.
fn remove_abandoned_staging(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        let idle = meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|d| d.as_secs() > 3600);
        if name.starts_with(".report-") && meta.is_dir() && idle {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
