//! Maintenance: compaction and version pruning (`optimize`, and automatically every N commits),
//! scalar indexes on `id` and declared fields, `createIndex`, and background vector-index upkeep. What to
//! build is decided in `index/plan.rs` and `index/upkeep.rs`; the LanceDB calls are in `index/lance.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lancedb::table::OptimizeAction;

use super::config::{self, IndexRequest};
use super::error::{Result, StoreError};
use super::fields::Fields;
use super::index::plan::{self, Decision, IndexOptions, IndexPlan, Requested};
use super::index::upkeep::{self, Upkeep};
use super::index::{IndexKind, lance};
use super::latency::elapsed_ms;
use super::lock::lock;
use super::metric::Metric;
use super::model::OptimizeOutcome;
use super::progress::{Progress, ProgressSink, Reporter, ticking};
use super::resident::{AUTO_GRAPH_MIN_ROWS, Choice, DEFAULT_EF_CONSTRUCTION, DEFAULT_NUM_EDGES, GraphSettings};
use super::{Handles, Store, compaction, retry, schema};

/// What a background job does, which decides how `close()` ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Compaction and pruning: awaited by `close()` (it is short, and finishing it leaves no orphan files).
    Compaction,
    /// Index build, fold or rebuild: cancelled by `close()` (it can take minutes; an uncommitted build
    /// changes nothing in the table, and the next store rebuilds it).
    Index,
    /// Loading the resident copy or catching it up with a large change: cancelled by `close()` (a load
    /// cut off between batches empties the copy, which is tagged with no version meanwhile, so nothing
    /// half-loaded is ever searched; the next search or store loads it again).
    Resident,
}

/// A background job a store started.
#[derive(Debug)]
pub struct Job {
    kind: JobKind,
    handle: tokio::task::JoinHandle<()>,
}

impl Job {
    /// Cancels the index jobs among `jobs`, then waits until every one of them has ended. A job
    /// records its own outcome in `Activity`; a cancelled one has none. A job that panicked (a bug)
    /// is reported as `Internal` once all have ended.
    pub async fn stop_all(jobs: Vec<Job>) -> Result<()> {
        for job in jobs.iter().filter(|job| job.kind != JobKind::Compaction) {
            job.handle.abort();
        }
        let mut panicked = None;
        for job in jobs {
            if let Err(err) = job.handle.await
                && err.is_panic()
            {
                panicked = Some(format!("a background {:?} job panicked: {err}", job.kind));
            }
        }
        panicked.map_or(Ok(()), |message| Err(StoreError::Internal(message)))
    }
}

/// What one `createIndex` did.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexReport {
    /// The kind built; `None` when the store searches exactly (asked for `"none"`, or `"auto"` on a small table).
    pub kind: Option<IndexKind>,
    /// Rows in the table when the build started.
    pub rows: usize,
    /// The parameters used, tuned from the data unless given.
    pub plan: Option<IndexPlan>,
    /// The index name in the table.
    pub name: Option<String>,
    /// The HNSW graph's settings when `createIndex` built one (`kind` is then `None`: not a LanceDB index).
    pub graph: Option<GraphSettings>,
    /// Why no index was built, for exact search.
    pub reason: Option<String>,
    /// Wall time of the build (or drop), in milliseconds.
    pub build_ms: f64,
    /// Table version afterwards.
    pub version: u64,
}

impl Store {
    /// Compacts small fragments, prunes versions older than `retain` (default: the store's
    /// `retain_versions`, an hour unless set) and folds new rows into indexes.
    /// `progress` hears `compact` when it starts and `done` at the end (LanceDB reports nothing in between).
    pub async fn optimize(
        &self,
        retain_versions_seconds: Option<f64>,
        progress: Option<ProgressSink>,
    ) -> Result<OptimizeOutcome> {
        let handles = self.handles()?;
        let retain = match retain_versions_seconds {
            Some(seconds) => config::retention(seconds)?,
            None => self.config.retain_versions,
        };
        let mut reporter = Reporter::new(progress);
        reporter.always(Progress::rows("compact", 0, None));
        let outcome = optimize_table(&handles, &self.layout.fields, retain).await?;
        reporter.always(Progress::rows("done", 0, None));
        lock(&self.activity).finish_optimize(false, Ok(()));
        lock(&self.cache).clear();
        // Compaction rewrote fragments: the copy re-reads them in the background.
        self.spawn_resident_catch_up(&handles);
        Ok(outcome)
    }

