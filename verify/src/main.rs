//! `dashledger-verify BUNDLE.zip [--rpc URL] [--c2pa-root CA.pem]`: verifies an evidence bundle. No network unless
//! `--rpc` is given. stdout: one JSON object (the verdict); stderr: a readable summary.
//! Exit codes: 0 verified, 3 a check failed, 1 the bundle or the node could not be read,
//! 2 bad command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dashledger_verify::{Bundle, Options, live, verify_with};

/// Verify a dashledger evidence bundle, offline by default.
#[derive(Debug, Parser)]
#[command(name = "dashledger-verify", version)]
struct Cli {
    /// The bundle (`dashledger-requester bundle … --out FILE.zip`).
    bundle: PathBuf,
    /// Also re-check against this Ethereum JSON-RPC node: its chain id, that the bundle's
    /// headers are its blocks, the EC's code and status now.
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
    /// The operator's device CA (PEM): the C2PA signer of `clip.c2pa` must chain to it.
    /// Without it the C2PA manifest is still validated, and its signer listed as not checked.
    #[arg(long, value_name = "CA.pem")]
    c2pa_root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bundle = match Bundle::read(&cli.bundle) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            println!(
                "{}",
                serde_json::json!({"result": "error", "error": e.to_string()})
            );
            return ExitCode::from(1);
        }
    };
    let c2pa_roots = match cli
        .c2pa_root
        .as_deref()
        .map(std::fs::read_to_string)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => {
            let path = cli.c2pa_root.as_deref().unwrap_or(std::path::Path::new(""));
            eprintln!("error: cannot read --c2pa-root {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut verdict = verify_with(&bundle, &Options { c2pa_roots });
    if let Some(url) = &cli.rpc {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::from(1);
            }
        };
        match rt.block_on(live::verify_live(&bundle, url)) {
            Ok(checks) => {
                verdict.extend(checks);
                // The node answered for the headers: no longer "not checked".
                if verdict.checks.iter().any(|c| c.name == "live-header") {
                    verdict
                        .not_checked
                        .retain(|n| !n.what.contains("canonical chain"));
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                println!(
                    "{}",
                    serde_json::json!({"result": "error", "error": e.to_string(), "offline": verdict})
                );
                return ExitCode::from(1);
            }
        }
    }
    for c in &verdict.checks {
        eprintln!(
            "{} {}: {}",
            if c.ok { "ok    " } else { "FAILED" },
            c.name,
            c.detail
        );
    }
    for n in &verdict.not_checked {
        eprintln!("not checked: {} (how: {})", n.what, n.how);
    }
    eprintln!("result: {}", verdict.result);
    println!(
        "{}",
        serde_json::to_string(&verdict).expect("the verdict serialises")
    );
    if verdict.verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}
