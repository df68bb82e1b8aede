//! The resident copy of one table: its rows in memory (`columns.rs`), tagged with the table version
//! they reflect, brought to newer versions by fragment differences (`sync.rs`), and searched by an
//! exact SIMD scan (`scan.rs`) over the rows a filter selects (`select.rs`), or through its HNSW
//! graph (`hnsw.rs`, `graph.rs`, saved by `sidecar.rs`) with its best candidates scored exactly. Shared by every store
//! on the table in this process (`registry.rs` holds it). LanceDB stays the truth: a search is
//! answered here only when the copy is at exactly the version the search read; otherwise the caller
//! catches the copy up (small changes) or uses the LanceDB path meanwhile (large ones).

mod columns;
mod graph;
#[cfg(test)]
mod graph_tests;
mod hnsw;
mod rewrite;
mod scan;
mod select;
pub mod sidecar;
mod sync;
#[cfg(test)]
mod tests;
mod text;
mod vector_file;
mod vector_share;
mod vectors;
mod words;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures::TryStreamExt;

use super::config::Search;
use super::error::{Result, StoreError};
use super::fields::Fields;
use super::lock::lock;
use super::metric::Metric;
use super::model::{Hit, Sides};
use columns::Columns;
pub use graph::{DEFAULT_EF_CONSTRUCTION, DEFAULT_NUM_EDGES, GraphSettings};
pub use hnsw::{AUTO_GRAPH_MIN_ROWS, Choice, GraphStatus};
pub use vector_file::path_beside as vector_file_path;

/// The LanceDB dataset behind `table` at the latest version its handle sees.
async fn latest_dataset(table: &lancedb::Table) -> Result<Arc<lance::Dataset>> {
    let wrapper =
        table.dataset().ok_or_else(|| StoreError::Internal("the table is not a local LanceDB table".into()))?;
    wrapper.get().await.map_err(StoreError::lance("reading the table for the resident copy"))
}

/// Compactions followed by re-pointing rows in one catch-up, at most.
const MAX_REWRITES_FOLLOWED: usize = 8;
/// Filter selections kept per copy (each is one byte per slot).
const SELECTIONS_KEPT: usize = 32;
/// Dead slots tolerated before the columns are repacked: this many, and at least as many as live rows.
const REPACK_MIN_DEAD: usize = 4_096;

/// A filter's selection at one version: (version, filter SQL, one flag per slot, slots selected).
type Selection = (u64, String, Arc<Vec<bool>>, usize);

/// Where the copy stands, as `stats().resident.state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidentState {
    /// Not at the table's version yet (first load, or catching up with a large change).
    Loading,
    /// At a recent version; searches at that version are answered from memory.
    Ready,
    /// The table does not fit the memory budget; searches use LanceDB.
    OverBudget,
    /// Turned off (`residentMemoryMB: 0`).
    Off,
}

impl ResidentState {
    /// The name `stats()` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Ready => "ready",
            Self::OverBudget => "over_budget",
            Self::Off => "off",
        }
    }
}

/// `stats().resident`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentStatus {
    /// Where the copy stands.
    pub state: ResidentState,
    /// Rows held.
    pub rows: usize,
    /// Approximate bytes held in this process's memory.
    pub bytes: usize,
    /// The table version held, if any.
    pub version: Option<u64>,
    /// The last failed catch-up's error, until one succeeds.
    pub last_error: Option<String>,
    /// Searches answered from memory (by every store on the table in this process).
    pub searches: u64,
    /// Rows read from LanceDB into the copy so far (loads and catch-ups; this process's own appends are
    /// applied from the rows it wrote, not read back).
    pub rows_read: u64,
    /// Of `rows_read`, rows whose vectors the vector file held, so they were not read (`vector_share.rs`).
    pub rows_read_without_vectors: u64,
    /// Compactions the copy followed by re-pointing rows instead of re-reading them.
    pub compactions_followed: u64,
    /// Bytes of the vector file the copy reads vectors from in place (shared by the host's processes).
    pub mapped_bytes: usize,
}

