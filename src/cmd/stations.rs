//! `evmon stations`: the station metadata the store holds, whether given
//! with `--stations` or read from an export.

use std::process::ExitCode;

use polars::prelude::*;

use super::write_output;
use crate::cli::{GlobalArgs, StationsArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;

pub fn run(args: &StationsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let df = snapshot
        .scan(Table::Stations, &Default::default())?
        .sort([col::STATION_ID], SortMultipleOptions::default())
        .collect()?;
    write_output(
        &df,
        &args.output,
        table_view,
        TableStyle {
            decimals: vec![(col::RATED_POWER_KW, 1)],
            ..TableStyle::default()
        },
    )?;
    Ok(ExitCode::from(exit::OK))
}

fn table_view(df: &DataFrame) -> PolarsResult<DataFrame> {
    df.clone()
        .lazy()
        .select([
            col(col::STATION_ID),
            col(col::SITE),
            col(col::TIMEZONE),
            col(col::RATED_POWER_KW),
            col(col::CONNECTORS),
            col(col::ORIGIN),
        ])
        .collect()
}