    /// Compacts in the background; the outcome (or error) lands in `stats()`, never silently.
    pub(super) fn spawn_optimize(&self, handles: Arc<Handles>) {
        let activity = Arc::clone(&self.activity);
        let declared = self.layout.fields.clone();
        let retain = self.config.retain_versions;
        let handle = tokio::spawn(async move {
            let outcome = optimize_table(&handles, &declared, retain).await;
            lock(&activity).finish_optimize(true, outcome.map(|_| ()).map_err(|e| e.to_string()));
        });
        self.track(JobKind::Compaction, handle);
    }

    /// Keeps `handle` so `close()` can end it; forgets the jobs that have finished.
    pub(super) fn track(&self, kind: JobKind, handle: tokio::task::JoinHandle<()>) {
        let mut jobs = lock(&self.jobs);
        jobs.retain(|job| !job.handle.is_finished());
        jobs.push(Job { kind, handle });
    }

    /// Builds the vector index `request` asks for (tuned from the data unless parameters are given),
    /// or drops it for `"none"` (and `"auto"` below the crossover). Replaces any vector index; searches
    /// keep using the old one (or exact search) until the new one is committed.
    ///
    /// `progress` hears `index` events while it builds — for the HNSW graph with the rows added so far
    /// out of the table's rows; LanceDB's IVF builds report nothing in between — and `done` at the end.
    pub async fn create_index(&self, request: IndexRequest, progress: Option<ProgressSink>) -> Result<IndexReport> {
        let handles = self.handles()?;
        // Bad parameters are refused before waiting for any running job.
        let options = request.validate(self.layout.dimension)?;
        if options.requested == Requested::Graph && self.resident.is_none() {
            return Err(StoreError::invalid(
                "kind",
                "'hnsw' is a graph over the in-memory copy, which `performance.residentMemoryMB: 0` turns off",
            ));
        }
        let _maintaining = handles.locks.maintenance.lock().await;
        lock(&self.activity).start_index_job();
        let started = Instant::now();
        let mut reporter = Reporter::new(progress);
        let total = if reporter.is_on() { Some(self.count(None).await? as u64) } else { None };
        let work = async {
            match self.create_graph(&handles, &options).await {
                Ok(Some(report)) => Ok(report),
                Ok(None) => build_planned(&handles, self.layout.dimension, self.layout.metric, &options).await,
                Err(err) => Err(err),
            }
        };
        let filled = || self.resident.as_ref().map_or(0, |r| r.graph_rows_filled().min(total.unwrap_or(u64::MAX)));
        reporter.always(Progress::rows("index", 0, total));
        let outcome = ticking(work, &mut reporter, || Progress::rows("index", filled(), total)).await;
        if let Ok(report) = &outcome {
            reporter.always(Progress::rows("done", report.rows as u64, Some(report.rows as u64)));
        }
        {
            let mut activity = lock(&self.activity);
            activity.finish_index_job(outcome.as_ref().map(|_| true).map_err(ToString::to_string));
            if outcome.is_ok() {
                activity.set_index_declined(options.requested == Requested::Exact);
            }
        }
        lock(&self.cache).clear();
        let mut report = outcome?;
        report.build_ms = elapsed_ms(started);
        Ok(report)
    }

    /// The graph part of `createIndex`: `"hnsw"` (and `"auto"` on a table held in memory) builds
    /// the graph over the resident copy and drops any LanceDB vector index; the other kinds drop the
    /// graph and return `None`, as does `"auto"` on a table over the memory budget, for LanceDB to plan.
    async fn create_graph(&self, handles: &Handles, options: &IndexOptions) -> Result<Option<IndexReport>> {
        let Some(resident) = &self.resident else { return Ok(None) }; // `hnsw` was refused before
        if matches!(options.requested, Requested::Exact | Requested::Kind(_)) {
            resident.rebuild_graph(Choice::Off).await?;
            return Ok(None);
        }
        let table = &handles.table;
        resident.catch_up(table, None, true).await?;
        let version = handles.version().await?;
        if resident.is_over_budget() {
            return match options.requested {
                Requested::Graph => Err(StoreError::index_failed(format!(
                    "the table does not fit `performance.residentMemoryMB` ({} bytes), so it has no in-memory graph; raise it or build an IVF kind",
                    self.config.resident_budget_bytes
                ))),
                _ => Ok(None),
            };
        }
        let rows = resident.status(version).rows;
        let report = |graph, reason, version| IndexReport {
            kind: None,
            rows,
            plan: None,
            name: None,
            graph,
            reason,
            build_ms: 0.0,
            version,
        };
        if options.requested == Requested::Auto && rows < AUTO_GRAPH_MIN_ROWS {
            resident.rebuild_graph(Choice::Auto).await?;
            lance::drop(table).await?;
            let reason = format!(
                "{rows} rows is below {AUTO_GRAPH_MIN_ROWS}, where scanning every row in memory is as fast as a graph; exact search keeps recall at 1"
            );
            return Ok(Some(report(None, Some(reason), handles.version().await?)));
        }
        if rows == 0 {
            return Err(StoreError::index_failed("the table is empty; add embeddings before building an index"));
        }
        let settings = GraphSettings {
            num_edges: options.num_edges.unwrap_or(DEFAULT_NUM_EDGES),
            ef_construction: options.ef_construction.unwrap_or(DEFAULT_EF_CONSTRUCTION),
        };
        resident.rebuild_graph(Choice::Graph(settings)).await?;
        // The graph replaces LanceDB's vector index (searches asking for IVF knobs then scan exactly).
        lance::drop(table).await?;
        Ok(Some(report(Some(settings), None, handles.version().await?)))
    }

