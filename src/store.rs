//! Store: the open LanceDB table behind one `EmbeddingStore`. Owns opening (or creating) the table,
//! the handles every call shares, and closing. Each kind of call lives in its own file below:
//! `write.rs` (add, upsert, delete), `read.rs` (get, count, version), `search.rs` (cache, single
//! flight, the search backend), `maintenance.rs` (compaction, index builds, background jobs) and
//! `stats.rs`. Plain Rust, no napi types; calls flow bindings → `Store` → cache / index / LanceDB.
#![forbid(unsafe_code)]

mod activity;
pub mod cache;
pub mod cache_dir;
mod compaction;
pub mod config;
pub mod error;
mod export;
pub mod fields;
mod filter;
mod fusion;
pub mod import;
pub mod index;
mod keyed_insert;
mod latency;
mod latest;
pub mod location;
mod lock;
mod maintenance;
pub mod metric;
pub mod model;
pub mod progress;
mod read;
mod registry;
mod remote_error;
pub mod resident;
mod retry;
pub mod scan;
mod schema;
mod search;
mod secrets;
pub mod stats;
pub mod tables;
#[cfg(test)]
mod testing;
mod update;
pub mod versions;
mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use arrow_schema::SchemaRef;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use tokio::sync::Semaphore;

use activity::Activity;
use cache::QueryCache;
pub use config::StorageOptions;
pub use config::{IndexRequest, OpenOptions, SearchRequest, StoreConfig};
pub use error::{ErrorCode, Result, StoreError};
pub use latency::LatencySummary;
pub use location::Location;
use lock::lock;
pub use maintenance::IndexReport;
pub use metric::Metric;
pub use model::{
    AddOutcome, DeleteOutcome, DeleteTarget, Hit, Item, OptimizeOutcome, StoredItem, UpdateOutcome, UpsertOutcome,
};
pub use stats::{IndexStatus, StoreStats};

/// Handles that live until `close()`; operations in flight keep their own `Arc`.
struct Handles {
    /// The connection (held so it lives as long as the store; `versions` opens handles of its own on it).
    shared: Arc<registry::Shared>,
    locks: Arc<registry::TableLocks>,
    table: lancedb::Table,
    schema: SchemaRef,
    /// This store's claim on the table's resident copy: released at `close()`, so a store opened after the
    /// last one closed starts from the table afresh (its graph loaded from the saved file).
    #[expect(dead_code, reason = "held, never read: dropping it releases the copy")]
    resident_lease: Option<registry::ResidentLease>,
}

impl Store {
    /// The table's latest committed version for a read: two `stat` calls when nothing was committed since
    /// the last check (`latest.rs`), else LanceDB's check (then recorded). Never older than the last commit.
    async fn read_version(&self, handles: &Handles) -> Result<u64> {
        let Some(latest) = &self.latest else { return handles.version().await };
        if let Some(version) = latest.unchanged() {
            return Ok(version);
        }
        let version = handles.version().await?;
        latest.record(version);
        Ok(version)
    }
}

impl Handles {
    /// The table's latest committed version (as far as the connection's read consistency sees).
    async fn version(&self) -> Result<u64> {
        self.table.version().await.map_err(StoreError::lance("reading the table version"))
    }
}

