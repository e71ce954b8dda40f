//! `evmon check`: verify the store against its manifest and list what is
//! wrong; exit 1 when an error is found.

use std::process::ExitCode;

use polars::prelude::*;

use super::{note, write_output};
use crate::cli::{CheckArgs, GlobalArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::store::verify::{verify, Level};
use crate::store::Store;

pub fn run(args: &CheckArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let (checked, problems) = verify(&store)?;
    let errors = problems.iter().filter(|p| p.level == Level::Error).count();
    let df = DataFrame::new(
        problems.len(),
        vec![
            Column::new(
                "level".into(),
                problems.iter().map(|p| p.level.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                "table".into(),
                problems
                    .iter()
                    .map(|p| p.table.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "partition".into(),
                problems
                    .iter()
                    .map(|p| p.partition.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "problem".into(),
                problems
                    .iter()
                    .map(|p| p.problem.as_str())
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    write_output(&df, &args.output, |d| Ok(d.clone()), TableStyle::default())?;
    note(
        global,
        &format!(
            "checked manifest version {}: {} files, {} rows; {} errors, {} other findings",
            checked.version,
            checked.files,
            checked.rows,
            errors,
            problems.len() - errors
        ),
    );
    Ok(ExitCode::from(if errors > 0 {
        exit::ERROR
    } else {
        exit::OK
    }))
}
