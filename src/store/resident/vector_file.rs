//! The vector file beside the table (`.lancestore-<table>.vectors` in the store directory, or in the host's
//! cache directory for an `s3://` store): the resident copy's vectors in slot order, with each slot's row
//! address and norm, so every process serving the table maps one copy of them (the OS page cache) instead
//! of holding its own. Layout: an 8-byte magic, a little-endian u32 header length, the JSON header
//! (format, dimension, rows, the table version written at, and the fragments the rows came from), padded
//! with spaces so the addresses start on a 64-byte boundary, then `rows` u64 row addresses, `rows` f32
//! norms, and `rows` vectors of `dimension` f32, all little-endian. Written to a temporary file, synced
//! and renamed (`sidecar.rs`), so it never changes under a mapping.
//!
//! How far it is trusted: the header records, in slot order, each fragment whose live rows the file holds
//! whole — its id, data files, deletion file and row count. Lance never rewrites a data file (a new one
//! gets a new name), so where the table still has that fragment with the same data files and deletion
//! file, the file's rows are that fragment's rows: a load reads their ids, metadata and fields from the
//! table and takes vectors and norms from the file without reading them (`Vectors::push_in_place`, which
//! still checks each row address; a sample is also compared with the table first). Any other row is
//! compared — its address and every float — with the file's row at that slot, and the file's copy is
//! taken only when they are equal (`Vectors::push`). A stale, foreign or damaged file costs memory and
//! time, never a wrong row.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::columns::FragmentIdentity;
use super::sidecar;
use super::vectors::norm;
use crate::mapped::MappedFile;

const MAGIC: &[u8; 8] = b"LSVECS\0\x01";
const FORMAT: u64 = 2;
/// Longest header accepted (the fragment records of a table with many small fragments).
const MAX_HEADER: usize = 64 << 20;
/// Where the addresses start: a multiple of this.
const ALIGN: usize = 64;

/// The vector file beside the table's graph file `graph_file` (`sidecar::path`).
pub fn path_beside(graph_file: &Path) -> PathBuf {
    graph_file.with_extension("vectors")
}

/// A fragment whose live rows the file holds, consecutively and in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFragment {
    /// Fragment id.
    pub id: u64,
    /// Its data files and deletion file when the rows were written.
    pub identity: FragmentIdentity,
    /// Its live rows then (file rows, one after the other).
    pub rows: usize,
}

/// A mapped vector file whose framing checked out (its rows are checked one by one as they are used).
#[derive(Debug)]
pub struct VectorFile {
    file: Arc<MappedFile>,
    dimension: usize,
    rows: usize,
    addresses_at: usize,
    /// The table version the file was written at.
    pub table_version: u64,
    /// The fragments its first rows hold whole, in file order (rows past them are only compared).
    pub fragments: Vec<RecordedFragment>,
}