/// An open embedding store: one LanceDB table of `id`, `vector`, `metadata`.
pub struct Store {
    location: Location,
    config: StoreConfig,
    layout: schema::Layout,
    handles: RwLock<Option<Arc<Handles>>>,
    search_slots: Semaphore,
    cache: Mutex<QueryCache>,
    in_flight: Mutex<HashMap<(cache::CacheKey, u64), search::InFlight>>,
    activity: Arc<Mutex<Activity>>,
    /// The vector index's shape at a table version, so searches do not list indexes every call.
    index_shape: Mutex<Option<(u64, Option<index::IndexShape>)>>,
    /// The `'text'` fields with a full-text index at a table version, so text searches do not list indexes every call.
    text_indexes: Mutex<Option<(u64, Vec<String>)>>,
    /// Set while a background full-text index build runs (cleared by its guard, also when aborted).
    text_index_job: Arc<std::sync::atomic::AtomicBool>,
    /// Set once every `'text'` field was seen indexed: writes stop starting the background build.
    text_indexes_done: Arc<std::sync::atomic::AtomicBool>,
    /// Rows written since the background full-text job last looked at how far the indexes are behind.
    text_rows_unchecked: Arc<std::sync::atomic::AtomicUsize>,
    /// Set while the resident copy's word index is built in the background (cleared by its guard).
    word_index_job: Arc<std::sync::atomic::AtomicBool>,
    /// Set by `close()` the moment it is called: from then on `begin()` refuses new calls.
    closing: AtomicBool,
    /// Held shared by every call accepted by `begin()`; `close()` takes it exclusively to wait for them.
    calls: Arc<tokio::sync::RwLock<()>>,
    /// Background jobs (compaction, index upkeep, resident loads), so `close()` can await or cancel them.
    jobs: Mutex<Vec<maintenance::Job>>,
    /// The table's in-memory copy (shared with the other stores on it); `None` when turned off.
    resident: Option<Arc<resident::Resident>>,
    /// The latest version in O(1) for reads, on local disk with `readConsistencyIntervalMs: 0` (`latest.rs`).
    latest: Option<latest::LatestVersion>,
}

/// A call accepted before `close()`: while one is held, `close()` waits.
pub struct Call {
    _accepted: tokio::sync::OwnedRwLockReadGuard<()>,
}

