//! `importFile`: streams a JSONL, NPY, Parquet or Arrow IPC file into the table without holding the
//! file in memory. A blocking thread reads chunks (`import/*.rs`), each chunk is checked as an
//! `addEmbeddings` batch would be (naming the file's line or row), and the record batches are
//! streamed into one LanceDB append: one commit for the whole file, or one per `commitEvery` rows.
//! An error anywhere — a bad line, a duplicate id, a truncated file, a decoder that panics on
//! malformed data (the reader says "end" explicitly, so stopping without it is an error) — ends the
//! stream before its commit, so that commit never happens (data files LanceDB had written are left
//! unreferenced; see `Store::optimize` for when they are removed).

mod columnar;
mod ipc_lengths;
mod jsonl;
mod npy;
pub mod source;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use tokio::sync::{Mutex, mpsc};

use super::activity::Write;
use super::config;
use super::error::{Result, StoreError};
use super::latency::elapsed_ms;
use super::progress::{Progress, ProgressSink, Reporter};
use super::{Handles, Store};
use source::{BytesRead, Chunk, FieldMap, Source, place};

/// Rows read and checked at a time.
const CHUNK_ROWS: usize = 8_192;

/// What to import and how to read it.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The file.
    pub path: String,
    /// `jsonl`, `npy`, `parquet` or `arrow`; default from the extension.
    pub format: Option<String>,
    /// Field (JSONL) or column (Parquet, Arrow) holding the id; default `id`.
    pub id_field: Option<String>,
    /// Field or column holding the vector; default `vector`.
    pub vector_field: Option<String>,
    /// Fields or columns stored as metadata; default all the others.
    pub metadata_fields: Option<Vec<String>>,
    /// `.npy` only: the ids, one per line, or JSONL records with the id field and metadata.
    pub ids_path: Option<String>,
    /// Commit every this many rows instead of once at the end.
    pub commit_every: Option<f64>,
}

/// What one import did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportOutcome {
    /// Rows added.
    pub added: u64,
    /// Table version after the last commit.
    pub version: u64,
    /// Rows in the table afterwards.
    pub rows: u64,
    /// Commits made (0 for an empty file).
    pub commits: u64,
    /// Wall time of the import.
    pub ms: f64,
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines.
    Jsonl,
    /// NumPy `.npy`.
    Npy,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file or stream.
    Arrow,
}

impl Format {
    /// The format named `name`.
    fn parse(name: &str) -> Result<Self> {
        match name {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "npy" => Ok(Format::Npy),
            "parquet" => Ok(Format::Parquet),
            "arrow" | "ipc" | "feather" => Ok(Format::Arrow),
            other => Err(StoreError::invalid(
                "options.format",
                format!("unknown format {other:?}; use jsonl, npy, parquet or arrow"),
            )),
        }
    }

    /// The format a file's extension says.
    fn of_path(path: &Path) -> Result<Self> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        match extension.as_str() {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "npy" => Ok(Format::Npy),
            "parquet" | "pq" => Ok(Format::Parquet),
            "arrow" | "ipc" | "arrows" | "feather" => Ok(Format::Arrow),
            _ => Err(StoreError::invalid(
                "options.format",
                format!(
                    "cannot tell the format of {} from its extension; pass format: jsonl, npy, parquet or arrow",
                    path.display()
                ),
            )),
        }
    }
}

/// An opened file, ready to stream.
struct Opened {
    source: Box<dyn Source>,
    name: String,
    fields: FieldMap,
    bytes: BytesRead,
    total_bytes: u64,
    commit_every: Option<u64>,
}

fn open_file(path: &Path, what: &str) -> Result<File> {
    File::open(path).map_err(|e| StoreError::io(format!("opening {what} {}", path.display()), &e))
}

