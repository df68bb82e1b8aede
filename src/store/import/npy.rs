//! NumPy `.npy` files: a 2-D array `[rows, dimension]` of float32, float16 or float64 (either byte
//! order, C order). The header is checked and the file's size must match it exactly before anything
//! is read, so a truncated file is refused up front. Ids come from an accompanying file (one id per
//! line, or JSONL records with an id and metadata) or are the row numbers `"0"`, `"1"`, ….

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use super::jsonl::Lines;
use super::source::{BytesRead, Chunk, Counting, FieldMap, Source, id_from_json, place};
use crate::store::config::MAX_ID_BYTES;
use crate::store::error::{Result, StoreError};
use crate::store::model::Item;

/// Longest line of an ids text file read: an id (at most `MAX_ID_BYTES`) and its line break, with room to spare.
const MAX_ID_LINE_BYTES: usize = 4 * MAX_ID_BYTES;

/// Where ids come from.
pub enum Ids {
    /// Row numbers as decimal strings.
    RowNumbers,
    /// One id per line of a text file.
    Text(BufReader<File>, String),
    /// JSONL records: the id field, the rest metadata (as for a JSONL import).
    Records(Lines, FieldMap),
}

/// The element type of the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    F16,
    F32,
    F64,
}

impl Element {
    fn size(self) -> usize {
        match self {
            Element::F16 => 2,
            Element::F32 => 4,
            Element::F64 => 8,
        }
    }
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    element: Element,
    big_endian: bool,
    rows: u64,
    dimension: usize,
    /// Bytes before the data.
    data_offset: u64,
}

/// An `.npy` file of vectors.
pub struct Npy {
    reader: BufReader<Counting<File>>,
    header: Header,
    name: String,
    ids: Ids,
    row: u64,
    row_bytes: Vec<u8>,
}

impl Npy {
    /// Opens `file` (named `name` in errors): reads and checks the header against `dimension` and the
    /// file's length, then positions at the first row.
    pub fn open(file: File, name: String, dimension: usize, ids: Ids, bytes: BytesRead) -> Result<Self> {
        let length = file.metadata().map_err(|e| StoreError::io(format!("reading {name}"), &e))?.len();
        let mut reader = BufReader::with_capacity(1 << 20, Counting::new(file, bytes));
        let header = read_header(&mut reader, &name)?;
        if header.dimension != dimension {
            return Err(StoreError::DimensionMismatch {
                what: format!("{name} (shape [{}, {}])", header.rows, header.dimension),
                expected: dimension,
                got: header.dimension,
            });
        }
        let data = header.rows.saturating_mul((header.dimension * header.element.size()) as u64);
        let expected = header.data_offset.saturating_add(data);
        if length != expected {
            let what = if length < expected { "truncated" } else { "longer than its header says" };
            return Err(StoreError::invalid(
                name,
                format!("the file is {what}: the header promises {expected} bytes, the file has {length}"),
            ));
        }
        let row_bytes = vec![0; header.dimension * header.element.size()];
        Ok(Self { reader, header, name, ids, row: 0, row_bytes })
    }

