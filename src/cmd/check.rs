//! `evmon check`: verify the store against its manifest and list what is
//! wrong; exit 1 when an error is found. `--repair` drops damaged
//! partitions from the manifest so the rest of the store reads again.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use polars::prelude::*;

use super::{note, write_output};
use crate::cli::{CheckArgs, GlobalArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::store::verify::{verify, Level};
use crate::store::Store;

pub fn run(args: &CheckArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    // With --repair, hold the writer lock while checking so no ingest
    // commits between what we verify and what we drop.
    let txn = if args.repair {
        Some(
            store.begin_write(Duration::from_secs(args.lock_timeout), &mut |holder| {
                note(
                    global,
                    &format!("waiting for the store lock held by {holder}"),
                )
            })?,
        )
    } else {
        None
    };
    if let Some(previous) = txn.as_ref().and_then(|t| t.crashed_writer()) {
        note(
            global,
            &format!("an earlier ingest ({previous}) ended without finishing; its partial files were removed"),
        );
    }
    let (checked, problems) = verify(&store, txn.is_some())?;
    let mut errors = problems.iter().filter(|p| p.level == Level::Error).count();
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
    if let Some(mut txn) = txn {
        let damaged: BTreeSet<(&str, &str)> = problems
            .iter()
            .filter(|p| p.damaged)
            .map(|p| (p.table.as_str(), p.partition.as_str()))
            .collect();
        let mut dropped_rows = 0;
        for (table, partition) in &damaged {
            if let Some(entry) = txn.drop_partition(table, partition) {
                dropped_rows += entry.rows;
            }
        }
        let sources: Vec<String> = txn
            .manifest()
            .sources
            .values()
            .map(|s| s.path.clone())
            .collect();
        txn.commit()
            .context("cannot write the repaired manifest (the store is unchanged)")?;
        if damaged.is_empty() {
            note(global, "nothing to repair: no partition is damaged");
        } else {
            let list: Vec<String> = damaged.iter().map(|(t, p)| format!("{t}/{p}")).collect();
            let mut shown: Vec<&str> = sources.iter().take(3).map(String::as_str).collect();
            if sources.len() > shown.len() {
                shown.push("...");
            }
            note(
                global,
                &format!(
                    "repaired: dropped {} damaged partition(s) ({}) holding {} rows; the rest of the store reads again. \
                     Restore those rows with `evmon ingest --force` on the inputs that covered them (recorded inputs: {})",
                    damaged.len(),
                    list.join(", "),
                    dropped_rows,
                    shown.join(", ")
                ),
            );
        }
        // What remains wrong after the repair decides the exit code.
        let (_, after) = verify(&store, false)?;
        errors = after.iter().filter(|p| p.level == Level::Error).count();
    }
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
            Column::new(
                "damaged".into(),
                problems.iter().map(|p| p.damaged).collect::<Vec<_>>(),
            ),
        ],
    )?;
    write_output(&df, &args.output, |d| Ok(d.clone()), TableStyle::default())?;
    Ok(ExitCode::from(if errors > 0 {
        exit::ERROR
    } else {
        exit::OK
    }))
}
