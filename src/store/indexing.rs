//! The store's side of the vector index: `createIndex`, the background upkeep started after
//! writes, and the per-version cache of the index shape searches read their defaults from. What to
//! build is planned in `index.rs`; the LanceDB calls live in `vector_index.rs`.

use std::sync::Arc;
use std::time::Instant;

use super::config::Metric;
use super::error::{Result, StoreError};
use super::{Activity, Handles, IndexReport, Store, current_version, elapsed_ms, index, lock, vector_index};

impl Store {
    /// Starts background index upkeep (build at the crossover, fold new rows, rebuild after growth)
    /// unless `autoIndex` is off, the user chose exact search, or a job is already running.
    pub(super) fn maybe_spawn_upkeep(&self, handles: &Arc<Handles>) -> Result<()> {
        if !self.config.auto_index {
            return Ok(());
        }
        let mut activity = lock(&self.activity)?;
        if activity.index_declined || activity.index_jobs > 0 {
            return Ok(());
        }
        activity.index_jobs += 1;
        drop(activity);
        let (handles, activity) = (Arc::clone(handles), Arc::clone(&self.activity));
        let layout = (self.layout.dimension, self.layout.metric);
        tokio::spawn(async move {
            let outcome = upkeep_index(&handles, layout).await;
            if let Ok(mut activity) = activity.lock() {
                activity.finish_index_job(outcome.map_err(|e| e.to_string()));
            }
        });
        Ok(())
    }

    /// Builds the vector index `request` asks for (tuned from the data unless parameters are given),
    /// or drops it for `"none"` (and `"auto"` below the crossover). Replaces any vector index; searches
    /// keep using the old one (or exact search) until the new one is committed.
    pub async fn create_index(&self, request: index::IndexRequest) -> Result<IndexReport> {
        let handles = self.handles()?;
        // Bad parameters are refused before waiting for any running job (any row count passes here).
        index::plan(1 << 40, self.layout.dimension, &request)?;
        let _maintaining = handles.locks.maintenance.lock().await;
        lock(&self.activity)?.index_jobs += 1;
        let started = Instant::now();
        let outcome = build_planned(&handles, self.layout.dimension, self.layout.metric, &request).await;
        let mut activity = lock(&self.activity)?;
        activity.finish_index_job(outcome.as_ref().map(|_| true).map_err(ToString::to_string));
        if outcome.is_ok() {
            activity.index_declined = request.kind.as_deref() == Some("none");
        }
        drop(activity);
        lock(&self.cache)?.clear();
        let mut report = outcome?;
        report.build_ms = elapsed_ms(started);
        Ok(report)
    }

    /// The vector index's shape at `version` (listed once per version).
    pub(super) async fn shape_at(&self, table: &lancedb::Table, version: u64) -> Result<Option<index::IndexShape>> {
        if let Some((seen, shape)) = *lock(&self.index_shape)?
            && seen == version
        {
            return Ok(shape);
        }
        let shape = vector_index::find_shape(table).await?;
        *lock(&self.index_shape)? = Some((version, shape));
        Ok(shape)
    }
}

impl Activity {
    /// Records the end of an index job: `Ok(true)` (the index changed) counts a build and clears the
    /// last error, `Ok(false)` (nothing was due) changes nothing, `Err` becomes the last error.
    fn finish_index_job(&mut self, outcome: std::result::Result<bool, String>) {
        self.index_jobs -= 1;
        match outcome {
            Ok(false) => {}
            Ok(true) => {
                self.index_builds += 1;
                self.index_error = None;
            }
            Err(err) => self.index_error = Some(err),
        }
    }
}

/// Plans `request` for the table as it is now and builds (or drops) the vector index.
async fn build_planned(handles: &Handles, dimension: usize, metric: Metric, request: &index::IndexRequest) -> Result<IndexReport> {
    let table = &handles.table;
    let rows = table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?;
    let report = |kind, plan, name, reason, version| IndexReport { kind, rows, plan, name, reason, build_ms: 0.0, version };
    match index::plan(rows, dimension, request)? {
        index::Decision::Build(plan) => {
            let name = vector_index::build(table, &plan, metric).await?;
            Ok(report(Some(plan.kind), Some(plan), Some(name), None, current_version(table).await?))
        }
        index::Decision::Exact { reason } => {
            vector_index::drop(table).await?;
            Ok(report(None, None, None, Some(reason), current_version(table).await?))
        }
    }
}

/// One round of background index upkeep (see `index::upkeep`); `Ok(true)` when it changed the index.
/// Skips the round when another maintenance job holds the table.
async fn upkeep_index(handles: &Handles, (dimension, metric): (usize, Metric)) -> Result<bool> {
    let Ok(_maintaining) = handles.locks.maintenance.try_lock() else {
        return Ok(false);
    };
    let table = &handles.table;
    let found = vector_index::find(table).await?;
    let rows = match &found {
        Some(f) => f.indexed_rows + f.unindexed_rows,
        None => table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?,
    };
    let current = found.as_ref().map(|f| index::Current {
        shape: f.shape,
        ours: f.ours,
        indexed_rows: f.indexed_rows,
        unindexed_rows: f.unindexed_rows,
    });
    match index::upkeep(rows, current) {
        index::Upkeep::Nothing => Ok(false),
        index::Upkeep::Fold => {
            let name = found.map(|f| f.name).unwrap_or_default();
            vector_index::fold_new_rows(table, &name).await.map(|()| true)
        }
        index::Upkeep::Build(kind) => {
            let request = index::IndexRequest { kind: kind.map(|k| k.as_str().to_owned()), ..Default::default() };
            build_planned(handles, dimension, metric, &request).await.map(|_| true)
        }
    }
}
