//! Integration tests: run the real `evmon` binary on `testdata/`.
//!
//! One test binary (as in ripgrep and xsv) keeps link time down; each
//! module covers one area of the command-line contract.

mod util;

mod anomalies;
mod billing;
mod cli;
mod ingest;
mod interop;
mod ocpp;
mod profile;
mod reliability;
mod remote;
mod report;
mod robust;
mod sessions;
mod store;
mod watch;
