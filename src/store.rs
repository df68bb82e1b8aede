//! Store: the open LanceDB table behind one `EmbeddingStore`. Owns opening/creating the table,
//! atomic batched inserts, bounded concurrent search through the query cache (with single-flight
//! for identical misses), stats and closing. Plain Rust, no napi types.
#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod error;
pub mod fields;
mod filter;
pub mod index;
mod indexing;
mod registry;
mod schema;
pub mod stats;
mod vector_index;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures::TryStreamExt;
use arrow_array::RecordBatchIterator;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::OptimizeAction;
use tokio::sync::{OnceCell, Semaphore};

use cache::{CacheKey, CacheStats, QueryCache};
pub use config::{Metric, OpenOptions, SearchRequest, StoreConfig};
pub use error::{Result, StoreError};
use stats::{LatencyRecorder, LatencySummary};

/// One embedding to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique, non-empty id.
    pub id: String,
    /// The embedding; its length must equal the store's dimension.
    pub vector: Vec<f32>,
    /// A JSON object, or `None`.
    pub metadata: Option<serde_json::Value>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The stored id.
    pub id: String,
    /// Larger is closer (see `Metric::score`).
    pub score: f64,
    /// LanceDB's distance: smaller is closer.
    pub distance: f64,
    /// The stored metadata object as JSON text, or `None`.
    pub metadata: Option<String>,
}

/// One stored embedding, as `get` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// The id.
    pub id: String,
    /// The stored vector.
    pub vector: Vec<f32>,
    /// The stored metadata object as JSON text, or `None`.
    pub metadata: Option<String>,
}

/// What `delete` removes: rows by id, or rows matching a filter.
#[derive(Debug, Clone)]
pub enum DeleteTarget {
    /// These ids (missing ones are ignored).
    Ids(Vec<String>),
    /// Rows matching this filter (a non-empty filter object).
    Filter(serde_json::Value),
}

/// What one `delete` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Rows removed.
    pub deleted: usize,
    /// Table version after the commit (unchanged when nothing matched).
    pub version: u64,
}

/// What one `upsert` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// New ids stored.
    pub inserted: usize,
    /// Existing ids replaced.
    pub updated: usize,
    /// Table version after the commit.
    pub version: u64,
}

/// What one `optimize` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizeOutcome {
    /// Data fragments removed by compaction.
    pub fragments_removed: usize,
    /// Data fragments written by compaction.
    pub fragments_added: usize,
    /// Old versions pruned.
    pub versions_pruned: u64,
    /// Table version afterwards.
    pub version: u64,
}

/// What one `add` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOutcome {
    /// Rows written.
    pub added: usize,
    /// Table version after the commit.
    pub version: u64,
}

/// What one `createIndex` did.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexReport {
    /// The kind built; `None` when the store searches exactly (asked for `"none"`, or `"auto"` on a small table).
    pub kind: Option<index::IndexKind>,
    /// Rows in the table when the build started.
    pub rows: usize,
    /// The parameters used, tuned from the data unless given.
    pub plan: Option<index::IndexPlan>,
    /// The index name in the table.
    pub name: Option<String>,
    /// Why no index was built, for exact search.
    pub reason: Option<String>,
    /// Wall time of the build (or drop), in milliseconds.
    pub build_ms: f64,
    /// Table version afterwards.
    pub version: u64,
}

/// The vector index as `stats().index` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatus {
    /// The index kind, lower case (`"ivf_pq"`, …), or `None` when searches are exact.
    pub kind: Option<String>,
    /// Its name in the table.
    pub name: Option<String>,
    /// IVF partitions (estimated for indexes built by other tools).
    pub num_partitions: Option<u32>,
    /// Rows the index covers.
    pub indexed_rows: usize,
    /// Rows searched exactly beside it (added since it was built).
    pub unindexed_rows: usize,
    /// Whether a build or refresh is running now.
    pub building: bool,
    /// Index builds and refreshes completed through this store.
    pub builds: u64,
    /// The last failed build's or refresh's error, until one succeeds.
    pub last_error: Option<String>,
    /// Whether writes keep the index built and fresh in the background.
    pub auto: bool,
}

/// What `stats()` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// Stored embeddings.
    pub rows: usize,
    /// Latest committed table version.
    pub version: u64,
    /// Query-cache counters.
    pub cache: CacheStats,
    /// Searches run through this store (cached or not).
    pub searches: u64,
    /// `add` calls that committed.
    pub inserts: u64,
    /// Rows those calls stored.
    pub rows_inserted: u64,
    /// Latency of `search`, cache hits included.
    pub search_latency: LatencySummary,
    /// Latency of `add`.
    pub insert_latency: LatencySummary,
    /// Commits through this store since its last compaction.
    pub commits_since_optimize: u64,
    /// Compactions run (by `optimize()` or automatically).
    pub optimize_runs: u64,
    /// The last automatic compaction's error, if it failed.
    pub last_optimize_error: Option<String>,
    /// The vector index.
    pub index: IndexStatus,
}

