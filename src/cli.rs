//! The command-line interface: clap types only. Parsing ends here; the
//! commands in `cmd/` turn these values into work.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ingest::presets::{Field, PRESETS};
use crate::timeutil;

const AFTER_HELP: &str = "\
Examples:
  evmon ingest examples/data/                 read every export or OCPP dump in a directory
  evmon sessions --since 7d --station CP001   last week's sessions of one station
  evmon anomalies --since 1d --fail-on critical
  evmon bill --tariff tariff.toml --period 2026-10
  evmon profile --since 30d --plot profile.svg
  evmon watch /var/log/ocpp/                  live alerts from growing OCPP logs

Data goes to stdout; summaries, warnings and progress go to stderr.
Exit codes: 0 ok, 1 error, 2 usage, 3 findings at or above --fail-on.";

/// Batch analytics for EV charger logs.
///
/// evmon ingests charger session exports (CSV, JSON) and OCPP 1.6J / 2.0.1
/// message dumps into an embedded Parquet store, then profiles stations,
/// flags anomalies, prices sessions with time-of-use tariffs, and watches
/// growing OCPP logs live. It reads and writes only the store directory
/// given by --data; no server is needed.
#[derive(Debug, Parser)]
#[command(name = "evmon", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Store directory [env: EVMON_DATA]
    ///
    /// The embedded store: Parquet files partitioned by table and month,
    /// plus a manifest. Created by the first ingest. An object-store URL,
    /// s3://bucket/prefix, keeps it in S3 or an S3-compatible server.
    #[arg(
        long,
        env = "EVMON_DATA",
        default_value = "./evmon-data",
        value_name = "DIR",
        global = true,
        hide_env = true
    )]
    pub data: PathBuf,

    /// Print no summaries or notes on stderr (errors still print)
    ///
    /// Data on stdout is unchanged; only the one-line summaries, notes and
    /// warnings on stderr are dropped. Useful in cron, where any stderr output
    /// is mailed.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Settings file (default: ./evmon.toml if present) [env: EVMON_CONFIG]
    ///
    /// An explicit file must exist; ./evmon.toml is used only when present. The
    /// file sets data, format, tariff, stations and [anomalies] thresholds;
    /// flags win over it. `evmon config show` prints what is in force and where
    /// each value came from.
    #[arg(
        long,
        env = "EVMON_CONFIG",
        value_name = "FILE",
        global = true,
        hide_env = true
    )]
    pub config: Option<PathBuf>,

    /// When to draw progress bars on stderr
    ///
    /// auto draws them only when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto, value_name = "WHEN", global = true)]
    pub progress: ProgressArg,

    /// Where each effective setting came from (flag, env, config, default),
    /// filled after parsing for `evmon config show`.
    #[arg(skip)]
    pub origins: Vec<(String, String, String)>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read session exports into the store
    #[command(after_help = INGEST_HELP)]
    Ingest(IngestArgs),
    /// List sessions in the store
    #[command(
        after_help = "Examples:\n  evmon sessions --since 7d\n  evmon sessions --since 2026-10-01 --until 2026-11-01 --station CP001 -o october.csv\n  evmon sessions --id-tag 04A1B2C3D4 --format json"
    )]
    Sessions(SessionsArgs),
    /// Price sessions with a tariff: invoices per customer, per-session lines, OCPI CDRs
    #[command(after_help = BILL_HELP)]
    Bill(BillArgs),
    /// Detect spikes, malfunctions, unauthorized use and outliers; exit 3 on --fail-on
    #[command(after_help = ANOMALIES_HELP)]
    Anomalies(AnomaliesArgs),
    /// Energy profile per station (site, connector, day, hour of week), maintenance hints, CO2
    #[command(after_help = PROFILE_HELP)]
    Profile(ProfileArgs),
    /// List events from OCPP dumps: status changes, authorizations, boots, faults, heartbeat gaps
    #[command(
        after_help = "Examples:\n  evmon events --since 7d --kind status\n  evmon events --station CP001 --kind heartbeat_gap,authorize --format json"
    )]
    Events(EventsArgs),
    /// List input rows that could not be read, with the reason
    #[command(
        after_help = "Examples:\n  evmon rejects\n  evmon rejects --file paloalto.csv --format csv"
    )]
    Rejects(RejectsArgs),
    /// List station metadata (given with --stations or read from exports)
    #[command(
        after_help = "Examples:\n  evmon ingest --stations examples/stations.toml\n  evmon stations --format csv -o stations.csv"
    )]
    Stations(StationsArgs),
    /// Check the store: files, schemas, row counts, partitions, duplicate keys, leftovers
    #[command(
        after_help = "Exit codes: 0 the store is sound (notes and warnings may be listed), 1 errors found.\n\nExamples:\n  evmon check\n  evmon --data /srv/evmon check --format json"
    )]
    Check(CheckArgs),
    /// Follow growing OCPP logs: ingest new frames as they arrive and alert on live anomalies
    #[command(after_help = WATCH_HELP)]
    Watch(WatchArgs),
    /// One self-contained HTML (or Markdown) page for a month: fleet, stations, charts, anomalies, revenue, CO2
    #[command(
        after_help = "The HTML page embeds its styles and charts (SVG): it opens offline and can be mailed as is.\n\nExamples:\n  evmon report --period 2026-10 -o report.html\n  evmon report --period 2026-10 --tariff tariff.toml --format md -o report.md"
    )]
    Report(ReportArgs),
    /// Show the effective settings and where each came from
    #[command(
        after_help = "Settings come from flags, then environment variables (EVMON_DATA, EVMON_CONFIG), then evmon.toml (--config, $EVMON_CONFIG, or ./evmon.toml), then built-in defaults.\n\nExamples:\n  evmon config show\n  evmon --config /etc/evmon.toml config show --format json"
    )]
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Install:\n  evmon completions bash > ~/.local/share/bash-completion/completions/evmon\n  evmon completions zsh > ~/.zfunc/_evmon   (with fpath+=~/.zfunc before compinit)\n  evmon completions fish > ~/.config/fish/completions/evmon.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (or write one per subcommand with --dir)
    #[command(
        after_help = "Examples:\n  evmon man | man -l -\n  evmon man --dir /usr/local/share/man/man1"
    )]
    Man(ManArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// From the -o file's extension (.md is Markdown), else HTML
    Auto,
    Html,
    Md,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The month to report on, YYYY-MM
    ///
    /// A calendar month in UTC. Profiles, anomalies and CO2 cover that month;
    /// revenue is priced as `evmon bill --period` prices it, in each station's
    /// local month.
    #[arg(long, value_parser = parse_period, value_name = "YYYY-MM")]
    pub period: chrono::NaiveDate,

    /// Tariff for the revenue section (default: `tariff` in evmon.toml; without one the section says so)
    ///
    /// An evmon TOML or OCPI 2.2.1 Tariff JSON file, as for `evmon bill
    /// --tariff`. The revenue section lists net amounts per tariff and band
    /// (energy windows, time, idle, fees, discounts).
    #[arg(long, value_name = "FILE")]
    pub tariff: Option<PathBuf>,

    /// Page format
    ///
    /// html: one page with inline CSS and SVG, viewable offline. md: Markdown
    /// with the same sections; the chart is an inline SVG data URI. auto picks
    /// md for an -o file ending in .md.
    #[arg(long, value_enum, default_value_t = ReportFormat::Auto, value_name = "FORMAT")]
    pub format: ReportFormat,

    /// Write the page to FILE instead of stdout
    ///
    /// Without -o the page goes to stdout, so it can be piped to a mailer or a
    /// web root.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Stations drawn in the daily energy chart
    ///
    /// Stations are ranked by energy in the month; the heat map always covers
    /// the whole fleet.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print every effective setting with its value and its source
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

impl Command {
    /// The output options of commands that print data.
    pub fn output_mut(&mut self) -> Option<&mut OutputArgs> {
        match self {
            Command::Sessions(a) => Some(&mut a.output),
            Command::Bill(a) => Some(&mut a.output),
            Command::Anomalies(a) => Some(&mut a.output),
            Command::Profile(a) => Some(&mut a.output),
            Command::Events(a) => Some(&mut a.output),
            Command::Rejects(a) => Some(&mut a.output),
            Command::Stations(a) => Some(&mut a.output),
            Command::Check(a) => Some(&mut a.output),
            Command::Config(ConfigArgs {
                action: ConfigAction::Show(a),
            }) => Some(&mut a.output),
            Command::Ingest(_)
            | Command::Watch(_)
            | Command::Report(_)
            | Command::Completions(_)
            | Command::Man(_) => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    ///
    /// bash, zsh, fish, elvish or powershell. The script completes subcommands,
    /// flags and enum values such as --format.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write evmon.1 and one page per subcommand (evmon-ingest.1, ...) into DIR
    ///
    /// Without --dir the page of evmon itself goes to stdout, ready for `man -l
    /// -`. With it, every subcommand gets its own page, as packagers install
    /// them.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const WATCH_HELP: &str = "\
Each finding is printed once as a JSON line (the fields of `evmon anomalies
--format json`) and, with --exec, piped to a command. Spikes, meter
regressions and rejected-but-charging alert at once; faults, silent stations
and sessions open too long must last --debounce seconds first, and alert
again only after they cleared. Offsets and alerted conditions are kept in
the store (watch/state.json): a restart resumes without re-alerting.

Examples:
  evmon watch /var/log/ocpp/
  evmon watch --debounce 300 --exec 'mail -s \"evmon alert\" ops@example.com' /var/log/ocpp/*.jsonl
  evmon watch --once logs/   (read what is there, evaluate once, exit)";

const INGEST_HELP: &str = "\
Presets (detected from the CSV header, or forced with --preset):
  acn          Caltech ACN-Data sessions (JSON download or CSV of its fields)
  palo-alto    City of Palo Alto ChargePoint export (2011-2020)
  boulder      City of Boulder open data (ArcGIS field names)
  dundee       Dundee City Council charge point usage (2021 onward)
  dundee-2017  Dundee Charge Your Car export (2017-2018)
  pkc          Perth & Kinross Council EV charge-station use (2016-2019)
  norway       Residential apartment charging, Trondheim (Sorensen et al. 2021)
  steve        SteVe transactions export
  generic      evmon's own names: station_id, start, stop, energy_kwh, ...

Fields for --map: session_id station_id connector_id id_tag start start_date
  start_time start_zone stop stop_date stop_time stop_zone timezone duration
  charging_duration charging_end energy_kwh energy_wh meter_start_wh
  meter_stop_wh max_power_kw stop_reason site

Examples:
  evmon ingest examples/data/
  evmon ingest 'exports/*.csv' --stations stations.toml
  evmon ingest sites.csv --map station_id='Charger' --map start='Plug in' --map energy_kwh='kWh' --tz Europe/Berlin
  cat export.csv | evmon ingest -";

const BILL_HELP: &str = "\
Money is exact (decimal): each line is rounded half-up to the currency's
minor unit, VAT is computed per rate over an invoice's lines, and an
invoice's total is exactly the sum of its lines and VAT. Sessions without a
stop or energy, without a tariff or time zone, or with billing-relevant
anomalies are not billed; the summary counts them by reason.

Examples:
  evmon bill --tariff examples/tariff.toml --period 2026-10
  evmon bill --tariff examples/tariff.toml --period 2026-10 --lines --format csv -o lines.csv
  evmon bill --tariff ocpi-tariff.json --since 2026-10-01 --until 2026-10-08 --by station
  evmon bill --tariff examples/tariff.toml --period 2026-10 --cdr-out cdrs.json";

const ANOMALIES_HELP: &str = "\
Kinds: power_spike energy_inconsistent meter_regression zero_energy
short_burst open_session long_session duplicate_transaction overlap
clock_skew auth_rejected unknown_tag faulted repeated_faults stuck_status
station_silent idle_blocking outlier_energy outlier_duration outlier_power
daily_drop daily_rise. Thresholds: the [anomalies] section of evmon.toml
(see the README).

Exit codes: 0 no finding at or above --fail-on, 3 at least one, 1 error.

Examples:
  evmon anomalies --since 7d
  evmon anomalies --since 1d --fail-on critical --format json
  evmon anomalies --kinds auth_rejected,unknown_tag --allow-list tags.csv
  evmon ingest /var/log/ocpp/*.jsonl && evmon anomalies --since 1d --fail-on critical";

const PROFILE_HELP: &str = "\
Columns (station rows): sessions, kwh, kwh_per_day, mean_kwh, p95_kwh,
mean_duration_h, charging_h, idle_h, idle_share, utilization (plugged-in
time / window / connectors), peak_kw, rated_kw, peak_ratio,
median_session_kw, first/last_session, days_without_session, faults,
top_error_codes, rank_kwh_per_day, rank_power, co2_grid_kg, co2_avoided_kg,
hints.

Hints (--hints lists them with their evidence): underpowered,
weaker_than_peers, recurring_faults, silent, idle_blocking, energy_drift.

Examples:
  evmon profile --since 30d
  evmon profile --by hour-of-week --station CP001
  evmon profile --hints --format json
  evmon profile --plot profile.svg --grid-intensity-file nl-2026.csv";

/// Output options shared by commands that print data.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: auto, table, csv or json (JSON Lines)
    ///
    /// auto: the -o file's extension (.csv, .json, .jsonl) if it has one,
    /// else a table on a terminal and CSV when piped.
    #[arg(long, value_enum, default_value_t = OutputFormat::Auto, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Write data to FILE instead of stdout (- is stdout)
    ///
    /// The file is written in the chosen --format; with --format auto its
    /// extension decides (.csv, .json, .jsonl). Summaries still go to stderr.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Show at most N rows in a table (0 = all); CSV and JSON are never cut
    ///
    /// Only the human-readable table is cut, with a note on stderr saying how
    /// many rows were left out; CSV and JSON always carry every row.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Auto,
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    Auto,
    On,
    Off,
}

/// A time window and station filter.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Only from this time: 7d, 12h, 30m, 2w back from now, or a date/datetime (UTC unless it has an offset)
    ///
    /// Relative forms count back from now (EVMON_NOW in tests). Absolute forms:
    /// 2026-10-01, 2026-10-01T08:00, or RFC 3339 with an offset. Only the month
    /// partitions the window touches are read.
    #[arg(long, value_parser = parse_instant, value_name = "WHEN")]
    pub since: Option<DateTime<Utc>>,

    /// Only before this time (same forms as --since)
    ///
    /// The window is half-open: rows at exactly --until are excluded. Default:
    /// now.
    #[arg(long, value_parser = parse_instant, value_name = "WHEN")]
    pub until: Option<DateTime<Utc>>,

    /// Only these stations (repeat, or separate with commas)
    ///
    /// Station (charge point) ids exactly as stored; see `evmon stations`.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub station: Vec<String>,
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    timeutil::parse_instant(s, timeutil::now(), None).map_err(|e| e.to_string())
}

fn parse_zone(s: &str) -> Result<Tz, String> {
    timeutil::parse_zone(s).map_err(|e| e.to_string())
}

fn parse_map(s: &str) -> Result<(Field, String), String> {
    let (field, column) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not FIELD=COLUMN (e.g. start='Plug in time')"))?;
    if column.trim().is_empty() {
        return Err(format!("'{s}' names no column"));
    }
    Ok((field.parse::<Field>()?, column.to_string()))
}

fn parse_preset(s: &str) -> Result<String, String> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(s))
        .map(|p| p.name.to_string())
        .ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            format!("unknown preset '{s}'; presets are: {}", names.join(", "))
        })
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, directories, glob patterns, or - for stdin
    ///
    /// Directories are read recursively in name order (hidden files skipped). A
    /// file whose content was ingested before is skipped unless --force. Each
    /// file's format is detected unless --format says.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,

    /// Input format (auto: from the file name and content)
    ///
    /// csv: a session export (any delimiter); json: ACN-Data JSON, an array or
    /// JSON Lines of sessions; ocpp-jsonl: OCPP frames in JSON envelopes; ocpp-
    /// log: raw OCPP log lines.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto, value_name = "FORMAT")]
    pub format: InputFormat,

    /// Read CSV files as this export instead of detecting it from the header
    ///
    /// Needed only when detection picks the wrong export, e.g. a file with
    /// renamed columns; combine with --map for the columns that differ. `evmon
    /// ingest --help` lists the presets.
    #[arg(long, value_parser = parse_preset, value_name = "NAME")]
    pub preset: Option<String>,

    /// Map an evmon field to a column: --map start='Plug in time' (repeatable)
    ///
    /// Applied on top of the detected preset; with a header no preset knows,
    /// the mapped columns are all evmon reads. Fields are listed below.
    #[arg(long = "map", value_parser = parse_map, value_name = "FIELD=COLUMN")]
    pub maps: Vec<(Field, String)>,

    /// Time zone of timestamps without an offset, e.g. Europe/London [env: EVMON_TZ]
    ///
    /// For CSV exports: used before station metadata zones and before a
    /// preset's own zone; a zone column in the data (ACN's timezone) is used
    /// first. For OCPP logs: the zone the logging server wrote its
    /// timestamps in.
    #[arg(long, env = "EVMON_TZ", value_parser = parse_zone, value_name = "ZONE", hide_env = true)]
    pub tz: Option<Tz>,

    /// How to read slash dates such as 03/04/2024 (default: the preset's)
    ///
    /// dmy (03/04/2024 is 3 April), mdy (March 4) or ymd. ISO dates are never
    /// ambiguous and ignore this.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub date_order: Option<DateOrderArg>,

    /// A local time that happens twice (DST fall-back) without a zone column to decide
    ///
    /// earliest takes the first occurrence (summer time), latest the second,
    /// reject sends the row to the rejects table. Each choice is counted in the
    /// ingest notes.
    #[arg(long, value_enum, default_value_t = AmbiguousArg::Earliest, value_name = "CHOICE")]
    pub dst_ambiguous: AmbiguousArg,

    /// A local time that never happens (DST spring-forward gap)
    ///
    /// shift moves the time forward by the length of the gap (02:30 becomes
    /// 03:30 in Europe); reject sends the row to the rejects table.
    #[arg(long, value_enum, default_value_t = GapArg::Shift, value_name = "CHOICE")]
    pub dst_gap: GapArg,

    /// Charge point id of OCPP log files that do not name it (default: the file name)
    ///
    /// JSON envelopes carry the charge point id in `cp`; raw logs often do not,
    /// and then the file name (without extension) is used.
    #[arg(long, value_name = "ID")]
    pub cp: Option<String>,

    /// OCPP version of dumps that do not say (default: from the envelope, else from the actions used)
    ///
    /// ocpp1.6 or ocpp2.0.1. Needed only for raw logs that mix actions of both
    /// versions or use none that tells them apart.
    #[arg(long, value_enum, value_name = "VERSION")]
    pub proto: Option<ProtoArg>,

    /// Station metadata (CSV or TOML): station_id, site, timezone, rated_power_kw, connectors
    ///
    /// Stored in the stations table and used by every later command: time zones
    /// for naive times and local-day profiles, rated power for spikes and
    /// utilization, sites for tariffs and reports. Can be given alone, without
    /// inputs.
    #[arg(long, value_name = "FILE")]
    pub stations: Option<PathBuf>,

    /// Exit 1 and store nothing if any row is rejected
    ///
    /// Without --strict, rejected rows are kept in the rejects table (`evmon
    /// rejects`) and the good rows are stored. With it, the first rejects are
    /// printed and the store is left unchanged.
    #[arg(long)]
    pub strict: bool,

    /// Read files again even if their content was ingested before
    ///
    /// Inputs are recognised by a hash of their content. --force reads them
    /// again; rows already stored are still deduplicated, so nothing is counted
    /// twice.
    #[arg(long)]
    pub force: bool,

    /// Seconds to wait for another ingest to release the store
    ///
    /// Only one writer works on a store at a time. A second ingest waits,
    /// saying which process holds the lock, and fails after this many seconds.
    /// A lock left by a crashed process is released by the kernel.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub lock_timeout: u64,

    /// Rows gathered in memory before they are set aside on disk (bounds
    /// memory on inputs larger than RAM; tests use small values). Default:
    /// 50,000 when the inputs fit twice in the staging memory, else 200,000
    #[arg(long, value_name = "ROWS", hide = true)]
    pub spill_rows: Option<usize>,

    /// MiB of gathered rows kept in memory before they go to staging files
    /// on disk (0: always to disk, as tests of crash safety need). Default:
    /// an eighth of the memory available (within a container's cgroup
    /// limit too), from 256 to 2048 MiB; meter values and events at most
    /// 256 MiB
    #[arg(long, value_name = "MIB", hide = true)]
    pub stage_memory: Option<usize>,

    /// Inputs up to this many MiB in all have their OCPP frames rebuilt in
    /// memory; larger ones go through bucket files by charge point on disk
    /// (0: always on disk)
    #[arg(long, default_value_t = 256, value_name = "MIB", hide = true)]
    pub ocpp_memory: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Auto,
    Csv,
    Json,
    OcppJsonl,
    OcppLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtoArg {
    #[value(name = "ocpp1.6")]
    Ocpp16,
    #[value(name = "ocpp2.0.1")]
    Ocpp201,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateOrderArg {
    Dmy,
    Mdy,
    Ymd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AmbiguousArg {
    /// The first occurrence (summer time)
    Earliest,
    /// The second occurrence (standard time)
    Latest,
    /// Reject the row
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GapArg {
    /// Move the time forward by the length of the gap
    Shift,
    /// Reject the row
    Reject,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Only sessions of these id tags (repeat, or separate with commas)
    ///
    /// RFID / token ids exactly as stored.
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub id_tag: Vec<String>,

    /// At most N sessions (the earliest first)
    ///
    /// Sessions are listed by start time; --limit keeps the first N after the
    /// other filters.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BillBy {
    Customer,
    IdTag,
    Station,
}

fn parse_period(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a month YYYY-MM (e.g. 2026-10)"))
}

#[derive(Debug, Args)]
pub struct BillArgs {
    /// Tariff file: evmon TOML (see examples/tariff.toml) or OCPI 2.2.1 Tariff JSON (.json); default: `tariff` in evmon.toml
    ///
    /// Several [[tariff]] tables can cover different stations or sites. A wrong
    /// key or value is reported with its line. See the README's Billing section
    /// and examples/tariff.toml.
    #[arg(long, value_name = "FILE")]
    pub tariff: Option<PathBuf>,

    /// Bill sessions that start in this month, in each station's local time
    ///
    /// A session belongs to the month its start falls in, in its station's zone
    /// (or the tariff's). Use --since/--until for any other window.
    #[arg(long, value_parser = parse_period, value_name = "YYYY-MM", conflicts_with_all = ["since", "until"])]
    pub period: Option<chrono::NaiveDate>,

    #[command(flatten)]
    pub window: WindowArgs,

    /// Only sessions of these id tags
    ///
    /// Repeat, or separate with commas. Invoices then hold only those tags'
    /// sessions.
    #[arg(long, value_delimiter = ',', value_name = "TAG")]
    pub id_tag: Vec<String>,

    /// Id tag to customer mapping (CSV: id_tag,customer); adds to the tariff file's
    ///
    /// Customers group id tags on one invoice (--by customer) and are what
    /// customer discounts match. The file is read on top of the `customers`
    /// file named in the tariff.
    #[arg(long, value_name = "FILE")]
    pub customers: Option<PathBuf>,

    /// Whom invoices are for
    ///
    /// customer: one invoice per customer (tags without a customer get one
    /// each); id-tag: per tag; station: per station, e.g. for site owners.
    #[arg(long, value_enum, default_value_t = BillBy::Customer, value_name = "PARTY")]
    pub by: BillBy,

    /// One row per session (kWh per band, amounts, VAT) instead of invoices
    ///
    /// Each row is one session with its energy per band, every priced
    /// dimension, the rounded amounts and VAT, and how it was split (meter
    /// curve or pro rata).
    #[arg(long)]
    pub lines: bool,

    /// With --lines, list the sessions that were not billed too, with the reason
    ///
    /// Sessions are not billed when they never stopped, have no energy reading,
    /// no tariff or time zone covers them, or a blocking anomaly (meter
    /// regression, duplicate, clock skew, rejected tag) makes the price
    /// untrustworthy.
    #[arg(long)]
    pub include_unbillable: bool,

    /// Write OCPI 2.2.1 CDRs (JSON array) of the billed sessions to FILE
    ///
    /// One CDR per billed session, with charging periods and the tariff it was
    /// priced with, for roaming partners and CPO back-offices.
    #[arg(long, value_name = "FILE")]
    pub cdr_out: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum SeverityArg {
    Info,
    Warning,
    Critical,
}

fn parse_kind(s: &str) -> Result<String, String> {
    crate::anomaly::KINDS
        .iter()
        .find(|(k, _)| *k == s.trim())
        .map(|(k, _)| k.to_string())
        .ok_or_else(|| {
            let names: Vec<&str> = crate::anomaly::KINDS.iter().map(|(k, _)| *k).collect();
            format!("unknown kind '{s}'; kinds are: {}", names.join(", "))
        })
}

#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Only these kinds (comma-separated; see below)
    ///
    /// The kinds and their rules are listed below and in the README; thresholds
    /// come from [anomalies] in evmon.toml.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind, value_name = "KINDS")]
    pub kinds: Vec<String>,

    /// Show findings of this severity and above
    ///
    /// info shows everything; warning hides the statistical hints; critical
    /// keeps only what needs action now.
    #[arg(long, value_enum, default_value_t = SeverityArg::Info, value_name = "LEVEL")]
    pub min_severity: SeverityArg,

    /// Exit 3 when a finding of this severity or above exists (for cron and CI)
    ///
    /// Without it the exit code is 0 whatever is found. With it, cron or CI can
    /// alert on exit code 3 while stdout carries the findings.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<SeverityArg>,

    /// Known id tags (CSV with an id_tag column, or one tag per line): flag any other
    ///
    /// Each session whose id tag is not in the list is reported as unknown_tag.
    /// Use it to catch cards that were never issued, or test cards used in
    /// production.
    #[arg(long, value_name = "FILE")]
    pub allow_list: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileBy {
    Station,
    Site,
    Connector,
    Day,
    HourOfWeek,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// What each row stands for
    ///
    /// station: one row per station with every metric and hint; site;
    /// connector; day: the fleet per local day; hour-of-week: the load shape.
    #[arg(long, value_enum, default_value_t = ProfileBy::Station, value_name = "GROUP")]
    pub by: ProfileBy,

    /// Print the maintenance hints, one per row with its evidence, instead of the profile
    ///
    /// Each hint names its rule, threshold and the numbers that triggered it,
    /// so it can be checked before sending a technician.
    #[arg(long)]
    pub hints: bool,

    /// Draw daily energy (top stations) and the hour-of-week heat map into FILE.svg
    ///
    /// SVG needs no fonts on the machine that draws it and opens in any
    /// browser; convert with `rsvg-convert -o plot.png plot.svg`.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Stations drawn in the daily energy plot
    ///
    /// Stations are ranked by energy in the window.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub plot_top: usize,

    /// Grid emissions in g CO2e per kWh (default 214: EEA, EU-27 2023)
    ///
    /// Used for every hour the --grid-intensity-file does not cover. National
    /// averages are published by the EEA and by grid operators.
    #[arg(long, value_name = "G_PER_KWH")]
    pub grid_intensity: Option<f64>,

    /// Hourly grid intensity CSV: timestamp,g_per_kwh (joined on each hour's energy)
    ///
    /// Each session's energy is spread over the hours it charged, and each hour
    /// is multiplied by that hour's intensity; hours missing from the file use
    /// --grid-intensity and are counted in the summary.
    #[arg(long, value_name = "FILE")]
    pub grid_intensity_file: Option<PathBuf>,

    /// Tailpipe emissions of the petrol car an EV replaces, g CO2/km (default 121.6: EEA)
    ///
    /// CO2 avoided = energy / (EV kWh per km) x petrol g per km - grid CO2 of
    /// that energy.
    #[arg(long, value_name = "G_PER_KM")]
    pub petrol_g_per_km: Option<f64>,

    /// Energy an EV uses per km, charging losses included (default 0.18, an assumption)
    ///
    /// Together with --petrol-g-per-km this converts delivered energy into the
    /// petrol kilometres it replaces.
    #[arg(long, value_name = "KWH_PER_KM")]
    pub ev_kwh_per_km: Option<f64>,

    /// underpowered: peak power below this share of rated power
    ///
    /// Compares the highest power a station delivered in the window with its
    /// rated power from the station metadata. A charger that never gets near
    /// its rating may have a derated module or a bad cable.
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "RATIO",
        help_heading = "Hint thresholds"
    )]
    pub hint_low_power: f64,

    /// weaker_than_peers: median session power below this share of same-rating peers
    ///
    /// Compares each station's median session power with the median of stations
    /// of the same rating, so one slow charger stands out among its peers.
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "RATIO",
        help_heading = "Hint thresholds"
    )]
    pub hint_peer_power: f64,

    /// Sessions a station needs before power, idle and drift hints are judged
    ///
    /// Below this many sessions a station's power, idle and drift figures are
    /// too noisy to judge, and those hints are not given.
    #[arg(
        long,
        default_value_t = 5,
        value_name = "N",
        help_heading = "Hint thresholds"
    )]
    pub hint_min_sessions: u64,

    /// recurring_faults: at least this many faults in the window
    ///
    /// Counts Faulted statuses and 2.0.1 problem events in the window, with the
    /// most frequent error codes as evidence.
    #[arg(
        long,
        default_value_t = 3,
        value_name = "N",
        help_heading = "Hint thresholds"
    )]
    pub hint_faults: u64,

    /// silent: no session for this many days while other stations had sessions
    ///
    /// A station without sessions while the rest of the fleet was busy is
    /// likely down, blocked or unreachable.
    #[arg(
        long,
        default_value_t = 3,
        value_name = "DAYS",
        help_heading = "Hint thresholds"
    )]
    pub hint_silent_days: i64,

    /// energy_drift: change of mean kWh per session between the window's halves
    ///
    /// A ratio: 0.3 flags a station whose mean energy per session moved by more
    /// than 30% between the first and second half of the window.
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "RATIO",
        help_heading = "Hint thresholds"
    )]
    pub hint_drift: f64,

    /// idle_blocking: idle time above this share of plugged-in time
    ///
    /// Cars that stay plugged in long after charging block the charger; a high
    /// share suggests an idle fee or a time limit.
    #[arg(
        long,
        default_value_t = 0.6,
        value_name = "RATIO",
        help_heading = "Hint thresholds"
    )]
    pub hint_idle_share: f64,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Only these kinds: status, authorize, boot, heartbeat_gap, notify_event, call_error
    ///
    /// status: StatusNotification (status and error code); authorize: Authorize
    /// with its answer; boot: BootNotification; heartbeat_gap: silences longer
    /// than twice the heartbeat interval; notify_event: 2.0.1 problems;
    /// call_error: CALLERROR answers.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    pub kind: Vec<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RejectsArgs {
    /// Only rejects from source files whose name contains TEXT
    ///
    /// A substring of the input path as given to `evmon ingest`.
    #[arg(long, value_name = "TEXT")]
    pub file: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Drop partitions whose file is missing or damaged from the manifest,
    /// so the store reads again; then restore their rows with
    /// `evmon ingest --force` on the original inputs
    ///
    /// The repair takes the writer lock, drops the damaged partitions from the
    /// manifest and lists them with the inputs recorded in the store. Nothing
    /// else changes; files are never edited.
    #[arg(long)]
    pub repair: bool,

    /// Seconds to wait for an ingest to release the store (with --repair)
    ///
    /// A plain check takes no lock and never waits.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StationsArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_preset_and_field() {
        for p in PRESETS {
            assert!(INGEST_HELP.contains(p.name), "{}", p.name);
        }
        for f in Field::ALL {
            assert!(INGEST_HELP.contains(f.name()), "{}", f.name());
        }
    }

    #[test]
    fn map_values() {
        assert_eq!(
            parse_map("start=Plug in").unwrap(),
            (Field::Start, "Plug in".into())
        );
        assert!(parse_map("start").is_err());
        assert!(parse_map("bogus=x").unwrap_err().contains("station_id"));
        assert!(parse_map("start=").is_err());
    }
}

/// Kinds `evmon watch` can judge live, frame by frame.
pub const LIVE_KINDS: &[&str] = &[
    "power_spike",
    "meter_regression",
    "auth_rejected",
    "faulted",
    "open_session",
    "station_silent",
];

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// OCPP log files, directories (every file below) or glob patterns to follow
    ///
    /// Paths are looked at again on every pass, so files created later (daily
    /// logs) are picked up. Rotated files keep their position; truncated or
    /// replaced ones are read from the start.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,

    /// Seconds between looks at the files
    ///
    /// Each pass reads the new complete lines, stores them in one commit and
    /// evaluates the rules. Shorter intervals lower the latency and cost more
    /// CPU.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub interval: f64,

    /// Seconds a fault, silence or open session must last before it alerts
    ///
    /// Applies to states that can end: a Faulted connector, a silent charge
    /// point, a session open too long. A condition that ends sooner never
    /// alerts. Events (spike, register reset, charging on a rejected tag) alert
    /// at once.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub debounce: u64,

    /// Rules to evaluate (default: all that can be judged live)
    ///
    /// Live kinds: power_spike, meter_regression, auth_rejected, faulted,
    /// open_session, station_silent. Other kinds are accepted and evaluated on
    /// the stored window each pass.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind, value_name = "KINDS")]
    pub kinds: Vec<String>,

    /// Run this shell command for each finding, with the finding's JSON line on stdin
    ///
    /// Run with sh -c; a failing command is reported on stderr and does not
    /// stop the watch. Example: --exec 'jq -r .detail | mail -s evmon
    /// ops@example.com'.
    #[arg(long, value_name = "COMMAND")]
    pub exec: Option<String>,

    /// Hours of the store the rules look at on each evaluation
    ///
    /// Sessions and events older than this are not judged again; baselines read
    /// a further baseline_days (evmon.toml) of history.
    #[arg(long, default_value_t = 48, value_name = "HOURS")]
    pub lookback_hours: u64,

    /// Seconds without any frame before a charge point counts as silent
    /// (default: twice its heartbeat interval, at least 600)
    ///
    /// The default follows each charge point's heartbeat interval, from its
    /// BootNotification answer.
    #[arg(long, value_name = "SECS")]
    pub silent_after: Option<u64>,

    /// Seconds a CALL waits for its answer before it is stored alone
    ///
    /// A 1.6 StartTransaction gets its transactionId from the answer. Storing
    /// the call without it would lose the session, so the watch waits for the
    /// answer up to this long.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub pair_wait: u64,

    /// Read what is there, evaluate once, and exit (for tests and cron)
    ///
    /// Drains the backlog in pieces, evaluates once and exits 0. Offsets and
    /// alerts are saved as in a long run, so the next --once goes on from
    /// there.
    #[arg(long)]
    pub once: bool,

    /// Charge point id for raw log files that do not name it (default: the file name)
    ///
    /// JSON envelopes carry the charge point id in `cp`; raw logs often do not.
    #[arg(long, value_name = "ID")]
    pub cp: Option<String>,

    /// Protocol when the log does not say
    ///
    /// ocpp1.6 or ocpp2.0.1, for raw logs that do not show which.
    #[arg(long, value_enum, value_name = "VERSION")]
    pub proto: Option<ProtoArg>,

    /// Seconds to wait for an ingest to release the store
    ///
    /// The watch commits once per pass. If an `evmon ingest` holds the store,
    /// the pass waits for it.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub lock_timeout: u64,
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every subcommand shows examples and every option explains itself,
    /// in `--help`, the man pages and the shell completions alike.
    #[test]
    fn every_command_has_examples_and_every_option_a_help() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        for sub in cli.get_subcommands() {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Examples:") || after.contains("Install:"),
                "`evmon {} --help` shows no examples",
                sub.get_name()
            );
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                assert!(
                    arg.get_help()
                        .is_some_and(|h| !h.to_string().trim().is_empty()),
                    "evmon {} {} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
                // `--help` (long) explains more than `-h` (one line).
                assert!(
                    arg.get_long_help().is_some(),
                    "evmon {} {} has no longer doc",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
        for arg in cli.get_arguments().filter(|a| !a.is_hide_set()) {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" {
                assert!(
                    arg.get_long_help().is_some(),
                    "evmon --{id} has no longer doc"
                );
            }
        }
    }
}
