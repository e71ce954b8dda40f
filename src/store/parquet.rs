//! Parquet files of the store, written with each column's encoding chosen
//! from what the table holds rather than guessed per file.
//!
//! polars' `ParquetWriter` tries dictionary encoding for every text and
//! float column, deciding by a HyperLogLog estimate of its distinct values:
//! a hash of every value of every column at each write. On ten million
//! sessions that estimate, and the dictionaries built and then thrown away
//! for columns of unique values, cost seconds. Columns known to hold
//! (nearly) unique values (`Table::plain_columns`) are written plain here,
//! which is what the estimate would have decided anyway; the others keep
//! polars' choice. Text columns of few distinct values get their
//! dictionary in one pass here (`text_dictionary`), not an estimate and
//! then a dictionary. Timestamps and line numbers are delta-encoded and
//! not compressed.
//! Pages are encoded and compressed on every core.

use std::io::Write;

use polars::io::parquet::write::get_encodings;
use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, MutableBinaryViewArray, Utf8ViewArray};
use polars_arrow::datatypes::IntegerType;
use polars_parquet::write::{
    array_to_columns, compress, fallible_streaming_iterator, to_parquet_schema, CompressedPage,
    CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, ParquetType, Version,
    WriteOptions,
};
use rayon::prelude::*;

use crate::schema::Table;

/// Rows per row group, as polars writes them.
const ROW_GROUP_ROWS: usize = 512 * 512;

/// polars encodes a column of at most this many rows as a dictionary
/// without estimating anything; so does evmon, and small partitions stay
/// the files polars writes.
const SMALL_GROUP_ROWS: usize = 128;

/// How a file is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// A partition of the store: Snappy, with min/max/null statistics
    /// (what pruning reads), plain encoding for the table's unique columns.
    Partition,
    /// Rows set aside during an ingest, read back whole once: plain,
    /// uncompressed, no statistics.
    Staged,
}

