//! Segment watcher: scans the camera's directory and reports files the camera has finished.
//!
//! A file counts as finished once its size and modification time have stayed the same for
//! `settle` (measured on the monotonic clock, so a Pi without a real-time clock whose wall clock
//! jumps at boot cannot fool it). Polling is used instead of inotify: it works the same on SD
//! cards, FUSE and network mounts, and a missed event cannot lose a segment. Finished files are
//! reported oldest first (modification time, then name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::error::AgentError;

/// A file the camera has finished writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    /// File name inside the watch directory.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
}

#[derive(Debug)]
struct Observation {
    size: u64,
    mtime_ns: i64,
    since: Instant,
    reported: bool,
}

/// Polling directory watcher (see the module docs).
#[derive(Debug)]
pub struct Watcher {
    dir: PathBuf,
    extensions: Vec<String>,
    settle: Duration,
    seen: HashMap<String, Observation>,
}

/// Size and mtime (ns) of a file.
pub fn file_identity(path: &Path) -> std::io::Result<(u64, i64)> {
    let md = std::fs::metadata(path)?;
    let mtime = md
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Ok((md.len(), mtime))
}

impl Watcher {
    /// Watches `dir` for files with one of `extensions` (case-insensitive).
    pub fn new(dir: impl Into<PathBuf>, extensions: &[String], settle: Duration) -> Self {
        Self {
            dir: dir.into(),
            extensions: extensions.iter().map(|e| e.to_ascii_lowercase()).collect(),
            settle,
            seen: HashMap::new(),
        }
    }

    /// The watched directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn wanted(&self, name: &str) -> bool {
        if name.starts_with('.') {
            return false;
        }
        Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }

    /// Scans once at time `now`; returns files that became finished since the last scan, each
    /// reported once per (size, mtime) version, oldest first.
    pub fn scan(&mut self, now: Instant) -> Result<Vec<FinishedFile>, AgentError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| AgentError::io("cannot list the watch directory", &self.dir, e))?;
        let mut present = std::collections::HashSet::new();
        let mut finished = Vec::new();
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                tracing::warn!(name = ?entry.file_name(), "ignoring a file whose name is not UTF-8");
                continue;
            };
            if !self.wanted(&name) {
                continue;
            }
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if !ft.is_file() {
                continue;
            }
            // Removed between listing and stat: simply not present.
            let Ok((size, mtime_ns)) = file_identity(&path) else {
                continue;
            };
            present.insert(name.clone());
            let obs = self.seen.entry(name.clone()).or_insert(Observation {
                size,
                mtime_ns,
                since: now,
                reported: false,
            });
            if obs.size != size || obs.mtime_ns != mtime_ns {
                *obs = Observation {
                    size,
                    mtime_ns,
                    since: now,
                    reported: false,
                };
                continue;
            }
            if !obs.reported && size > 0 && now.duration_since(obs.since) >= self.settle {
                obs.reported = true;
                finished.push(FinishedFile {
                    name,
                    path,
                    size,
                    mtime_ns,
                });
            }
        }
        self.seen.retain(|name, _| present.contains(name));
        finished.sort_by(|a, b| {
            a.mtime_ns
                .cmp(&b.mtime_ns)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reports_only_settled_files_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watcher::new(dir.path(), &["mp4".into()], Duration::from_secs(5));
        let t0 = Instant::now();
        let b = dir.path().join("b.MP4");
        let a = dir.path().join("a.mp4");
        std::fs::write(&b, b"bbbb").unwrap();
        std::fs::write(&a, b"aaaa").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("empty.mp4"), b"").unwrap();
        assert!(w.scan(t0).unwrap().is_empty());
        assert!(w.scan(t0 + Duration::from_secs(4)).unwrap().is_empty());
        // a is still being written: its settle clock restarts.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&a)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let got = w.scan(t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(
            got.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["b.MP4"]
        );
        assert!(
            w.scan(t0 + Duration::from_secs(6)).unwrap().is_empty(),
            "reported once"
        );
        let got = w.scan(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "a.mp4");
        assert_eq!(got[0].size, 8);
    }

    #[test]
    fn a_rewritten_file_is_a_new_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watcher::new(dir.path(), &["mp4".into()], Duration::from_secs(1));
        let t0 = Instant::now();
        let a = dir.path().join("loop0001.mp4");
        std::fs::write(&a, b"first").unwrap();
        w.scan(t0).unwrap();
        assert_eq!(w.scan(t0 + Duration::from_secs(1)).unwrap().len(), 1);
        std::fs::remove_file(&a).unwrap();
        assert!(w.scan(t0 + Duration::from_secs(2)).unwrap().is_empty());
        std::fs::write(&a, b"second version").unwrap();
        w.scan(t0 + Duration::from_secs(3)).unwrap();
        let got = w.scan(t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].size, 14);
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let mut w = Watcher::new(
            "/nonexistent/dashledger",
            &["mp4".into()],
            Duration::from_secs(1),
        );
        let err = w.scan(Instant::now()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dashledger"), "{err}");
    }
}