    /// Starts background index upkeep (build at the crossover, fold new rows, rebuild after growth)
    /// unless `autoIndex` is off, the user chose exact search, or a job is already running. Tables
    /// held in memory get the graph instead (kept by `spawn_graph_upkeep`); only tables over the
    /// memory budget (or with the copy off) get a LanceDB index automatically.
    pub(super) fn maybe_spawn_upkeep(&self, handles: &Arc<Handles>) {
        if self.resident.as_ref().is_some_and(|r| !r.is_over_budget()) {
            return;
        }
        if !self.config.auto_index || !lock(&self.activity).start_upkeep() {
            return;
        }
        let (handles, activity) = (Arc::clone(handles), Arc::clone(&self.activity));
        let layout = (self.layout.dimension, self.layout.metric);
        let handle = tokio::spawn(async move {
            loop {
                let outcome = upkeep_index(&handles, layout).await;
                if !lock(&activity).finish_upkeep_round(outcome.map_err(|e| e.to_string())) {
                    break;
                }
            }
        });
        self.track(JobKind::Index, handle);
    }
}

/// Compaction, then pruning of versions older than `retain` (every call checks the latest version,
/// and that check slows down with thousands of retained versions), then the scalar indexes
/// that are missing (on `id` and on every declared field), then folding new rows into existing indexes. Serialised with other
/// maintenance, not with writes: LanceDB rebases appends, deletes and updates committed meanwhile
/// over the compaction; a conflict it cannot resolve retries the compaction.
async fn optimize_table(handles: &Handles, declared: &Fields, retain: Duration) -> Result<OptimizeOutcome> {
    let _maintaining = handles.locks.maintenance.lock().await;
    let table = &handles.table;
    let compacted = retry::on_conflict(|| async {
        let options = compaction::options(table).await?;
        table
            .optimize(OptimizeAction::Compact { options, remap_options: None })
            .await
            .map_err(StoreError::lance("compacting the table"))
    })
    .await?;
    let older_than =
        lancedb::table::Duration::from_std(retain).map_err(|e| StoreError::Internal(format!("prune age: {e}")))?;
    let pruned = table
        .optimize(OptimizeAction::Prune {
            older_than: Some(older_than),
            delete_unverified: None,
            error_if_tagged_old_versions: None,
        })
        .await
        .map_err(StoreError::lance("pruning old versions"))?;
    retry::on_conflict(|| create_scalar_indexes(table, declared)).await?;
    retry::on_conflict(|| async {
        table.optimize(OptimizeAction::Index(Default::default())).await.map_err(StoreError::lance("optimizing indexes"))
    })
    .await?;
    let (removed, added) = compacted.compaction.map_or((0, 0), |c| (c.fragments_removed, c.fragments_added));
    Ok(OptimizeOutcome {
        fragments_removed: removed,
        fragments_added: added,
        versions_pruned: pruned.prune.map_or(0, |p| p.old_versions),
        version: handles.version().await?,
    })
}

