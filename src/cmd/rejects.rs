//! `evmon rejects`: the input rows that could not be read, with file, line,
//! column and reason, so nothing is lost silently.

use std::process::ExitCode;

use polars::prelude::*;

use super::write_output;
use crate::cli::{GlobalArgs, RejectsArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;

pub fn run(args: &RejectsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let mut lf = snapshot.scan(Table::Rejects, &Default::default())?;
    if let Some(text) = &args.file {
        lf = lf.filter(
            col(col::SOURCE_FILE)
                .str()
                .contains_literal(lit(text.clone())),
        );
    }
    let df = lf
        .sort(
            [col::SOURCE_FILE, col::LINE],
            SortMultipleOptions::default(),
        )
        .collect()?;
    write_output(&df, &args.output, table_view, TableStyle::default())?;
    Ok(ExitCode::from(exit::OK))
}

fn table_view(df: &DataFrame) -> PolarsResult<DataFrame> {
    df.clone()
        .lazy()
        .select([
            col(col::SOURCE_FILE).alias("file"),
            col(col::LINE).alias("line"),
            col(col::FIELD).alias("column"),
            col(col::REASON).alias("reason"),
        ])
        .collect()
}