    fn next_vector(&mut self) -> Result<Vec<f32>> {
        self.reader
            .read_exact(&mut self.row_bytes)
            .map_err(|e| StoreError::io(format!("reading {}", self.name), &e))?;
        let big = self.header.big_endian;
        let bytes = &self.row_bytes;
        Ok(match self.header.element {
            Element::F32 => {
                words::<4>(bytes).map(|b| if big { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) }).collect()
            }
            Element::F64 => words::<8>(bytes)
                .map(|b| (if big { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) }) as f32)
                .collect(),
            Element::F16 => words::<2>(bytes)
                .map(|b| half::f16::from_bits(if big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }).to_f32())
                .collect(),
        })
    }

    /// The id (and metadata) of row `row` (0-based).
    fn next_id(&mut self, row: u64) -> Result<(String, Option<serde_json::Value>)> {
        let missing = |file: &str| {
            StoreError::invalid(file, format!("it has fewer ids than {} has rows ({})", self.name, self.header.rows))
        };
        match &mut self.ids {
            Ids::RowNumbers => Ok((row.to_string(), None)),
            Ids::Text(reader, file) => {
                // Bounded: a file with no line breaks (a wrong file) must not be read into one string.
                let mut line = String::new();
                let read = reader
                    .by_ref()
                    .take(MAX_ID_LINE_BYTES as u64 + 1)
                    .read_line(&mut line)
                    .map_err(|e| StoreError::io(format!("reading {file}"), &e))?;
                if read == 0 {
                    return Err(missing(file));
                }
                if read > MAX_ID_LINE_BYTES {
                    return Err(StoreError::invalid(
                        place(file, "line", row + 1, "id"),
                        format!(
                            "the line is longer than {MAX_ID_LINE_BYTES} bytes; ids are at most {MAX_ID_BYTES} bytes"
                        ),
                    ));
                }
                Ok((line.trim_end_matches(['\n', '\r']).to_owned(), None))
            }
            Ids::Records(lines, fields) => {
                let Some((line, record)) = lines.next_object()? else { return Err(missing(lines.name())) };
                let id = id_from_json(record.get(&fields.id), || place(lines.name(), "line", line, &fields.id))?;
                Ok((id, fields.metadata_of(record)))
            }
        }
    }

    /// After the last row: the ids file must not hold more ids.
    fn check_ids_end(&mut self) -> Result<()> {
        let extra = |file: &str| {
            StoreError::invalid(file, format!("it has more ids than {} has rows ({})", self.name, self.header.rows))
        };
        match &mut self.ids {
            Ids::RowNumbers => Ok(()),
            Ids::Text(reader, file) => {
                // Only blank space may follow, checked buffer by buffer and stopping at the first other
                // byte: the rest of a wrong (say 10 GB) file is never read into memory.
                loop {
                    let buffer = reader.fill_buf().map_err(|e| StoreError::io(format!("reading {file}"), &e))?;
                    if buffer.is_empty() {
                        return Ok(());
                    }
                    if !buffer.iter().all(u8::is_ascii_whitespace) {
                        return Err(extra(file));
                    }
                    let n = buffer.len();
                    reader.consume(n);
                }
            }
            Ids::Records(lines, _) => match lines.next_object()? {
                None => Ok(()),
                Some(_) => Err(extra(lines.name())),
            },
        }
    }
}

impl Source for Npy {
    fn next_chunk(&mut self, rows: usize) -> Result<Option<Chunk>> {
        if self.row >= self.header.rows {
            self.check_ids_end()?;
            return Ok(None);
        }
        let mut chunk = Chunk::default();
        while chunk.items.len() < rows && self.row < self.header.rows {
            let vector = self.next_vector()?;
            let (id, metadata) = self.next_id(self.row)?;
            self.row += 1;
            chunk.items.push(Item { id, vector, metadata });
            chunk.places.push(self.row);
        }
        Ok(Some(chunk))
    }

    fn total_rows(&self) -> Option<u64> {
        Some(self.header.rows)
    }

    fn unit(&self) -> &'static str {
        "row"
    }
}

/// The `N`-byte words of `bytes` (whose length is a multiple of `N`).
fn words<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|word| <[u8; N]>::try_from(word).unwrap_or([0; N]))
}