/// Write `df`, a frame of `table`, as one Parquet file to `out`.
pub(super) fn write(
    out: impl Write,
    table: Table,
    df: &mut DataFrame,
    kind: Kind,
) -> PolarsResult<u64> {
    let arrow_schema = df.schema().to_arrow(CompatLevel::newest());
    let options = WriteOptions {
        statistics: match kind {
            // Min, max and null counts: distinct counts would cost a
            // HyperLogLog pass over every column.
            Kind::Partition => StatisticsOptions::default(),
            Kind::Staged => StatisticsOptions::empty(),
        },
        compression: match kind {
            // Snappy: what every Parquet reader understands (Spark, DuckDB,
            // pyarrow write it by default), and on ten million sessions
            // ingest spent 1.5-2 s less compressing than with zstd level
            // 1, and reads 0.2-0.3 s less decompressing, for files 1.5
            // times larger (582 against 389 MB).
            Kind::Partition => CompressionOptions::Snappy,
            Kind::Staged => CompressionOptions::Uncompressed,
        },
        version: Version::V1,
        data_page_size: None,
    };
    let defaults = get_encodings(&arrow_schema);
    let encodings: Vec<Vec<Encoding>> = arrow_schema
        .iter_values()
        .zip(defaults.iter())
        .map(|(field, default)| {
            let plain = match kind {
                Kind::Partition => table.plain_columns().contains(&field.name.as_str()),
                Kind::Staged => true,
            };
            // Timestamps and line numbers delta-encoded, not compressed:
            // Snappy made them 0.62-0.80 of their 8 bytes (a quarter of its
            // time at 10M), a delta of sorted starts takes about 3 bytes,
            // of stops about 4, of a month's source lines at most 4 (far
            // less when the export is in time order). Every Parquet reader
            // decodes DELTA_BINARY_PACKED (it is in the format since 2.0:
            // DuckDB, Spark, pyarrow, polars).
            let delta = matches!(kind, Kind::Partition)
                && matches!(
                    field.dtype,
                    ArrowDataType::Timestamp(_, _) | ArrowDataType::UInt64
                );
            if delta {
                vec![Encoding::DeltaBinaryPacked; default.len()]
            } else if plain {
                vec![Encoding::Plain; default.len()]
            } else {
                default.clone()
            }
        })
        .collect();
    let parquet_schema = to_parquet_schema(&arrow_schema)?;
    let fields: Vec<ParquetType> = parquet_schema.fields().to_vec();
    let mut writer =
        FileWriter::new_with_parquet_schema(out, arrow_schema, parquet_schema, options);

    let df = polars::frame::chunk_df_for_writing(df, ROW_GROUP_ROWS)?;
    for batch in df.iter_chunks(CompatLevel::newest(), false) {
        let rows = batch.len();
        if rows == 0 {
            continue;
        }
        // Each column's pages (a list per leaf column), encoded and
        // compressed on any core, then written in column order.
        let columns: Vec<Vec<Vec<CompressedPage>>> = batch
            .columns()
            .par_iter()
            .zip(fields.par_iter())
            .zip(if rows > SMALL_GROUP_ROWS {
                encodings.par_iter()
            } else {
                defaults.par_iter()
            })
            .map(|((array, field), encoding)| {
                let dictionary = match encoding.as_slice() {
                    [Encoding::RleDictionary] if rows > SMALL_GROUP_ROWS => {
                        text_dictionary(array.as_ref())
                    }
                    _ => None,
                };
                match dictionary {
                    Some(d) => array_to_columns(d.boxed(), field.clone(), options, encoding),
                    None => array_to_columns(array, field.clone(), options, encoding),
                }?
                .into_iter()
                .map(|leaf| {
                    let codec = if encoding.first() == Some(&Encoding::DeltaBinaryPacked) {
                        CompressionOptions::Uncompressed
                    } else {
                        options.compression
                    };
                    leaf.map(|page| Ok(compress(page?, Vec::new(), codec)?))
                        .collect::<PolarsResult<Vec<_>>>()
                })
                .collect()
            })
            .collect::<PolarsResult<_>>()?;
        let group = DynIter::new(columns.iter().flatten().map(|pages| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(pages.iter().map(PolarsResult::Ok)),
            ))
        }));
        writer.write(rows as u64, group)?;
    }
    let bytes = writer.end(None)?;
    // Flushed here, not on drop, so a full disk is an error.
    writer.into_inner().flush()?;
    Ok(bytes)
}

/// Rows of a text column read before giving up on a dictionary of our own
/// when most of them are distinct.
const PROBE_ROWS: usize = 4096;