impl VectorFile {
    /// Maps the file at `path`, if it is a vector file of `dimension`-long vectors; `Err` says why not.
    pub fn open(path: &Path, dimension: usize) -> Result<Self, String> {
        let file = Arc::new(MappedFile::open(path).map_err(|e| format!("cannot read it: {e}"))?);
        let bytes = file.bytes();
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err("it is not a lancestore vector file".into());
        }
        let length = bytes.get(8..12).ok_or("it is truncated")?;
        let header_len = u32::from_le_bytes(length.try_into().unwrap_or_default()) as usize;
        if header_len > MAX_HEADER {
            return Err("its header is implausibly long".into());
        }
        let header: serde_json::Value =
            serde_json::from_slice(bytes.get(12..12 + header_len).ok_or("it is truncated")?)
                .map_err(|e| format!("its header is not JSON: {e}"))?;
        let number = |name: &str| header.get(name).and_then(serde_json::Value::as_u64);
        if number("format") != Some(FORMAT) {
            return Err("it has another format".into());
        }
        if number("dimension").and_then(|d| usize::try_from(d).ok()) != Some(dimension) {
            return Err("it holds vectors of another dimension".into());
        }
        let rows = number("rows").and_then(|r| usize::try_from(r).ok()).ok_or("its header lacks the rows")?;
        let table_version = number("tableVersion").ok_or("its header lacks the table version")?;
        let fragments = header
            .get("fragments")
            .and_then(serde_json::Value::as_array)
            .ok_or("its header lacks the fragments")?
            .iter()
            .map(recorded_from_json)
            .collect::<Option<Vec<_>>>()
            .ok_or("its header has a malformed fragment")?;
        if fragments.iter().map(|f| f.rows).sum::<usize>() > rows {
            return Err("its fragments hold more rows than it does".into());
        }
        let addresses_at = 12 + header_len;
        let expected = rows
            .checked_mul(8 + 4 + 4 * dimension)
            .and_then(|body| body.checked_add(addresses_at))
            .ok_or("its row count is implausible")?;
        if !addresses_at.is_multiple_of(ALIGN) || bytes.len() != expected {
            return Err(format!("it is {} bytes long, not the {expected} its header implies", bytes.len()));
        }
        Ok(Self { file, dimension, rows, addresses_at, table_version, fragments })
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The row address of file row `row`.
    pub fn address(&self, row: usize) -> Option<u64> {
        if row >= self.rows {
            return None;
        }
        let at = self.addresses_at + 8 * row;
        let bytes = self.file.bytes().get(at..at + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The norm of file row `row`'s vector.
    pub fn norm(&self, row: usize) -> Option<f32> {
        if row >= self.rows {
            return None;
        }
        let at = self.addresses_at + 8 * self.rows + 4 * row;
        let bytes = self.file.bytes().get(at..at + 4)?;
        Some(f32::from_le_bytes(bytes.try_into().ok()?))
    }

    /// The vectors of file rows `rows`, back to back (little-endian f32 read in place).
    pub fn vectors(&self, rows: std::ops::Range<usize>) -> &[f32] {
        if rows.end > self.rows {
            return &[];
        }
        let start = self.addresses_at + 12 * self.rows + 4 * self.dimension * rows.start;
        let end = start + 4 * self.dimension * rows.len();
        self.file.bytes().get(start..end).and_then(|bytes| bytemuck::try_cast_slice(bytes).ok()).unwrap_or_default()
    }

    /// Bytes mapped.
    pub fn bytes(&self) -> usize {
        self.file.bytes().len()
    }
}

/// Rows copied per call of the `vectors` callback of `write`.
pub const WRITE_CHUNK_ROWS: usize = 8_192;

/// Writes the vector file at `path`, atomically: one row per address of `addresses`, the vectors asked
/// of `vectors` (rows `range`, back to back) a chunk at a time, so the caller can read them under a short
/// lock each; `vectors` answers `None` when the rows changed meanwhile, and nothing is written.
/// `fragments`: the fragments the first rows hold whole, in order.
pub fn write(
    path: &Path,
    dimension: usize,
    table_version: u64,
    fragments: &[RecordedFragment],
    addresses: &[u64],
    mut vectors: impl FnMut(std::ops::Range<usize>) -> Option<Vec<f32>>,
) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let rows = addresses.len();
    let head = head(dimension, rows, table_version, fragments);
    sidecar::replace_atomically(path, |file| {
        file.write_all(&head)?;
        file.write_all(bytemuck::cast_slice(addresses))?;
        // Room for the norms, written once the vectors have given them.
        std::io::copy(&mut std::io::repeat(0).take(4 * rows as u64), file)?;
        let mut norms = Vec::with_capacity(rows);
        for start in (0..rows).step_by(WRITE_CHUNK_ROWS) {
            let range = start..(start + WRITE_CHUNK_ROWS).min(rows);
            let chunk =
                vectors(range.clone()).ok_or_else(|| std::io::Error::other("the rows changed while being written"))?;
            if chunk.len() != range.len() * dimension {
                return Err(std::io::Error::other("vectors of another length"));
            }
            norms.extend(chunk.chunks_exact(dimension.max(1)).map(norm));
            file.write_all(bytemuck::cast_slice(&chunk))?;
        }
        file.seek(SeekFrom::Start((head.len() + 8 * rows) as u64))?; // a buffered writer flushes first
        file.write_all(bytemuck::cast_slice(&norms))
    })
}

/// The bytes before the addresses: magic, header length, the header padded to `ALIGN`.
fn head(dimension: usize, rows: usize, table_version: u64, fragments: &[RecordedFragment]) -> Vec<u8> {
    let fragments: Vec<serde_json::Value> = fragments.iter().map(recorded_to_json).collect();
    let header = json!({
        "format": FORMAT, "dimension": dimension, "rows": rows, "tableVersion": table_version, "fragments": fragments,
    });
    let header = header.to_string();
    let header = format!("{header}{}", " ".repeat((ALIGN - (12 + header.len()) % ALIGN) % ALIGN));
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&u32::try_from(header.len()).unwrap_or(u32::MAX).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes
}

/// A fragment record as the header holds it: `[id, [data files], [deletion id, read version] | null, rows]`.
fn recorded_to_json(fragment: &RecordedFragment) -> serde_json::Value {
    json!([
        fragment.id,
        fragment.identity.files,
        fragment.identity.deletion.map(|(id, version)| [id, version]),
        fragment.rows
    ])
}

/// A fragment record read back from the header (`None`: malformed).
fn recorded_from_json(value: &serde_json::Value) -> Option<RecordedFragment> {
    let [id, files, deletion, rows] = value.as_array()?.as_slice() else { return None };
    let files = files.as_array()?.iter().map(|f| f.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()?;
    let deletion = match deletion {
        serde_json::Value::Null => None,
        pair => match pair.as_array()?.as_slice() {
            [id, version] => Some((id.as_u64()?, version.as_u64()?)),
            _ => return None,
        },
    };
    Some(RecordedFragment {
        id: id.as_u64()?,
        identity: FragmentIdentity { files, deletion },
        rows: usize::try_from(rows.as_u64()?).ok()?,
    })
}

/// A vector file written as rows stream in (vectors first, addresses and norms once all are known), for a
/// table too large to hold in memory; put in place by `finish`. Dropped before that — an error, or the
/// writing future dropped by `close()` — it removes its temporary file.
pub struct StreamedWriter {
    file: Option<std::io::BufWriter<std::fs::File>>,
    temporary: PathBuf,
    path: PathBuf,
    dimension: usize,
    rows: usize,
    addresses: Vec<u64>,
    norms: Vec<f32>,
    addresses_at: u64,
    /// The fragments announced, and how many rows of each have come (each must come whole, in order).
    fragments: Vec<RecordedFragment>,
    finished: bool,
}

impl StreamedWriter {
    /// Starts the file at `path` for `rows` rows of `dimension` floats, at `table_version`: the live rows of
    /// `fragments`, which must come in that order, whole (else `finish` fails).
    pub fn create(
        path: &Path,
        dimension: usize,
        rows: usize,
        table_version: u64,
        fragments: Vec<RecordedFragment>,
    ) -> std::io::Result<Self> {
        let temporary = sidecar::temporary_path(path);
        let head = head(dimension, rows, table_version, &fragments);
        let mut writer = Self {
            file: Some(std::io::BufWriter::new(std::fs::File::create(&temporary)?)),
            temporary,
            path: path.to_owned(),
            dimension,
            rows,
            addresses: Vec::with_capacity(rows),
            norms: Vec::with_capacity(rows),
            addresses_at: head.len() as u64,
            fragments,
            finished: false,
        };
        let file = writer.file.as_mut().ok_or_else(|| std::io::Error::other("the file is closed"))?;
        file.write_all(&head)?;
        // Room for the addresses and norms, written last.
        std::io::copy(&mut std::io::repeat(0).take(12 * rows as u64), file)?;
        Ok(writer)
    }

    /// Appends rows: their addresses, and their vectors back to back.
    pub fn push(&mut self, addresses: &[u64], vectors: &[f32]) -> std::io::Result<()> {
        if vectors.len() != addresses.len() * self.dimension || self.addresses.len() + addresses.len() > self.rows {
            return Err(std::io::Error::other("rows of another length, or more rows than announced"));
        }
        let file = self.file.as_mut().ok_or_else(|| std::io::Error::other("the file is closed"))?;
        file.write_all(bytemuck::cast_slice(vectors))?;
        self.addresses.extend_from_slice(addresses);
        self.norms.extend(vectors.chunks_exact(self.dimension.max(1)).map(norm));
        Ok(())
    }

    /// Writes the addresses and norms and puts the file in place of `path`, durably (a blocking call: fsync).
    /// Fails when the rows were not the announced fragments' rows, whole and in order.
    pub fn finish(mut self) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        if self.addresses.len() != self.rows || !holds_whole(&self.fragments, &self.addresses) {
            return Err(std::io::Error::other("the rows were not those announced"));
        }
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("the file is closed"))?;
        file.seek(SeekFrom::Start(self.addresses_at))?;
        file.write_all(bytemuck::cast_slice(&self.addresses))?;
        file.write_all(bytemuck::cast_slice(&self.norms))?;
        let file = file.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        sidecar::commit_replacement(file, &self.temporary, &self.path)?;
        self.finished = true;
        Ok(())
    }
}

