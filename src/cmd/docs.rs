//! `evmon completions` and `evmon man`: shell completions and man pages
//! generated from the same clap definitions as `--help`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit;

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics on a write error, and a
    // closed pipe (`evmon completions bash | head`) is not worth a panic.
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "evmon", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::from(exit::OK))
}

pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
        }
    }
    Ok(ExitCode::from(exit::OK))
}
