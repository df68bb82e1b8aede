//! Parquet and Arrow IPC (file or stream format) files: an id column (strings or integers), a vector
//! column (fixed-size list or list of float16/32/64) and any other columns as metadata. Read batch by
//! batch; the schema is checked before the first row.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use serde_json::Value;

use super::source::{BytesRead, Chunk, Counting, FieldMap, Source};
use crate::store::error::{Result, StoreError};
use crate::store::model::Item;

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>;

/// How far through the file the reader is, in bytes.
enum Position {
    /// The reader counts what it reads (IPC stream).
    Counted,
    /// Estimated from the rows read out of `total` (Parquet), or the batches read out of `total` (IPC file).
    Share { total: u64, file_bytes: u64, unit_is_rows: bool },
}

/// The columns an item is read from.
struct Columns {
    id: usize,
    vector: usize,
    metadata: Vec<usize>,
}

/// A Parquet or Arrow IPC file of items.
pub struct Columnar {
    batches: Batches,
    pending: Option<(RecordBatch, usize)>,
    columns: Columns,
    name: String,
    rows_read: u64,
    batches_read: u64,
    total_rows: Option<u64>,
    position: Position,
    bytes: BytesRead,
}

impl Columnar {
    /// Opens a Parquet file.
    pub fn parquet(
        file: File,
        name: String,
        fields: &FieldMap,
        dimension: usize,
        batch_rows: usize,
        bytes: BytesRead,
    ) -> Result<Self> {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file_bytes = file.metadata().map_err(|e| StoreError::io(format!("reading {name}"), &e))?.len();
        let not_parquet =
            |e: &dyn std::fmt::Display| StoreError::invalid(&name, format!("not a readable Parquet file: {e}"));
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| not_parquet(&e))?;
        let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let columns = columns(builder.schema(), &name, fields, dimension)?;
        let reader = builder.with_batch_size(batch_rows.max(1)).build().map_err(|e| not_parquet(&e))?;
        let position = Position::Share { total, file_bytes, unit_is_rows: true };
        Ok(Self::new(Box::new(reader), columns, name, Some(total), position, bytes))
    }

    /// Opens an Arrow IPC file (`ARROW1` magic) or stream.
    pub fn arrow(file: File, name: String, fields: &FieldMap, dimension: usize, bytes: BytesRead) -> Result<Self> {
        use arrow_ipc::reader::{FileReader, StreamReader};
        let not_arrow =
            |e: &ArrowError| StoreError::invalid(&name, format!("not a readable Arrow IPC file or stream: {e}"));
        let file_bytes = file.metadata().map_err(|e| StoreError::io(format!("reading {name}"), &e))?.len();
        let mut magic = [0u8; 6];
        let is_file_format = {
            use std::io::{Read, Seek};
            let mut probe = &file;
            let ok = probe.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
            probe.rewind().map_err(|e| StoreError::io(format!("reading {name}"), &e))?;
            ok
        };
        let checked = if is_file_format {
            super::ipc_lengths::check_file(&file, file_bytes)
        } else {
            super::ipc_lengths::check_stream(&file, file_bytes)
        };
        checked.map_err(|e| StoreError::invalid(&name, format!("not a readable Arrow IPC file or stream: {e}")))?;
        if is_file_format {
            let reader =
                FileReader::try_new(BufReader::with_capacity(1 << 20, file), None).map_err(|e| not_arrow(&e))?;
            let columns = columns(&reader.schema(), &name, fields, dimension)?;
            let position = Position::Share { total: reader.num_batches() as u64, file_bytes, unit_is_rows: false };
            Ok(Self::new(Box::new(reader), columns, name, None, position, bytes))
        } else {
            let counted = BufReader::with_capacity(1 << 20, Counting::new(file, bytes.clone()));
            let reader = StreamReader::try_new(counted, None).map_err(|e| not_arrow(&e))?;
            let columns = columns(&reader.schema(), &name, fields, dimension)?;
            Ok(Self::new(Box::new(reader), columns, name, None, Position::Counted, bytes))
        }
    }

    fn new(
        batches: Batches,
        columns: Columns,
        name: String,
        total_rows: Option<u64>,
        position: Position,
        bytes: BytesRead,
    ) -> Self {
        Self { batches, pending: None, columns, name, rows_read: 0, batches_read: 0, total_rows, position, bytes }
    }

    /// The next batch with rows left, and the offset of its first unread row.
    fn next_batch(&mut self) -> Result<Option<(RecordBatch, usize)>> {
        if let Some(pending) = self.pending.take() {
            return Ok(Some(pending));
        }
        loop {
            match self.batches.next() {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(StoreError::invalid(
                        &self.name,
                        format!("reading after row {} failed ({e}); a truncated file ends like this", self.rows_read),
                    ));
                }
                Some(Ok(batch)) => {
                    self.batches_read += 1;
                    if batch.num_rows() > 0 {
                        return Ok(Some((batch, 0)));
                    }
                }
            }
        }
    }

    fn update_bytes(&self) {
        if let Position::Share { total, file_bytes, unit_is_rows } = self.position {
            let done = if unit_is_rows { self.rows_read } else { self.batches_read };
            if total > 0 {
                self.bytes.set(((u128::from(file_bytes) * u128::from(done.min(total))) / u128::from(total)) as u64);
            }
        }
    }
}

