//! The graph's sidecar file beside the table (`.lancestore-<table>.hnsw` in the store directory),
//! so a reopened store or another process loads the graph instead of rebuilding it. Layout: an
//! 8-byte magic, a little-endian u32 header length, the JSON header (format, dimension, metric,
//! settings, the table version the graph reflects, rows), a u64 payload length, the payload's
//! CRC-32, then the payload (usearch's serialised graph). Written to a temporary file, synced and
//! renamed, so a reader sees the old file or the new one, never a mix. Anything unexpected on read
//! (missing, foreign, truncated, corrupt) is an error the caller answers by rebuilding.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use super::graph::GraphSettings;
use crate::store::metric::Metric;

const MAGIC: &[u8; 8] = b"LSHNSW\0\x01";
const FORMAT: u64 = 1;
/// Longest header accepted (it is a few hundred bytes).
const MAX_HEADER: usize = 64 * 1024;

/// What the header says about the graph in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Vector length.
    pub dimension: usize,
    /// The table's metric.
    pub metric: Metric,
    /// How the graph was built.
    pub settings: GraphSettings,
    /// The table version the graph reflected when saved.
    pub table_version: u64,
    /// Nodes in the graph.
    pub rows: usize,
}

/// The sidecar path of table `table` in store directory `dir`.
pub fn path(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!(".lancestore-{table}.hnsw"))
}

/// Writes `payload` with `header` to `path` atomically (temporary file, fsync, rename, directory fsync).
pub fn write(path: &Path, header: &Header, payload: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let temporary =
        path.with_extension(format!("hnsw.{}-{}.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
    let head = json!({
        "format": FORMAT,
        "dimension": header.dimension,
        "metric": header.metric.as_str(),
        "numEdges": header.settings.num_edges,
        "efConstruction": header.settings.ef_construction,
        "tableVersion": header.table_version,
        "rows": header.rows,
    })
    .to_string();
    let outcome = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        file.write_all(MAGIC)?;
        file.write_all(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_le_bytes())?;
        file.write_all(head.as_bytes())?;
        file.write_all(&(payload.len() as u64).to_le_bytes())?;
        file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        file.write_all(payload)?;
        file.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        std::fs::rename(&temporary, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if outcome.is_err() {
        let _ = std::fs::remove_file(&temporary); // best effort: the error itself is returned
    }
    outcome
}

/// Reads the sidecar at `path`: its header and checked payload. `Err` says why it cannot be trusted.
pub fn read(path: &Path) -> Result<(Header, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut rest = bytes.as_slice();
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
    let header = parse_header(&head).ok_or("its header lacks a field or has a wrong one")?;
    Ok((header, payload.to_vec()))
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
        table_version: number("tableVersion")?,
        rows: usize::try_from(number("rows")?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header { dimension: 4, metric: Metric::Dot, settings: GraphSettings::default(), table_version: 9, rows: 3 }
    }

    #[test]
    fn a_written_sidecar_reads_back_and_every_fault_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "embeddings");
        assert!(read(&file).unwrap_err().contains("cannot read"));
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        write(&file, &header(), &payload).unwrap();
        assert_eq!(read(&file).unwrap(), (header(), payload.clone()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");

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