/// Checks the options and opens the file (reading its header, for the formats that have one).
fn open(request: &ImportRequest, dimension: usize) -> Result<Opened> {
    let path = Path::new(&request.path);
    let format = match &request.format {
        Some(name) => Format::parse(name)?,
        None => Format::of_path(path)?,
    };
    let field = |value: &Option<String>, option: &str, default: &str| -> Result<String> {
        match value {
            Some(name) if name.is_empty() => Err(StoreError::invalid(option, "must not be empty")),
            Some(name) => Ok(name.clone()),
            None => Ok(default.to_owned()),
        }
    };
    let fields = FieldMap {
        id: field(&request.id_field, "options.idField", "id")?,
        vector: field(&request.vector_field, "options.vectorField", "vector")?,
        metadata: request.metadata_fields.clone(),
    };
    let commit_every = request
        .commit_every
        .map(|n| config::integer_in("options.commitEvery", n, 1, 1 << 53).map(|n| n as u64))
        .transpose()?;
    if request.ids_path.is_some() && format != Format::Npy {
        return Err(StoreError::invalid("options.idsPath", "only an .npy import takes its ids from another file"));
    }
    let file = open_file(path, "the import file")?;
    let total_bytes = file.metadata().map_err(|e| StoreError::io(format!("reading {}", path.display()), &e))?.len();
    let name = path.file_name().map_or_else(|| request.path.clone(), |n| n.to_string_lossy().into_owned());
    let bytes = BytesRead::default();
    let source: Box<dyn Source> = match format {
        Format::Jsonl => {
            Box::new(jsonl::Jsonl::new(jsonl::Lines::new(file, name.clone(), bytes.clone()), fields.clone()))
        }
        Format::Npy => {
            let ids = match &request.ids_path {
                None => npy::Ids::RowNumbers,
                Some(ids_path) => {
                    let ids_file = open_file(Path::new(ids_path), "the ids file")?;
                    let ids_name = Path::new(ids_path)
                        .file_name()
                        .map_or_else(|| ids_path.clone(), |n| n.to_string_lossy().into_owned());
                    match Format::of_path(Path::new(ids_path)) {
                        Ok(Format::Jsonl) => npy::Ids::Records(
                            jsonl::Lines::new(ids_file, ids_name, BytesRead::default()),
                            fields.clone(),
                        ),
                        _ => npy::Ids::Text(BufReader::new(ids_file), ids_name),
                    }
                }
            };
            Box::new(npy::Npy::open(file, name.clone(), dimension, ids, bytes.clone())?)
        }
        Format::Parquet => {
            Box::new(columnar::Columnar::parquet(file, name.clone(), &fields, dimension, CHUNK_ROWS, bytes.clone())?)
        }
        Format::Arrow => Box::new(columnar::Columnar::arrow(file, name.clone(), &fields, dimension, bytes.clone())?),
    };
    Ok(Opened { source, name, fields, bytes, total_bytes, commit_every })
}

/// What the reader thread sends: a chunk, or that the file ended. The end is said explicitly, so a
/// reader that stops without saying it (a decoder panicked on malformed data) is an error, not an end.
enum Read {
    Chunk(Chunk),
    End,
}

/// Reads `source` to its end on a blocking thread, sending each chunk (or the error that stopped it) and
/// then `Read::End`. Stops early when the receiver is gone.
fn spawn_reader(mut source: Box<dyn Source>) -> (mpsc::Receiver<Result<Read>>, tokio::task::JoinHandle<()>) {
    let (sender, chunks) = mpsc::channel::<Result<Read>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        loop {
            let (message, last) = match source.next_chunk(CHUNK_ROWS) {
                Ok(Some(chunk)) => (Ok(Read::Chunk(chunk)), false),
                Ok(None) => (Ok(Read::End), true),
                Err(e) => (Err(e), true),
            };
            if sender.blocking_send(message).is_err() || last {
                break;
            }
        }
    });
    (chunks, reader)
}