impl ResidentStatus {
    /// The status of a store whose resident tier is off.
    pub fn off() -> Self {
        Self {
            state: ResidentState::Off,
            rows: 0,
            bytes: 0,
            version: None,
            last_error: None,
            searches: 0,
            rows_read: 0,
            rows_read_without_vectors: 0,
            compactions_followed: 0,
            mapped_bytes: 0,
        }
    }
}

/// What a whole load (a copy that held nothing) is doing, for searches deciding whether to wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LoadPhase {
    /// No whole load is running.
    None = 0,
    /// One is finding what it will read (its vectors from the vector file, or from the table).
    Planning = 1,
    /// One reads rows whose vectors the vector file holds: only ids, metadata and fields — quick.
    Quick = 2,
    /// One reads vectors from the table (or writes the vector file first): searches go to LanceDB meanwhile.
    Slow = 3,
}

/// Longest a search waits for a quick whole load (`LoadPhase::Quick`) before LanceDB answers it instead.
pub const QUICK_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Marks a whole load as running while held; back to `LoadPhase::None` however the load ends (dropped by
/// `close()` included).
struct WholeLoad<'a>(&'a Resident);

impl Drop for WholeLoad<'_> {
    fn drop(&mut self) {
        self.0.load_phase.store(LoadPhase::None as u8, Ordering::Release);
    }
}

/// What one catch-up achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The copy is at the handle's latest version (or the table is over budget).
    Done,
    /// The change is larger than the caller wanted to wait for.
    TooLarge,
    /// Another catch-up is running.
    Busy,
}

/// A scheduled background catch-up of the copy; dropping it (however the job ends) unschedules it.
pub struct CatchUpTicket(Arc<Resident>);

impl CatchUpTicket {
    /// The copy the job catches up.
    pub fn resident(&self) -> &Arc<Resident> {
        &self.0
    }
}

impl Drop for CatchUpTicket {
    fn drop(&mut self) {
        self.0.scheduled.store(false, Ordering::Release);
    }
}

/// Held while a delta is applied: unless `applied` was set, dropping it (an error, or the future
/// dropped at an await) empties the copy.
struct EmptyUnlessApplied<'a> {
    resident: &'a Resident,
    applied: bool,
}

impl Drop for EmptyUnlessApplied<'_> {
    fn drop(&mut self) {
        if !self.applied {
            self.resident.empty();
        }
    }
}

/// Test hook: pauses a streamed load after each batch until the test lets it go on.
#[cfg(test)]
pub struct LoadPause {
    /// Told each time a batch has been loaded.
    pub reached: tokio::sync::Notify,
    /// Whether loads pause at all.
    pub on: AtomicBool,
    /// Permits to go on after a pause.
    pub go: tokio::sync::Semaphore,
}

#[cfg(test)]
impl Default for LoadPause {
    fn default() -> Self {
        Self { reached: tokio::sync::Notify::new(), on: AtomicBool::new(false), go: tokio::sync::Semaphore::new(0) }
    }
}

