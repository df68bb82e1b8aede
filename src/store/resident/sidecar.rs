//! The graph's sidecar file beside the table (`.lancestore-<table>.hnsw` in the store directory),
//! so a reopened store or another process loads the graph instead of rebuilding it. Layout: an
//! 8-byte magic, a little-endian u32 header length, the JSON header (format, dimension, metric,
//! settings, the table version the graph reflects, rows, and the table's identity: the data file of
//! each fragment the graph's keys point into, whose names LanceDB makes unique), a u64 payload
//! length, the payload's CRC-32, then the payload (usearch's serialised graph). Written to a temporary file, synced and
//! renamed, so a reader sees the old file or the new one, never a mix. Anything unexpected on read
//! (missing, foreign, truncated, corrupt) is an error the caller answers by rebuilding. The file is
//! mapped, not read (`crate::mapped`): the graph is viewed where it lies, its pages shared by every
//! process on the host; the header is padded with spaces so the graph starts on a 64-byte boundary.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use super::graph::{GraphSettings, Precision};
use crate::mapped::MappedFile;
use crate::store::metric::Metric;

const MAGIC: &[u8; 8] = b"LSHNSW\0\x01";
/// 2: the header names the table's fragments (format 1 files are ignored and rebuilt once).
const FORMAT: u64 = 2;
/// Most fragments named in a header (a table has far fewer after compaction).
pub const MAX_FRAGMENTS: usize = 100_000;
/// Longest header accepted (it is a few hundred bytes).
const MAX_HEADER: usize = 64 * 1024;
/// The graph starts at a multiple of this offset in the file (the header is padded to it).
const PAYLOAD_ALIGN: usize = 64;
/// Bytes before the header (magic, header length) and between it and the graph (length, checksum).
const FRAMING: usize = 8 + 4 + 8 + 4;

/// What the header says about the graph in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Vector length.
    pub dimension: usize,
    /// The table's metric.
    pub metric: Metric,
    /// How the graph was built.
    pub settings: GraphSettings,
    /// How it stores vectors.
    pub precision: Precision,
    /// The table version the graph reflected when saved.
    pub table_version: u64,
    /// Nodes in the graph.
    pub rows: usize,
    /// The table's identity: (fragment id, path of its first data file) of the fragments the copy held.
    pub fragments: Vec<(u64, String)>,
}

/// A sidecar's payload, inside the mapped file (not copied out of it).
#[derive(Debug)]
pub struct Payload {
    file: Arc<MappedFile>,
    range: Range<usize>,
}

impl Payload {
    /// The serialised graph.
    #[cfg(test)]
    pub fn as_slice(&self) -> &[u8] {
        self.file.bytes().get(self.range.clone()).unwrap_or_default()
    }

    /// The mapped file and where in it the graph lies, to view the graph in place.
    pub fn into_parts(self) -> (Arc<MappedFile>, Range<usize>) {
        (self.file, self.range)
    }
}

/// The sidecar path of table `table` in store directory `dir`.
pub fn path(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!(".lancestore-{table}.hnsw"))
}

/// The file beside the sidecar recording which graph `createIndex` chose for the table (`"none"`, a graph
/// with its settings, `"auto"`), so the choice lasts: another store or process holding a graph reads it
/// before saving its graph again, and a store whose graph file vanished builds with the chosen settings.
pub fn choice_path(sidecar: &Path) -> PathBuf {
    sidecar.with_extension("choice")
}

/// Writes `choice` (JSON) to `path` atomically.
pub fn write_choice(path: &Path, choice: &serde_json::Value) -> std::io::Result<()> {
    replace_atomically(path, |file| file.write_all(choice.to_string().as_bytes()))
}