/// Whether `addresses` begin with the rows of `fragments`, each fragment's `rows` rows in a run, in order.
pub fn holds_whole(fragments: &[RecordedFragment], addresses: &[u64]) -> bool {
    let mut at = 0;
    for fragment in fragments {
        let run = addresses.get(at..at + fragment.rows);
        if !run.is_some_and(|run| run.iter().all(|address| address >> 32 == fragment.id)) {
            return false;
        }
        at += fragment.rows;
    }
    addresses.get(at).is_none_or(|address| fragments.last().is_none_or(|last| address >> 32 != last.id))
}

impl Drop for StreamedWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.temporary); // nothing to report from a drop: best effort
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::vectors;

    /// Rows 0..200 of fragment 3, then rows 0..100 of fragment 4.
    fn address(row: usize) -> u64 {
        if row < 200 { 3 << 32 | row as u64 } else { 4 << 32 | (row - 200) as u64 }
    }

    fn records() -> Vec<RecordedFragment> {
        let identity = |file: &str, deletion| FragmentIdentity { files: vec![file.into()], deletion };
        vec![
            RecordedFragment { id: 3, identity: identity("a.lance", Some((7, 2))), rows: 200 },
            RecordedFragment { id: 4, identity: identity("b.lance", None), rows: 100 },
        ]
    }

    fn written(dir: &Path, data: &[Vec<f32>]) -> PathBuf {
        let file = path_beside(&sidecar::path(dir, "t"));
        let addresses: Vec<u64> = (0..data.len()).map(address).collect();
        write(&file, 8, 5, &records(), &addresses, |rows| Some(data[rows].concat())).unwrap();
        file
    }

    #[test]
    fn a_written_file_reads_back_in_place_and_every_fault_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = vectors(300, 8, 4);
        let file = written(dir.path(), &data);
        let read = VectorFile::open(&file, 8).unwrap();
        assert_eq!((read.rows(), read.table_version), (300, 5));
        assert_eq!(read.fragments, records());
        assert_eq!(read.address(7), Some(3 << 32 | 7));
        assert_eq!(read.address(250), Some(4 << 32 | 50));
        assert_eq!(read.address(300), None);
        assert_eq!(read.norm(11), Some(crate::store::resident::vectors::norm(&data[11])));
        assert_eq!(read.norm(300), None);
        assert_eq!(read.vectors(10..12), [data[10].as_slice(), data[11].as_slice()].concat());
        assert_eq!(read.vectors(299..300), data[299].as_slice());
        assert!(VectorFile::open(&file, 9).unwrap_err().contains("dimension"));
        drop(read);
        let addresses: Vec<u64> = (0..300).collect();
        assert!(write(&file, 8, 6, &[], &addresses, |_| None).is_err());
        assert_eq!(VectorFile::open(&file, 8).unwrap().table_version, 5, "a write cut off leaves the old file");

        // Streamed in batches: the very same file; dropped before `finish`, nothing is left behind; rows
        // that are not the fragments announced are refused.
        let stream = |name: &str, fragments: Vec<RecordedFragment>| {
            let path = path_beside(&sidecar::path(dir.path(), name));
            let mut writer = StreamedWriter::create(&path, 8, 300, 5, fragments).unwrap();
            for batch in (0..300).collect::<Vec<usize>>().chunks(128) {
                let rows: Vec<u64> = batch.iter().map(|&i| address(i)).collect();
                writer.push(&rows, &batch.iter().flat_map(|&i| data[i].clone()).collect::<Vec<_>>()).unwrap();
            }
            writer.finish().map(|()| path)
        };
        let streamed = stream("s", records()).unwrap();
        assert_eq!(std::fs::read(&streamed).unwrap(), std::fs::read(&file).unwrap());
        let mut short = records();
        short[0].rows = 150;
        assert!(stream("short", short).is_err(), "fragment 3 was not whole in its first 150 rows");
        let mut other = records();
        other[1].id = 5;
        assert!(stream("other", other).is_err(), "rows of fragment 4 announced as fragment 5");
        assert!(stream("first", records()[..1].to_vec()).is_ok(), "the first fragment alone is held whole");
        drop(StreamedWriter::create(&path_beside(&sidecar::path(dir.path(), "gone")), 8, 10, 1, Vec::new()).unwrap());
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, [".lancestore-first.vectors", ".lancestore-s.vectors", ".lancestore-t.vectors"]);

        let whole = std::fs::read(&file).unwrap();
        let mut foreign = whole.clone();
        foreign[1] = b'X';
        let mut too_many = whole.clone();
        let at = whole.windows(4).position(|w| w == b"100]").unwrap(); // fragment 4's rows
        too_many[at..at + 3].copy_from_slice(b"900");
        for (bytes, why) in [
            (whole[..whole.len() - 4].to_vec(), "bytes long"),
            ([whole.as_slice(), b"x"].concat(), "bytes long"),
            (foreign, "not a lancestore"),
            (Vec::new(), "not a lancestore"),
            (too_many, "more rows"),
        ] {
            std::fs::write(&file, bytes).unwrap();
            let err = VectorFile::open(&file, 8).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
