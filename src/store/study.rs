//! The files of a study (`[[data]]` tables): `study.toml`, naming its workloads, each a sweep
//! folder of its own inside the study's; and the study's `summary.csv` and `curves.csv`, the
//! workloads' own files one after another with a leading `workload` column.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::schema::read_small;
use super::{SweepDir, write_atomic};

/// The version of the `study.toml` format.
pub const STUDY_FORMAT: u32 = 1;

/// One workload as `study.toml` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyWorkload {
    /// Its name: its sweep's folder inside the study's.
    pub name: String,
    /// κ, for synthetic data (1: unconditioned); absent for other data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<f64>,
    /// The conditioning series it belongs to (the `[[data]]` table whose list of conditions
    /// made it), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// `<study>/study.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyMeta {
    /// [`STUDY_FORMAT`].
    pub format: u32,
    /// The study's name.
    pub name: String,
    /// Its workloads, in the config's order.
    pub workloads: Vec<StudyWorkload>,
}

/// A study's folder: `study.toml`, the workloads' sweep folders, the summaries and `report/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyDir {
    root: PathBuf,
}

impl StudyDir {
    /// The study `name` under the results folder `results`.
    pub fn new(results: &Path, name: &str) -> StudyDir {
        StudyDir { root: results.join(name) }
    }

    /// The study whose folder is `root`.
    pub fn at(root: &Path) -> StudyDir {
        StudyDir { root: root.to_path_buf() }
    }

    /// The study's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `study.toml`.
    pub fn meta(&self) -> PathBuf {
        self.root.join("study.toml")
    }

    /// True when the folder holds a study (its `study.toml`).
    pub fn exists(&self) -> bool {
        self.meta().exists()
    }

    /// The sweep folder of workload `name`.
    pub fn workload(&self, name: &str) -> SweepDir {
        SweepDir::new(&self.root, name)
    }

    /// The study's `report/`.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }
}

impl StudyMeta {
    /// Reads `study.toml`.
    pub fn read(path: &Path) -> Result<StudyMeta> {
        let text = read_small(path)?;
        let meta: StudyMeta = toml::from_str(&text)
            .with_context(|| format!("{} is not a heavyball study file", path.display()))?;
        if meta.format != STUDY_FORMAT {
            bail!(
                "{} has format {} and this heavyball reads format {STUDY_FORMAT}",
                path.display(),
                meta.format
            );
        }
        let valid =
            |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if let Some(w) = meta.workloads.iter().find(|w| !valid(&w.name) || w.name.starts_with('.')) {
            bail!(
                "{} names a workload {:?}, which is not a folder name heavyball writes",
                path.display(),
                w.name
            );
        }
        for (i, w) in meta.workloads.iter().enumerate() {
            if let Some(first) = meta.workloads[..i].iter().position(|v| v.name == w.name) {
                bail!(
                    "{} names workload {:?} twice (entries {} and {}); it is damaged",
                    path.display(),
                    w.name,
                    first + 1,
                    i + 1
                );
            }
        }
        Ok(meta)
    }