impl Store {
    /// Opens (or creates) the store at `path`. A new table needs `dimension`; an existing one must
    /// match the given `dimension` and `metric`.
    pub async fn open(path: &str, options: OpenOptions) -> Result<Self> {
        let location = Location::parse(path, options.storage.as_ref())?;
        let consistency_given = options.read_consistency_interval_ms.is_some();
        let mut config = StoreConfig::resolve(options)?;
        if !consistency_given || location.is_memory() {
            // A memory store has one connection per name and process, whatever the option says: a second
            // connection would be a second, empty store.
            config.read_consistency = location.default_read_consistency();
        }
        let location = prepare(location).await?;
        let shared = registry::connect(&location, config.read_consistency).await?;
        let locks = registry::table_locks(&location, &config.table)?;
        let keyed = location.is_remote();
        let table = shared.table(&config.table, || open_or_create_table(&shared.connection, &config, keyed)).await?;
        let schema = table.schema().await.map_err(StoreError::lance("reading the table schema"))?;
        let layout = schema::describe(&schema)?;
        config.check_layout(&layout)?;
        if let Some(rows) = config.prefetch_rows {
            prewarm(&table, rows).await?;
        }
        let search_slots = Semaphore::new(config.max_concurrent_searches);
        let cache = Mutex::new(QueryCache::new(config.cache_capacity, config.cache_ttl));
        let leased = (config.resident_budget_bytes > 0).then(|| {
            let budget = config.resident_budget_bytes;
            // The graph and vector files: beside a local table, in the host's cache directory for s3://.
            let sidecar = location.files_dir().map(|dir| resident::sidecar::path(dir, &config.table));
            registry::resident(&location, &config.table, || {
                resident::Resident::new(layout.dimension, layout.metric, &layout.fields, budget, sidecar)
            })
        });
        let (resident, resident_lease) = leased.unzip();
        if config.auto_index
            && let Some(resident) = &resident
        {
            resident.allow_auto_graph();
        }
        let handles = Arc::new(Handles { shared, locks, table, schema, resident_lease });
        let latest = match &location {
            Location::Local(dir) if config.read_consistency.is_zero() => {
                Some(latest::LatestVersion::new(dir.join(format!("{}.lance", config.table))))
            }
            _ => None,
        };
        let store = Self {
            location,
            config,
            layout,
            handles: RwLock::new(Some(Arc::clone(&handles))),
            search_slots,
            cache,
            in_flight: Mutex::default(),
            activity: Arc::default(),
            index_shape: Mutex::default(),
            text_indexes: Mutex::default(),
            text_index_job: Arc::default(),
            text_indexes_done: Arc::default(),
            text_rows_unchecked: Arc::default(),
            word_index_job: Arc::default(),
            closing: AtomicBool::new(false),
            calls: Arc::default(),
            jobs: Mutex::default(),
            resident,
            latest,
        };
        // Loaded in the background so `open` stays fast whatever the table's size; searches meanwhile
        // go through LanceDB (`stats().resident.state` is `'loading'`).
        store.spawn_resident_catch_up(&handles);
        // A table that grew past the crossover elsewhere (or before autoIndex) gets its index now.
        store.maybe_spawn_upkeep(&handles);
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

    /// Where the store lives: its canonical directory, or its `s3://` URL.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whether `close()` has been called.
    pub fn is_closed(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Accepts a call (synchronously, at the moment the user makes it): `close()` waits until every
    /// accepted call has finished. After `close()` was called, `Closed`.
    pub fn begin(&self) -> Result<Call> {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        let accepted = Arc::clone(&self.calls).try_read_owned().map_err(|_| StoreError::Closed)?;
        Ok(Call { _accepted: accepted })
    }

    /// The first, synchronous step of `close()`: from now on `begin()` refuses new calls.
    pub fn start_close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// The open handles, or `Closed`.
    fn handles(&self) -> Result<Arc<Handles>> {
        let guard = self.handles.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(Arc::clone).ok_or(StoreError::Closed)
    }

    /// Closes the store: refuses new calls, waits for the calls accepted before (`begin()`), cancels
    /// a running index build or upkeep and waits for a running compaction, then releases the table
    /// and (if no other store uses it) the connection. When it returns, nothing of this store touches
    /// the directory any more. Closing twice is harmless.
    pub async fn close(&self) -> Result<()> {
        self.start_close();
        let _no_calls = self.calls.write().await;
        let handles = self.handles.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        self.search_slots.close();
        let jobs = std::mem::take(&mut *lock(&self.jobs));
        let stopped = maintenance::Job::stop_all(jobs).await;
        // Rows added to the graph since its last save are written now, so a reopen loads them.
        let saved = match &self.resident {
            Some(resident) => resident.save_graph().await,
            None => Ok(()),
        };
        lock(&self.cache).clear();
        drop(handles);
        stopped.and(saved)
    }
}

/// Reads up to `rows` vectors once and loads every index, so the first real search finds the file
/// metadata, data pages and index structures already in memory.
async fn prewarm(table: &lancedb::Table, rows: usize) -> Result<()> {
    let mut query = table.query().select(Select::columns(&[schema::VECTOR]));
    if rows != usize::MAX {
        query = query.limit(rows);
    }
    let stream = query.execute().await.map_err(StoreError::lance("prewarming the data"))?;
    stream.try_for_each(|_| async { Ok(()) }).await.map_err(StoreError::lance("prewarming the data"))?;
    for index in table.list_indices().await.map_err(StoreError::lance("listing indexes"))? {
        table.prewarm_index(&index.name).await.map_err(StoreError::lance("prewarming an index"))?;
    }
    Ok(())
}

/// A local directory is created if needed and canonicalised; an object-store prefix needs only its
/// cache directory on this host (the bucket has no directories to create).
async fn prepare(location: Location) -> Result<Location> {
    match location {
        Location::Local(dir) => Ok(Location::Local(prepare_directory(&dir.to_string_lossy()).await?)),
        remote @ Location::ObjectStore { .. } => remote.prepare_cache(),
        memory @ Location::Memory(_) => Ok(memory),
    }
}

/// Creates `path` if needed and returns it canonicalised; anything the file system refuses is `Io`.
async fn prepare_directory(path: &str) -> Result<PathBuf> {
    let io = |action: &str| {
        let action = format!("{action} {path:?}");
        move |e: std::io::Error| StoreError::io(action, &e)
    };
    tokio::fs::create_dir_all(path).await.map_err(io("creating the store directory"))?;
    let dir = tokio::fs::canonicalize(path).await.map_err(io("resolving the store directory"))?;
    // Root ignores permission bits, so probe by writing rather than by reading the mode.
    // Unique per call, so concurrent opens of one directory in this process do not race on one file.
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = dir.join(format!(".lancestore-write-probe-{}-{n}", std::process::id()));
    tokio::fs::write(&probe, b"").await.map_err(io("writing in the store directory"))?;
    tokio::fs::remove_file(&probe).await.map_err(io("writing in the store directory"))?;
    Ok(dir)
}

/// Opens the table, or creates it (`keyed`: `id` marked as the primary key, for object storage).
async fn open_or_create_table(
    connection: &lancedb::Connection,
    config: &StoreConfig,
    keyed: bool,
) -> Result<lancedb::Table> {
    match connection.open_table(&config.table).execute().await {
        Ok(table) => return Ok(table),
        Err(lancedb::Error::TableNotFound { .. }) => {}
        Err(e) => return Err(remote_error::classify("opening the table")(e)),
    }
    let dimension = config.dimension.ok_or_else(|| {
        StoreError::invalid("dimension", "the table does not exist yet, so `dimension` is required to create it")
    })?;
    let declared = config.fields.clone().unwrap_or_default();
    let schema = schema::table_schema(dimension, config.metric.unwrap_or(Metric::Cosine), &declared, keyed)?;
    match connection.create_empty_table(&config.table, schema).execute().await {
        Ok(table) => Ok(table),
        // Another store created it between our open and create: open theirs (and check it matches).
        Err(lancedb::Error::TableAlreadyExists { .. }) => {
            connection.open_table(&config.table).execute().await.map_err(remote_error::classify("opening the table"))
        }
        Err(e) => Err(remote_error::classify("creating the table")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, options, path, with_fields};
    use crate::store::{OpenOptions, SearchRequest, Store};

    #[tokio::test]
    async fn memory_stores_are_isolated_per_name_shared_within_one_and_freed_with_the_last() -> Result<()> {
        let a = Store::open("memory://unit-a", options(2)).await?;
        let also_a = Store::open(
            "memory://unit-a",
            OpenOptions { read_consistency_interval_ms: Some(5_000.0), ..Default::default() },
        )
        .await?;
        let b = Store::open("memory://unit-b", options(2)).await?;
        a.add(vec![item("x", &[1.0, 0.0]), item("y", &[0.0, 1.0])]).await?;
        assert_eq!(also_a.count(None).await?, 2, "one name, one store: a second store sees the rows at once");
        assert_eq!(b.count(None).await?, 0, "another name is another store");
        assert_eq!(also_a.search(&[1.0, 0.1], &SearchRequest::default()).await?[0].id, "x");
        assert_eq!(a.location().display(), "memory://unit-a");
        also_a.delete(crate::store::DeleteTarget::Ids(vec!["x".into()])).await?;
        assert_eq!(a.search(&[1.0, 0.1], &SearchRequest::default()).await?[0].id, "y");
        a.close().await?;
        assert_eq!(also_a.count(None).await?, 1, "alive while one store holds it");
        also_a.close().await?;
        b.close().await?;
        let err = Store::open("memory://unit-a", OpenOptions::default()).await.err().unwrap();
        assert!(matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "dimension"), "freed: {err}");
        for bad in ["memory://", "memory://a/b", "memory://a b"] {
            assert!(Store::open(bad, options(2)).await.is_err(), "{bad} is refused");
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_new_table_needs_a_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(&path(&dir), OpenOptions::default()).await.err().unwrap();
        assert!(matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "dimension"));
    }

    #[tokio::test]
    async fn reopening_checks_dimension_and_metric() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), OpenOptions { metric: Some("l2".into()), ..options(4) }).await?;
        store.close().await?;
        let again = Store::open(&path(&dir), OpenOptions::default()).await?;
        assert_eq!((again.dimension(), again.metric()), (4, Metric::L2));
        let err = Store::open(&path(&dir), options(5)).await.err().unwrap();
        assert!(matches!(err, StoreError::DimensionMismatch { expected: 4, got: 5, .. }));
        let err = Store::open(&path(&dir), OpenOptions { metric: Some("dot".into()), ..Default::default() })
            .await
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::InvalidArgument { .. }));
        Ok(())
    }

    #[tokio::test]
    async fn closed_stores_reject_every_call() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        store.close().await?;
        store.close().await?;
        assert!(store.is_closed());
        assert!(matches!(store.count(None).await, Err(StoreError::Closed)));
        assert!(matches!(store.search(&[1.0, 0.0], &SearchRequest::default()).await, Err(StoreError::Closed)));
        assert!(matches!(store.add(vec![item("a", &[1.0, 0.0])]).await, Err(StoreError::Closed)));
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

    #[tokio::test]
    async fn reopening_with_other_fields_is_rejected() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        Store::open(&path(&dir), with_fields()).await?.close().await?;
        let again = Store::open(&path(&dir), OpenOptions::default()).await?;
        assert_eq!(again.fields().len(), 3);
        let other = OpenOptions { fields: Some([("x".to_owned(), "int".to_owned())].into()), ..Default::default() };
        assert!(matches!(Store::open(&path(&dir), other).await, Err(StoreError::InvalidArgument { .. })));
        Ok(())
    }

    /// Issue 12, defect 2: each store had its own table handle, and LanceDB tracks what a handle has
    /// seen per handle, so with a consistency interval a second store lagged the first one's writes.
    #[tokio::test]
    async fn a_store_sees_another_stores_write_at_once_despite_a_consistency_interval() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let lag = || OpenOptions { read_consistency_interval_ms: Some(60_000.0), ..Default::default() };
        let a = Store::open(&path(&dir), OpenOptions { dimension: Some(2.0), ..lag() }).await?;
        let b = Store::open(&path(&dir), lag()).await?;
        assert_eq!(b.count(None).await?, 0);
        a.add(vec![item("x", &[1.0, 0.0])]).await?;
        assert_eq!(b.count(None).await?, 1);
        assert_eq!(b.search(&[1.0, 0.0], &SearchRequest::default()).await?[0].id, "x");
        assert_eq!(b.version().await?, a.version().await?);
        Ok(())
    }

    /// Issue 12, defect 4: the write probe's name depended only on the process id, so concurrent
    /// opens raced on one file and some failed with `IO`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_opens_of_one_new_directory_at_once_all_succeed() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let at = path(&dir);
        let opens = (0..16).map(|_| Store::open(&at, options(3)));
        let stores = futures::future::join_all(opens).await.into_iter().collect::<Result<Vec<_>>>()?;
        stores[0].add(vec![item("a", &[1.0, 0.0, 0.0])]).await?;
        for store in &stores {
            assert_eq!(store.count(None).await?, 1);
        }
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_waits_for_accepted_calls_and_refuses_later_ones() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&path(&dir), options(2)).await?);
        let accepted = store.begin()?;
        let closing = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.close().await }
        });
        while !store.is_closed() {
            tokio::task::yield_now().await;
        }
        assert!(matches!(store.begin(), Err(StoreError::Closed)), "calls after close() are refused");
        // The accepted call still runs, and close() has not finished meanwhile.
        store.add(vec![item("a", &[1.0, 0.0])]).await?;
        assert_eq!(store.count(None).await?, 1);
        assert!(!closing.is_finished());
        drop(accepted);
        closing.await.expect("close panicked")?;
        assert!(matches!(store.count(None).await, Err(StoreError::Closed)));
        Ok(())
    }
}
