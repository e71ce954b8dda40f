//! The declared schemas of the store's tables, and their column names.
//!
//! Every table evmon writes is declared here, once. Readers and writers use
//! these constants instead of string literals, and Parquet files are written
//! with exactly these schemas (never inferred), so other engines (DuckDB,
//! Spark, Trino) see stable column names and types.

use polars::prelude::*;

/// Column names, shared by all tables that carry the column.
pub mod col {
    pub const SESSION_UID: &str = "session_uid";
    pub const TRANSACTION_ID: &str = "transaction_id";
    pub const STATION_ID: &str = "station_id";
    pub const CONNECTOR_ID: &str = "connector_id";
    pub const ID_TAG: &str = "id_tag";
    pub const START: &str = "start";
    pub const STOP: &str = "stop";
    pub const CHARGING_END: &str = "charging_end";
    pub const METER_START_WH: &str = "meter_start_wh";
    pub const METER_STOP_WH: &str = "meter_stop_wh";
    pub const ENERGY_WH: &str = "energy_wh";
    pub const MAX_POWER_W: &str = "max_power_w";
    pub const STOP_REASON: &str = "stop_reason";
    pub const SOURCE: &str = "source";
    pub const SOURCE_FILE: &str = "source_file";
    pub const SOURCE_LINE: &str = "source_line";

    pub const TS: &str = "ts";
    pub const MEASURAND: &str = "measurand";
    pub const PHASE: &str = "phase";
    pub const CONTEXT: &str = "context";
    pub const VALUE: &str = "value";
    pub const UNIT: &str = "unit";

    pub const KIND: &str = "kind";
    pub const STATUS: &str = "status";
    pub const ERROR_CODE: &str = "error_code";
    pub const AUTH_STATUS: &str = "auth_status";
    pub const INFO: &str = "info";

    pub const SITE: &str = "site";
    pub const TIMEZONE: &str = "timezone";
    pub const RATED_POWER_KW: &str = "rated_power_kw";
    pub const CONNECTORS: &str = "connectors";
    pub const ORIGIN: &str = "origin";

    pub const LINE: &str = "line";
    pub const FIELD: &str = "field";
    pub const REASON: &str = "reason";
    pub const RAW: &str = "raw";
    pub const INGESTED_AT: &str = "ingested_at";
}

/// The tables of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Sessions,
    MeterValues,
    Events,
    Stations,
    Rejects,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Sessions,
        Table::MeterValues,
        Table::Events,
        Table::Stations,
        Table::Rejects,
    ];

    /// Directory name of the table inside the store.
    pub fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::MeterValues => "meter_values",
            Table::Events => "events",
            Table::Stations => "stations",
            Table::Rejects => "rejects",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The timestamp column that decides a row's month partition, or `None`
    /// for tables kept unpartitioned (station metadata is small).
    pub fn partition_column(self) -> Option<&'static str> {
        match self {
            Table::Sessions => Some(col::START),
            Table::MeterValues | Table::Events => Some(col::TS),
            // Rejects have no event time; one partition lets a re-ingest
            // recognise the rejects it already recorded.
            Table::Rejects | Table::Stations => None,
        }
    }

    /// Columns written to Parquet plainly, without polars' estimate of
    /// their distinct values (a pass hashing every value): the table's key
    /// where it is one unique text, and floats, which polars never writes
    /// as a dictionary anyway. Transaction ids are not among them: OCPP
    /// charge points reuse them, and a dictionary then pays.
    pub fn plain_columns(self) -> &'static [&'static str] {
        match self {
            Table::Sessions => &[
                col::SESSION_UID,
                col::METER_START_WH,
                col::METER_STOP_WH,
                col::ENERGY_WH,
                col::MAX_POWER_W,
            ],
            Table::MeterValues => &[col::VALUE],
            Table::Rejects | Table::Events | Table::Stations => &[],
        }
    }

    /// Natural key: two rows with the same key are the same fact, so
    /// re-ingesting a file adds nothing.
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Table::Sessions => &[col::SESSION_UID],
            Table::MeterValues => &[
                col::STATION_ID,
                col::CONNECTOR_ID,
                col::SESSION_UID,
                col::TS,
                col::MEASURAND,
                col::PHASE,
            ],
            Table::Events => &[
                col::STATION_ID,
                col::CONNECTOR_ID,
                col::TS,
                col::KIND,
                col::STATUS,
                col::ERROR_CODE,
                col::ID_TAG,
            ],
            Table::Stations => &[col::STATION_ID],
            Table::Rejects => &[col::SOURCE_FILE, col::LINE, col::REASON],
        }
    }

    /// When several rows share a key, the one sorting last on these columns
    /// (after the key) is kept; on a full tie the row already stored stays.
    /// The order does not depend on which file was ingested first, so ingest
    /// order never changes the result.
    pub fn preference_columns(self) -> &'static [&'static str] {
        match self {
            // A session seen complete beats one seen still open; then more
            // energy (a later, fuller export), then the source for a total order.
            Table::Sessions => &[
                col::STOP,
                col::ENERGY_WH,
                col::CHARGING_END,
                col::SOURCE_FILE,
                col::SOURCE_LINE,
            ],
            Table::MeterValues => &[col::VALUE, col::CONTEXT, col::UNIT],
            Table::Events => &[col::AUTH_STATUS, col::INFO, col::SOURCE_FILE],
            // Metadata given by the user beats what an export implied, and
            // the latest metadata import wins (inferred rows carry no time).
            Table::Stations => &[col::ORIGIN, col::INGESTED_AT],
            Table::Rejects => &[col::RAW, col::FIELD],
        }
    }

    /// Column the table is sorted by inside each partition file.
    pub fn sort_columns(self) -> &'static [&'static str] {
        match self {
            Table::Sessions => &[col::START, col::STATION_ID, col::SESSION_UID],
            Table::MeterValues => &[col::STATION_ID, col::CONNECTOR_ID, col::TS],
            Table::Events => &[col::TS, col::STATION_ID],
            Table::Stations => &[col::STATION_ID],
            Table::Rejects => &[col::SOURCE_FILE, col::LINE],
        }
    }

    /// The declared schema of the table.
    pub fn schema(self) -> Schema {
        match self {
            Table::Sessions => sessions_schema(),
            Table::MeterValues => meter_values_schema(),
            Table::Events => events_schema(),
            Table::Stations => stations_schema(),
            Table::Rejects => rejects_schema(),
        }
    }
}

