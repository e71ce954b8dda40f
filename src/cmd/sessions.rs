//! `evmon sessions`: list sessions from the store, filtered by time window,
//! station and id tag.

use std::process::ExitCode;

use polars::prelude::*;

use super::{is_one_of, lit_time, write_output};
use crate::cli::{GlobalArgs, SessionsArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;
use crate::timeutil::TimeRange;

pub fn run(args: &SessionsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let range = TimeRange {
        since: args.window.since,
        until: args.window.until,
    };
    let mut lf = snapshot.scan(Table::Sessions, &range)?;
    if let Some(since) = range.since {
        lf = lf.filter(col(col::START).gt_eq(lit_time(since)));
    }
    if let Some(until) = range.until {
        lf = lf.filter(col(col::START).lt(lit_time(until)));
    }
    if !args.window.station.is_empty() {
        lf = lf.filter(is_one_of(col::STATION_ID, &args.window.station));
    }
    if !args.id_tag.is_empty() {
        lf = lf.filter(is_one_of(col::ID_TAG, &args.id_tag));
    }
    lf = lf.sort(
        [col::START, col::STATION_ID, col::SESSION_UID],
        SortMultipleOptions::default(),
    );
    if let Some(n) = args.limit {
        lf = lf.limit(n as IdxSize);
    }
    let df = lf.collect()?;
    write_output(
        &df,
        &args.output,
        table_view,
        TableStyle {
            decimals: vec![("kWh", 2), ("hours", 2), ("max kW", 1)],
            ..TableStyle::default()
        },
    )?;
    Ok(ExitCode::from(exit::OK))
}

/// The columns a person wants to see, in friendlier units.
fn table_view(df: &DataFrame) -> PolarsResult<DataFrame> {
    df.clone()
        .lazy()
        .select([
            col(col::STATION_ID).alias("station"),
            col(col::CONNECTOR_ID).alias("conn"),
            col(col::ID_TAG).alias("id tag"),
            col(col::START).alias("start (UTC)"),
            col(col::STOP).alias("stop (UTC)"),
            ((col(col::STOP) - col(col::START))
                .dt()
                .total_seconds(false)
                .cast(DataType::Float64)
                / lit(3600.0))
            .alias("hours"),
            (col(col::ENERGY_WH) / lit(1000.0)).alias("kWh"),
            (col(col::MAX_POWER_W) / lit(1000.0)).alias("max kW"),
            col(col::STOP_REASON).alias("stop reason"),
        ])
        .collect()
}