/// A 128-bit digest of `id`: two SipHash-1-3 hashes (std's, fixed keys) of the id under two prefixes.
/// Two different ids share a digest with probability about 2⁻¹²⁸ per pair (≈ 10⁻²⁷ for a million-row
/// file): negligible next to a disk's undetected error rate, and it keeps the set's memory independent of
/// the ids' length.
fn id_digest(id: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |prefix: u8| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        prefix.hash(&mut hasher);
        id.hash(&mut hasher);
        hasher.finish()
    };
    u128::from(half(0)) << 64 | u128::from(half(1))
}

/// The text of a panic payload, when it has one.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// The reading side of an import, shared by the streams of its commits.
struct Feed {
    chunks: mpsc::Receiver<Result<Read>>,
    /// The reader thread, until it is joined (at the end, or to learn why it stopped early).
    reader: Option<tokio::task::JoinHandle<()>>,
    /// Whether the reader said the file ended.
    ended: bool,
    pending: Option<Chunk>,
    /// Every id read so far, as a 128-bit digest (`id_digest`), with its line or row, to refuse an id the
    /// file repeats: 16 + 8 bytes and the map's overhead per row (about 30 MiB per million rows, whatever
    /// the ids' length), where the ids themselves would take their length plus ~60 bytes each.
    seen: HashMap<u128, u64>,
    unit: &'static str,
    name: String,
    fields: FieldMap,
    rows: u64,
    total_rows: Option<u64>,
    bytes: BytesRead,
    total_bytes: u64,
    reporter: Reporter,
    /// The error that ended the stream (LanceDB sees only that the stream failed).
    failure: Option<StoreError>,
}

impl Feed {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if let Some(chunk) = self.pending.take() {
            return Ok(Some(chunk));
        }
        if self.ended {
            return Ok(None);
        }
        match self.chunks.recv().await {
            Some(Ok(Read::Chunk(chunk))) => Ok(Some(chunk)),
            Some(Ok(Read::End)) => {
                self.ended = true;
                Ok(None)
            }
            Some(Err(e)) => Err(e),
            None => Err(self.reader_stopped().await),
        }
    }

    /// The error for a reader that stopped before the end of the file without an error of its own.
    async fn reader_stopped(&mut self) -> StoreError {
        let why = match self.reader.take() {
            Some(reader) => match reader.await {
                Err(e) if e.is_panic() => {
                    let payload = e.into_panic();
                    format!("the decoder failed ({})", panic_text(payload.as_ref()).unwrap_or("it panicked"))
                }
                Err(e) => format!("the reader was stopped ({e})"),
                Ok(()) => "the reader ended without reaching it".to_owned(),
            },
            None => "the reader had already stopped".to_owned(),
        };
        StoreError::invalid(
            &self.name,
            format!(
                "reading it stopped after {} {}s before the end of the file: {why}; the file may be malformed, and \
                 nothing read since the last commit was committed",
                self.rows, self.unit
            ),
        )
    }

    /// Whether another row is coming (reading ahead one chunk).
    async fn has_more(&mut self) -> Result<bool> {
        if self.pending.is_none() {
            self.pending = self.next_chunk().await?;
        }
        Ok(self.pending.is_some())
    }

    fn progress(&self, phase: &'static str) -> Progress {
        Progress {
            phase,
            rows: self.rows,
            total_rows: self.total_rows,
            bytes: Some(self.bytes.get().min(self.total_bytes)),
            total_bytes: Some(self.total_bytes),
        }
    }

    /// Where item `i` of `chunk` came from, naming `field` by the file's own field name.
    fn place(&self, chunk: &Chunk, i: usize, field: &str) -> String {
        let number = chunk.places.get(i).copied().unwrap_or(0);
        let field = match field {
            "id" => self.fields.id.as_str(),
            "vector" => self.fields.vector.as_str(),
            other => other,
        };
        place(&self.name, self.unit, number, field)
    }

    /// Refuses ids this file already had (naming both lines or rows).
    fn check_repeats(&mut self, chunk: &Chunk) -> Result<()> {
        for (i, item) in chunk.items.iter().enumerate() {
            let at = chunk.places.get(i).copied().unwrap_or(0);
            if let Some(first) = self.seen.insert(id_digest(&item.id), at) {
                return Err(StoreError::DuplicateId {
                    id: item.id.clone(),
                    reason: format!("{} {} {at} repeats the id of {} {first}", self.name, self.unit, self.unit).into(),
                });
            }
        }
        Ok(())
    }
}