/// A column as 64-bit integers (datetimes: microseconds since the epoch),
/// for code that walks rows.
pub fn i64_values(df: &DataFrame, name: &str) -> PolarsResult<Int64Chunked> {
    Ok(df.column(name)?.cast(&DataType::Int64)?.i64()?.clone())
}

/// A column as 64-bit floats, for code that walks rows.
pub fn f64_values(df: &DataFrame, name: &str) -> PolarsResult<Float64Chunked> {
    Ok(df.column(name)?.cast(&DataType::Float64)?.f64()?.clone())
}

/// One chunk of a numeric column, read by row index: on tens of millions
/// of rows, zipped polars option iterators cost more than the work done
/// per row.
pub struct ChunkValues<'a, T> {
    values: &'a [T],
    /// The validity bits (LSB first) and the bit offset of the first row;
    /// `None` when every value is set.
    valid: Option<(&'a [u8], usize)>,
}

impl<T: Copy> ChunkValues<'_, T> {
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        if let Some((bits, offset)) = self.valid {
            let k = offset + i;
            if bits[k / 8] >> (k % 8) & 1 == 0 {
                return None;
            }
        }
        Some(self.values[i])
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The chunks of a numeric column, for [`ChunkValues::get`].
pub fn chunk_values<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Vec<ChunkValues<'_, T::Native>> {
    ca.downcast_iter()
        .map(|a| ChunkValues {
            values: a.values().as_slice(),
            valid: a.validity().filter(|b| b.unset_bits() > 0).map(|b| {
                let (bits, offset, _) = b.as_slice();
                (bits, offset)
            }),
        })
        .collect()
}

/// UTC instants at microsecond resolution: every time in the store.
pub fn utc_datetime() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

fn schema_of(fields: &[(&str, DataType)]) -> Schema {
    fields
        .iter()
        .map(|(name, dtype)| Field::new((*name).into(), dtype.clone()))
        .collect()
}

/// One row per charging session (plug-in to plug-out).
pub fn sessions_schema() -> Schema {
    use col::*;
    schema_of(&[
        (SESSION_UID, DataType::String),
        (TRANSACTION_ID, DataType::String),
        (STATION_ID, DataType::String),
        (CONNECTOR_ID, DataType::Int32),
        (ID_TAG, DataType::String),
        (AUTH_STATUS, DataType::String),
        (START, utc_datetime()),
        (STOP, utc_datetime()),
        (CHARGING_END, utc_datetime()),
        (METER_START_WH, DataType::Float64),
        (METER_STOP_WH, DataType::Float64),
        (ENERGY_WH, DataType::Float64),
        (MAX_POWER_W, DataType::Float64),
        (STOP_REASON, DataType::String),
        (SOURCE, DataType::String),
        (SOURCE_FILE, DataType::String),
        (SOURCE_LINE, DataType::UInt64),
    ])
}

