//! Using evmon as a library: open a store and total the energy per station
//! with a polars lazy query.
//!
//!     cargo run --example sessions_from_lib -- ./evmon-data-demo

use evmon::schema::{col, Table};
use evmon::store::Store;
use polars::prelude::*;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "./evmon-data".into());
    let store = Store::open(dir)?;
    let snapshot = store.snapshot()?;
    let per_station = snapshot
        .scan(Table::Sessions, &Default::default())?
        .group_by([polars::prelude::col(col::STATION_ID)])
        .agg([
            len().alias("sessions"),
            (polars::prelude::col(col::ENERGY_WH).sum() / lit(1000.0)).alias("kwh"),
        ])
        .sort([col::STATION_ID], SortMultipleOptions::default())
        .collect()?;
    println!("{per_station}");
    Ok(())
}