/// Reads the magic string, version, and the header dictionary.
fn read_header(reader: &mut impl Read, name: &str) -> Result<Header> {
    let bad = |reason: String| StoreError::invalid(name, format!("not a valid .npy file: {reason}"));
    let mut preamble = [0u8; 8];
    reader.read_exact(&mut preamble).map_err(|_| bad("shorter than the magic string".into()))?;
    if !preamble.starts_with(b"\x93NUMPY") {
        return Err(bad("the magic string \\x93NUMPY is missing".into()));
    }
    let (length, offset) = match preamble.get(6).copied().unwrap_or(0) {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).map_err(|_| bad("truncated header".into()))?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map_err(|_| bad("truncated header".into()))?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        v => return Err(bad(format!("unknown format version {v}"))),
    };
    if length > 1 << 20 {
        return Err(bad(format!("a {length}-byte header")));
    }
    let mut text = vec![0u8; length];
    reader.read_exact(&mut text).map_err(|_| bad("truncated header".into()))?;
    let text = String::from_utf8_lossy(&text);
    let descr = quoted_value(&text, "descr").ok_or_else(|| bad("no 'descr' in the header".into()))?;
    let (big_endian, element) = match descr.as_str() {
        "<f4" | "=f4" => (false, Element::F32),
        ">f4" => (true, Element::F32),
        "<f2" | "=f2" => (false, Element::F16),
        ">f2" => (true, Element::F16),
        "<f8" | "=f8" => (false, Element::F64),
        ">f8" => (true, Element::F64),
        other => {
            return Err(StoreError::invalid(
                name,
                format!("the array holds {other:?}; float32 (<f4), float16 (<f2) or float64 (<f8) is needed"),
            ));
        }
    };
    match raw_value(&text, "fortran_order").as_deref() {
        Some("False") => {}
        Some("True") => {
            return Err(StoreError::invalid(
                name,
                "the array is in Fortran order; save it in C order (np.ascontiguousarray)",
            ));
        }
        _ => return Err(bad("no 'fortran_order' in the header".into())),
    }
    let shape = raw_value(&text, "shape").ok_or_else(|| bad("no 'shape' in the header".into()))?;
    let dims: Vec<u64> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().map_err(|_| bad(format!("shape {shape}"))))
        .collect::<Result<_>>()?;
    let [rows, dimension] = dims.as_slice() else {
        return Err(StoreError::invalid(
            name,
            format!("the array has shape {shape}; a 2-D array [rows, dimension] is needed"),
        ));
    };
    let dimension = usize::try_from(*dimension).map_err(|_| bad(format!("shape {shape}")))?;
    Ok(Header { element, big_endian, rows: *rows, dimension, data_offset: offset + length as u64 })
}

/// The quoted string after `'key':` in a Python dict literal.
fn quoted_value(text: &str, key: &str) -> Option<String> {
    let rest = after_key(text, key)?;
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = rest.get(1..)?;
    Some(rest.get(..rest.find(quote)?)?.to_owned())
}

/// The raw text of the value after `'key':`: up to the next top-level `,` or `}`; a tuple whole.
fn raw_value(text: &str, key: &str) -> Option<String> {
    let rest = after_key(text, key)?;
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}'])? };
    Some(rest.get(..end)?.trim().to_owned())
}

fn after_key<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let at = text.find(&format!("'{key}'")).or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = text.get(at + key.len() + 2..)?;
    Some(rest.trim_start().strip_prefix(':')?.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(dict: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        let mut text = dict.to_owned();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn reads_the_header_numpy_writes() {
        let bytes = header_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (20000, 384), }");
        let header = read_header(&mut bytes.as_slice(), "x.npy").unwrap();
        assert_eq!(header.element, Element::F32);
        assert!(!header.big_endian);
        assert_eq!((header.rows, header.dimension), (20_000, 384));
        assert_eq!(header.data_offset as usize, bytes.len());
        let header = read_header(
            &mut header_bytes("{'descr': '>f2', 'fortran_order': False, 'shape': (3,2)}").as_slice(),
            "x.npy",
        );
        assert_eq!(header.unwrap().element, Element::F16);
    }

    #[test]
    fn refuses_other_arrays() {
        for (dict, says) in [
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }", "float32"),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", "Fortran"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "2-D"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1), }", "2-D"),
        ] {
            let err = read_header(&mut header_bytes(dict).as_slice(), "x.npy").unwrap_err();
            assert!(err.to_string().contains(says), "{dict}: {err}");
        }
        let err = read_header(&mut b"PK\x03\x04 not numpy".as_slice(), "x.npy").unwrap_err();
        assert!(err.to_string().contains("magic"), "{err}");
    }
}
