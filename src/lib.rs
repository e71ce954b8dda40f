//! evmon: batch analytics for EV charger logs.
//!
//! The library holds everything; the `evmon` binary only parses arguments
//! and maps errors to exit codes. Domain modules (`ingest`, `store`,
//! `schema`, `timeutil`) know nothing of the command line; `cmd` holds one
//! orchestrating file per subcommand.

pub mod anomaly;
pub mod billing;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod ingest;
pub mod output;
pub mod plot;
pub mod profile;
pub mod schema;
pub mod store;
pub mod timeutil;
pub mod watch;

use std::process::ExitCode;

/// Exit codes, as documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FINDINGS: u8 = 3;
}

/// An error in how evmon was called (exit 2), as opposed to a failure while
/// doing the work (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run a parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    use cli::Command;
    let reads_store = !matches!(
        cli.command,
        Command::Ingest(_)
            | Command::Check(_)
            | Command::Watch(_)
            | Command::Completions(_)
            | Command::Man(_)
    );
    let result = match &cli.command {
        Command::Ingest(args) => cmd::ingest::run(args, &cli.global),
        Command::Sessions(args) => cmd::sessions::run(args, &cli.global),
        Command::Bill(args) => cmd::bill::run(args, &cli.global),
        Command::Anomalies(args) => cmd::anomalies::run(args, &cli.global),
        Command::Profile(args) => cmd::profile::run(args, &cli.global),
        Command::Events(args) => cmd::events::run(args, &cli.global),
        Command::Rejects(args) => cmd::rejects::run(args, &cli.global),
        Command::Stations(args) => cmd::stations::run(args, &cli.global),
        Command::Check(args) => cmd::check::run(args, &cli.global),
        Command::Watch(args) => cmd::watch::run(args, &cli.global),
        Command::Completions(args) => cmd::docs::completions(args),
        Command::Man(args) => cmd::docs::man(args),
    };
    // A Parquet file that fails to read mid-query surfaces as a bare Polars
    // error; say which store it was and how to find the damaged file.
    result.map_err(|err| {
        let bare_parquet = err.downcast_ref::<polars::error::PolarsError>().is_some()
            && err.to_string().to_lowercase().contains("parquet");
        if reads_store && bare_parquet {
            err.context(format!(
                "cannot read the store {} (a file is damaged or was changed outside evmon: run `evmon check` to see which, then re-ingest that month's inputs)",
                cli.global.data.display()
            ))
        } else {
            err
        }
    })
}

/// The one-line message for `err`: its context chain joined with ": ",
/// skipping a cause whose text an outer message already quotes (domain
/// errors often print their source, and `{:#}` would repeat it).
pub fn error_message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_does_not_repeat_a_quoted_cause() {
        let io = std::io::Error::other("File too large (os error 27)");
        let err = anyhow::Error::new(store::StoreError::Io {
            path: "/s/x.parquet".into(),
            action: "write",
            source: io,
        })
        .context("cannot store the sessions table");
        assert_eq!(
            error_message(&err),
            "cannot store the sessions table: cannot write /s/x.parquet: File too large (os error 27)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_message(&plain), "outer: inner");
    }
}