/// Latency recorders and counters, behind one short-held mutex.
#[derive(Default)]
struct Activity {
    search: LatencyRecorder,
    insert: LatencyRecorder,
    rows_inserted: u64,
    commits_since_optimize: u64,
    optimize_runs: u64,
    optimizing: bool,
    last_optimize_error: Option<String>,
    index_jobs: u32,
    index_builds: u64,
    index_error: Option<String>,
    /// Set by `createIndex({ kind: 'none' })`: background upkeep builds no index until asked again.
    index_declined: bool,
}

/// A search computed once for everyone asking the same thing at the same version.
type InFlight = Arc<OnceCell<Arc<Vec<Hit>>>>;

/// Ids per `id IN (…)` query when checking a batch against the stored ids.
const IDS_PER_LOOKUP: usize = 2_048;
/// Most ids one `get` or `delete` takes.
pub const MAX_IDS_PER_CALL: usize = 100_000;

/// Handles that live until `close()`; operations in flight keep their own `Arc`.
struct Handles {
    #[cfg_attr(not(test), expect(dead_code, reason = "held so the shared connection lives as long as the store"))]
    shared: Arc<registry::Shared>,
    locks: Arc<registry::TableLocks>,
    table: lancedb::Table,
    schema: SchemaRef,
}

/// An open embedding store: one LanceDB table of `id`, `vector`, `metadata`.
pub struct Store {
    dir: PathBuf,
    config: StoreConfig,
    layout: schema::Layout,
    handles: RwLock<Option<Arc<Handles>>>,
    search_slots: Semaphore,
    cache: Mutex<QueryCache>,
    in_flight: Mutex<HashMap<(CacheKey, u64), InFlight>>,
    activity: Arc<Mutex<Activity>>,
    /// The vector index's shape at a table version, so searches do not list indexes every call.
    index_shape: Mutex<Option<(u64, Option<index::IndexShape>)>>,
}

impl Store {
    /// Opens (or creates) the store at `path`. A new table needs `dimension`; an existing one must
    /// match the given `dimension` and `metric`.
    pub async fn open(path: &str, options: OpenOptions) -> Result<Self> {
        let config = StoreConfig::resolve(options)?;
        let dir = prepare_directory(path).await?;
        let shared = registry::connect(&dir, config.read_consistency).await?;
        let locks = registry::table_locks(&dir, &config.table)?;
        let table = open_or_create_table(&shared.connection, &config).await?;
        let schema = table.schema().await.map_err(StoreError::lance("reading the table schema"))?;
        let layout = schema::describe(&schema)?;
        let (dimension, metric) = (layout.dimension, layout.metric);
        if let Some(expected) = config.dimension
            && expected != dimension
        {
            return Err(StoreError::DimensionMismatch { what: "options.dimension".into(), expected: dimension, got: expected });
        }
        if let Some(asked) = config.metric
            && asked != metric
        {
            return Err(StoreError::invalid(
                "metric",
                format!("the table was created with metric '{}', not '{}'", metric.as_str(), asked.as_str()),
            ));
        }
        if let Some(asked) = &config.fields
            && asked != &layout.fields
        {
            let show = |f: &fields::Fields| {
                f.iter().map(|(n, t)| format!("{n}: '{}'", t.as_str())).collect::<Vec<_>>().join(", ")
            };
            return Err(StoreError::invalid(
                "fields",
                format!("the table was created with fields {{{}}}, not {{{}}}", show(&layout.fields), show(asked)),
            ));
        }
        if let Some(rows) = config.prefetch_rows {
            prewarm(&table, rows).await?;
        }
        let search_slots = Semaphore::new(config.max_concurrent_searches);
        let cache = Mutex::new(QueryCache::new(config.cache_capacity, config.cache_ttl));
        let handles = Arc::new(Handles { shared, locks, table, schema });
        let store = Self {
            dir,
            config,
            layout,
            handles: RwLock::new(Some(Arc::clone(&handles))),
            search_slots,
            cache,
            in_flight: Mutex::default(),
            activity: Arc::default(),
            index_shape: Mutex::default(),
        };
        // A table that grew past the crossover elsewhere (or before autoIndex) gets its index now.
        store.maybe_spawn_upkeep(&handles)?;
        Ok(store)
    }

    /// The store's vector dimension.
    pub fn dimension(&self) -> usize {
        self.layout.dimension
    }

    /// The metric the table was created with.
    pub fn metric(&self) -> Metric {
        self.layout.metric
    }

    /// The declared metadata fields.
    pub fn fields(&self) -> &fields::Fields {
        &self.layout.fields
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.config.table
    }

    /// The store's directory, canonicalised.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `close()` has been called.
    pub fn is_closed(&self) -> bool {
        self.handles.read().map(|h| h.is_none()).unwrap_or(true)
    }

    fn handles(&self) -> Result<Arc<Handles>> {
        let guard = self.handles.read().map_err(|_| StoreError::Internal("store handle lock poisoned".into()))?;
        guard.as_ref().map(Arc::clone).ok_or(StoreError::Closed)
    }