/// One row per sampled value (long format), normalised to Wh / W / A / V.
pub fn meter_values_schema() -> Schema {
    use col::*;
    schema_of(&[
        (SESSION_UID, DataType::String),
        (STATION_ID, DataType::String),
        (CONNECTOR_ID, DataType::Int32),
        (TS, utc_datetime()),
        (MEASURAND, DataType::String),
        (PHASE, DataType::String),
        (CONTEXT, DataType::String),
        (VALUE, DataType::Float64),
        (UNIT, DataType::String),
        (SOURCE_FILE, DataType::String),
    ])
}

/// Status changes, authorizations, boots, errors.
pub fn events_schema() -> Schema {
    use col::*;
    schema_of(&[
        (STATION_ID, DataType::String),
        (CONNECTOR_ID, DataType::Int32),
        (TS, utc_datetime()),
        (KIND, DataType::String),
        (STATUS, DataType::String),
        (ERROR_CODE, DataType::String),
        (ID_TAG, DataType::String),
        (AUTH_STATUS, DataType::String),
        (INFO, DataType::String),
        (SOURCE_FILE, DataType::String),
    ])
}

/// Station metadata: given by the user (`origin = "metadata"`) or inferred
/// from what an export says about its stations (`origin = "inferred"`).
pub fn stations_schema() -> Schema {
    use col::*;
    schema_of(&[
        (STATION_ID, DataType::String),
        (SITE, DataType::String),
        (TIMEZONE, DataType::String),
        (RATED_POWER_KW, DataType::Float64),
        (CONNECTORS, DataType::Int32),
        (ORIGIN, DataType::String),
        (SOURCE_FILE, DataType::String),
        (INGESTED_AT, utc_datetime()),
    ])
}

/// Input that could not be read, kept with the reason.
pub fn rejects_schema() -> Schema {
    use col::*;
    schema_of(&[
        (SOURCE_FILE, DataType::String),
        (LINE, DataType::UInt64),
        (FIELD, DataType::String),
        (REASON, DataType::String),
        (RAW, DataType::String),
        (INGESTED_AT, utc_datetime()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_values_read_what_polars_reads() {
        // Several chunks, nulls, and a slice that starts mid-byte of the
        // validity bits: every row must read as `get` reads it.
        let mut ca = Int64Chunked::from_iter_options(
            "a".into(),
            (0..40i64).map(|i| (i % 3 != 0).then_some(i)),
        );
        ca.append(&Int64Chunked::from_slice("a".into(), &[7, 8, 9]))
            .unwrap();
        let sliced = Int64Chunked::from_iter_options(
            "a".into(),
            (0..30i64).map(|i| (i % 5 != 1).then_some(-i)),
        )
        .slice(3, 20);
        ca.append(&sliced).unwrap();
        assert!(ca.chunks().len() >= 3);
        let chunks = chunk_values(&ca);
        let read: Vec<Option<i64>> = chunks
            .iter()
            .flat_map(|c| (0..c.len()).map(move |i| c.get(i)))
            .collect();
        assert_eq!(read, ca.iter().collect::<Vec<_>>());
    }

    #[test]
    fn keys_and_preferences_are_columns_of_their_table() {
        for table in Table::ALL {
            let schema = table.schema();
            let partition = table.partition_column();
            let cols = table
                .key_columns()
                .iter()
                .chain(table.preference_columns())
                .chain(table.sort_columns())
                .chain(partition.as_ref());
            for c in cols {
                assert!(schema.contains(c), "{} has no column {c}", table.name());
            }
        }
    }

    #[test]
    fn table_names_round_trip() {
        for table in Table::ALL {
            assert_eq!(Table::from_name(table.name()), Some(table));
        }
    }
}

#[cfg(test)]
mod docs {
    use super::*;

    /// docs/schema.md documents every column of every table, with its type.
    #[test]
    fn the_schema_document_lists_every_column() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md"))
            .expect("docs/schema.md");
        for table in Table::ALL {
            let heading = format!("## {}\n", table.name());
            let start = text
                .find(&heading)
                .unwrap_or_else(|| panic!("docs/schema.md has no section {heading}"));
            let section = &text[start + heading.len()..];
            let section = &section[..section.find("\n## ").unwrap_or(section.len())];
            for field in table.schema().iter_fields() {
                let kind = match field.dtype() {
                    DataType::String => "string",
                    DataType::Int32 => "int32",
                    DataType::UInt64 => "uint64",
                    DataType::Float64 => "float64",
                    DataType::Datetime(_, _) => "timestamp (UTC)",
                    other => panic!("document the type {other}"),
                };
                let row = format!("| {} | {kind} |", field.name());
                assert!(
                    section.contains(&row),
                    "docs/schema.md, {}: no row starting `{row}`",
                    table.name()
                );
            }
        }
    }
}
