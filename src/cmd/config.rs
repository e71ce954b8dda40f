//! `evmon config show`: the effective settings, one row each, with the
//! value in force and where it came from (flag, env, evmon.toml, default).

use std::process::ExitCode;

use polars::prelude::*;

use super::write_output;
use crate::cli::{ConfigAction, ConfigArgs, GlobalArgs};
use crate::exit;
use crate::output::TableStyle;

pub fn run(args: &ConfigArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ConfigAction::Show(show) = &args.action;
    let o = &global.origins;
    let df = DataFrame::new(
        o.len(),
        vec![
            Column::new(
                "setting".into(),
                o.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                o.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "source".into(),
                o.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )?;
    write_output(&df, &show.output, |d| Ok(d.clone()), TableStyle::default())?;
    Ok(ExitCode::from(exit::OK))
}