    /// Adds `items` in one atomic commit: every item is stored, or (on any error) none is.
    pub async fn add(&self, items: Vec<Item>) -> Result<AddOutcome> {
        let handles = self.handles()?;
        if items.is_empty() {
            return Ok(AddOutcome { added: 0, version: current_version(&handles.table).await? });
        }
        let started = Instant::now();
        let batches = self.prepare(&handles, &items)?;
        let writing = handles.locks.write.lock().await;
        reject_stored_ids(&handles.table, &items).await?;
        let result = handles.table.add(batches).execute().await.map_err(StoreError::lance("adding embeddings"))?;
        drop(writing);
        self.committed(&handles, Some((started, items.len())))?;
        Ok(AddOutcome { added: items.len(), version: result.version })
    }

    /// Validates a batch and builds its record batches; nothing is written.
    fn prepare(&self, handles: &Handles, items: &[Item]) -> Result<Vec<RecordBatch>> {
        let metadata = config::check_items(items, self.layout.dimension, self.layout.metric)?;
        schema::to_batches(&handles.schema, items, &metadata, &self.layout, self.config.batch_rows)
    }

    /// Bookkeeping after any commit through this store: frees cache entries the new version made
    /// unservable, records insert latency, and starts a background compaction when due.
    fn committed(&self, handles: &Arc<Handles>, inserted: Option<(Instant, usize)>) -> Result<()> {
        // Entries computed before this commit can no longer be served (their version is older);
        // dropping them now just frees the memory early.
        lock(&self.cache)?.clear();
        let mut activity = lock(&self.activity)?;
        if let Some((started, rows)) = inserted {
            activity.insert.record(elapsed_ms(started));
            activity.rows_inserted += rows as u64;
        }
        activity.commits_since_optimize += 1;
        let due = self.config.auto_optimize_commits > 0
            && activity.commits_since_optimize >= self.config.auto_optimize_commits as u64
            && !activity.optimizing;
        if due {
            activity.optimizing = true;
            drop(activity);
            self.spawn_optimize(Arc::clone(handles));
        } else {
            drop(activity);
        }
        self.maybe_spawn_upkeep(handles)
    }

    /// Compacts in the background; the outcome (or error) lands in `stats()`, never silently.
    fn spawn_optimize(&self, handles: Arc<Handles>) {
        let activity = Arc::clone(&self.activity);
        let declared = self.layout.fields.clone();
        let retain = self.config.retain_versions;
        tokio::spawn(async move {
            let outcome = optimize_table(&handles, &declared, retain).await;
            if let Ok(mut activity) = activity.lock() {
                activity.optimizing = false;
                match outcome {
                    Ok(_) => {
                        activity.optimize_runs += 1;
                        activity.commits_since_optimize = 0;
                        activity.last_optimize_error = None;
                    }
                    Err(err) => activity.last_optimize_error = Some(err.to_string()),
                }
            }
        });
    }