/// Builds the indexes that are missing (once the table has rows): a BTREE on `id`, so `get`,
/// `delete(ids)`, upserts and the stored-id check look ids up instead of scanning the column when the
/// resident copy cannot answer, one per declared field, so filters read an index, and the full-text
/// index of each `'text'` field.
pub(super) async fn create_scalar_indexes(table: &lancedb::Table, declared: &Fields) -> Result<()> {
    if table.count_rows(None).await.map_err(StoreError::lance("counting rows"))? == 0 {
        return Ok(());
    }
    let existing = table.list_indices().await.map_err(StoreError::lance("listing indexes"))?;
    let id_index = lancedb::index::Index::BTree(lancedb::index::scalar::BTreeIndexBuilder::default());
    let mut wanted = vec![(schema::ID, id_index, "creating the scalar index on id")];
    for (name, kind) in declared {
        let action =
            if kind.is_text() { "creating the full-text index" } else { "creating a scalar index on a declared field" };
        wanted.push((name.as_str(), kind.index()?, action));
    }
    for (column, index, action) in wanted {
        if existing.iter().any(|index| index.columns.iter().any(|c| c == column)) {
            continue;
        }
        table.create_index(&[column], index).execute().await.map_err(StoreError::lance(action))?;
    }
    Ok(())
}

/// Plans `options` for the table as it is now and builds (or drops) the vector index.
async fn build_planned(
    handles: &Handles,
    dimension: usize,
    metric: Metric,
    options: &IndexOptions,
) -> Result<IndexReport> {
    let table = &handles.table;
    let rows = table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?;
    let report = |kind, plan, name, reason, version| IndexReport {
        kind,
        rows,
        plan,
        name,
        graph: None,
        reason,
        build_ms: 0.0,
        version,
    };
    match plan::plan(rows, dimension, options)? {
        Decision::Build(plan) => {
            let name = lance::build(table, &plan, metric).await?;
            Ok(report(Some(plan.kind), Some(plan), Some(name), None, handles.version().await?))
        }
        Decision::Exact { reason } => {
            lance::drop(table).await?;
            Ok(report(None, None, None, Some(reason), handles.version().await?))
        }
    }
}

