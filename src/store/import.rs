//! `importFile`: streams a JSONL, NPY, Parquet or Arrow IPC file into the table without holding the
//! file in memory. A blocking thread reads chunks (`import/*.rs`), each chunk is checked as an
//! `addEmbeddings` batch would be (naming the file's line or row), and the record batches are
//! streamed into one LanceDB append: one commit for the whole file, or one per `commitEvery` rows.
//! An error anywhere — a bad line, a duplicate id, a truncated file — ends the stream before its
//! commit, so that commit never happens (data files LanceDB had written are left unreferenced and
//! removed by `optimize`).

mod columnar;
mod jsonl;
mod npy;
pub mod source;
#[cfg(test)]
mod tests;

use std::collections::{HashSet, VecDeque};
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

/// The reading side of an import, shared by the streams of its commits.
struct Feed {
    chunks: mpsc::Receiver<Result<Chunk>>,
    pending: Option<Chunk>,
    /// Every id read so far, with its line or row, to refuse an id the file repeats.
    seen: HashSet<String>,
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
        self.chunks.recv().await.transpose()
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
            if !self.seen.insert(item.id.clone()) {
                let at = chunk.places.get(i).copied().unwrap_or(0);
                return Err(StoreError::DuplicateId {
                    id: item.id.clone(),
                    reason: format!("{} {} {at} repeats an id from earlier in the file", self.name, self.unit).into(),
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
        let handles = self.handles()?;
        let started = Instant::now();
        let dimension = self.layout.dimension;
        let opened = tokio::task::spawn_blocking(move || open(&request, dimension))
            .await
            .map_err(|e| StoreError::Internal(format!("the import's reader stopped: {e}")))??;
        let Opened { mut source, name, fields, bytes, total_bytes, commit_every } = opened;
        let total_rows = source.total_rows();
        let unit = source.unit();
        let writing = self.lock_writes(&handles).await?;

        let (sender, chunks) = mpsc::channel::<Result<Chunk>>(2);
        let reader = tokio::task::spawn_blocking(move || {
            loop {
                let next = source.next_chunk(CHUNK_ROWS);
                let last = !matches!(next, Ok(Some(_)));
                if let Ok(None) = next {
                    break;
                }
                if sender.blocking_send(next.map(|c| c.unwrap_or_default())).is_err() || last {
                    break;
                }
            }
        });
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
            pending: None,
            seen: HashSet::new(),
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
                self.committed(&handles, Write::Add(usize::try_from(rows).unwrap_or(usize::MAX)), started).await;
            }
            Ok(())
        }
        .await;
        drop(writing);
        // Dropping the feed closes the channel, so a reader still running stops at its next send.
        let mut state = feed.lock().await;
        state.chunks.close();
        drop(state);
        let _ = reader.await;
        outcome?;
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