    /// Inserts new ids and replaces existing ones (vector and metadata) in one atomic commit.
    pub async fn upsert(&self, items: Vec<Item>) -> Result<UpsertOutcome> {
        let handles = self.handles()?;
        if items.is_empty() {
            return Ok(UpsertOutcome { inserted: 0, updated: 0, version: current_version(&handles.table).await? });
        }
        let started = Instant::now();
        let batches = self.prepare(&handles, &items)?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), Arc::clone(&handles.schema));
        let writing = handles.locks.write.lock().await;
        let mut merge = handles.table.merge_insert(&[schema::ID]);
        merge.when_matched_update_all(None).when_not_matched_insert_all();
        let result = merge.execute(Box::new(reader)).await.map_err(StoreError::lance("upserting embeddings"))?;
        drop(writing);
        self.committed(&handles, Some((started, items.len())))?;
        Ok(UpsertOutcome {
            inserted: usize::try_from(result.num_inserted_rows).unwrap_or(usize::MAX),
            updated: usize::try_from(result.num_updated_rows).unwrap_or(usize::MAX),
            version: result.version,
        })
    }

    /// The stored items for `ids`, in the order asked; `None` for ids not stored.
    pub async fn get(&self, ids: Vec<String>) -> Result<Vec<Option<StoredItem>>> {
        let handles = self.handles()?;
        check_id_list(&ids)?;
        let mut found: HashMap<String, StoredItem> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let stream = handles
                .table
                .query()
                .only_if(filter::id_in(chunk.iter().map(String::as_str)))
                .select(Select::columns(&[schema::ID, schema::VECTOR, schema::METADATA]))
                .execute()
                .await
                .map_err(StoreError::lance("reading items"))?;
            let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(StoreError::lance("reading items"))?;
            for item in schema::read_items(&batches)? {
                found.insert(item.id.clone(), item);
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// Removes rows by id or by filter in one commit.
    pub async fn delete(&self, target: DeleteTarget) -> Result<DeleteOutcome> {
        let handles = self.handles()?;
        let predicate = match &target {
            DeleteTarget::Ids(ids) => {
                check_id_list(ids)?;
                if ids.is_empty() {
                    return Ok(DeleteOutcome { deleted: 0, version: current_version(&handles.table).await? });
                }
                filter::id_in(ids.iter().map(String::as_str))
            }
            DeleteTarget::Filter(value) => filter::compile(value, &self.layout.fields)?.ok_or_else(|| {
                StoreError::InvalidFilter { reason: "an empty filter would delete every row; pass a filter that says what to delete".into() }
            })?,
        };
        let writing = handles.locks.write.lock().await;
        let matching = handles.table.count_rows(Some(predicate.clone())).await.map_err(StoreError::lance("counting rows"))?;
        if matching == 0 {
            return Ok(DeleteOutcome { deleted: 0, version: current_version(&handles.table).await? });
        }
        let result = handles.table.delete(predicate.as_str()).await.map_err(StoreError::lance("deleting rows"))?;
        drop(writing);
        self.committed(&handles, None)?;
        let deleted = usize::try_from(result.num_deleted_rows).unwrap_or(matching);
        Ok(DeleteOutcome { deleted: if deleted == 0 { matching } else { deleted }, version: result.version })
    }

    /// Compacts small fragments, prunes versions older than `retain` (default: the store's
    /// `retain_versions`, an hour unless set) and folds new rows into indexes.
    pub async fn optimize(&self, retain_versions_seconds: Option<f64>) -> Result<OptimizeOutcome> {
        let handles = self.handles()?;
        let retain = match retain_versions_seconds {
            Some(seconds) => config::retention(seconds)?,
            None => self.config.retain_versions,
        };
        let outcome = optimize_table(&handles, &self.layout.fields, retain).await?;
        let mut activity = lock(&self.activity)?;
        activity.optimize_runs += 1;
        activity.commits_since_optimize = 0;
        lock(&self.cache)?.clear();
        Ok(outcome)
    }

    /// The stored embeddings nearest to `query`, best first. Served from the query cache when the
    /// same search was answered at the table's current version; identical concurrent misses run once.
    pub async fn search(&self, query: &[f32], request: &SearchRequest) -> Result<Arc<Vec<Hit>>> {
        let started = Instant::now();
        let handles = self.handles()?;
        let search = request.validate(query, self.layout.dimension, self.layout.metric, &self.layout.fields)?;
        // The version is read *before* searching: a result is never labelled newer than its data.
        let version = current_version(&handles.table).await?;
        let shape = if search.knobs.exact { None } else { self.shape_at(&handles.table, version).await? };
        let hits = if lock(&self.cache)?.is_enabled() {
            self.search_cached(&handles, query, search, version, shape).await?
        } else {
            Arc::new(self.search_table(&handles, query, search, shape).await?)
        };
        lock(&self.activity)?.search.record(elapsed_ms(started));
        Ok(hits)
    }

    async fn search_cached(
        &self,
        handles: &Handles,
        query: &[f32],
        search: config::Search,
        version: u64,
        shape: Option<index::IndexShape>,
    ) -> Result<Arc<Vec<Hit>>> {
        let key = CacheKey::new(query, &search, self.layout.metric);
        if let Some(hits) = lock(&self.cache)?.get(&key, version, Instant::now()) {
            return Ok(hits);
        }
        let flight_key = (key, version);
        let flight = Arc::clone(lock(&self.in_flight)?.entry(flight_key.clone()).or_default());
        let ran_here = AtomicBool::new(false);
        let outcome = flight
            .get_or_try_init(|| async {
                ran_here.store(true, Ordering::Relaxed);
                self.search_table(handles, query, search, shape).await.map(Arc::new)
            })
            .await
            .map(Arc::clone);
        if outcome.is_ok() && !ran_here.load(Ordering::Relaxed) {
            lock(&self.cache)?.record_coalesced();
        }
        {
            let mut in_flight = lock(&self.in_flight)?;
            if in_flight.get(&flight_key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                in_flight.remove(&flight_key);
            }
        }
        let hits = outcome?;
        lock(&self.cache)?.insert(flight_key.0, version, Arc::clone(&hits), Instant::now());
        Ok(hits)
    }

    /// One search against LanceDB, bounded by the store's search slots. With an index (`shape`), the
    /// knobs the user left unset get the kind's measured defaults; rows the index does not cover yet
    /// are still searched exactly by LanceDB.
    async fn search_table(&self, handles: &Handles, query: &[f32], search: config::Search, shape: Option<index::IndexShape>) -> Result<Vec<Hit>> {
        let max_distance = search.threshold.and_then(|t| self.layout.metric.max_distance(t));
        if self.layout.metric == Metric::L2 && max_distance.is_some_and(|d| d < 0.0) {
            return Ok(Vec::new()); // a score above 1 is unreachable under l2
        }
        let _slot = self.search_slots.acquire().await.map_err(|_| StoreError::Closed)?;
        let mut query = handles
            .table
            .query()
            .nearest_to(query)
            .map_err(StoreError::lance("preparing the vector query"))?
            .distance_type(self.layout.metric.distance_type())
            .limit(search.limit)
            .select(Select::columns(&[schema::ID, schema::METADATA]));
        // LanceDB prefilters by default: the filter applies before the top-k, so a filtered search
        // still returns `limit` hits when that many rows match.
        if let Some(predicate) = &search.filter {
            query = query.only_if(predicate);
        }
        if let Some(bound) = max_distance {
            query = query.distance_range(None, Some(exclusive_upper_bound(bound)));
        }
        if search.knobs.exact {
            query = query.bypass_vector_index();
        } else if let Some(shape) = shape {
            let knobs = index::resolve_knobs(&search.knobs, shape, search.limit, search.threshold.is_some());
            // A minimum, not a fixed count: LanceDB probes further when a filter leaves too few rows.
            query = query.minimum_nprobes(knobs.nprobes).map_err(StoreError::lance("setting nprobes"))?;
            if let Some(factor) = knobs.refine_factor {
                query = query.refine_factor(factor);
            }
            if let Some(ef) = knobs.ef {
                query = query.ef(ef);
            }
        }
        let stream = query.execute().await.map_err(StoreError::lance("searching"))?;
        let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(StoreError::lance("reading search results"))?;
        let mut hits = schema::read_hits(&batches, self.layout.metric)?;
        // The pushed-down bound is a superset (f32); the exact cut is on the score itself.
        if let Some(threshold) = search.threshold {
            hits.retain(|hit| hit.score >= threshold);
        }
        Ok(hits)
    }

    /// Row count, version, cache counters and latency summaries.
    pub async fn stats(&self) -> Result<StoreStats> {
        let handles = self.handles()?;
        let version = current_version(&handles.table).await?;
        let rows = handles.table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?;
        let cache = lock(&self.cache)?.stats();
        let (kind, name, num_partitions, indexed_rows, unindexed_rows) = match vector_index::find(&handles.table).await? {
            Some(f) => (Some(f.kind), Some(f.name), Some(f.shape.num_partitions), f.indexed_rows, f.unindexed_rows),
            None => (None, None, None, 0, rows),
        };
        let activity = lock(&self.activity)?;
        let search_latency = activity.search.summary();
        let insert_latency = activity.insert.summary();
        Ok(StoreStats {
            rows,
            version,
            cache,
            searches: search_latency.count,
            inserts: insert_latency.count,
            rows_inserted: activity.rows_inserted,
            search_latency,
            insert_latency,
            commits_since_optimize: activity.commits_since_optimize,
            optimize_runs: activity.optimize_runs,
            last_optimize_error: activity.last_optimize_error.clone(),
            index: IndexStatus {
                kind,
                name,
                num_partitions,
                indexed_rows,
                unindexed_rows,
                building: activity.index_jobs > 0,
                builds: activity.index_builds,
                last_error: activity.index_error.clone(),
                auto: self.config.auto_index && !activity.index_declined,
            },
        })
    }

    /// Number of stored embeddings, or of those matching `filter`.
    pub async fn count(&self, filter: Option<&serde_json::Value>) -> Result<usize> {
        let handles = self.handles()?;
        let predicate = match filter {
            Some(filter) => filter::compile(filter, &self.layout.fields)?,
            None => None,
        };
        handles.table.count_rows(predicate).await.map_err(StoreError::lance("counting rows"))
    }

    /// The table's latest committed version.
    pub async fn version(&self) -> Result<u64> {
        current_version(&self.handles()?.table).await
    }

    /// Releases the table and (if no other store uses it) the connection. Later calls fail
    /// with `Closed`; calls already running finish first. Closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        let mut guard = self.handles.write().map_err(|_| StoreError::Internal("store handle lock poisoned".into()))?;
        guard.take();
        self.search_slots.close();
        lock(&self.cache)?.clear();
        Ok(())
    }
}

