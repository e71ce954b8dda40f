//! `evmon events`: status changes, authorizations, boots, faults and
//! heartbeat gaps reconstructed from OCPP dumps.

use std::process::ExitCode;

use polars::prelude::*;

use super::{is_one_of, lit_time, write_output};
use crate::cli::{EventsArgs, GlobalArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;
use crate::timeutil::TimeRange;

pub fn run(args: &EventsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let range = TimeRange {
        since: args.window.since,
        until: args.window.until,
    };
    let mut lf = snapshot.scan(Table::Events, &range)?;
    if let Some(since) = range.since {
        lf = lf.filter(col(col::TS).gt_eq(lit_time(since)));
    }
    if let Some(until) = range.until {
        lf = lf.filter(col(col::TS).lt(lit_time(until)));
    }
    if !args.window.station.is_empty() {
        lf = lf.filter(is_one_of(col::STATION_ID, &args.window.station));
    }
    if !args.kind.is_empty() {
        lf = lf.filter(is_one_of(col::KIND, &args.kind));
    }
    let df = lf
        .sort([col::TS, col::STATION_ID], SortMultipleOptions::default())
        .collect()?;
    write_output(&df, &args.output, table_view, TableStyle::default())?;
    Ok(ExitCode::from(exit::OK))
}

fn table_view(df: &DataFrame) -> PolarsResult<DataFrame> {
    df.clone()
        .lazy()
        .select([
            col(col::TS).alias("time (UTC)"),
            col(col::STATION_ID).alias("station"),
            col(col::CONNECTOR_ID).alias("conn"),
            col(col::KIND).alias("kind"),
            col(col::STATUS).alias("status"),
            col(col::ERROR_CODE).alias("error code"),
            col(col::ID_TAG).alias("id tag"),
            col(col::AUTH_STATUS).alias("auth"),
            col(col::INFO).alias("info"),
        ])
        .collect()
}