    /// Writes `study.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("study metadata serialises");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

/// Writes the study's `summary.csv` and `curves.csv`: each workload's file (those that exist)
/// one after another, every row led by the workload's name, under one header led by
/// `workload` that holds every workload's columns. A column some workload lacks (the test
/// columns where only some have a test set, `sharpness` where only some measured it) is empty
/// in that workload's rows, so that the file is one table any CSV reader takes.
pub fn write_summaries(dir: &StudyDir, workloads: &[String]) -> Result<()> {
    use std::io::BufRead;
    // Read as every result file is: a regular file only, never a FIFO that would block; line by
    // line, so that a study's curves are never all in memory at once.
    let open = |path: &Path| super::open_regular(path).map(std::io::BufReader::new);
    for file in ["summary.csv", "curves.csv"] {
        // First the headers alone, for the columns of the whole file.
        let mut tables: Vec<(&str, PathBuf, String)> = Vec::new();
        for name in workloads {
            let path = dir.workload(name).root().join(file);
            let Ok(mut reader) = open(&path) else { continue };
            let mut header = String::new();
            if reader.read_line(&mut header).is_ok_and(|n| n > 0) {
                let header = header.trim_end_matches(['\n', '\r']).to_string();
                tables.push((name, path, header));
            }
        }
        if tables.is_empty() {
            continue;
        }
        let headers: Vec<Vec<&str>> = tables.iter().map(|(_, _, h)| h.split(',').collect()).collect();
        let columns = union_columns(&headers);
        write_atomic(&dir.root().join(file), |out| {
            writeln!(out, "workload,{}", columns.join(","))?;
            for ((name, path, _), header) in tables.iter().zip(&headers) {
                let place: Vec<usize> = header
                    .iter()
                    .map(|c| columns.iter().position(|u| u == c).expect("a column of the union"))
                    .collect();
                let reader = open(path).map_err(std::io::Error::other)?;
                let mut row = vec![String::new(); columns.len()];
                for line in reader.lines().skip(1) {
                    let line = line?;
                    row.iter_mut().for_each(String::clear);
                    for (field, &at) in line.split(',').zip(&place) {
                        row[at].push_str(field);
                    }
                    writeln!(out, "{name},{}", row.join(","))?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The columns of several headers in one order: the first header's, then each column another
/// header adds, placed after the column it follows there (and after the columns other headers
/// placed there before it).
fn union_columns<'a>(headers: &[Vec<&'a str>]) -> Vec<&'a str> {
    let mut union: Vec<&str> = Vec::new();
    for header in headers {
        let mut next = 0;
        for &column in header {
            next = match union.iter().position(|&u| u == column) {
                Some(at) => at + 1,
                None => {
                    // After the columns other headers put here, which this one lacks.
                    while next < union.len() && !header.contains(&union[next]) {
                        next += 1;
                    }
                    union.insert(next, column);
                    next + 1
                }
            };
        }
    }
    union
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_with_different_columns_share_one_header() {
        let results = tempfile::tempdir().unwrap();
        let dir = StudyDir::new(results.path(), "s");
        let files = [
            ("a", "run,iteration,train_loss\nr1,0,1.5\n"),
            ("b", "run,iteration,train_loss,test_loss\nr2,0,1.4,1.6\n"),
            ("c", "run,iteration,train_loss,sharpness\nr3,0,1.3,9\n"),
        ];
        for (name, text) in files {
            std::fs::create_dir_all(dir.workload(name).root()).unwrap();
            std::fs::write(dir.workload(name).root().join("curves.csv"), text).unwrap();
        }
        let names: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
        write_summaries(&dir, &names).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.root().join("curves.csv")).unwrap(),
            "workload,run,iteration,train_loss,test_loss,sharpness\n\
             a,r1,0,1.5,,\nb,r2,0,1.4,1.6,\nc,r3,0,1.3,,9\n"
        );
        // No workload has a summary yet: none is written.
        assert!(!dir.root().join("summary.csv").exists());
        assert_eq!(union_columns(&[vec!["x", "y"], vec!["x", "y"]]), ["x", "y"]);
    }

    #[test]
    fn study_files_round_trip_and_refuse_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.toml");
        let meta = StudyMeta {
            format: STUDY_FORMAT,
            name: "s".into(),
            workloads: vec![
                StudyWorkload { name: "digits".into(), condition: None, series: None },
                StudyWorkload {
                    name: "teacher-k10".into(),
                    condition: Some(10.0),
                    series: Some("teacher".into()),
                },
            ],
        };
        meta.write(&path).unwrap();
        assert_eq!(StudyMeta::read(&path).unwrap(), meta);
        let twice = StudyMeta {
            workloads: vec![meta.workloads[0].clone(), meta.workloads[0].clone()],
            ..meta.clone()
        };
        twice.write(&path).unwrap();
        let e = format!("{:#}", StudyMeta::read(&path).unwrap_err());
        assert!(e.contains("names workload \"digits\" twice (entries 1 and 2)"), "{e}");
        let bad = StudyMeta {
            workloads: vec![StudyWorkload { name: "../x".into(), condition: None, series: None }],
            ..meta
        };
        bad.write(&path).unwrap();
        assert!(format!("{:#}", StudyMeta::read(&path).unwrap_err()).contains("not a folder name"));
    }

    #[test]
    fn the_study_summaries_lead_every_row_with_its_workload() {
        let dir = tempfile::tempdir().unwrap();
        let study = StudyDir::at(dir.path());
        for (name, rows) in [("a", "x,y\n1,2\n3,4\n"), ("b", "x,y\n5,6\n")] {
            std::fs::create_dir_all(study.workload(name).root()).unwrap();
            std::fs::write(study.workload(name).root().join("summary.csv"), rows).unwrap();
        }
        write_summaries(&study, &["a".into(), "b".into(), "missing".into()]).unwrap();
        let text = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
        assert_eq!(text, "workload,x,y\na,1,2\na,3,4\nb,5,6\n");
        assert!(!dir.path().join("curves.csv").exists());
    }
}