/// The dictionary polars would write for a text column of few distinct
/// values, found in one pass. polars first estimates the distinct count
/// (hashing every value), then builds the dictionary (hashing every value
/// again, with a comparison of bytes per row). Here a short text (up to
/// 12 bytes, inline in its 16-byte view) is looked up by its view alone,
/// and a long one by its bytes. Keys are given in first-seen order, as
/// polars' cast gives them, so the pages are the same.
///
/// `None` when the column is not text or when more than half of its
/// values (or of its first rows) are distinct: polars then decides as
/// before, so a column it would write plainly stays plain.
fn text_dictionary(array: &dyn Array) -> Option<DictionaryArray<u32>> {
    let array = array.as_any().downcast_ref::<Utf8ViewArray>()?;
    let rows = array.len();
    let limit = rows / 2;
    let buffers = array.data_buffers();
    let validity = array.validity();
    let mut short: rustc_hash::FxHashMap<u128, u32> = Default::default();
    let mut long: rustc_hash::FxHashMap<&[u8], u32> = Default::default();
    let mut values = MutableBinaryViewArray::<str>::new();
    let mut keys = Vec::with_capacity(rows);
    for (i, view) in array.views().iter().enumerate() {
        if validity.is_some_and(|v| !v.get_bit(i)) {
            keys.push(0);
            continue;
        }
        let next = values.len() as u32;
        let key = if view.is_inline() {
            // The bytes after the text are not promised to be zero.
            let used = 32 + 8 * view.length;
            let bits = view.as_u128() & (u128::MAX >> (128 - used));
            *short.entry(bits).or_insert(next)
        } else {
            // SAFETY: the view belongs to this array, with these buffers.
            let bytes = unsafe { view.get_slice_unchecked(buffers) };
            *long.entry(bytes).or_insert(next)
        };
        if key == next {
            // SAFETY: the view belongs to this array, whose values are UTF-8.
            values.push_value(unsafe {
                std::str::from_utf8_unchecked(view.get_slice_unchecked(buffers))
            });
            let seen = i + 1;
            if values.len() > limit || (seen >= PROBE_ROWS && values.len() > seen / 2) {
                return None;
            }
        }
        keys.push(key);
    }
    let keys = polars_arrow::array::PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        validity.cloned(),
    );
    let values: Utf8ViewArray = values.into();
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        values.boxed(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::schema::col as c;

    /// `n` rows in `table`'s schema, with nulls: texts of the table's
    /// plain columns unique, every other column with few distinct values.
    fn rows(table: Table, n: usize) -> DataFrame {
        let columns = table
            .schema()
            .iter()
            .map(|(name, dtype)| {
                let unique = table.plain_columns().contains(&name.as_str());
                let series = match dtype {
                    DataType::String => Series::new(
                        name.clone(),
                        (0..n)
                            .map(|i| match (unique, i % 7) {
                                (false, 3) => None,
                                (false, _) => Some(format!("{name}-{}", i % 13)),
                                (true, _) => Some(format!("{name}-{i}")),
                            })
                            .collect::<Vec<_>>(),
                    ),
                    _ => Series::new(
                        name.clone(),
                        (0..n as i64)
                            .map(|i| {
                                // Few values, also in plain columns (floats):
                                // polars writes floats plainly whatever
                                // their count, and so must evmon.
                                let v = i % 9;
                                (i % 11 != 5).then_some(1_790_000_000_000_000 + v)
                            })
                            .collect::<Vec<_>>(),
                    )
                    .cast(dtype)
                    .expect("numbers cast to the column's type"),
                };
                series.into_column()
            })
            .collect();
        DataFrame::new(n, columns).expect("columns of n rows")
    }

    fn read(bytes: Vec<u8>) -> DataFrame {
        ParquetReader::new(Cursor::new(bytes))
            .finish()
            .expect("a readable file")
    }

    #[test]
    fn every_table_reads_back_as_written() {
        for table in Table::ALL {
            // Sessions span two row groups.
            let n = if table == Table::Sessions {
                ROW_GROUP_ROWS + 7
            } else {
                300
            };
            let df = rows(table, n);
            for kind in [Kind::Partition, Kind::Staged] {
                let mut bytes = Vec::new();
                write(&mut bytes, table, &mut df.clone(), kind).expect("written");
                let back = read(bytes);
                assert!(back.equals_missing(&df), "{} {kind:?}", table.name());
                assert_eq!(back.schema(), df.schema(), "{} {kind:?}", table.name());
            }
        }
    }

    /// On columns of unique values polars' own writer chooses plain
    /// encoding too: the files are the same, byte for byte, apart from the
    /// timestamps and line numbers, delta-encoded here (compared without
    /// them).
    #[test]
    fn partitions_are_the_files_polars_writes() {
        let table = Table::Sessions;
        // Small groups (polars then always builds a dictionary), the edge,
        // and a group large enough for the estimate.
        for n in [2, SMALL_GROUP_ROWS, SMALL_GROUP_ROWS + 1, 5000] {
            let df = rows(table, n);
            let deltas: Vec<PlSmallStr> = df
                .columns()
                .iter()
                .filter(|c| matches!(c.dtype(), DataType::Datetime(_, _) | DataType::UInt64))
                .map(|c| c.name().clone())
                .collect();
            assert_eq!(deltas.len(), 4);
            let df = df.drop_many(deltas);
            let mut ours = Vec::new();
            write(&mut ours, table, &mut df.clone(), Kind::Partition).expect("written");
            let mut theirs = Vec::new();
            ParquetWriter::new(&mut theirs)
                .with_compression(ParquetCompression::Snappy)
                .with_statistics(StatisticsOptions::default())
                .finish(&mut df.clone())
                .expect("written by polars");
            assert!(ours == theirs, "the files of {n} rows differ");
        }
    }

    /// Timestamps and line numbers are delta-encoded and left
    /// uncompressed in partitions; everything else is compressed.
    #[test]
    fn partition_times_and_lines_are_delta_encoded() {
        use polars_parquet::parquet::compression::Compression;
        use polars_parquet::parquet::read::read_metadata;
        let table = Table::Sessions;
        let n = 5000;
        let df = rows(table, n);
        let mut bytes = Vec::new();
        write(&mut bytes, table, &mut df.clone(), Kind::Partition).expect("written");
        let meta = read_metadata(&mut Cursor::new(&bytes)).expect("metadata");
        let deltas = [c::START, c::STOP, c::CHARGING_END, c::SOURCE_LINE];
        for column in meta.row_groups[0].parquet_columns() {
            let name = column.descriptor().path_in_schema[0].as_str();
            if deltas.contains(&name) {
                assert_eq!(column.compression(), Compression::Uncompressed, "{name}");
                // Plain, the values present (10 rows in 11) would take 8
                // bytes each.
                assert!(column.uncompressed_size() < (n as i64), "{name}");
            } else {
                assert_eq!(column.compression(), Compression::Snappy, "{name}");
            }
        }
        assert!(read(bytes).equals_missing(&df));
    }

    /// Columns with no value at all (a month of sessions never stopped,
    /// exports without line numbers) and columns of one repeated value
    /// read back as written through the delta and dictionary paths.
    #[test]
    fn empty_and_constant_columns_read_back() {
        let table = Table::Sessions;
        let n = 3000;
        let mut df = rows(table, n);
        for name in [c::STOP, c::SOURCE_LINE, c::AUTH_STATUS] {
            let dtype = df.column(name).expect("column").dtype().clone();
            df.with_column(Column::full_null(name.into(), n, &dtype))
                .expect("replaced");
        }
        df.with_column(Column::new(c::SOURCE.into(), vec!["csv"; n]))
            .expect("replaced");
        df.with_column(Column::new(c::STATION_ID.into(), vec![""; n]))
            .expect("replaced");
        let mut bytes = Vec::new();
        write(&mut bytes, table, &mut df.clone(), Kind::Partition).expect("written");
        let back = read(bytes);
        assert!(back.equals_missing(&df));
        assert_eq!(back.schema(), df.schema());
    }

    #[test]
    fn text_dictionaries_hold_every_value_in_first_seen_order() {
        let long = "/exports/2026-10/a-path-longer-than-twelve-bytes.csv";
        let texts: Vec<Option<&str>> = (0..1000)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some(long),
                2 => Some(["ST1", "ST22", "", "twelve-bytes"][i % 4]),
                _ => Some(["Local", "EVDisconnected"][i % 2]),
            })
            .collect();
        let column = StringChunked::from_iter_options("x".into(), texts.iter().copied());
        let array = column.rechunk().downcast_as_array().clone();
        let dict = text_dictionary(&array).expect("few distinct values");
        let values = dict
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .expect("text values");
        let decoded: Vec<Option<&str>> = dict
            .keys()
            .iter()
            .map(|k| k.map(|k| values.value(*k as usize)))
            .collect();
        assert_eq!(decoded, texts);
        // First seen first: the long path is the first value.
        assert_eq!(values.value(0), long);
        assert_eq!(values.len(), 7);
    }

    #[test]
    fn columns_of_mostly_distinct_texts_are_left_to_polars() {
        let unique =
            StringChunked::from_iter_values("x".into(), (0..1000).map(|i| format!("TX{i}")));
        assert!(text_dictionary(&unique.rechunk().downcast_as_array().clone()).is_none());
        // Distinct at first, repeated later: given up after the probe.
        let late = StringChunked::from_iter_values(
            "x".into(),
            (0..3 * PROBE_ROWS).map(|i| format!("T{}", i.min(PROBE_ROWS))),
        );
        assert!(text_dictionary(&late.rechunk().downcast_as_array().clone()).is_none());
        let numbers = Int64Chunked::from_vec("x".into(), vec![1, 1, 1]);
        assert!(text_dictionary(&numbers.rechunk().downcast_as_array().clone()).is_none());
    }
}
