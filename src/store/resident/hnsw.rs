//! The resident copy's HNSW graph (`graph.rs`): which graph the table wants (`Choice`), searching
//! it (the graph's best candidates plus the rows not in it yet, scored exactly on the f32 vectors), and its
//! upkeep: load the sidecar (`sidecar.rs`) or build, add new rows, rebuild once removed rows pile
//! up, save. One upkeep job at a time; it works on blocking threads over every core, taking the
//! columns' lock only to copy a batch of vectors or to mark rows as added, so searches and writes
//! go on meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Resident;
use super::columns::Columns;
use super::graph::{DEFAULT_EF_SEARCH, Graph, GraphSettings, Precision};
use super::sidecar;
use crate::store::config::Search;
use crate::store::error::{Result, StoreError};
use crate::store::lock::{LowerOnDrop, lock};

/// Rows from which `"auto"` searches a graph instead of scanning every row. Measured on the real
/// 20k sets (median of the store's search): at 1,000 rows the scan ties the graph (MiniLM 0.05 vs
/// 0.08 ms, MPNet 0.11 vs 0.11 ms), at 2,000 the graph is ahead (0.11 vs 0.09, 0.29 vs 0.14 ms), at
/// 5,000 3.5× ahead; below this the scan also keeps recall at 1.
pub const AUTO_GRAPH_MIN_ROWS: usize = 2_000;
/// The filter switch: a walk filtered to a share `p` of the rows visits about `1/p` times the nodes
/// of an unfiltered one, while the exact scan reads only the selected rows, so the walk wins once
/// the selected rows exceed `√(FILTER_SWITCH × rows)`. Fitted on the real 20k sets, sections of
/// 0.9–10.5 % (both sides timed per section): 2,200–2,400 for MiniLM and MPNet alike (6,800 of
/// 20k rows, 34 %; 15k of 100k).
pub const FILTER_SWITCH: f64 = 2_300.0;
/// Removed rows still in the graph after which it is rebuilt: this many, and this share of its nodes.
pub const REBUILD_MIN_REMOVED: usize = 1_000;
/// See `REBUILD_MIN_REMOVED`.
pub const REBUILD_REMOVED_FRACTION: f64 = 0.2;
/// Rows copied out and added per step of a build.
const BATCH_ROWS: usize = 4_096;
/// Rows added since the last save after which the sidecar is written again: this many, and this
/// share of the graph (a reopened store adds the rest itself).
const SAVE_MIN_CHANGED: usize = 1_000;
const SAVE_CHANGED_FRACTION: f64 = 0.05;
/// Least time between two saves of a graph that keeps changing: under steady small writes every
/// automatic compaction renames thousands of keys, and writing the whole file (34 MB at 20k × 384)
/// after each one took a core away from searches every 100 commits. A save deferred by this runs once
/// the time is up (`save_due_in`, armed by the store), and `close()` saves whatever is left.
pub const SAVE_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Rows whose vectors are compared with the sidecar's before it is trusted.
const SIDECAR_CHECKED_ROWS: usize = 32;

/// Which graph the table wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `"auto"`: a graph once the table has `AUTO_GRAPH_MIN_ROWS` rows (if `autoIndex` is on).
    Auto,
    /// A sidecar was found at open: a graph, with the settings the sidecar records.
    Saved,
    /// `createIndex({ kind: 'hnsw' })`: a graph with these settings, whatever the table's size.
    Graph(GraphSettings),
    /// No graph (`createIndex` chose exact search or a LanceDB index).
    Off,
}

impl Choice {
    /// The choice as the choice file records it (`Saved` is not a choice anyone makes: `None`).
    fn to_json(self) -> Option<serde_json::Value> {
        match self {
            Self::Auto => Some(serde_json::json!({ "graph": "auto" })),
            Self::Off => Some(serde_json::json!({ "graph": "none" })),
            Self::Graph(s) => Some(serde_json::json!({
                "graph": "hnsw", "numEdges": s.num_edges, "efConstruction": s.ef_construction
            })),
            Self::Saved => None,
        }
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        let number =
            |name: &str| value.get(name).and_then(serde_json::Value::as_u64).and_then(|n| u32::try_from(n).ok());
        match value.get("graph")?.as_str()? {
            "auto" => Some(Self::Auto),
            "none" => Some(Self::Off),
            "hnsw" => Some(Self::Graph(GraphSettings {
                num_edges: number("numEdges")?,
                ef_construction: number("efConstruction")?,
            })),
            _ => None,
        }
    }

