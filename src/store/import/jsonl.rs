//! JSON Lines: one object per line, `{ "id": …, "vector": [...], …metadata }` (field names from the
//! `FieldMap`). Blank lines are skipped; anything else that is not a JSON object is an error naming
//! the line. Also reads the ids (and metadata) file that may accompany an `.npy` file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::source::{BytesRead, Chunk, Counting, FieldMap, Source, id_from_json, place, vector_from_json};
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

    /// The next non-blank line as an object, with its line number; `None` at the end.
    pub fn next_object(&mut self) -> Result<Option<(u64, Map<String, Value>)>> {
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
            let at = || format!("{} line {}", self.name, self.line);
            if read > MAX_LINE_BYTES {
                return Err(StoreError::invalid(at(), format!("the line is longer than {MAX_LINE_BYTES} bytes")));
            }
            let text = self.buffer.trim();
            if text.is_empty() {
                continue;
            }
            return match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(Some((self.line, map))),
                Ok(_) => Err(StoreError::invalid(at(), "expected a JSON object")),
                Err(e) => {
                    Err(StoreError::invalid(at(), format!("not valid JSON ({e}); a truncated file ends like this")))
                }
            };
        }
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
            let Some((line, mut record)) = self.lines.next_object()? else { break };
            let name = self.lines.name();
            let id = id_from_json(record.get(&self.fields.id), || place(name, "line", line, &self.fields.id))?;
            let vector = vector_from_json(record.remove(&self.fields.vector).as_ref(), || {
                place(name, "line", line, &self.fields.vector)
            })?;
            let metadata = self.fields.metadata_of(record);
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
