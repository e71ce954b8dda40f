//! The `evmon` binary: parse the command line, run it, map errors to exit
//! codes (0 ok, 1 error, 2 usage, 3 findings). Everything else is in the
//! library.

use std::process::ExitCode;

use evmon::{exit, UsageError};

// glibc's allocator spent half of `evmon bill`'s time consolidating the
// millions of small allocations of session rows; mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match evmon::parse_args().and_then(evmon::run) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`evmon sessions | head`) is not an error.
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::from(exit::OK);
            }
            eprintln!("evmon: {}", evmon::error_message(&err));
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::from(exit::ERROR)
            }
        }
    }
}