/// The choice recorded at `path`, if there is a readable one.
pub fn read_choice(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A temporary file nobody wrote to for this long was left by a process that died while writing it.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// A new temporary path beside `path`, for a file that will replace it (`commit_replacement`). Removes
/// the temporaries of `path` that a process killed while writing left behind (untouched for an hour; a
/// writer that is alive writes to its file all along).
pub(super) fn temporary_path(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        let prefix = format!("{name}.");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let file_name = entry.file_name();
            let is_temporary = file_name.to_str().is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tmp"));
            let untouched = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
            if is_temporary && untouched.is_some_and(|age| age > STALE_TEMPORARY) {
                let _ = std::fs::remove_file(entry.path()); // best effort: another process may have removed it
            }
        }
    }
    path.with_extension(format!(
        "{}.{}-{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("tmp"),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Makes the written `file` at `temporary` durable and puts it in place of `path`: fsync, rename,
/// directory fsync.
pub(super) fn commit_replacement(file: std::fs::File, temporary: &Path, path: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    std::fs::rename(temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `path` through `fill` atomically: a temporary file, fsync, rename, directory fsync.
pub(super) fn replace_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = temporary_path(path);
    let outcome = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        fill(&mut file)?;
        commit_replacement(file.into_inner().map_err(std::io::IntoInnerError::into_error)?, &temporary, path)
    })();
    if outcome.is_err() {
        let _ = std::fs::remove_file(&temporary); // best effort: the error itself is returned
    }
    outcome
}

/// Writes `payload` with `header` to `path` atomically (temporary file, fsync, rename, directory fsync).
pub fn write(path: &Path, header: &Header, payload: &[u8]) -> std::io::Result<()> {
    let head = json!({
        "format": FORMAT,
        "dimension": header.dimension,
        "metric": header.metric.as_str(),
        "numEdges": header.settings.num_edges,
        "efConstruction": header.settings.ef_construction,
        "precision": header.precision.as_str(),
        "tableVersion": header.table_version,
        "rows": header.rows,
        "fragments": header.fragments,
    })
    .to_string();
    // Spaces after the JSON (which a JSON reader skips) put the graph on a PAYLOAD_ALIGN boundary.
    let head =
        format!("{head}{}", " ".repeat((PAYLOAD_ALIGN - (FRAMING + head.len()) % PAYLOAD_ALIGN) % PAYLOAD_ALIGN));
    replace_atomically(path, |file| {
        file.write_all(MAGIC)?;
        file.write_all(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_le_bytes())?;
        file.write_all(head.as_bytes())?;
        file.write_all(&(payload.len() as u64).to_le_bytes())?;
        file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        file.write_all(payload)
    })
}

/// Reads the sidecar at `path`: its header and checked payload. `Err` says why it cannot be trusted.
pub fn read(path: &Path) -> Result<(Header, Payload), String> {
    let file = Arc::new(MappedFile::open(path).map_err(|e| format!("cannot read it: {e}"))?);
    let bytes = file.bytes();
    let mut rest = bytes;
    let mut take = |n: usize, what: &str| -> Result<&[u8], String> {
        if rest.len() < n {
            return Err(format!("it is truncated (in the {what})"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    if take(MAGIC.len(), "magic")? != MAGIC {
        return Err("it is not a lancestore graph file".into());
    }
    let header_len = u32::from_le_bytes(take(4, "header length")?.try_into().unwrap_or_default()) as usize;
    if header_len > MAX_HEADER {
        return Err("its header is implausibly long".into());
    }
    let head: serde_json::Value =
        serde_json::from_slice(take(header_len, "header")?).map_err(|e| format!("its header is not JSON: {e}"))?;
    let payload_len = u64::from_le_bytes(take(8, "payload length")?.try_into().unwrap_or_default());
    let checksum = u32::from_le_bytes(take(4, "checksum")?.try_into().unwrap_or_default());
    let payload_len = usize::try_from(payload_len).map_err(|_| "its payload length is implausible".to_string())?;
    let payload = take(payload_len, "graph")?;
    if !rest.is_empty() {
        return Err("it has bytes after the graph".into());
    }
    if crc32fast::hash(payload) != checksum {
        return Err("its checksum does not match (the file is corrupt)".into());
    }
    if head.get("format").and_then(serde_json::Value::as_u64).is_some_and(|format| format < FORMAT) {
        return Err("it was written by an older lancestore (format without the table's identity)".into());
    }
    let header = parse_header(&head).ok_or("its header lacks a field or has a wrong one")?;
    let start = bytes.len() - payload.len();
    let range = start..bytes.len();
    Ok((header, Payload { file, range }))
}

fn parse_header(head: &serde_json::Value) -> Option<Header> {
    let number = |name: &str| head.get(name).and_then(serde_json::Value::as_u64);
    if number("format")? != FORMAT {
        return None;
    }
    Some(Header {
        dimension: usize::try_from(number("dimension")?).ok()?,
        metric: Metric::parse("metric", head.get("metric")?.as_str()?).ok()?,
        settings: GraphSettings {
            num_edges: u32::try_from(number("numEdges")?).ok()?,
            ef_construction: u32::try_from(number("efConstruction")?).ok()?,
        },
        precision: Precision::parse(head.get("precision")?.as_str()?)?,
        table_version: number("tableVersion")?,
        rows: usize::try_from(number("rows")?).ok()?,
        fragments: head
            .get("fragments")?
            .as_array()?
            .iter()
            .take(MAX_FRAGMENTS)
            .map(|pair| Some((pair.get(0)?.as_u64()?, pair.get(1)?.as_str()?.to_owned())))
            .collect::<Option<Vec<_>>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            dimension: 4,
            metric: Metric::Dot,
            settings: GraphSettings::default(),
            precision: Precision::F32,
            table_version: 9,
            rows: 3,
            fragments: vec![(0, "0a1b-data.lance".into()), (7, "7c8d-data.lance".into())],
        }
    }

    #[test]
    fn a_written_sidecar_reads_back_and_every_fault_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "embeddings");
        assert!(read(&file).unwrap_err().contains("cannot read"));
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        write(&file, &header(), &payload).unwrap();
        let (read_header, read_payload) = read(&file).unwrap();
        assert_eq!((read_header, read_payload.as_slice()), (header(), payload.as_slice()));
        assert_eq!(read_payload.into_parts().1.start % PAYLOAD_ALIGN, 0, "the graph starts on a boundary");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
        // A temporary left by a process killed while writing goes at the next write once it is an hour old;
        // a recent one (a writer at work) stays.
        let stale = file.with_extension("hnsw.4242-0.tmp");
        let recent = file.with_extension("hnsw.4243-0.tmp");
        for left in [&stale, &recent] {
            std::fs::write(left, b"half").unwrap();
        }
        let old = std::time::SystemTime::now() - STALE_TEMPORARY - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(old).unwrap();
        write(&file, &header(), &payload).unwrap();
        assert!(!stale.exists() && recent.exists());
        std::fs::remove_file(&recent).unwrap();

        let whole = std::fs::read(&file).unwrap();
        let truncated = &whole[..whole.len() - 100];
        let mut corrupt = whole.clone();
        *corrupt.last_mut().unwrap() ^= 0x40;
        let mut foreign = whole.clone();
        foreign[0] = b'X';
        for (bytes, why) in [
            (truncated.to_vec(), "truncated"),
            (corrupt, "checksum"),
            (foreign, "not a lancestore"),
            (Vec::new(), "truncated"),
            ([whole.as_slice(), b"x"].concat(), "after the graph"),
        ] {
            std::fs::write(&file, bytes).unwrap();
            let err = read(&file).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