/// The in-memory copy of one table.
pub struct Resident {
    metric: Metric,
    fields: Fields,
    budget_bytes: usize,
    columns: RwLock<Columns>,
    /// The version at which the table was found over budget (re-checked when the version moves).
    over_budget_at: Mutex<Option<u64>>,
    bytes: AtomicUsize,
    /// Bytes per row when the copy last held rows (so a freed copy still knows its rows' real size).
    bytes_per_row: AtomicUsize,
    last_error: Mutex<Option<String>>,
    /// One catch-up at a time.
    syncing: tokio::sync::Mutex<()>,
    /// A background catch-up is scheduled or running.
    scheduled: AtomicBool,
    /// Recent filter selections: (version, filter SQL, one flag per slot).
    selections: Mutex<Vec<Selection>>,
    /// Searches answered from memory.
    searches: AtomicU64,
    /// Rows read from LanceDB into the copy (a whole load reads the table; a catch-up, what changed).
    rows_read: AtomicU64,
    /// Of those, rows whose vectors the vector file held.
    rows_read_without_vectors: AtomicU64,
    /// Compactions followed by re-pointing rows instead of re-reading them.
    rewrites_followed: AtomicU64,
    /// The HNSW graph and its bookkeeping (`hnsw.rs`).
    graph: Mutex<hnsw::GraphState>,
    /// One graph upkeep job at a time.
    graph_job: tokio::sync::Mutex<()>,
    /// The copy or the choice changed since the last graph upkeep.
    graph_stale: AtomicBool,
    /// A graph upkeep job is scheduled or running.
    graph_scheduled: AtomicBool,
    /// A task waits to save the graph once the save interval is up (`hnsw.rs` `save_when_due`).
    save_waiting: AtomicBool,
    /// Rows the running graph build or upkeep has added so far (for `createIndex`'s progress).
    graph_filled: AtomicU64,
    /// Where the graph is saved (`None`: not saved).
    sidecar: Option<PathBuf>,
    /// What a whole load running now is doing (`LoadPhase`): searches wait for a quick one.
    load_phase: std::sync::atomic::AtomicU8,
    /// Loads may take the vectors of the fragments the vector file records without reading them; cleared
    /// when a load found the file disagreeing with the table (`vector_share.rs`).
    trust_vector_file: AtomicBool,
    /// Measurements only: filters always walk the graph (to time both sides of the switch).
    #[cfg(test)]
    force_graph_filters: AtomicBool,
    /// Tests only: pauses streamed loads between batches.
    #[cfg(test)]
    pub load_pause: LoadPause,
}

impl Resident {
    /// An empty copy for a table of `dimension`-long vectors, `metric` and the declared `fields`,
    /// allowed `budget_bytes` of memory, saving its graph at `sidecar` (a sidecar found there
    /// means the table has a graph).
    pub fn new(
        dimension: usize,
        metric: Metric,
        fields: &Fields,
        budget_bytes: usize,
        sidecar: Option<PathBuf>,
    ) -> Self {
        let choice = Choice::at_open(sidecar.as_deref());
        Self {
            metric,
            fields: fields.clone(),
            budget_bytes,
            columns: RwLock::new(Columns::new(dimension, fields)),
            over_budget_at: Mutex::default(),
            bytes: AtomicUsize::new(0),
            bytes_per_row: AtomicUsize::new(0),
            last_error: Mutex::default(),
            syncing: tokio::sync::Mutex::default(),
            scheduled: AtomicBool::new(false),
            selections: Mutex::default(),
            searches: AtomicU64::new(0),
            rows_read: AtomicU64::new(0),
            rows_read_without_vectors: AtomicU64::new(0),
            rewrites_followed: AtomicU64::new(0),
            graph: Mutex::new(hnsw::GraphState::new(choice)),
            graph_job: tokio::sync::Mutex::default(),
            graph_stale: AtomicBool::new(true),
            graph_scheduled: AtomicBool::new(false),
            save_waiting: AtomicBool::new(false),
            graph_filled: AtomicU64::new(0),
            sidecar,
            trust_vector_file: AtomicBool::new(true),
            load_phase: std::sync::atomic::AtomicU8::new(LoadPhase::None as u8),
            #[cfg(test)]
            force_graph_filters: AtomicBool::new(false),
            #[cfg(test)]
            load_pause: LoadPause::default(),
        }
    }

