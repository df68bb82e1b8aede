//! What every import format yields: chunks of items with the line or row each came from, and how far
//! through the file it is. Also the pieces the formats share: a byte-counting reader, ids and
//! vectors read from JSON values, and the rule that turns the remaining fields into metadata.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use crate::store::error::{Result, StoreError};
use crate::store::model::Item;

/// Items read from the file, in file order, with the 1-based line (JSONL) or row (NPY, Parquet, Arrow)
/// each came from, for error messages.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The items.
    pub items: Vec<Item>,
    /// Line or row number of each item.
    pub places: Vec<u64>,
}

impl Chunk {
    /// Moves the items from `at` on into a new chunk.
    pub fn split_off(&mut self, at: usize) -> Chunk {
        Chunk { items: self.items.split_off(at), places: self.places.split_off(at) }
    }
}

/// A file being imported, read in chunks on a blocking thread.
pub trait Source: Send {
    /// The next (at most) `rows` items, or `None` at the end of the file.
    fn next_chunk(&mut self, rows: usize) -> Result<Option<Chunk>>;
    /// Rows the file holds, when its header says.
    fn total_rows(&self) -> Option<u64>;
    /// `"line"` or `"row"`: what `Chunk::places` count.
    fn unit(&self) -> &'static str;
}

/// Bytes read so far, shared between the reading thread and the progress reports.
#[derive(Debug, Clone, Default)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    /// Adds `n` bytes.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Sets the count (for readers that know their position).
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A reader that adds what it reads to a `BytesRead`.
pub struct Counting<R> {
    inner: R,
    count: BytesRead,
}

impl<R> Counting<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, count: BytesRead) -> Self {
        Self { inner, count }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.add(n as u64);
        Ok(n)
    }
}

/// How the fields of a record become an item: which field is the id, which the vector, and which
/// become metadata (`None`: all the others).
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// The id field (default `id`).
    pub id: String,
    /// The vector field (default `vector`).
    pub vector: String,
    /// The metadata fields; `None` means every other field.
    pub metadata: Option<Vec<String>>,
}

impl FieldMap {
    /// The metadata of a JSON record once id and vector are taken out: the listed fields (missing
    /// ones skipped), or every remaining field. A record whose only remaining field is `metadata`
    /// holding an object (the shape `get()` returns) uses that object.
    pub fn metadata_of(&self, mut record: Map<String, Value>) -> Option<Value> {
        record.remove(&self.id);
        record.remove(&self.vector);
        let map = match &self.metadata {
            Some(names) => names.iter().filter_map(|n| record.remove(n).map(|v| (n.clone(), v))).collect(),
            None => match record.remove("metadata") {
                Some(Value::Object(inner)) if record.is_empty() => inner,
                Some(other) => {
                    record.insert("metadata".to_owned(), other);
                    record
                }
                None => record,
            },
        };
        (!map.is_empty()).then_some(Value::Object(map))
    }
}

/// Where a value sits, for error messages: `data.jsonl line 7, field "vector"`.
pub fn place(file: &str, unit: &str, number: u64, field: &str) -> String {
    format!("{file} {unit} {number}, field {field:?}")
}

/// An id from JSON: a non-empty string, or an integer written in decimal.
pub fn id_from_json(value: Option<&Value>, at: impl FnOnce() -> String) -> Result<String> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => {
            Err(StoreError::invalid(at(), format!("expected a string or an integer id, got {}", kind(other))))
        }
        None => Err(StoreError::invalid(at(), "missing")),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