/// One round of background index upkeep (see `index/upkeep.rs`); `Ok(true)` when it changed the index.
/// Skips the round when another maintenance job holds the table.
async fn upkeep_index(handles: &Handles, (dimension, metric): (usize, Metric)) -> Result<bool> {
    let Ok(_maintaining) = handles.locks.maintenance.try_lock() else {
        return Ok(false);
    };
    let table = &handles.table;
    let found = lance::find(table).await?;
    let rows = match &found {
        Some(f) => f.indexed_rows + f.unindexed_rows,
        None => table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?,
    };
    let current = found.as_ref().map(|f| upkeep::Current {
        shape: f.shape,
        ours: f.ours,
        indexed_rows: f.indexed_rows,
        unindexed_rows: f.unindexed_rows,
    });
    match upkeep::decide(rows, current) {
        Upkeep::Nothing => Ok(false),
        Upkeep::Fold => {
            let name = found.map(|f| f.name).unwrap_or_default();
            lance::fold_new_rows(table, &name).await.map(|()| true)
        }
        Upkeep::Build(kind) => {
            let options = kind.map_or_else(IndexOptions::default, IndexOptions::of_kind);
            build_planned(handles, dimension, metric, &options).await.map(|_| true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::store::index::IndexKind;
    use crate::store::testing::{item, lance_store_with, options, path, store_with, vectors};
    use crate::store::{IndexRequest, Item, OpenOptions, Result, SearchRequest, Store, StoreError};

    #[tokio::test]
    async fn optimize_compacts_many_small_commits() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), OpenOptions { auto_optimize_every: Some(0.0), ..options(2) }).await?;
        for i in 0..20 {
            store.add(vec![item(&format!("k{i}"), &[1.0, i as f32])]).await?;
        }
        let outcome = store.optimize(Some(0.0), None).await?;
        assert!(outcome.fragments_removed >= 20, "{outcome:?}");
        assert!(outcome.versions_pruned >= 20, "{outcome:?}");
        assert_eq!(outcome.fragments_added, 1);
        assert_eq!(store.count(None).await?, 20);
        assert_eq!(store.stats().await?.optimize_runs, 1);
        Ok(())
    }

    fn kind(name: &str) -> IndexRequest {
        IndexRequest { kind: Some(name.into()), ..Default::default() }
    }

    #[tokio::test]
    async fn every_kind_builds_on_small_tables_and_finds_stored_vectors() -> Result<()> {
        for rows in [100, 1_000] {
            let dir = tempfile::tempdir().unwrap();
            let store = store_with(&dir, rows, false).await?;
            let probe = vectors(rows, 16, 7)[rows / 2].clone();
            for name in ["ivf_pq", "ivf_hnsw_sq", "ivf_flat", "auto", "none"] {
                let report = store.create_index(kind(name), None).await?;
                assert_eq!(report.rows, rows);
                let built = report.kind.map(IndexKind::as_str).unwrap_or("none");
                assert_eq!(built == "none", matches!(name, "auto" | "none"), "{rows} rows, {name}: {report:?}");
                let stats = store.stats().await?.index;
                assert_eq!(stats.kind.as_deref(), report.kind.map(IndexKind::as_str), "{rows} rows, {name}");
                let hits = store.search(&probe, &SearchRequest::default()).await?;
                assert_eq!(hits.len(), 10, "{rows} rows, {name}");
                assert_eq!(hits[0].id, (rows / 2).to_string(), "{rows} rows, {name}: a stored vector finds itself");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_empty_table_cannot_be_indexed_and_bad_options_are_refused_first() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 0, false).await?;
        assert!(matches!(store.create_index(kind("ivf_flat"), None).await, Err(StoreError::IndexFailed { .. })));
        let stats = store.stats().await?.index;
        assert!(stats.last_error.as_deref().is_some_and(|e| e.contains("empty")), "{stats:?}");
        let bad = IndexRequest { num_sub_vectors: Some(5.0), ..kind("ivf_pq") };
        assert!(matches!(store.create_index(bad, None).await, Err(StoreError::InvalidArgument { .. })));
        assert!(store.create_index(kind("auto"), None).await?.kind.is_none());
        assert_eq!(store.stats().await?.index.last_error, None, "a success clears the last error");
        Ok(())
    }

    #[tokio::test]
    async fn an_index_lancedb_could_not_train_is_a_failure_not_a_silent_empty_index() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 100, false).await?;
        let version = store.version().await?;
        let eight_bits = IndexRequest { num_bits: Some(8.0), ..kind("ivf_pq") };
        let err = store.create_index(eight_bits, None).await.unwrap_err();
        assert!(matches!(err, StoreError::IndexFailed { ref reason, .. } if reason.contains("256 rows")), "{err}");
        assert_eq!(store.version().await?, version, "refused before anything was committed (issue 13, item 5)");
        let stats = store.stats().await?.index;
        assert_eq!((stats.kind, stats.unindexed_rows), (None, 100));
        assert!(stats.last_error.is_some());
        assert_eq!(store.search(&vectors(100, 16, 7)[3], &SearchRequest::default()).await?[0].id, "3");
        Ok(())
    }

    #[tokio::test]
    async fn rows_added_after_the_build_are_searched_and_counted_as_unindexed() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        store.create_index(kind("ivf_flat"), None).await?;
        let late = vec![1.0_f32; 16];
        store.add(vec![Item { id: "late".into(), vector: late.clone(), metadata: None }]).await?;
        let stats = store.stats().await?.index;
        assert_eq!((stats.indexed_rows, stats.unindexed_rows), (1_000, 1));
        let hits = store.search(&late, &SearchRequest::default()).await?;
        assert_eq!(hits[0].id, "late");
        Ok(())
    }

    #[tokio::test]
    async fn writes_are_not_blocked_by_a_build_and_land_beside_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(store_with(&dir, 3_000, false).await?);
        let building = tokio::spawn({
            let store = std::sync::Arc::clone(&store);
            async move { store.create_index(kind("ivf_hnsw_sq"), None).await }
        });
        let extra = vectors(50, 16, 123);
        for (i, vector) in extra.iter().enumerate() {
            store.add(vec![Item { id: format!("w{i}"), vector: vector.clone(), metadata: None }]).await?;
        }
        building.await.expect("the build task panicked")?;
        assert_eq!(store.count(None).await?, 3_050);
        let stats = store.stats().await?.index;
        assert_eq!(stats.indexed_rows + stats.unindexed_rows, 3_050, "{stats:?}");
        for (i, vector) in extra.iter().enumerate().step_by(7) {
            assert_eq!(store.search(vector, &SearchRequest::default()).await?[0].id, format!("w{i}"));
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_reopened_store_reads_the_index_shape_from_its_name() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        let report = store.create_index(kind("ivf_flat"), None).await?;
        store.close().await?;
        let path = dir.path().join("store").to_string_lossy().into_owned();
        let again = Store::open(&path, OpenOptions { auto_index: Some(false), ..Default::default() }).await?;
        let handles = again.handles()?;
        let shape = lance::find_shape(&handles.table).await?.expect("an index");
        assert_eq!(
            (shape.kind, Some(shape.num_partitions)),
            (IndexKind::IvfFlat, report.plan.map(|p| p.num_partitions))
        );
        let found = lance::find(&handles.table).await?.expect("an index");
        assert!(found.ours && found.kind == "ivf_flat" && found.indexed_rows == 1_000, "{found:?}");
        Ok(())
    }

    #[tokio::test]
    async fn an_index_change_is_a_new_version_for_the_cache() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        let query = vectors(1, 16, 99).remove(0);
        store.search(&query, &SearchRequest::default()).await?;
        store.search(&query, &SearchRequest::default()).await?;
        assert_eq!(store.stats().await?.cache.hits, 1);
        let before = store.version().await?;
        let report = store.create_index(kind("ivf_hnsw_sq"), None).await?;
        assert!(report.version > before);
        store.search(&query, &SearchRequest::default()).await?;
        let cache = store.stats().await?.cache;
        assert_eq!((cache.hits, cache.misses), (1, 2), "{cache:?}");
        let exact = SearchRequest { exact: Some(true), ..Default::default() };
        store.search(&query, &exact).await?;
        assert_eq!(store.stats().await?.cache.misses, 3, "exact and indexed searches are cached apart");
        Ok(())
    }

    #[tokio::test]
    async fn auto_index_builds_in_the_background_once_the_table_is_large_enough() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        // LanceDB's automatic index (a table held in memory gets the graph: resident/graph_tests.rs).
        let store = lance_store_with(&dir, plan::AUTO_INDEX_MIN_ROWS - 1, true).await?;
        // The upkeep started by the write decides before it ends; once no job runs, none was built.
        while store.stats().await?.index.building {
            tokio::task::yield_now().await;
        }
        let index = store.stats().await?.index;
        assert_eq!((index.kind, index.builds), (None, 0), "below the crossover: exact search");
        let extra = vectors(1, 16, 5).remove(0);
        store.add(vec![Item { id: "one-more".into(), vector: extra, metadata: None }]).await?;
        for _ in 0..600 {
            let stats = store.stats().await?.index;
            if stats.kind.is_some() && !stats.building {
                assert_eq!(stats.kind.as_deref(), Some(plan::AUTO_KIND.as_str()));
                assert_eq!(stats.last_error, None);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no index after 60 s: {:?}", store.stats().await?.index);
    }

    /// Issue 12, defect 3: compaction held the write lock, so a write waited for the whole compaction
    /// (and pruning and index work). A write now lands while a compaction runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_do_not_wait_for_a_running_compaction() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let quiet = OpenOptions { auto_optimize_every: Some(0.0), auto_index: Some(false), ..options(128) };
        let store = std::sync::Arc::new(Store::open(&path(&dir), quiet).await?);
        let data = vectors(50_000, 128, 11);
        for (c, chunk) in data.chunks(250).enumerate() {
            let items = chunk.iter().enumerate().map(|(i, v)| Item {
                id: format!("{c}-{i}"),
                vector: v.clone(),
                metadata: None,
            });
            store.add(items.collect()).await?;
        }
        let compacting = tokio::spawn({
            let store = std::sync::Arc::clone(&store);
            async move { store.optimize(None, None).await }
        });
        // The compaction takes the table's maintenance lock first: wait until it holds it.
        let handles = store.handles()?;
        while handles.locks.maintenance.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        store.add(vec![item("during", &[0.5; 128])]).await?;
        assert!(!compacting.is_finished(), "the write waited for the compaction to finish");
        let outcome = compacting.await.expect("optimize panicked")?;
        assert!(outcome.fragments_removed >= 200, "{outcome:?}");
        assert_eq!(store.count(None).await?, 50_001);
        assert_eq!(store.search(&[0.5; 128], &SearchRequest::default()).await?[0].id, "during");
        Ok(())
    }

    /// Issue 12, defect 5: background work went on writing to the directory after `close()`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_cancels_a_running_index_build() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = lance_store_with(&dir, plan::AUTO_INDEX_MIN_ROWS + 500, true).await?;
        assert!(store.stats().await?.index.building, "the automatic build started with the write");
        store.close().await?;
        assert!(lock(&store.jobs).is_empty());
        let again = Store::open(&path(&dir), OpenOptions { auto_index: Some(false), ..Default::default() }).await?;
        assert_eq!(again.count(None).await?, plan::AUTO_INDEX_MIN_ROWS + 500);
        assert_eq!(again.stats().await?.index.kind, None, "the cancelled build committed nothing");
        Ok(())
    }
}