    /// The choice a copy starts with: what the choice file records, else a graph if one was saved.
    pub fn at_open(sidecar: Option<&std::path::Path>) -> Self {
        let recorded = sidecar.and_then(|path| sidecar::read_choice(&sidecar::choice_path(path)));
        let saved = sidecar.is_some_and(std::path::Path::exists);
        match recorded.as_ref().and_then(Self::from_json) {
            Some(Self::Auto) | None if saved => Self::Saved,
            Some(choice) => choice,
            None => Self::Auto,
        }
    }
}

/// How the current graph came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Built in this process.
    Built,
    /// Loaded from the sidecar.
    Loaded,
}

/// The graph and its bookkeeping.
pub struct GraphState {
    choice: Choice,
    /// Some store on the table has `autoIndex` on.
    auto: bool,
    graph: Option<Arc<Graph>>,
    source: Option<Source>,
    building: bool,
    builds: u64,
    last_error: Option<String>,
    /// Why the sidecar was last ignored.
    ignored_sidecar: Option<String>,
    /// The sidecar was tried since the graph was last dropped.
    sidecar_tried: bool,
    /// Rows added (or renamed) since the last save.
    unsaved: usize,
    /// When the sidecar was last written by this copy.
    last_saved: Option<Instant>,
    /// `SAVE_MIN_INTERVAL` (shorter in tests).
    save_interval: Duration,
    /// Keys renamed after compactions moved their rows (for `stats()`).
    renamed: u64,
    /// The choice file's content when this copy last wrote or read it.
    recorded: Option<serde_json::Value>,
}

impl GraphState {
    /// The state of a table whose graph choice is `choice` (see `Choice::at_open`).
    pub fn new(choice: Choice) -> Self {
        Self {
            choice,
            auto: false,
            graph: None,
            source: None,
            building: false,
            builds: 0,
            last_error: None,
            ignored_sidecar: None,
            sidecar_tried: false,
            unsaved: 0,
            last_saved: None,
            save_interval: SAVE_MIN_INTERVAL,
            renamed: 0,
            recorded: None,
        }
    }
}

/// `stats().index` for a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphStatus {
    /// How it is built.
    pub settings: GraphSettings,
    /// Rows in the graph.
    pub indexed_rows: usize,
    /// Rows not in it yet (searched exactly beside it).
    pub unindexed_rows: usize,
    /// Nodes of rows deleted or replaced since (skipped by searches until a rebuild).
    pub removed_rows: usize,
    /// Approximate bytes the graph holds in this process's memory.
    pub bytes: usize,
    /// Bytes of the graph file it views in place (mapped, shared by every process viewing it), or 0.
    pub mapped_bytes: usize,
    /// An upkeep job is building or extending it now.
    pub building: bool,
    /// Graphs built (or loaded) by this process.
    pub builds: u64,
    /// Rows whose keys were renamed after a compaction moved them (instead of a rebuild).
    pub renamed_rows: u64,
    /// How the graph stores vectors (`"f16"` or `"f32"`), once there is one.
    pub precision: Option<&'static str>,
    /// `"built"` or `"loaded"` (from the sidecar).
    pub source: Option<&'static str>,
    /// Why the sidecar was ignored, if it was.
    pub ignored_sidecar: Option<String>,
    /// The last failed upkeep's error, until one succeeds.
    pub last_error: Option<String>,
}