impl Store {
    /// Imports a file in one atomic commit (or one per `commit_every` rows), reporting progress to `progress`.
    pub async fn import_file(
        self: &Arc<Self>,
        request: ImportRequest,
        progress: Option<ProgressSink>,
    ) -> Result<ImportOutcome> {
        self.handles()?;
        let started = Instant::now();
        let dimension = self.layout.dimension;
        let opened = tokio::task::spawn_blocking(move || open(&request, dimension))
            .await
            .map_err(|e| StoreError::Internal(format!("the import's reader stopped: {e}")))??;
        self.import_opened(opened, progress, started).await
    }

    /// Streams an opened file into the table (see `import_file`).
    async fn import_opened(
        self: &Arc<Self>,
        opened: Opened,
        progress: Option<ProgressSink>,
        started: Instant,
    ) -> Result<ImportOutcome> {
        let handles = self.handles()?;
        let Opened { source, name, fields, bytes, total_bytes, commit_every } = opened;
        let total_rows = source.total_rows();
        let unit = source.unit();
        let writing = self.lock_writes(&handles).await?;

        let (chunks, reader) = spawn_reader(source);
        let mut reporter = Reporter::new(progress);
        reporter.always(Progress {
            phase: "read",
            rows: 0,
            total_rows,
            bytes: Some(0),
            total_bytes: Some(total_bytes),
        });
        let feed = Arc::new(Mutex::new(Feed {
            chunks,
            reader: Some(reader),
            ended: false,
            pending: None,
            seen: HashMap::new(),
            unit,
            name,
            fields,
            rows: 0,
            total_rows,
            bytes,
            total_bytes,
            reporter,
            failure: None,
        }));

        let mut commits = 0u64;
        let mut added = 0u64;
        let mut version = handles.version().await?;
        let outcome: Result<()> = async {
            while feed.lock().await.has_more().await? {
                let before = feed.lock().await.rows;
                let stream = self.commit_stream(&handles, &feed, commit_every);
                let result = handles.table.add(stream).execute().await;
                let mut state = feed.lock().await;
                if let Some(failure) = state.failure.take() {
                    return Err(failure);
                }
                let result = result.map_err(StoreError::lance("importing the file"))?;
                let rows = state.rows - before;
                commits += 1;
                added += rows;
                version = result.version;
                let event = state.progress("commit");
                state.reporter.always(event);
                drop(state);
                self.committed(&handles, Write::Add(usize::try_from(rows).unwrap_or(usize::MAX)), version, started)
                    .await;
            }
            Ok(())
        }
        .await;
        drop(writing);
        // Closing the channel makes a reader still running (after an error) stop at its next send.
        let mut state = feed.lock().await;
        state.chunks.close();
        let reader = state.reader.take();
        drop(state);
        let joined = match reader {
            Some(reader) => reader.await,
            None => Ok(()),
        };
        outcome?;
        // Every commit ended on the reader's explicit end, so a reader failing after it lost nothing; still, say so.
        joined.map_err(|e| StoreError::Internal(format!("the import's reader failed after the file was read: {e}")))?;
        let rows = self.count(None).await? as u64;
        let mut state = feed.lock().await;
        let done = Progress {
            phase: "done",
            rows: added,
            total_rows: Some(added),
            bytes: Some(total_bytes),
            total_bytes: Some(total_bytes),
        };
        state.reporter.always(done);
        Ok(ImportOutcome { added, version, rows, commits, ms: elapsed_ms(started) })
    }

