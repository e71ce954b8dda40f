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
pub mod intern;
pub mod memory;
pub mod output;
pub mod plot;
pub mod profile;
pub mod report;
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
/// Parse the command line (exiting with clap's message and code 2 on a
/// usage error), then fill what it left to defaults from `evmon.toml`:
/// flags and environment variables win over the file, the file over
/// built-in defaults. Each setting's origin is kept for `evmon config show`.
pub fn parse_args() -> anyhow::Result<cli::Cli> {
    use clap::parser::ValueSource;
    use clap::{CommandFactory, FromArgMatches};
    let matches = cli::Cli::command().get_matches();
    let mut cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = config::load(cli.global.config.as_deref())?;
    let from_file = config
        .source
        .as_ref()
        .map(|p| format!("config {}", p.display()))
        .unwrap_or_default();
    let origin = |source: Option<ValueSource>, env: &str| match source {
        Some(ValueSource::CommandLine) => Some("flag".to_string()),
        Some(ValueSource::EnvVariable) => Some(format!("env {env}")),
        _ => None,
    };
    let mut origins = Vec::new();
    // --data
    let data_origin = match origin(matches.value_source("data"), "EVMON_DATA") {
        Some(o) => o,
        None => match &config.data {
            Some(d) => {
                cli.global.data = d.clone();
                from_file.clone()
            }
            None => "default".into(),
        },
    };
    origins.push((
        "data".to_string(),
        cli.global.data.display().to_string(),
        data_origin,
    ));
    origins.push((
        "config".to_string(),
        config
            .source
            .as_ref()
            .map_or("(none)".to_string(), |p| p.display().to_string()),
        match (&cli.global.config, matches.value_source("config")) {
            (Some(_), Some(ValueSource::EnvVariable)) => "env EVMON_CONFIG".into(),
            (Some(_), _) => "flag".into(),
            (None, _) if config.source.is_some() => "found in the current directory".into(),
            (None, _) => "no evmon.toml found".into(),
        },
    ));
    // Subcommand settings: the innermost subcommand (`config show`) holds
    // the output flags.
    let mut sub = &matches;
    let mut def = cli::Cli::command();
    while let Some((name, m)) = sub.subcommand() {
        def = def.find_subcommand(name).cloned().unwrap_or(def);
        sub = m;
    }
    let format_origin = if def.get_arguments().any(|a| a.get_id() == "format") {
        origin(sub.value_source("format"), "")
    } else {
        None
    };
    let mut format_value = "auto".to_string();
    let format_origin = match (format_origin, &config.format, cli.command.output_mut()) {
        (Some(o), _, Some(out)) => {
            format_value = format!("{:?}", out.format).to_lowercase();
            o
        }
        (None, Some(f), Some(out)) => {
            out.format = match f.as_str() {
                "table" => cli::OutputFormat::Table,
                "csv" => cli::OutputFormat::Csv,
                "json" => cli::OutputFormat::Json,
                _ => cli::OutputFormat::Auto,
            };
            format_value = f.clone();
            from_file.clone()
        }
        (None, Some(f), None) => {
            format_value = f.clone();
            from_file.clone()
        }
        _ => "default".into(),
    };
    origins.push(("format".into(), format_value, format_origin));
    let tariff_flag = match &mut cli.command {
        cli::Command::Bill(a) => Some(&mut a.tariff),
        cli::Command::Report(a) => Some(&mut a.tariff),
        _ => None,
    };
    let (value, from) = path_setting(tariff_flag, config.tariff.as_ref(), &from_file);
    origins.push(("tariff".into(), value, from));
    let stations_flag = match &mut cli.command {
        cli::Command::Ingest(a) => Some(&mut a.stations),
        _ => None,
    };
    let (value, from) = path_setting(stations_flag, config.stations.as_ref(), &from_file);
    origins.push(("stations".into(), value, from));
    // Anomaly thresholds: the file's keys, else the defaults.
    let set = config::anomaly_keys_set(&config);
    if let Ok(toml::Value::Table(rules)) = toml::Value::try_from(&config.anomalies) {
        for (key, value) in rules {
            let from = if set.contains(&key) {
                from_file.clone()
            } else {
                "default".to_string()
            };
            origins.push((format!("anomalies.{key}"), value.to_string(), from));
        }
    }
    cli.global.origins = origins;
    Ok(cli)
}

/// A path setting: the flag when given; else the file's value, filled into
/// the flag's slot of the command that has one. Returns (value, origin).
fn path_setting(
    flag: Option<&mut Option<std::path::PathBuf>>,
    file: Option<&std::path::PathBuf>,
    from_file: &str,
) -> (String, String) {
    if let Some(slot) = flag {
        if let Some(p) = slot {
            return (p.display().to_string(), "flag".into());
        }
        *slot = file.cloned();
    }
    match file {
        Some(p) => (p.display().to_string(), from_file.to_string()),
        None => ("(none)".into(), "default".into()),
    }
}

pub fn run(mut cli: cli::Cli) -> anyhow::Result<ExitCode> {
    use cli::Command;
    // An object-store store: work on a local mirror, publish writes after.
    let mut remote = None;
    if store::remote::is_remote(&cli.global.data) {
        let url = cli.global.data.to_string_lossy().into_owned();
        if matches!(cli.command, Command::Watch(_)) {
            return Err(UsageError(format!(
                "evmon watch needs a local store (it commits every second); watch into a directory and publish with `evmon --data {url} ingest` from cron"
            ))
            .into());
        }
        let cache = std::env::var_os("EVMON_CACHE")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/evmon"))
            })
            .unwrap_or_else(std::env::temp_dir)
            .join("s3");
        let mut r = store::remote::Remote::open(&url, &cache)?;
        let fetched = r.pull()?;
        if fetched > 0 {
            cmd::note(
                &cli.global,
                &format!(
                    "fetched {fetched} files of {url} into {}",
                    r.local.display()
                ),
            );
        }
        cli.global.data = r.local.clone();
        remote = Some((url, r));
    }
    let writes = match &cli.command {
        Command::Ingest(_) => true,
        Command::Check(args) => args.repair,
        _ => false,
    };
    let reads_store = !matches!(
        cli.command,
        Command::Ingest(_)
            | Command::Check(_)
            | Command::Watch(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Config(_)
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
        Command::Config(args) => cmd::config::run(args, &cli.global),
        Command::Report(args) => cmd::report::run(args, &cli.global),
        Command::Completions(args) => cmd::docs::completions(args),
        Command::Man(args) => cmd::docs::man(args),
    };
    if let (Some((url, r)), Ok(_), true) = (&remote, &result, writes) {
        let sent = r.push()?;
        if sent > 0 {
            cmd::note(
                &cli.global,
                &format!("published {sent} files and the manifest to {url}"),
            );
        }
    }
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