/// Whether the fragments a sidecar names are this table's: a fragment id the copy also holds must have
/// the same data file (LanceDB names data files uniquely, so a table dropped and made again, even with
/// the same rows, has other names), and at least one must be held when the table has rows.
fn same_table(named: &[(u64, String)], columns: &Columns) -> std::result::Result<(), String> {
    let mut matched = 0usize;
    for (id, file) in named {
        if let Some(fragment) = columns.fragments.get(id) {
            if fragment.identity.files.first() != Some(file) {
                return Err(format!("fragment {id} holds other data files (another table's graph?)"));
            }
            matched += 1;
        }
    }
    if matched == 0 && columns.live_rows() > 0 {
        return Err("it names none of the table's fragments (another table's graph?)".into());
    }
    Ok(())
}

/// Whether enough of `graph` changed since the last save to write it again.
fn save_due(state: &GraphState, graph: &Graph) -> bool {
    state.unsaved >= SAVE_MIN_CHANGED.max((SAVE_CHANGED_FRACTION * graph.len() as f64) as usize)
}

/// Whether the sidecar was written less than the save interval (`SAVE_MIN_INTERVAL`) ago.
fn saved_recently(state: &GraphState) -> bool {
    state.last_saved.is_some_and(|at| at.elapsed() < state.save_interval)
}

/// One upkeep round: a round cancelled half-way (by `close()`) leaves the graph stale, so the next
/// job does it again.
struct Round<'a> {
    stale: &'a AtomicBool,
    finished: bool,
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.stale.store(true, Ordering::Release);
        }
    }
}

/// A scheduled graph upkeep job (see `Resident::schedule_graph`).
pub struct GraphTicket(Arc<Resident>);

impl GraphTicket {
    /// The copy whose graph the job keeps.
    pub fn resident(&self) -> &Resident {
        &self.0
    }

    /// The copy, to keep after the job ends (the ticket dropped).
    pub fn shared(&self) -> Arc<Resident> {
        Arc::clone(&self.0)
    }
}

impl Drop for GraphTicket {
    fn drop(&mut self) {
        lock(&self.0.graph).building = false;
        self.0.graph_scheduled.store(false, Ordering::Release);
    }
}

impl Resident {
    /// Says that a store with `autoIndex` on uses the table (`"auto"` then builds graphs).
    pub fn allow_auto_graph(&self) {
        let mut state = lock(&self.graph);
        if !state.auto {
            state.auto = true;
            self.graph_stale.store(true, Ordering::Release);
        }
    }