impl Source for Columnar {
    fn next_chunk(&mut self, rows: usize) -> Result<Option<Chunk>> {
        let mut chunk = Chunk::default();
        while chunk.items.len() < rows {
            let Some((batch, offset)) = self.next_batch()? else { break };
            let take = (rows - chunk.items.len()).min(batch.num_rows() - offset);
            let slice = batch.slice(offset, take);
            let first = self.rows_read + 1;
            chunk.items.extend(items(&slice, &self.columns, &self.name, first)?);
            chunk.places.extend(first..first + take as u64);
            self.rows_read += take as u64;
            if offset + take < batch.num_rows() {
                self.pending = Some((batch, offset + take));
            }
        }
        self.update_bytes();
        Ok((!chunk.items.is_empty()).then_some(chunk))
    }

    fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }

    fn unit(&self) -> &'static str {
        "row"
    }
}

/// Finds and checks the id, vector and metadata columns.
fn columns(schema: &Schema, name: &str, fields: &FieldMap, dimension: usize) -> Result<Columns> {
    let available = || schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ");
    let find = |column: &str| {
        schema
            .index_of(column)
            .map_err(|_| StoreError::invalid(name, format!("no column {column:?}; the columns are {}", available())))
    };
    let id = find(&fields.id)?;
    let id_type = schema.field(id).data_type();
    if !(id_type.is_integer() || matches!(id_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)) {
        return Err(StoreError::invalid(
            name,
            format!("column {:?} is {id_type}; ids must be strings or integers", fields.id),
        ));
    }
    let vector = find(&fields.vector)?;
    let vector_type = schema.field(vector).data_type();
    let (item, length) = match vector_type {
        DataType::FixedSizeList(item, n) => (item, usize::try_from(*n).ok()),
        DataType::List(item) | DataType::LargeList(item) => (item, None),
        _ => (&Arc::new(Field::new("item", DataType::Null, true)), None),
    };
    if !matches!(item.data_type(), DataType::Float16 | DataType::Float32 | DataType::Float64) {
        return Err(StoreError::invalid(
            name,
            format!("column {:?} is {vector_type}; vectors must be a list or fixed-size list of floats", fields.vector),
        ));
    }
    if let Some(length) = length.filter(|n| *n != dimension) {
        return Err(StoreError::DimensionMismatch {
            what: format!("{name} column {:?}", fields.vector),
            expected: dimension,
            got: length,
        });
    }
    let metadata = match &fields.metadata {
        Some(names) => names.iter().map(|n| find(n)).collect::<Result<Vec<_>>>()?,
        None => (0..schema.fields().len()).filter(|i| *i != id && *i != vector).collect(),
    };
    Ok(Columns { id, vector, metadata })
}