    #[cfg(test)]
    async fn pause_after_batch(&self) {
        if self.load_pause.on.load(Ordering::Acquire) {
            self.load_pause.reached.notify_one();
            if let Ok(permit) = self.load_pause.go.acquire().await {
                permit.forget();
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Columns> {
        self.columns.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Columns> {
        self.columns.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the copy holds exactly `version`.
    pub fn is_at(&self, version: u64) -> bool {
        self.read().version == Some(version)
    }

    /// Whether the table was found over budget at `version` (so catching up is pointless).
    pub fn is_over_budget_at(&self, version: u64) -> bool {
        *lock(&self.over_budget_at) == Some(version)
    }

    /// Whether `search` may scan enough floats to be worth moving off the async workers: the copy is
    /// large and the search may scan it (no graph, `exact`, or a filter, which scans the rows it selects
    /// when they are few). An unfiltered graph walk reads few rows: it stays on the workers.
    pub fn search_may_block(&self, search: &Search) -> bool {
        let large = {
            let columns = self.read();
            columns.slots() * columns.dimension >= 1 << 20
        };
        large && (!self.has_graph() || search.knobs.exact || search.filter.is_some())
    }

    /// The search's hits from memory, or `None` when the copy is not at `version`.
    pub fn search(&self, version: u64, query: &[f32], search: &Search) -> Option<Vec<Hit>> {
        let columns = self.read();
        if columns.version != Some(version) {
            return None;
        }
        let selected = search.filter.as_ref().map(|filter| self.selection(&columns, version, filter));
        let scan = scan::Scan {
            query,
            metric: self.metric,
            limit: search.limit,
            threshold: search.threshold,
            selected: selected.as_ref().map(|(flags, _)| flags.as_slice()),
        };
        let candidates = if search.knobs.exact {
            None
        } else {
            let selected = selected.as_ref().map(|(flags, count)| (flags.as_slice(), *count));
            self.graph_candidates(&columns, query, search, selected)
        };
        let found = match candidates {
            Some(mut slots) => scan::rerank(&columns, &scan, &mut slots),
            None => scan::nearest(&columns, &scan),
        };
        let hits = found
            .into_iter()
            .map(|candidate| {
                let distance = f64::from(candidate.distance);
                hit(&columns, candidate.slot as usize, self.metric.score(distance), distance, None)
            })
            .collect();
        self.searches.fetch_add(1, Ordering::Relaxed);
        Some(hits)
    }

    /// The slots `filter` selects at `version` and how many live ones, computed once per filter and version.
    fn selection(&self, columns: &Columns, version: u64, filter: &super::filter::Filter) -> (Arc<Vec<bool>>, usize) {
        {
            let mut kept = lock(&self.selections);
            if let Some(i) = kept.iter().position(|(v, sql, _, _)| *v == version && *sql == filter.sql) {
                let entry = kept.remove(i);
                let found = (Arc::clone(&entry.2), entry.3);
                kept.push(entry);
                return found;
            }
        }
        let flags = select::select(columns, &filter.condition);
        let count = flags.iter().zip(&columns.live).filter(|(selected, live)| **selected && **live).count();
        let flags = Arc::new(flags);
        let mut kept = lock(&self.selections);
        kept.retain(|(v, _, _, _)| *v == version);
        if kept.len() >= SELECTIONS_KEPT {
            kept.remove(0);
        }
        kept.push((version, filter.sql.clone(), Arc::clone(&flags), count));
        (flags, count)
    }

    /// With the copy at `version`: the first of `ids` that is stored (`Some(None)`: none is).
    /// `None` when the copy is not at `version` (the caller asks LanceDB).
    pub fn first_stored<'a>(&self, version: u64, mut ids: impl Iterator<Item = &'a str>) -> Option<Option<String>> {
        let columns = self.read();
        (columns.version == Some(version)).then(|| ids.find(|id| columns.contains(id)).map(str::to_owned))
    }

    /// With the copy at `version`: those of `ids` that are stored, each once, in the order given.
    /// `None` when the copy is not at `version` (the caller asks LanceDB).
    pub fn stored<'a>(&self, version: u64, ids: &'a [String]) -> Option<Vec<&'a str>> {
        let columns = self.read();
        (columns.version == Some(version)).then(|| {
            let mut seen = std::collections::HashSet::new();
            ids.iter().map(String::as_str).filter(|id| columns.contains(id) && seen.insert(*id)).collect()
        })
    }

    /// With the copy at `version`: the stored item of each of `ids` (`None` for ids not stored), in order.
    /// `None` when the copy is not at `version` (the caller asks LanceDB).
    pub fn get(&self, version: u64, ids: &[String]) -> Option<Vec<Option<super::model::StoredItem>>> {
        let columns = self.read();
        (columns.version == Some(version)).then(|| {
            ids.iter()
                .map(|id| {
                    let slot = columns.slot_of(id)?;
                    Some(super::model::StoredItem {
                        id: id.clone(),
                        vector: columns.vector(slot).to_vec(),
                        metadata: columns.metadata.get(slot).cloned().flatten().map(String::from),
                    })
                })
                .collect()
        })
    }

    /// With the copy at `version`: the distance from `query` to each stored one of `ids`, by id (ids not
    /// stored are absent). `None` when the copy is not at `version` (the caller asks LanceDB).
    pub fn distances(
        &self,
        version: u64,
        query: &[f32],
        ids: &[String],
    ) -> Option<std::collections::HashMap<String, f64>> {
        let columns = self.read();
        if columns.version != Some(version) {
            return None;
        }
        let mut slots: Vec<u32> =
            ids.iter().filter_map(|id| columns.slot_of(id)).filter_map(|slot| u32::try_from(slot).ok()).collect();
        let scan =
            scan::Scan { query, metric: self.metric, limit: slots.len().max(1), threshold: None, selected: None };
        let found = scan::rerank(&columns, &scan, &mut slots);
        Some(
            found
                .into_iter()
                .filter_map(|c| Some((columns.ids.get(c.slot as usize)?.to_string(), f64::from(c.distance))))
                .collect(),
        )
    }

    /// Brings the copy to the latest version `table`'s handle sees. `max_rows`: give up (`TooLarge`)
    /// when more rows than that must be read; `wait`: wait for a running catch-up instead of
    /// returning `Busy`. A failure leaves the copy at its old version (searches use LanceDB) and is
    /// kept for `stats()`.
    pub async fn catch_up(&self, table: &lancedb::Table, max_rows: Option<usize>, wait: bool) -> Result<CatchUp> {
        let _syncing = if wait {
            self.syncing.lock().await
        } else {
            match self.syncing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(CatchUp::Busy),
            }
        };
        let whole = (self.read().slots() == 0).then(|| {
            self.set_load_phase(LoadPhase::Planning);
            WholeLoad(self)
        });
        let outcome = self.catch_up_locked(table, max_rows).await;
        drop(whole);
        *lock(&self.last_error) = outcome.as_ref().err().map(|e| super::secrets::redact(&e.to_string()));
        outcome
    }

    fn set_load_phase(&self, phase: LoadPhase) {
        self.load_phase.store(phase as u8, Ordering::Release);
    }

    /// For a search that found a catch-up running: when it is a quick whole load (its vectors in the vector
    /// file, `LoadPhase::Quick`) — or one still planning that turns out quick — waits for it, up to
    /// `QUICK_LOAD_WAIT`. Whether it ended meanwhile (the search can then be answered from memory).
    pub async fn wait_for_quick_load(&self) -> bool {
        let deadline = tokio::time::Instant::now() + QUICK_LOAD_WAIT;
        loop {
            let phase = self.load_phase.load(Ordering::Acquire);
            if phase == LoadPhase::Quick as u8 {
                return tokio::time::timeout_at(deadline, self.syncing.lock()).await.is_ok();
            }
            if phase != LoadPhase::Planning as u8 || tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    async fn catch_up_locked(&self, table: &lancedb::Table, max_rows: Option<usize>) -> Result<CatchUp> {
        let dataset = latest_dataset(table).await?;
        self.follow_rewrites(&dataset, max_rows).await?;
        self.bring_to(&dataset, max_rows).await
    }

    /// Follows the compactions committed after the copy's version by re-pointing rows (`rewrite.rs`),
    /// catching up to the version before each first. Stops, leaving the rest to `bring_to`, at the first
    /// version that is not a compaction it can follow.
    async fn follow_rewrites(&self, dataset: &Arc<lance::Dataset>, max_rows: Option<usize>) -> Result<()> {
        let latest = dataset.version().version;
        for _ in 0..MAX_REWRITES_FOLLOWED {
            let held = match self.read().version {
                Some(held) if held < latest => held,
                _ => return Ok(()),
            };
            // A compaction always replaces fragments: without a dropped one there is none to follow.
            if !sync::plan(&self.read(), dataset).drops_fragments() {
                return Ok(());
            }
            let Some((at, groups)) = rewrite::find(dataset, held, latest).await else { return Ok(()) };
            if at > held + 1 {
                let before = dataset.checkout_version(at - 1).await.map_err(|e| {
                    StoreError::lance("reading the version before a compaction")(lancedb::Error::from(e))
                })?;
                self.bring_to(&Arc::new(before), max_rows).await?;
            }
            if !self.repoint(at, &groups) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Applies the compaction committed as `version` to a copy at `version - 1` by re-pointing its rows;
    /// `false`, changing nothing, when the copy is elsewhere or does not match the compaction's input.
    fn repoint(&self, version: u64, groups: &[rewrite::Group]) -> bool {
        let moved = {
            let mut columns = self.write();
            if columns.version != version.checked_sub(1) {
                return false;
            }
            let Some(moved) = columns.follow_rewrite(groups) else { return false };
            columns.version = Some(version);
            moved
        };
        self.follow_moved_rows(&moved);
        self.rewrites_followed.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Brings the copy to `dataset`'s version by fragment differences (`sync.rs`).
    async fn bring_to(&self, dataset: &Arc<lance::Dataset>, max_rows: Option<usize>) -> Result<CatchUp> {
        let version = dataset.version().version;
        // A restore can take at most one extra round per fragment brought back; three is plenty.
        for _ in 0..3 {
            let plan = {
                let columns = self.read();
                // At it, or past it: another store's connection already read a newer version (versions
                // only grow), and the copy never goes back; this caller searches through LanceDB.
                if columns.version.is_some_and(|held| held >= version) {
                    return Ok(CatchUp::Done);
                }
                sync::plan(&columns, dataset)
            };
            if plan.is_empty() {
                self.write().version = Some(version);
                return Ok(CatchUp::Done);
            }
            if max_rows.is_some_and(|max| plan.load_rows > max) {
                return Ok(CatchUp::TooLarge);
            }
            let load_rows = plan.load_rows;
            let whole = self.read().slots() == 0;
            if !self.fits_budget(dataset, &plan, whole, max_rows.is_none()).await {
                self.give_up_over_budget(version);
                return Ok(CatchUp::Done);
            }
            let (held, held_rows) = if whole { self.held_by_vector_file(dataset, &plan).await? } else { (0, 0) };
            if whole {
                let quick = held_rows.saturating_mul(10) >= load_rows.saturating_mul(9);
                self.set_load_phase(if quick { LoadPhase::Quick } else { LoadPhase::Slow });
            }
            let projection = sync::projection(&self.read());
            self.rows_read.fetch_add(load_rows as u64, Ordering::Relaxed);
            self.rows_read_without_vectors.fetch_add(held_rows as u64, Ordering::Relaxed);
            let delta = sync::read(dataset, plan, &projection, held).await?;
            let complete = self.apply(delta).await.inspect_err(|err| self.distrust_vector_file(err))?;
            // In the background only (`max_rows` is set when a search waits for this catch-up).
            if whole && complete && max_rows.is_none() {
                self.publish_vectors(load_rows);
            }
            if load_rows >= crate::memory::BULK_ROWS {
                crate::memory::after_bulk_work(); // the batches read are freed: give their pages back now
            }
            if self.bytes.load(Ordering::Relaxed) > self.budget_bytes {
                self.give_up_over_budget(version);
                return Ok(CatchUp::Done);
            }
            *lock(&self.over_budget_at) = None;
            if complete {
                lock(&self.selections).clear();
                return Ok(CatchUp::Done);
            }
        }
        Err(StoreError::Internal("the resident copy did not converge on the table's version".into()))
    }

    /// Applies this process's own append, committed as `version`, from the rows it wrote (`batches`),
    /// reading back only the new rows' addresses. Returns `false`, changing nothing, when the copy was
    /// not at the version before or another commit came in between: then `catch_up` reads it all.
    pub async fn apply_own_append(
        &self,
        table: &lancedb::Table,
        version: u64,
        batches: &[arrow_array::RecordBatch],
    ) -> Result<bool> {
        // A running catch-up (e.g. the first load of a large table) is not waited for: the write
        // resolves, and the next search catches the copy up.
        let Ok(_syncing) = self.syncing.try_lock() else { return Ok(false) };
        if self.read().version != version.checked_sub(1) || lock(&self.over_budget_at).is_some() {
            return Ok(false);
        }
        let dataset = latest_dataset(table).await?;
        if dataset.version().version != version {
            return Ok(false);
        }
        let plan = sync::plan(&self.read(), &dataset);
        if self.would_exceed_budget(plan.load_rows, plan.freed_rows, 0) {
            return Ok(false);
        }
        let Some(delta) = sync::read_own_append(&dataset, plan, batches).await? else { return Ok(false) };
        let complete = self.apply(delta).await?;
        lock(&self.selections).clear();
        Ok(complete)
    }

    /// Applies a read delta, copying new rows in batch by batch (the write lock is taken per batch;
    /// meanwhile the copy is tagged with no version, so searches use LanceDB), and repacks when dead
    /// slots pile up. A delta cut off half-way — by an error, or by `close()` dropping this future at
    /// one of its awaits — empties the copy (`EmptyUnlessApplied`), so the next catch-up reloads it
    /// whole rather than trusting fragments recorded as loaded whose rows never arrived.
    async fn apply(&self, delta: sync::Delta) -> Result<bool> {
        let mut guard = EmptyUnlessApplied { resident: self, applied: false };
        let complete = self.apply_steps(delta).await?;
        {
            let mut columns = self.write();
            if columns.dead_slots() >= REPACK_MIN_DEAD.max(columns.live_rows()) {
                // Slots are renumbered under this lock: selections cached on the old numbering go with it
                // (the version was already published, so a search may have cached one meanwhile).
                lock(&self.selections).clear();
                columns.repack();
            }
            self.measure(&columns);
        }
        self.graph_stale.store(true, Ordering::Release);
        guard.applied = true;
        Ok(complete)
    }

    /// Empties the copy (the next catch-up reads the table whole).
    fn empty(&self) {
        let mut columns = self.write();
        *columns = Columns::new(columns.dimension, &self.fields);
        self.bytes.store(0, Ordering::Relaxed);
        lock(&self.selections).clear();
        self.graph_stale.store(true, Ordering::Release);
    }

    async fn apply_steps(&self, mut delta: sync::Delta) -> Result<bool> {
        let rows = {
            let mut columns = self.write();
            columns.version = None; // until the whole delta is applied
            sync::begin(&mut columns, &mut delta)
        };
        match rows {
            sync::Rows::Held(batches) => {
                for batch in batches {
                    self.write().load_batch(&batch)?;
                }
            }
            sync::Rows::Streamed(streams) => {
                for mut stream in streams {
                    while let Some(batch) = stream
                        .try_next()
                        .await
                        .map_err(|e| StoreError::lance("loading rows into memory")(lancedb::Error::from(e)))?
                    {
                        self.write().load_batch(&batch)?;
                        #[cfg(test)]
                        self.pause_after_batch().await;
                    }
                }
            }
        }
        Ok(sync::finish(&mut self.write(), delta))
    }

    /// Whether reading `new_rows` more rows, and freeing `freed_rows` (dropped or rewritten), would take
    /// the copy past its budget (memory of this process). Estimated from the bytes per row measured when
    /// the copy last held rows (metadata and fields included; kept after the copy is freed), at least the
    /// vector size and 128 bytes; `in_place` of the new rows are expected to have their vectors read from
    /// the vector file, which costs this process nothing.
    fn would_exceed_budget(&self, new_rows: usize, freed_rows: usize, in_place: usize) -> bool {
        let dimension = self.read().dimension;
        let per_row = self.bytes_per_row.load(Ordering::Relaxed).max(4 * dimension + 128);
        let held = self.bytes.load(Ordering::Relaxed);
        let after = held
            .saturating_sub(freed_rows.saturating_mul(per_row))
            .saturating_add(new_rows.saturating_mul(per_row))
            .saturating_sub(in_place.min(new_rows).saturating_mul(4 * dimension));
        after > self.budget_bytes
    }

    /// Records what the copy holds: its bytes, and (when it holds rows) the bytes per row.
    fn measure(&self, columns: &Columns) {
        let bytes = columns.bytes();
        self.bytes.store(bytes, Ordering::Relaxed);
        if columns.slots() > 0 {
            self.bytes_per_row.store(bytes / columns.slots(), Ordering::Relaxed);
        }
    }

    /// Frees the copy: the table does not fit. Searches use LanceDB until the version changes.
    fn give_up_over_budget(&self, version: u64) {
        self.empty();
        *lock(&self.over_budget_at) = Some(version);
    }

    /// Whether the table was found over budget at some version (and not re-checked since).
    pub fn is_over_budget(&self) -> bool {
        lock(&self.over_budget_at).is_some()
    }

    /// Marks a background catch-up as scheduled: the ticket, or `None` if one already is. Dropping the
    /// ticket — the job ended, or `close()` aborted it at any await — marks it ended.
    pub fn schedule(resident: &Arc<Self>) -> Option<CatchUpTicket> {
        (!resident.scheduled.swap(true, Ordering::AcqRel)).then(|| CatchUpTicket(Arc::clone(resident)))
    }

    /// Whether a background catch-up is scheduled or running.
    #[cfg(test)]
    pub fn is_scheduled(&self) -> bool {
        self.scheduled.load(Ordering::Acquire)
    }

    /// Where the copy stands relative to the table's `latest` version.
    pub fn status(&self, latest: u64) -> ResidentStatus {
        let columns = self.read();
        let over_budget = lock(&self.over_budget_at).is_some();
        let state = match (over_budget, columns.version) {
            (true, _) => ResidentState::OverBudget,
            (false, Some(version)) if version == latest => ResidentState::Ready,
            (false, _) => ResidentState::Loading,
        };
        ResidentStatus {
            state,
            rows: columns.live_rows(),
            bytes: self.bytes.load(Ordering::Relaxed),
            version: columns.version,
            last_error: lock(&self.last_error).clone(),
            searches: self.searches.load(Ordering::Relaxed),
            rows_read: self.rows_read.load(Ordering::Relaxed),
            rows_read_without_vectors: self.rows_read_without_vectors.load(Ordering::Relaxed),
            compactions_followed: self.rewrites_followed.load(Ordering::Relaxed),
            mapped_bytes: columns.vectors.mapped_bytes(),
        }
    }
}

/// Runs `work`, which blocks for a while (file I/O), telling a multi-threaded runtime to move this
/// worker's other tasks elsewhere meanwhile.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The hit for the row in `slot`: its id and metadata with the given score, distance and sides.
fn hit(columns: &Columns, slot: usize, score: f64, distance: f64, sides: Option<Sides>) -> Hit {
    Hit {
        id: columns.ids.get(slot).map(|id| id.to_string()).unwrap_or_default(),
        score,
        distance,
        metadata: columns.metadata.get(slot).cloned().flatten().map(String::from),
        sides,
    }
}