    /// The record batches of one commit: chunks from the feed, checked, until the file ends or the
    /// commit has `limit` rows.
    fn commit_stream(
        self: &Arc<Self>,
        handles: &Arc<Handles>,
        feed: &Arc<Mutex<Feed>>,
        limit: Option<u64>,
    ) -> lancedb::arrow::SendableRecordBatchStream {
        struct Step {
            store: Arc<Store>,
            handles: Arc<Handles>,
            feed: Arc<Mutex<Feed>>,
            remaining: Option<u64>,
            ready: VecDeque<RecordBatch>,
        }
        let step = Step {
            store: Arc::clone(self),
            handles: Arc::clone(handles),
            feed: Arc::clone(feed),
            remaining: limit,
            ready: VecDeque::new(),
        };
        let stream = futures::stream::unfold(step, |mut step| async move {
            loop {
                if let Some(batch) = step.ready.pop_front() {
                    return Some((Ok(batch), step));
                }
                if step.remaining == Some(0) {
                    return None;
                }
                let shared = Arc::clone(&step.feed);
                let mut feed = shared.lock().await;
                if feed.failure.is_some() {
                    return None;
                }
                let chunk = match feed.next_chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return None,
                    Err(e) => return Some((Err(failed(&mut feed, e)), step)),
                };
                let chunk = limit_chunk(&mut feed, chunk, &mut step.remaining);
                match step.store.checked_batches(&step.handles, &mut feed, &chunk).await {
                    Ok(batches) => {
                        feed.rows += chunk.items.len() as u64;
                        let event = feed.progress("read");
                        feed.reporter.report(event);
                        step.ready.extend(batches);
                    }
                    Err(e) => return Some((Err(failed(&mut feed, e)), step)),
                }
            }
        });
        Box::pin(lancedb::arrow::SimpleRecordBatchStream::new(stream, Arc::clone(&handles.schema)))
    }

    /// Checks one chunk as an `addEmbeddings` batch (naming lines or rows), refuses ids the file
    /// repeats or the table holds, and builds its record batches.
    async fn checked_batches(&self, handles: &Handles, feed: &mut Feed, chunk: &Chunk) -> Result<Vec<RecordBatch>> {
        feed.check_repeats(chunk)?;
        let metadata = config::check_items_at(&chunk.items, self.layout.dimension, self.layout.metric, &|i, field| {
            feed.place(chunk, i, field)
        })?;
        match self.reject_stored_ids(handles, &chunk.items).await {
            Err(StoreError::DuplicateId { id, .. }) => {
                let i = chunk.items.iter().position(|item| item.id == id).unwrap_or(0);
                let at = chunk.places.get(i).copied().unwrap_or(0);
                let reason = format!("{} {} {at}: the id is already in the store", feed.name, feed.unit);
                return Err(StoreError::DuplicateId { id, reason: reason.into() });
            }
            other => other?,
        }
        super::schema::to_batches(&handles.schema, &chunk.items, &metadata, &self.layout, self.config.batch_rows)
    }
}

/// Keeps the stream's real error for `import_file` and gives LanceDB one that ends the write.
fn failed(feed: &mut Feed, error: StoreError) -> lancedb::Error {
    let message = error.to_string();
    feed.failure.get_or_insert(error);
    lancedb::Error::Runtime { message }
}

/// Cuts `chunk` to the rows a commit still takes, keeping the rest for the next commit.
fn limit_chunk(feed: &mut Feed, mut chunk: Chunk, remaining: &mut Option<u64>) -> Chunk {
    if let Some(left) = remaining {
        let take = usize::try_from(*left).unwrap_or(usize::MAX).min(chunk.items.len());
        if take < chunk.items.len() {
            feed.pending = Some(chunk.split_off(take));
        }
        *left -= take as u64;
    }
    chunk
}