/// The items of `batch`, whose first row is row `first` (1-based) of the file.
fn items(batch: &RecordBatch, columns: &Columns, name: &str, first: u64) -> Result<Vec<Item>> {
    let at = |i: usize, column: usize| {
        format!("{name} row {}, column {:?}", first + i as u64, batch.schema().field(column).name())
    };
    let cast = |array: &ArrayRef, to: &DataType, column: usize| {
        arrow_cast::cast(array, to)
            .map_err(|e| StoreError::invalid(at(0, column), format!("cannot be read as {to}: {e}")))
    };
    let ids = cast(batch.column(columns.id), &DataType::Utf8, columns.id)?;
    let ids = ids.as_string::<i32>();
    let list_type = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
    let vectors = cast(batch.column(columns.vector), &list_type, columns.vector)?;
    let vectors = vectors.as_list::<i32>();
    let metadata = metadata_rows(batch, &columns.metadata, name, first)?;
    (0..batch.num_rows())
        .map(|i| {
            if ids.is_null(i) {
                return Err(StoreError::invalid(at(i, columns.id), "the id is null"));
            }
            if vectors.is_null(i) {
                return Err(StoreError::InvalidVector {
                    what: at(i, columns.vector),
                    reason: "the vector is null".into(),
                });
            }
            let values = vectors.value(i);
            let values = values.as_primitive::<Float32Type>();
            if let Some(k) = (0..values.len()).find(|k| values.is_null(*k)) {
                return Err(StoreError::InvalidVector {
                    what: at(i, columns.vector),
                    reason: format!("element {k} is null"),
                });
            }
            let metadata = metadata.as_ref().and_then(|rows| rows.get(i).cloned().flatten());
            Ok(Item { id: ids.value(i).to_owned(), vector: values.values().to_vec(), metadata })
        })
        .collect()
}

/// Each row's metadata columns as a JSON object (`None` when the row has no non-null value), through
/// arrow-json so every Arrow type gets its JSON form; `None` when there are no metadata columns.
fn metadata_rows(batch: &RecordBatch, indices: &[usize], name: &str, first: u64) -> Result<Option<Vec<Option<Value>>>> {
    if indices.is_empty() {
        return Ok(None);
    }
    if let [only] = indices
        && let Some(texts) = json_metadata_column(batch, *only)
    {
        return json_metadata(texts, name, first).map(Some);
    }
    let projected = batch.project(indices).map_err(|e| StoreError::Internal(format!("projecting {name}: {e}")))?;
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer
        .write(&projected)
        .map_err(|e| StoreError::invalid(name, format!("its metadata columns cannot be written as JSON: {e}")))?;
    writer.finish().map_err(|e| StoreError::Internal(format!("finishing JSON for {name}: {e}")))?;
    let text = writer.into_inner();
    let rows = text
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) if map.is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(e) => Err(StoreError::Internal(format!("reading back the JSON of {name}'s metadata: {e}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    if rows.len() != batch.num_rows() {
        return Err(StoreError::Internal(format!(
            "{name}: {} metadata rows for {} rows",
            rows.len(),
            batch.num_rows()
        )));
    }
    Ok(Some(rows))
}

/// The column at `index` when it is the metadata as JSON text: a string column named `metadata` (what
/// `lancestore export --format parquet` writes, and the shape of a JSONL record's `metadata` object).
fn json_metadata_column(batch: &RecordBatch, index: usize) -> Option<&arrow_array::StringArray> {
    let field = batch.schema_ref().field(index);
    if field.name() != crate::store::schema::METADATA {
        return None;
    }
    batch.column(index).as_any().downcast_ref::<arrow_array::StringArray>()
}

/// Each row's metadata from JSON text: an object, or `None` for a null (or `null`) value; anything else
/// is refused, naming the row.
fn json_metadata(texts: &arrow_array::StringArray, name: &str, first: u64) -> Result<Vec<Option<Value>>> {
    let at = |i: usize| format!("{name} row {}, column \"metadata\"", first + i as u64);
    (0..texts.len())
        .map(|i| {
            if texts.is_null(i) {
                return Ok(None);
            }
            match serde_json::from_str::<Value>(texts.value(i)) {
                Ok(Value::Null) => Ok(None),
                Ok(value @ Value::Object(_)) => Ok(Some(value)),
                Ok(_) => Err(StoreError::invalid(at(i), "it is not a JSON object")),
                Err(e) => Err(StoreError::invalid(at(i), format!("it is not JSON: {e}"))),
            }
        })
        .collect()
}
