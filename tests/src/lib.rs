//! End-to-end harness for dashledger: starts the real parts as processes — anvil with the
//! contracts deployed (`scripts/devnet`), the cloud (`dashledger-cloud`), the agent
//! (`dashledger-agent`) and the requester CLI (`dashledger-requester`) — on loopback, in a
//! scratch directory, and stops every one of them when dropped.
//!
//! The tests in `tests/tests/` use it (`scripts/test-e2e` runs them; `scripts/demo` is the same
//! flow in bash). Binaries are found next to the running executable (`target/<profile>/`), so
//! build them first: `cargo build --workspace --bins` (`scripts/test-e2e` does).

pub mod agent;
pub mod cloud;
pub mod devnet;
pub mod media;
pub mod proc;
pub mod requester;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The shared data sets (`../shared/datasets` beside the repo, or `DASHLEDGER_DATASETS`).
pub fn datasets_dir() -> PathBuf {
    std::env::var_os("DASHLEDGER_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/datasets"))
}

/// The directory holding the workspace's binaries: where this executable was built.
///
/// Test executables live in `target/<profile>/deps/`, the demo in `target/<profile>/`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DASHLEDGER_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    Ok(dir)
}

/// Path of a workspace binary, with an actionable error when it has not been built.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir()?.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    Ok(path)
}

/// A scratch directory for one test; kept (and its path printed) when `DASHLEDGER_E2E_KEEP` is
/// set, so the logs of every process can be read after a failure.
pub fn scratch(name: &str) -> anyhow::Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("dashledger-e2e-{name}-"))
        .tempdir()?;
    if std::env::var_os("DASHLEDGER_E2E_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("e2e {name}: files kept in {}", dir.path().display());
    }
    Ok(dir)
}

/// Runs a read-only query with the `sqlite3` command-line tool; rows as JSON objects.
pub fn sqlite_json(db: &Path, sql: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg("-json")
        .arg(db)
        .arg(sql)
        .output()
        .context("cannot run sqlite3 (scripts/setup installs it)")?;
    anyhow::ensure!(
        out.status.success(),
        "sqlite3 {} '{sql}' failed: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&out.stdout).context("sqlite3 printed no JSON")
}

/// Runs a writing SQL statement with the `sqlite3` command-line tool.
pub fn sqlite_exec(db: &Path, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .context("cannot run sqlite3")?;
    anyhow::ensure!(
        out.status.success(),
        "sqlite3 {} '{sql}' failed: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