    /// Sets which graph the table wants; the next upkeep builds or drops it. `Off` also deletes the sidecar.
    pub fn choose_graph(&self, choice: Choice) -> Result<()> {
        lock(&self.graph).choice = choice;
        self.graph_stale.store(true, Ordering::Release);
        if choice == Choice::Off
            && let Some(path) = &self.sidecar
        {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::io(format!("removing the graph file {}", path.display()), &e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Replaces the graph as `createIndex` asks: records `choice` in the choice file (so it lasts, for
    /// every store and process on the table), drops the current graph and its sidecar, and runs the
    /// upkeep that builds the new one (if the choice wants one), waiting for it.
    pub async fn rebuild_graph(&self, choice: Choice) -> Result<()> {
        {
            let _job = self.graph_job.lock().await;
            self.record_choice(choice)?;
            self.choose_graph(Choice::Off)?; // deletes the sidecar
            self.install(None, None);
            lock(&self.graph).choice = choice;
        }
        self.upkeep_graph().await?;
        // Another store's job may have run the build meanwhile: its outcome is this call's.
        let state = lock(&self.graph);
        match (choice, &state.graph, &state.last_error) {
            (Choice::Graph(_), None, Some(error)) => Err(StoreError::index_failed(error.clone())),
            (Choice::Graph(_), None, None) => Err(StoreError::index_failed("the graph was not built")),
            _ => Ok(()),
        }
    }

    /// Writes `choice` to the choice file (when the graph is saved at all).
    fn record_choice(&self, choice: Choice) -> Result<()> {
        let (Some(sidecar), Some(json)) = (&self.sidecar, choice.to_json()) else { return Ok(()) };
        let path = sidecar::choice_path(sidecar);
        sidecar::write_choice(&path, &json)
            .map_err(|e| StoreError::io(format!("recording the index choice in {}", path.display()), &e))?;
        lock(&self.graph).recorded = Some(json);
        Ok(())
    }

    /// Adopts a choice another store or process recorded since this copy last looked: `"none"` drops
    /// the graph (and keeps this copy from saving it again), a graph with other settings is rebuilt with
    /// them. Returns whether the table now wants no graph.
    fn adopt_recorded_choice(&self) -> bool {
        let Some(sidecar) = &self.sidecar else { return false };
        let recorded = sidecar::read_choice(&sidecar::choice_path(sidecar));
        let mut state = lock(&self.graph);
        if recorded.is_some() && recorded != state.recorded {
            state.recorded.clone_from(&recorded);
            match recorded.as_ref().and_then(Choice::from_json) {
                Some(Choice::Off) => state.choice = Choice::Off,
                Some(Choice::Graph(settings)) => state.choice = Choice::Graph(settings),
                Some(Choice::Auto) if matches!(state.choice, Choice::Off | Choice::Graph(_)) => {
                    state.choice = Choice::Auto
                }
                _ => {}
            }
        }
        state.choice == Choice::Off
    }

    /// Rows the running graph build has added so far.
    pub fn graph_rows_filled(&self) -> u64 {
        self.graph_filled.load(Ordering::Relaxed)
    }

    /// Whether searches can use a graph now.
    pub fn has_graph(&self) -> bool {
        lock(&self.graph).graph.is_some()
    }

    /// Whether the graph needs an upkeep job (rows to add, a build, a drop).
    pub fn graph_is_stale(&self) -> bool {
        self.graph_stale.load(Ordering::Acquire)
    }

    /// A ticket for one graph upkeep job when the graph is stale and no job is scheduled; the
    /// job ends (even when cancelled by `close()`) when the ticket is dropped.
    pub fn schedule_graph(resident: &Arc<Self>) -> Option<GraphTicket> {
        (resident.graph_is_stale() && !resident.graph_scheduled.swap(true, Ordering::AcqRel))
            .then(|| GraphTicket(Arc::clone(resident)))
    }

    /// The candidate slots for `search` from the graph (plus the live rows not in it yet), or `None`
    /// when the exact scan should answer: no graph, a filter selective enough that scanning its
    /// rows is cheaper, or the graph failed (counted in `stats()`).
    pub(super) fn graph_candidates(
        &self,
        columns: &Columns,
        query: &[f32],
        search: &Search,
        selected: Option<(&[bool], usize)>,
    ) -> Option<Vec<u32>> {
        let graph = lock(&self.graph).graph.clone()?;
        #[cfg(test)]
        let forced = self.force_graph_filters.load(Ordering::Relaxed);
        #[cfg(not(test))]
        let forced = false;
        if let Some((_, count)) = selected
            && !forced
            && (count as f64) <= (FILTER_SWITCH * columns.live_rows() as f64).sqrt()
        {
            return None;
        }
        let count = search.knobs.ef.unwrap_or(DEFAULT_EF_SEARCH).max(search.limit);
        let flags = selected.map(|(flags, _)| flags);
        let accept = |key: u64| {
            columns.slot_at(key).is_some_and(|slot| flags.is_none_or(|f| f.get(slot).copied().unwrap_or(false)))
        };
        // Dead nodes (deleted rows) or a filter: the graph is walked with a predicate.
        let walk_all = flags.is_none() && graph.len() == columns.graphed_live();
        let keys = match graph.search(query, count, if walk_all { None } else { Some(&accept) }) {
            Ok(keys) => keys,
            Err(err) => {
                lock(&self.graph).last_error = Some(err.to_string());
                return None;
            }
        };
        // The walk keeps `count` candidates, but only its best `limit` get exact scores: re-ranking all of them
        // changed recall@10 by 0.0002 at the default `ef` on MiniLM and MPNet and cost 11–16 % of the walk
        // (`graph_tests::rerank_measurement`). Every key is live and selected here (dead or unselected ones
        // were walked past by the predicate), so the first `limit` are the best the graph knows.
        let mut slots: Vec<u32> = keys
            .into_iter()
            .filter_map(|key| columns.slot_at(key))
            .filter_map(|s| u32::try_from(s).ok())
            .take(search.limit)
            .collect();
        if columns.graphed_live() < columns.live_rows() {
            slots.extend(columns.ungraphed_slots().filter_map(|s| u32::try_from(s).ok()));
        }
        Some(slots)
    }

    /// Brings the graph in line with the copy and the table's choice, until nothing is stale.
    /// A failure is kept for `stats()` (searches scan exactly meanwhile) and returned.
    pub async fn upkeep_graph(&self) -> Result<()> {
        let _job = self.graph_job.lock().await;
        while self.graph_stale.swap(false, Ordering::AcqRel) {
            lock(&self.graph).building = true;
            let mut round = Round { stale: &self.graph_stale, finished: false };
            let outcome = self.upkeep_graph_once().await;
            round.finished = true;
            let mut state = lock(&self.graph);
            state.building = false;
            state.last_error = outcome.as_ref().err().map(ToString::to_string);
            outcome?;
        }
        Ok(())
    }

    async fn upkeep_graph_once(&self) -> Result<()> {
        self.adopt_recorded_choice();
        let (version, live_rows) = {
            let columns = self.read();
            (columns.version, columns.live_rows())
        };
        if lock(&self.over_budget_at).is_some() {
            self.install(None, None); // a table over budget has no graph
            return Ok(());
        }
        if version.is_none() {
            return Ok(()); // loading: the load marks the graph stale again when it is done
        }
        let (choice, auto, current) = {
            let state = lock(&self.graph);
            (state.choice, state.auto, state.graph.clone())
        };
        if choice == Choice::Off || (choice == Choice::Auto && !auto) {
            self.install(None, None);
            return Ok(());
        }
        let settings = match choice {
            Choice::Off => None,
            Choice::Auto if current.is_none() && live_rows < AUTO_GRAPH_MIN_ROWS => return Ok(()),
            Choice::Auto | Choice::Saved => current.as_ref().map(|g| g.settings),
            Choice::Graph(settings) => Some(settings),
        };
        let mut graph = current.filter(|g| settings.is_none_or(|s| g.settings == s));
        if graph.is_none() {
            graph = self.load_sidecar(settings).await;
        }
        if let Some(current) = &graph {
            let removed = current.len().saturating_sub(self.read().graphed_live());
            if removed >= REBUILD_MIN_REMOVED && removed as f64 >= REBUILD_REMOVED_FRACTION * current.len() as f64 {
                graph = None; // rebuilt beside the old one, which serves searches meanwhile
            } else if !self.pending_rows_fit(current) {
                graph = None; // new rows f16 cannot hold: rebuilt in f32 beside the old one
            }
        }
        let graph = match graph {
            Some(graph) => graph,
            None => {
                let settings = settings.unwrap_or_default();
                let (dimension, precision) = {
                    let columns = self.read();
                    let live = columns.live.iter().enumerate().filter(|(_, live)| **live);
                    let vectors = live.map(|(slot, _)| columns.vector(slot));
                    (columns.dimension, Precision::for_vectors(self.metric, vectors))
                };
                let built = Arc::new(Graph::new(dimension, self.metric, settings, precision)?);
                self.fill(&built, false).await?;
                self.install(Some(Arc::clone(&built)), Some(Source::Built));
                if built.len() >= crate::memory::BULK_ROWS {
                    crate::memory::after_bulk_work(); // the batches copied for the build are freed
                }
                lock(&self.graph).unsaved = usize::MAX; // a new graph is saved at once
                built
            }
        };
        while self.pending_rows() > 0 {
            if self.fill(&graph, true).await? == 0 {
                break;
            }
        }
        self.save_if_due(&graph, version).await
    }

    /// Renames the graph's keys of rows a compaction moved (`moves`: old, new address), so the graph
    /// stays whole instead of counting them removed and re-adding them. A graph that fails to rename is
    /// dropped (the next upkeep rebuilds it; searches scan exactly meanwhile).
    pub(super) fn follow_moved_rows(&self, moves: &[(u64, u64)]) {
        let Some(graph) = lock(&self.graph).graph.clone() else { return };
        match graph.rename(moves) {
            Ok(renamed) => {
                let mut state = lock(&self.graph);
                state.unsaved = state.unsaved.saturating_add(renamed);
                state.renamed = state.renamed.saturating_add(renamed as u64);
            }
            Err(err) => {
                lock(&self.graph).last_error = Some(err.to_string());
                self.install(None, None);
            }
        }
        self.graph_stale.store(true, Ordering::Release);
    }

    /// Whether `graph`'s precision holds the rows still to be added to it.
    fn pending_rows_fit(&self, graph: &Graph) -> bool {
        let columns = self.read();
        graph.holds(columns.ungraphed_slots().map(|slot| columns.vector(slot)))
    }

    /// Live rows not in the graph yet.
    fn pending_rows(&self) -> usize {
        let columns = self.read();
        columns.live_rows() - columns.graphed_live()
    }

    /// Makes `graph` the one searches use (or none), marking which slots it holds.
    fn install(&self, graph: Option<Arc<Graph>>, source: Option<Source>) {
        let mut columns = self.write();
        let mut state = lock(&self.graph);
        if let (Some(new), Some(old)) = (&graph, &state.graph)
            && Arc::ptr_eq(new, old)
        {
            return;
        }
        // With no graph (and none before) every flag is already off: skip the walk over every slot.
        if graph.is_some() || columns.graphed_live() > 0 {
            columns.mark_graphed(|key| graph.as_ref().is_some_and(|g| g.contains(key)));
        }
        if graph.is_some() {
            state.builds += 1;
        } else {
            state.sidecar_tried = false;
        }
        state.graph = graph;
        state.source = source;
        state.unsaved = 0;
    }

    /// Adds live rows to `graph` in batches (only those not in it yet when `installed`, then marking
    /// them); returns how many were added.
    async fn fill(&self, graph: &Arc<Graph>, installed: bool) -> Result<usize> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        // Adding to an installed graph starts where rows may be missing, not at slot 0.
        let mut next = if installed { self.read().first_ungraphed() } else { 0 };
        let mut added = 0;
        self.graph_filled.store(0, Ordering::Relaxed);
        loop {
            let (rows, end) = {
                let columns = self.read();
                columns.batch_for_graph(next, BATCH_ROWS, installed)
            };
            if rows.is_empty() {
                break;
            }
            next = end;
            let keys: Vec<u64> = rows.iter().map(|(key, _)| *key).collect();
            let graph_ref = Arc::clone(graph);
            tokio::task::spawn_blocking(move || {
                let borrowed: Vec<(u64, &[f32])> = rows.iter().map(|(k, v)| (*k, v.as_slice())).collect();
                graph_ref.add(&borrowed, threads)
            })
            .await
            .map_err(|e| StoreError::Internal(format!("a graph build stopped: {e}")))??;
            added += keys.len();
            self.graph_filled.fetch_add(keys.len() as u64, Ordering::Relaxed);
            if installed {
                self.write().mark_added(&keys);
                let mut state = lock(&self.graph);
                state.unsaved = state.unsaved.saturating_add(keys.len());
            }
        }
        Ok(added)
    }

    /// The graph in the sidecar, if it is there, was built with the `wanted` settings (when given), fits
    /// the table (its fragments, its version, the vectors of a sample of its rows); otherwise `None`,
    /// with the reason kept for `stats()`.
    async fn load_sidecar(&self, wanted: Option<GraphSettings>) -> Option<Arc<Graph>> {
        let path = self.sidecar.clone()?;
        if std::mem::replace(&mut lock(&self.graph).sidecar_tried, true) || !path.exists() {
            return None;
        }
        let (dimension, metric) = (self.read().dimension, self.metric);
        let read = tokio::task::spawn_blocking(move || {
            let (header, payload) = sidecar::read(&path)?;
            if header.dimension != dimension || header.metric != metric {
                return Err("it was built for another dimension or metric".to_string());
            }
            if wanted.is_some_and(|settings| settings != header.settings) {
                return Err("it was built with other settings than the ones chosen".to_string());
            }
            let (file, range) = payload.into_parts();
            let graph = Graph::view(file, range, dimension, metric, header.settings, header.precision)
                .map_err(|e| e.to_string())?;
            if graph.len() != header.rows {
                return Err(format!("its header says {} rows but the graph holds {}", header.rows, graph.len()));
            }
            Ok((header, graph))
        })
        .await
        .unwrap_or_else(|e| Err(format!("reading it stopped: {e}")));
        let checked = read.and_then(|(header, graph)| {
            let columns = self.read();
            if columns.version.is_some_and(|held| header.table_version > held) {
                return Err(format!(
                    "it was saved at table version {}, newer than the table's {} (a table dropped and made again?)",
                    header.table_version,
                    columns.version.unwrap_or_default()
                ));
            }
            same_table(&header.fragments, &columns)?;
            let sample = columns.sample_addresses(SIDECAR_CHECKED_ROWS, |key| graph.contains(key));
            if sample.is_empty() && columns.live_rows() > 0 {
                return Err("it holds none of the table's rows".to_string());
            }
            for (key, slot) in sample {
                let held = graph.vector(key).unwrap_or_default();
                let stored = graph.prepared(columns.vector(slot));
                let close = held.len() == columns.dimension
                    && held.iter().zip(stored.iter()).all(|(a, b)| (a - b).abs() <= 1e-2 * b.abs().max(1e-3));
                if !close {
                    return Err("its vectors differ from the table's (another table's graph?)".to_string());
                }
            }
            Ok(graph)
        });
        match checked {
            Ok(graph) => {
                let graph = Arc::new(graph);
                self.install(Some(Arc::clone(&graph)), Some(Source::Loaded));
                lock(&self.graph).ignored_sidecar = None;
                Some(graph)
            }
            Err(why) => {
                lock(&self.graph).ignored_sidecar = Some(format!("the saved graph was ignored and rebuilt: {why}"));
                None
            }
        }
    }

    /// Saves the graph when enough changed since the last save (or it is new), unless the last save
    /// is more recent than `SAVE_MIN_INTERVAL`: then the save waits (see `save_due_in`).
    async fn save_if_due(&self, graph: &Arc<Graph>, version: Option<u64>) -> Result<()> {
        let (due, deferred) = {
            let state = lock(&self.graph);
            // `usize::MAX` marks a graph just built: saved at once, however recent the last save.
            (save_due(&state, graph), state.unsaved != usize::MAX && saved_recently(&state))
        };
        if due && !deferred { self.save(graph, version).await } else { Ok(()) }
    }

    /// Waits out the save interval and saves, for as long as a deferred save waits; returns at once when
    /// another task of this table already waits. `close()` cancels the wait (and saves itself); a failed
    /// save ends it (kept for `stats()` and returned; the next upkeep tries again).
    pub async fn save_when_due(&self) -> Result<()> {
        if self.save_waiting.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let _waiting = LowerOnDrop(&self.save_waiting);
        let mut wait = match self.save_due_in() {
            Some(wait) => wait,
            None => return Ok(()),
        };
        loop {
            tokio::time::sleep(wait).await;
            if let Err(err) = self.save_graph().await {
                lock(&self.graph).last_error = Some(err.to_string());
                return Err(err);
            }
            // Still due: an upkeep job held the graph (it saves when done) or rows came meanwhile.
            wait = match self.save_due_in() {
                Some(wait) => wait.max(Duration::from_secs(1)),
                None => return Ok(()),
            };
        }
    }

    /// How long until a save the interval deferred may run, when one waits (`None`: nothing waits).
    pub fn save_due_in(&self) -> Option<Duration> {
        let state = lock(&self.graph);
        let graph = state.graph.as_ref()?;
        if self.sidecar.is_none() || !save_due(&state, graph) {
            return None;
        }
        Some(state.last_saved.map_or(Duration::ZERO, |at| state.save_interval.saturating_sub(at.elapsed())))
    }

    /// Sets the least time between two saves (tests: shorter than `SAVE_MIN_INTERVAL`).
    #[cfg(test)]
    pub fn set_save_interval(&self, interval: Duration) {
        lock(&self.graph).save_interval = interval;
    }

    /// Writes any rows added since the last save to the sidecar (at `close()`, and when a deferred save's
    /// time is up). Skipped while another store's upkeep job runs: that job saves when it is done.
    pub async fn save_graph(&self) -> Result<()> {
        let Ok(_job) = self.graph_job.try_lock() else { return Ok(()) };
        let graph = lock(&self.graph).graph.clone();
        let unsaved = lock(&self.graph).unsaved;
        match graph {
            Some(graph) if unsaved > 0 => {
                let version = self.read().version;
                self.save(&graph, version).await
            }
            _ => Ok(()),
        }
    }

    /// Writes the sidecar. Synchronous on purpose (off the async workers when the runtime allows):
    /// a job cancelled by `close()` stops only at an await, so a save either happened entirely
    /// before `close()` returns or not at all, and nothing writes the file after it.
    async fn save(&self, graph: &Arc<Graph>, version: Option<u64>) -> Result<()> {
        let Some(path) = self.sidecar.clone() else { return Ok(()) };
        if self.adopt_recorded_choice() {
            // `createIndex({ kind: 'none' })` (or another kind) since: the graph must not come back.
            self.graph_stale.store(true, Ordering::Release);
            return Ok(());
        }
        let fragments = {
            let columns = self.read();
            let mut named: Vec<(u64, String)> =
                columns.fragments.iter().filter_map(|(id, f)| Some((*id, f.identity.files.first()?.clone()))).collect();
            named.sort_unstable();
            named.truncate(sidecar::MAX_FRAGMENTS);
            named
        };
        let write = || {
            let (payload, rows) = graph.to_bytes()?;
            let header = sidecar::Header {
                dimension: graph.dimension,
                metric: graph.metric,
                settings: graph.settings,
                precision: graph.precision,
                table_version: version.unwrap_or_default(),
                rows,
                fragments,
            };
            sidecar::write(&path, &header, &payload)
                .map_err(|e| StoreError::io(format!("writing the graph file {}", path.display()), &e))
        };
        let multi_thread =
            tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
        if multi_thread { tokio::task::block_in_place(write) } else { write() }?;
        let mut state = lock(&self.graph);
        state.unsaved = 0;
        state.last_saved = Some(Instant::now());
        Ok(())
    }

    /// The graph's status for `stats().index`, when the table has or wants one.
    pub fn graph_status(&self) -> Option<GraphStatus> {
        let (live, graphed) = {
            let columns = self.read();
            (columns.live_rows(), columns.graphed_live())
        };
        let state = lock(&self.graph);
        let wanted = match state.choice {
            Choice::Off => false,
            Choice::Auto => state.auto && (state.graph.is_some() || live >= AUTO_GRAPH_MIN_ROWS),
            Choice::Saved | Choice::Graph(_) => true,
        };
        if !wanted && state.graph.is_none() {
            return None;
        }
        let graph = state.graph.as_ref();
        Some(GraphStatus {
            settings: graph.map(|g| g.settings).unwrap_or(match state.choice {
                Choice::Graph(settings) => settings,
                _ => GraphSettings::default(),
            }),
            indexed_rows: graphed,
            unindexed_rows: live - graphed,
            removed_rows: graph.map_or(0, |g| g.len().saturating_sub(graphed)),
            bytes: graph.map_or(0, |g| g.bytes()),
            mapped_bytes: graph.map_or(0, |g| g.mapped_bytes()),
            // A wanted graph not built yet counts as building from the moment it is due, not only once the
            // background job has started (a caller polling `building` would otherwise see `false` and 0 rows
            // indexed in between); a failed build shows `lastError` instead.
            building: state.building || (wanted && state.graph.is_none() && state.last_error.is_none()),
            builds: state.builds,
            renamed_rows: state.renamed,
            precision: graph.map(|g| g.precision.as_str()),
            source: state.source.map(|s| match s {
                Source::Built => "built",
                Source::Loaded => "loaded",
            }),
            ignored_sidecar: state.ignored_sidecar.clone(),
            last_error: state.last_error.clone(),
        })
    }
}