/// Locks a short-held std mutex; poisoning (a panic elsewhere while holding it) becomes `Internal`.
fn lock<T>(mutex: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| StoreError::Internal("a store mutex was poisoned".into()))
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

/// Ids for `get`/`delete`: each a valid id, at most `MAX_IDS_PER_CALL` of them.
fn check_id_list(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_IDS_PER_CALL {
        return Err(StoreError::invalid("ids", format!("got {} ids; at most {MAX_IDS_PER_CALL} per call", ids.len())));
    }
    ids.iter().enumerate().try_for_each(|(i, id)| config::check_id(&format!("ids[{i}]"), id))
}

/// Compaction, then pruning of versions older than `retain` (every call checks the latest version,
/// and that check slows down with thousands of retained versions), then a scalar index for every
/// declared field that lacks one, then folding new rows into existing indexes.
async fn optimize_table(handles: &Handles, declared: &fields::Fields, retain: std::time::Duration) -> Result<OptimizeOutcome> {
    let _maintaining = handles.locks.maintenance.lock().await;
    let _writing = handles.locks.write.lock().await;
    let table = &handles.table;
    let compacted = table
        .optimize(OptimizeAction::Compact { options: Default::default(), remap_options: None })
        .await
        .map_err(StoreError::lance("compacting the table"))?;
    let older_than = lancedb::table::Duration::from_std(retain)
        .map_err(|e| StoreError::Internal(format!("prune age: {e}")))?;
    let pruned = table
        .optimize(OptimizeAction::Prune { older_than: Some(older_than), delete_unverified: None, error_if_tagged_old_versions: None })
        .await
        .map_err(StoreError::lance("pruning old versions"))?;
    create_field_indexes(table, declared).await?;
    table
        .optimize(OptimizeAction::Index(Default::default()))
        .await
        .map_err(StoreError::lance("optimizing indexes"))?;
    let (removed, added) = compacted.compaction.map_or((0, 0), |c| (c.fragments_removed, c.fragments_added));
    Ok(OptimizeOutcome {
        fragments_removed: removed,
        fragments_added: added,
        versions_pruned: pruned.prune.map_or(0, |p| p.old_versions),
        version: current_version(table).await?,
    })
}

