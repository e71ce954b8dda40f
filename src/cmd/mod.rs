//! One file per subcommand. Each reads its inputs, calls the domain
//! modules, and writes the result: no domain logic lives here.

pub mod anomalies;
pub mod bill;
pub mod check;
pub mod config;
pub mod docs;
pub mod events;
pub mod ingest;
pub mod profile;
pub mod rejects;
pub mod report;
pub mod sessions;
pub mod stations;
pub mod watch;

use std::io::Write;

use anyhow::Context;
use polars::prelude::*;

use crate::cli::{GlobalArgs, OutputArgs, OutputFormat};
use crate::output::{self, TableStyle};

/// Print a note on stderr unless `--quiet`.
pub(crate) fn note(global: &GlobalArgs, message: &str) {
    if !global.quiet {
        eprintln!("evmon: {message}");
    }
}

/// Write `df` as the output options ask.
pub(crate) fn write_output(
    df: &DataFrame,
    args: &OutputArgs,
    table_view: impl FnOnce(&DataFrame) -> PolarsResult<DataFrame>,
    mut style: TableStyle,
) -> anyhow::Result<()> {
    emit(args, |out, format| {
        if format == output::Format::Table {
            style.max_rows = args.max_rows;
            let view = anyhow::Context::context(table_view(df), "cannot lay out the table")?;
            Ok(output::write_frame(out, &view, format, &style))
        } else {
            Ok(output::write_frame(out, df, format, &style))
        }
    })
}

/// Write `rows` rows of `T` in `columns` as the output options ask, made
/// a block at a time by `make` (given their range). As CSV, each block is
/// written straight from its rows once made: no more than a few blocks of
/// rows are in memory at once. A table or JSON is laid out from a frame
/// of all of them.
pub(crate) fn write_made_rows<T: Send + Sync>(
    rows: usize,
    columns: &[output::RowColumn<'_, T>],
    make: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
    args: &OutputArgs,
    mut style: TableStyle,
) -> anyhow::Result<()> {
    emit(args, |out, format| {
        if format == output::Format::Csv {
            return Ok(output::write_made_rows_csv(out, rows, columns, make));
        }
        style.max_rows = args.max_rows;
        let df = anyhow::Context::context(
            output::rows_frame(&output::made_rows(rows, make), columns),
            "cannot lay out the output",
        )?;
        Ok(output::write_frame(out, &df, format, &style))
    })
}

/// Resolve the format, open the output, let `write` fill it in that
/// format, and flush it. `write` fails before writing (the outer result)
/// or while writing (the inner one, reported against the output).
fn emit(
    args: &OutputArgs,
    write: impl FnOnce(&mut dyn std::io::Write, output::Format) -> anyhow::Result<std::io::Result<()>>,
) -> anyhow::Result<()> {
    let requested = match args.format {
        OutputFormat::Auto => None,
        OutputFormat::Table => Some(output::Format::Table),
        OutputFormat::Csv => Some(output::Format::Csv),
        OutputFormat::Json => Some(output::Format::Json),
    };
    let format = output::resolve_format(requested, args.output.as_deref());
    let mut out = output::open_output(args.output.as_ref())
        .with_context(|| format!("cannot write {}", display_output(args)))?;
    write(&mut out, format)?
        .and_then(|_| out.flush())
        .with_context(|| format!("cannot write {}", display_output(args)))?;
    Ok(())
}

fn display_output(args: &OutputArgs) -> String {
    args.output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string())
}

/// A literal UTC instant comparable with the store's time columns.
pub(crate) fn lit_time(t: chrono::DateTime<chrono::Utc>) -> Expr {
    lit(t.timestamp_micros()).cast(crate::schema::utc_datetime())
}

/// `column` is one of `values`.
pub(crate) fn is_one_of(column: &str, values: &[String]) -> Expr {
    let series = Series::new("values".into(), values);
    col(column).is_in(lit(series).implode(false), false)
}
