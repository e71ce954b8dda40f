//! The store manifest: which Parquet file holds each partition of each
//! table, and which input files were already ingested.
//!
//! The manifest is the commit point of the store. A writer writes new
//! partition files first, then replaces `manifest.json` atomically (temp file,
//! fsync, rename). Readers only open files the manifest lists, so they always
//! see one consistent version, whatever a crashed or concurrent writer left.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Current manifest format. Bump when the layout changes incompatibly.
pub const FORMAT: u32 = 1;

/// Name of the partition of unpartitioned tables.
pub const ALL_PARTITION: &str = "all";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Incremented by every committed write.
    pub version: u64,
    pub updated_at: Option<String>,
    /// table name -> partition name (`month=2026-10`, or `all`) -> file.
    pub tables: BTreeMap<String, BTreeMap<String, PartitionEntry>>,
    /// blake3 hash of an ingested input file -> what came of it.
    pub sources: BTreeMap<String, SourceRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Path relative to the store root, with `/` separators.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// One ingested input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub path: String,
    pub bytes: u64,
    pub format: String,
    pub rows_read: u64,
    pub rejected: u64,
    pub ingested_at: String,
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest {
            format: FORMAT,
            ..Manifest::default()
        }
    }

    /// The partitions of `table`, in partition order.
    pub fn partitions(&self, table: &str) -> impl Iterator<Item = (&String, &PartitionEntry)> {
        self.tables.get(table).into_iter().flat_map(|p| p.iter())
    }

    /// Every file the manifest references.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.tables
            .values()
            .flat_map(|p| p.values())
            .map(|e| e.file.as_str())
    }

    pub fn rows(&self, table: &str) -> u64 {
        self.partitions(table).map(|(_, e)| e.rows).sum()
    }
}

/// `month=2026-10` for the month `2026-10`.
pub fn month_partition(month: &str) -> String {
    format!("month={month}")
}

/// The month (`2026-10`) of a `month=2026-10` partition name.
pub fn partition_month(partition: &str) -> Option<&str> {
    partition.strip_prefix("month=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip() {
        assert_eq!(
            partition_month(&month_partition("2026-10")),
            Some("2026-10")
        );
        assert_eq!(partition_month(ALL_PARTITION), None);
    }

    #[test]
    fn manifest_round_trips_through_json() {
        let mut m = Manifest::new();
        m.version = 3;
        m.tables.entry("sessions".into()).or_default().insert(
            month_partition("2026-10"),
            PartitionEntry {
                file: "sessions/month=2026-10/part-v00000003.parquet".into(),
                rows: 10,
                bytes: 2048,
            },
        );
        let text = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.rows("sessions"), 10);
        assert_eq!(back.files().count(), 1);
    }
}
