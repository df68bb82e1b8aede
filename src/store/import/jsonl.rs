//! JSON Lines: one object per line, `{ "id": …, "vector": [...], …metadata }` (field names from the
//! `FieldMap`). Blank lines are skipped; anything else that is not a JSON object is an error naming
//! the line. Also reads the ids (and metadata) file that may accompany an `.npy` file.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};

use super::source::{BytesRead, Chunk, Counting, FieldMap, Source, id_from_json, place};
use crate::store::error::{Result, StoreError};
use crate::store::model::Item;

/// Longest line accepted (a 65,536-dimension vector in JSON plus 1 MiB of metadata fits easily).
const MAX_LINE_BYTES: usize = 64 << 20;

/// The lines of a JSONL file as JSON objects, with their line numbers.
pub struct Lines {
    reader: BufReader<Counting<File>>,
    name: String,
    line: u64,
    buffer: String,
}

impl Lines {
    /// Reads `file` (named `name` in errors), counting bytes into `bytes`.
    pub fn new(file: File, name: String, bytes: BytesRead) -> Self {
        Self {
            reader: BufReader::with_capacity(1 << 20, Counting::new(file, bytes)),
            name,
            line: 0,
            buffer: String::new(),
        }
    }

    /// The file's name as errors show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the next non-blank line into the buffer; its line number, or `None` at the end.
    fn next_text(&mut self) -> Result<Option<u64>> {
        loop {
            self.buffer.clear();
            let read = (&mut self.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_line(&mut self.buffer)
                .map_err(|e| StoreError::io(format!("reading {}", self.name), &e))?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if read > MAX_LINE_BYTES {
                let at = format!("{} line {}", self.name, self.line);
                return Err(StoreError::invalid(at, format!("the line is longer than {MAX_LINE_BYTES} bytes")));
            }
            if !self.buffer.trim().is_empty() {
                return Ok(Some(self.line));
            }
        }
    }

    /// The next non-blank line as an object, with its line number; `None` at the end.
    pub fn next_object(&mut self) -> Result<Option<(u64, Map<String, Value>)>> {
        let Some(line) = self.next_text()? else { return Ok(None) };
        let at = || format!("{} line {line}", self.name);
        match serde_json::from_str::<Value>(self.buffer.trim()) {
            Ok(Value::Object(map)) => Ok(Some((line, map))),
            Ok(_) => Err(StoreError::invalid(at(), "expected a JSON object")),
            Err(e) => Err(not_json(at(), &e)),
        }
    }

    /// The next non-blank line as a record whose `vector` field is read straight into float32s (no JSON
    /// value per element: most of a JSONL file is vector numbers); the other fields as JSON values.
    fn next_record(&mut self, vector: &str) -> Result<Option<(u64, Record)>> {
        let Some(line) = self.next_text()? else { return Ok(None) };
        let in_vector = Cell::new(false);
        let mut parser = serde_json::Deserializer::from_str(self.buffer.trim());
        let parsed = RecordSeed { vector, in_vector: &in_vector }
            .deserialize(&mut parser)
            .and_then(|r| parser.end().map(|()| r));
        match parsed {
            Ok(record) => Ok(Some((line, record))),
            Err(e) if in_vector.get() && e.classify() == Category::Data => Err(StoreError::InvalidVector {
                what: place(&self.name, "line", line, vector),
                reason: format!("expected an array of numbers ({e})"),
            }),
            Err(e) if e.classify() == Category::Data => {
                Err(StoreError::invalid(format!("{} line {line}", self.name), "expected a JSON object"))
            }
            Err(e) => Err(not_json(format!("{} line {line}", self.name), &e)),
        }
    }
}

fn not_json(at: String, error: &serde_json::Error) -> StoreError {
    StoreError::invalid(at, format!("not valid JSON ({error}); a truncated file ends like this"))
}

/// A JSONL line: the vector (when the line has the field) and every other field.
pub struct Record {
    vector: Option<Vec<f32>>,
    rest: Map<String, Value>,
}

/// Parses one line into a `Record`, noting whether a failure happened inside the vector.
struct RecordSeed<'a> {
    vector: &'a str,
    in_vector: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Record, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
        let mut record = Record { vector: None, rest: Map::new() };
        while let Some(key) = map.next_key::<String>()? {
            if key == self.vector {
                self.in_vector.set(true);
                record.vector = Some(map.next_value::<Vec<f32>>()?);
                self.in_vector.set(false);
            } else {
                let value = map.next_value::<Value>()?;
                record.rest.insert(key, value);
            }
        }
        Ok(record)
    }
}

/// A JSONL file of items.
pub struct Jsonl {
    lines: Lines,
    fields: FieldMap,
}

impl Jsonl {
    /// Items from `lines`, mapped by `fields`.
    pub fn new(lines: Lines, fields: FieldMap) -> Self {
        Self { lines, fields }
    }
}

impl Source for Jsonl {
    fn next_chunk(&mut self, rows: usize) -> Result<Option<Chunk>> {
        let mut chunk = Chunk::default();
        while chunk.items.len() < rows {
            let Some((line, record)) = self.lines.next_record(&self.fields.vector)? else { break };
            let name = self.lines.name();
            let at = |field: &str| place(name, "line", line, field);
            let id = id_from_json(record.rest.get(&self.fields.id), || at(&self.fields.id))?;
            let vector = record.vector.ok_or_else(|| StoreError::invalid(at(&self.fields.vector), "missing"))?;
            let metadata = self.fields.metadata_of(record.rest);
            chunk.items.push(Item { id, vector, metadata });
            chunk.places.push(line);
        }
        Ok((!chunk.items.is_empty()).then_some(chunk))
    }

    fn total_rows(&self) -> Option<u64> {
        None
    }

    fn unit(&self) -> &'static str {
        "line"
    }
}