/// Builds the scalar index of each declared field that has none yet (once the table has rows), so
/// filters read an index instead of scanning the column.
async fn create_field_indexes(table: &lancedb::Table, declared: &fields::Fields) -> Result<()> {
    if declared.is_empty() || table.count_rows(None).await.map_err(StoreError::lance("counting rows"))? == 0 {
        return Ok(());
    }
    let existing = table.list_indices().await.map_err(StoreError::lance("listing indexes"))?;
    for (name, kind) in declared {
        if existing.iter().any(|index| index.columns.iter().any(|c| c == name)) {
            continue;
        }
        table
            .create_index(&[name], kind.scalar_index())
            .execute()
            .await
            .map_err(StoreError::lance("creating a scalar index on a declared field"))?;
    }
    Ok(())
}

/// Reads up to `rows` vectors once and loads every index, so the first real search finds the file
/// metadata, data pages and index structures already in memory.
async fn prewarm(table: &lancedb::Table, rows: usize) -> Result<()> {
    let mut query = table.query().select(Select::columns(&[schema::VECTOR]));
    if rows != usize::MAX {
        query = query.limit(rows);
    }
    let stream = query
        .execute()
        .await
        .map_err(StoreError::lance("prewarming the data"))?;
    stream.try_for_each(|_| async { Ok(()) }).await.map_err(StoreError::lance("prewarming the data"))?;
    for index in table.list_indices().await.map_err(StoreError::lance("listing indexes"))? {
        table.prewarm_index(&index.name).await.map_err(StoreError::lance("prewarming an index"))?;
    }
    Ok(())
}

/// Creates `path` if needed and returns it canonicalised; anything the file system refuses is `Io`.
async fn prepare_directory(path: &str) -> Result<PathBuf> {
    if path.is_empty() {
        return Err(StoreError::invalid("path", "expected a directory path, got an empty string"));
    }
    let io = |action: &str| {
        let action = format!("{action} {path:?}");
        move |e: std::io::Error| StoreError::Io { action, reason: e.to_string() }
    };
    tokio::fs::create_dir_all(path).await.map_err(io("creating the store directory"))?;
    let dir = tokio::fs::canonicalize(path).await.map_err(io("resolving the store directory"))?;
    // Root ignores permission bits, so probe by writing rather than by reading the mode.
    let probe = dir.join(format!(".lancestore-write-probe-{}", std::process::id()));
    tokio::fs::write(&probe, b"").await.map_err(io("writing in the store directory"))?;
    tokio::fs::remove_file(&probe).await.map_err(io("writing in the store directory"))?;
    Ok(dir)
}

async fn open_or_create_table(connection: &lancedb::Connection, config: &StoreConfig) -> Result<lancedb::Table> {
    match connection.open_table(&config.table).execute().await {
        Ok(table) => return Ok(table),
        Err(lancedb::Error::TableNotFound { .. }) => {}
        Err(e) => return Err(StoreError::lance("opening the table")(e)),
    }
    let dimension = config.dimension.ok_or_else(|| {
        StoreError::invalid("dimension", "the table does not exist yet, so `dimension` is required to create it")
    })?;
    let declared = config.fields.clone().unwrap_or_default();
    let schema = schema::table_schema(dimension, config.metric.unwrap_or(Metric::Cosine), &declared)?;
    match connection.create_empty_table(&config.table, schema).execute().await {
        Ok(table) => Ok(table),
        // Another store created it between our open and create: open theirs (and check it matches).
        Err(lancedb::Error::TableAlreadyExists { .. }) => {
            connection.open_table(&config.table).execute().await.map_err(StoreError::lance("opening the table"))
        }
        Err(e) => Err(StoreError::lance("creating the table")(e)),
    }
}

async fn current_version(table: &lancedb::Table) -> Result<u64> {
    table.version().await.map_err(StoreError::lance("reading the table version"))
}

