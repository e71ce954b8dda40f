//! Progress bars on stderr: shown only on a terminal, never with `--quiet`
//! or `--progress off`, and without colour when `NO_COLOR` is set.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Auto,
    On,
    Off,
}

/// A byte-count progress bar, or a hidden one.
pub fn bytes_bar(mode: Mode, quiet: bool, total: u64, message: &str) -> ProgressBar {
    let show = !quiet
        && match mode {
            Mode::On => true,
            Mode::Off => false,
            Mode::Auto => std::io::stderr().is_terminal(),
        };
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = if std::env::var_os("NO_COLOR").is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    } else {
        "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