/// Fails with `DuplicateId` naming the first id of `items` already stored.
async fn reject_stored_ids(table: &lancedb::Table, items: &[Item]) -> Result<()> {
    for chunk in items.chunks(IDS_PER_LOOKUP) {
        let predicate = filter::id_in(chunk.iter().map(|item| item.id.as_str()));
        let stream = table
            .query()
            .only_if(predicate)
            .select(Select::columns(&[schema::ID]))
            .limit(1)
            .execute()
            .await
            .map_err(StoreError::lance("checking for stored ids"))?;
        let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(StoreError::lance("checking for stored ids"))?;
        for batch in &batches {
            if let Some(id) = schema::read_ids(batch)?.into_iter().next() {
                return Err(StoreError::DuplicateId { id, reason: "it is already in the store" });
            }
        }
    }
    Ok(())
}

/// The smallest f32 strictly above `bound` (LanceDB's range is `[lower, upper)`), so rows exactly
/// at the bound are kept; the exact comparison happens on the score afterwards.
fn exclusive_upper_bound(bound: f64) -> f32 {
    let rounded = bound as f32; // rounds to nearest; stepped up below when that went down
    let at_least = if f64::from(rounded) < bound { rounded.next_up() } else { rounded };
    at_least.next_up()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dimension: usize) -> OpenOptions {
        OpenOptions { dimension: Some(dimension as f64), ..Default::default() }
    }

    fn item(id: &str, vector: &[f32]) -> Item {
        Item { id: id.into(), vector: vector.to_vec(), metadata: Some(serde_json::json!({ "id": id })) }
    }

    fn path(dir: &tempfile::TempDir) -> String {
        dir.path().join("store").to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn a_new_table_needs_a_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(&path(&dir), OpenOptions::default()).await.err().unwrap();
        assert!(matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "dimension"));
    }

    #[tokio::test]
    async fn adds_and_finds_the_nearest_with_metadata() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(3)).await?;
        let outcome = store.add(vec![item("x", &[1.0, 0.0, 0.0]), item("y", &[0.0, 1.0, 0.0])]).await?;
        assert_eq!(outcome.added, 2);
        assert_eq!(outcome.version, store.version().await?);
        let hits = store.search(&[0.1, 1.0, 0.0], &SearchRequest::default()).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["y", "x"]);
        assert_eq!(hits[0].metadata.as_deref(), Some(r#"{"id":"y"}"#));
        assert!(hits[0].score > hits[1].score);
        Ok(())
    }

    #[tokio::test]
    async fn a_stored_id_rejects_the_whole_batch() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        store.add(vec![item("a", &[1.0, 0.0])]).await?;
        let version = store.version().await?;
        let err = store.add(vec![item("b", &[0.0, 1.0]), item("a", &[1.0, 1.0])]).await.unwrap_err();
        assert!(matches!(err, StoreError::DuplicateId { ref id, .. } if id == "a"));
        assert_eq!(store.count(None).await?, 1);
        assert_eq!(store.version().await?, version);
        Ok(())
    }

    #[tokio::test]
    async fn reopening_checks_dimension_and_metric() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), OpenOptions { metric: Some("l2".into()), ..options(4) }).await?;
        store.close()?;
        let again = Store::open(&path(&dir), OpenOptions::default()).await?;
        assert_eq!((again.dimension(), again.metric()), (4, Metric::L2));
        let err = Store::open(&path(&dir), options(5)).await.err().unwrap();
        assert!(matches!(err, StoreError::DimensionMismatch { expected: 4, got: 5, .. }));
        let err = Store::open(&path(&dir), OpenOptions { metric: Some("dot".into()), ..Default::default() }).await.err().unwrap();
        assert!(matches!(err, StoreError::InvalidArgument { .. }));
        Ok(())
    }

    #[tokio::test]
    async fn closed_stores_reject_every_call() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        store.close()?;
        store.close()?;
        assert!(store.is_closed());
        assert!(matches!(store.count(None).await, Err(StoreError::Closed)));
        assert!(matches!(store.search(&[1.0, 0.0], &SearchRequest::default()).await, Err(StoreError::Closed)));
        assert!(matches!(store.add(vec![item("a", &[1.0, 0.0])]).await, Err(StoreError::Closed)));
        Ok(())
    }

    #[tokio::test]
    async fn threshold_keeps_exactly_the_hits_at_or_above_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        let items: Vec<Item> = (0..20)
            .map(|i| {
                let angle = f32::from(u8::try_from(i).unwrap()) * 0.1;
                item(&format!("p{i}"), &[angle.cos(), angle.sin()])
            })
            .collect();
        store.add(items).await?;
        let all = store.search(&[1.0, 0.0], &SearchRequest { limit: Some(20.0), ..Default::default() }).await?;
        let cut = all[6].score;
        let hits = store.search(&[1.0, 0.0], &SearchRequest { limit: Some(20.0), threshold: Some(cut), ..Default::default() }).await?;
        let expected: Vec<&str> = all.iter().filter(|h| h.score >= cut).map(|h| h.id.as_str()).collect();
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), expected);
        assert!(hits.len() >= 7);
        Ok(())
    }

    #[tokio::test]
    async fn a_file_in_the_way_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("store").to_string_lossy(), options(2)).await.err().unwrap();
        assert_eq!(err.code(), "IO");
    }

    #[tokio::test]
    async fn stores_on_one_directory_share_a_connection() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&path(&dir), options(2)).await?;
        let b = Store::open(&path(&dir), OpenOptions::default()).await?;
        let (ha, hb) = (a.handles()?, b.handles()?);
        assert!(Arc::ptr_eq(&ha.shared, &hb.shared));
        a.add(vec![item("a", &[1.0, 0.0])]).await?;
        assert_eq!(b.count(None).await?, 1);
        Ok(())
    }

    fn with_fields() -> OpenOptions {
        let fields = [("section", "string"), ("year", "int"), ("tags", "string[]")];
        OpenOptions { fields: Some(fields.map(|(a, b)| (a.to_owned(), b.to_owned())).into()), ..options(2) }
    }

    fn doc(id: &str, vector: &[f32], section: &str, year: i64, tags: &[&str]) -> Item {
        let metadata = serde_json::json!({ "section": section, "year": year, "tags": tags, "note": "free text" });
        Item { id: id.into(), vector: vector.to_vec(), metadata: Some(metadata) }
    }

    #[tokio::test]
    async fn upsert_get_delete_and_filtered_search() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), with_fields()).await?;
        store.add(vec![
            doc("a", &[1.0, 0.0], "libs", 2019, &["x"]),
            doc("b", &[0.9, 0.1], "utils", 2021, &["x", "y"]),
            doc("c", &[0.0, 1.0], "utils", 2023, &[]),
        ]).await?;
        let search = |filter: serde_json::Value| SearchRequest { filter: Some(filter), ..Default::default() };
        let hits = store.search(&[1.0, 0.0], &search(serde_json::json!({ "section": "utils" }))).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        let hits = store.search(&[1.0, 0.0], &search(serde_json::json!({ "tags": "y" }))).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(store.count(Some(&serde_json::json!({ "year": { "$gte": 2021 } }))).await?, 2);

        let outcome = store.upsert(vec![doc("a", &[0.0, 1.0], "games", 2024, &[]), doc("d", &[0.5, 0.5], "libs", 2020, &[])]).await?;
        assert_eq!((outcome.inserted, outcome.updated), (1, 1));
        let got = store.get(vec!["d".into(), "missing".into(), "a".into()]).await?;
        assert_eq!(got[0].as_ref().unwrap().id, "d");
        assert!(got[1].is_none());
        let a = got[2].as_ref().unwrap();
        assert_eq!(a.vector, vec![0.0, 1.0]);
        let metadata: serde_json::Value = serde_json::from_str(a.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(metadata["section"], "games");

        store.optimize(None).await?; // builds the declared fields' scalar indexes
        let indexed: Vec<String> = store.handles()?.table.list_indices().await.unwrap().into_iter().flat_map(|i| i.columns).collect();
        for field in ["section", "year", "tags"] {
            assert!(indexed.iter().any(|c| c == field), "{field} has no index: {indexed:?}");
        }
        let hits = store.search(&[1.0, 0.0], &search(serde_json::json!({ "tags": { "$in": ["y"] }, "year": { "$gt": 2020 } }))).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        let deleted = store.delete(DeleteTarget::Filter(serde_json::json!({ "section": "utils" }))).await?;
        assert_eq!(deleted.deleted, 2);
        let deleted = store.delete(DeleteTarget::Ids(vec!["d".into(), "nope".into()])).await?;
        assert_eq!(deleted.deleted, 1);
        assert_eq!(store.count(None).await?, 1);
        assert!(matches!(store.delete(DeleteTarget::Filter(serde_json::json!({}))).await, Err(StoreError::InvalidFilter { .. })));
        Ok(())
    }

    #[tokio::test]
    async fn optimize_compacts_many_small_commits() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), OpenOptions { auto_optimize_every: Some(0.0), ..options(2) }).await?;
        for i in 0..20 {
            store.add(vec![item(&format!("k{i}"), &[1.0, i as f32])]).await?;
        }
        let outcome = store.optimize(Some(0.0)).await?;
        assert!(outcome.fragments_removed >= 20, "{outcome:?}");
        assert!(outcome.versions_pruned >= 20, "{outcome:?}");
        assert_eq!(outcome.fragments_added, 1);
        assert_eq!(store.count(None).await?, 20);
        assert_eq!(store.stats().await?.optimize_runs, 1);
        Ok(())
    }

    #[tokio::test]
    async fn reopening_with_other_fields_is_rejected() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        Store::open(&path(&dir), with_fields()).await?.close()?;
        let again = Store::open(&path(&dir), OpenOptions::default()).await?;
        assert_eq!(again.fields().len(), 3);
        let other = OpenOptions { fields: Some([("x".to_owned(), "int".to_owned())].into()), ..Default::default() };
        assert!(matches!(Store::open(&path(&dir), other).await, Err(StoreError::InvalidArgument { .. })));
        Ok(())
    }
}
