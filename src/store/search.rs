//! Search: validation, the query cache with single-flight for identical misses, and the choice of
//! backend: the resident in-memory copy (`resident.rs`) when it holds exactly the version the search
//! read, else LanceDB (`search/lance.rs`). A copy that is behind is caught up on the spot when the
//! change is small, and in the background (LanceDB answering meanwhile) when it is large. Results
//! are labelled with the version read *before* searching, so a cached answer is never newer than
//! its data, and never served for another version. Searches with words (hybrid, `searchText`) go to
//! `search/hybrid.rs`.

mod hybrid;
mod lance;
pub(super) mod words;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::OnceCell;

use super::cache::CacheKey;
use super::config::{Search, SearchRequest};
use super::error::Result;
use super::index::{self, IndexShape};
use super::latency::elapsed_ms;
use super::lock::lock;
use super::maintenance::JobKind;
use super::model::Hit;
use super::resident::{CatchUp, Resident};
use super::{Handles, Store};

/// Most rows a search reads from LanceDB to catch the resident copy up before answering from it;
/// a larger change is loaded in the background while LanceDB answers.
const INLINE_CATCH_UP_ROWS: usize = 10_000;
/// The same bound right after a write through this process: the rows were just written, so reading
/// them back is fast, and the next search is then answered from memory.
const INLINE_CATCH_UP_ROWS_AFTER_WRITE: usize = 1_000_000;

/// The hits from the resident copy if it holds `version`; large scans run off the async workers.
async fn search_resident(
    resident: &Arc<Resident>,
    query: &[f32],
    search: &Search,
    version: u64,
) -> Result<Option<Vec<Hit>>> {
    if !resident.is_at(version) {
        return Ok(None);
    }
    if !resident.search_may_block(search) {
        return Ok(resident.search(version, query, search));
    }
    let (resident, query, search) = (Arc::clone(resident), query.to_vec(), search.clone());
    tokio::task::spawn_blocking(move || resident.search(version, &query, &search))
        .await
        .map_err(|e| super::StoreError::Internal(format!("the in-memory search stopped: {e}")))
}

/// A search computed once for everyone asking the same thing at the same version.
pub type InFlight = Arc<OnceCell<Arc<Vec<Hit>>>>;

impl Store {
    /// The stored embeddings nearest to `query`, best first. Served from the query cache when the
    /// same search was answered at the table's current version; identical concurrent misses run once.
    pub async fn search(&self, query: &[f32], request: &SearchRequest) -> Result<Arc<Vec<Hit>>> {
        let started = Instant::now();
        let handles = self.handles()?;
        let search = request.validate(query, self.layout.dimension, self.layout.metric, &self.layout.fields)?;
        self.search_checked(&handles, query, search, started).await
    }

    /// The rows whose `'text'` field best matches `request.text` (BM25), best first: the words side of a
    /// hybrid search alone, cached like any search.
    pub async fn search_text(&self, request: &SearchRequest) -> Result<Arc<Vec<Hit>>> {
        let started = Instant::now();
        let handles = self.handles()?;
        let search = request.validate_text(&self.layout.fields)?;
        self.search_checked(&handles, &[], search, started).await
    }

    async fn search_checked(
        &self,
        handles: &Arc<Handles>,
        query: &[f32],
        search: Search,
        started: Instant,
    ) -> Result<Arc<Vec<Hit>>> {
        // The version is read *before* searching: a result is never labelled newer than its data.
        let version = self.read_version(handles).await?;
        let hits = if lock(&self.cache).is_enabled() {
            self.search_cached(handles, query, search, version).await?
        } else {
            Arc::new(self.search_backend(handles, query, search, version).await?)
        };
        lock(&self.activity).record_search(elapsed_ms(started));
        Ok(hits)
    }

    /// A search answered on the caller's thread, without the async runtime: only when the latest version
    /// is known from two `stat`s (local disk with `readConsistencyIntervalMs: 0`, see `latest.rs`) and the
    /// query cache holds the answer at that version. `None` sends the call down the async `search`, which
    /// also reports every error (bad options included), so both paths answer alike.
    pub fn search_if_cached(&self, query: &[f32], request: &SearchRequest) -> Option<Arc<Vec<Hit>>> {
        let started = Instant::now();
        self.handles().ok()?;
        let version = self.latest.as_ref()?.unchanged()?;
        let search = request.validate(query, self.layout.dimension, self.layout.metric, &self.layout.fields).ok()?;
        let key = CacheKey::new(query, &search, self.layout.metric);
        let hits = lock(&self.cache).get_fresh(&key, version, Instant::now())?;
        lock(&self.activity).record_search(elapsed_ms(started));
        Some(hits)
    }

    async fn search_cached(
        &self,
        handles: &Arc<Handles>,
        query: &[f32],
        search: Search,
        version: u64,
    ) -> Result<Arc<Vec<Hit>>> {
        let key = CacheKey::new(query, &search, self.layout.metric);
        if let Some(hits) = lock(&self.cache).get(&key, version, Instant::now()) {
            return Ok(hits);
        }
        let flight_key = (key, version);
        let flight = Arc::clone(lock(&self.in_flight).entry(flight_key.clone()).or_default());
        let ran_here = AtomicBool::new(false);
        let outcome = flight
            .get_or_try_init(|| async {
                ran_here.store(true, Ordering::Relaxed);
                self.search_backend(handles, query, search, version).await.map(Arc::new)
            })
            .await
            .map(Arc::clone);
        if outcome.is_ok() && !ran_here.load(Ordering::Relaxed) {
            lock(&self.cache).record_coalesced();
        }
        {
            let mut in_flight = lock(&self.in_flight);
            if in_flight.get(&flight_key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                in_flight.remove(&flight_key);
            }
        }
        let hits = outcome?;
        lock(&self.cache).insert(flight_key.0, version, Arc::clone(&hits), Instant::now());
        Ok(hits)
    }

    /// One uncached search at `version`, bounded by the store's search slots: by vector, by words (an
    /// empty `query`), or both.
    async fn search_backend(
        &self,
        handles: &Arc<Handles>,
        query: &[f32],
        search: Search,
        version: u64,
    ) -> Result<Vec<Hit>> {
        let _slot = self.search_slots.acquire().await.map_err(|_| super::StoreError::Closed)?;
        match search.text.clone() {
            None => self.search_vectors(handles, query, search, version).await,
            Some(text) if query.is_empty() => self.search_words(handles, &text, &search, version).await,
            Some(text) => self.search_hybrid(handles, query, &text, search, version).await,
        }
    }

    /// The vector side: the resident copy (graph or exact scan) when it holds `version`, else LanceDB.
    async fn search_vectors(
        &self,
        handles: &Arc<Handles>,
        query: &[f32],
        search: Search,
        version: u64,
    ) -> Result<Vec<Hit>> {
        // IVF knobs ask for LanceDB's vector index, and `ef` does when there is no graph; everything
        // else is answered in memory (by the graph when there is one, else by the exact scan).
        let knobs = search.knobs;
        let has_graph = self.resident.as_ref().is_some_and(|r| r.has_graph());
        let wants_lance_index =
            knobs.nprobes.is_some() || knobs.refine_factor.is_some() || (knobs.ef.is_some() && !has_graph);
        if let Some(resident) = self.resident.as_ref().filter(|_| !wants_lance_index) {
            if let Some(hits) = search_resident(resident, query, &search, version).await? {
                return Ok(hits);
            }
            if !resident.is_over_budget_at(version) {
                match resident.catch_up(&handles.table, Some(INLINE_CATCH_UP_ROWS), false).await {
                    Ok(CatchUp::Done) => {
                        self.spawn_graph_upkeep();
                        if let Some(hits) = search_resident(resident, query, &search, version).await? {
                            return Ok(hits);
                        }
                    }
                    Ok(CatchUp::TooLarge) => self.spawn_resident_catch_up(handles),
                    // Another catch-up is running: a quick whole load (a new process reading its vectors from
                    // the vector file) is waited for; otherwise LanceDB answers this one.
                    Ok(CatchUp::Busy) => {
                        if resident.wait_for_quick_load().await
                            && let Some(hits) = search_resident(resident, query, &search, version).await?
                        {
                            return Ok(hits);
                        }
                    }
                    // Kept in `stats().resident.lastError`; LanceDB answers, correctly.
                    Err(_) => {}
                }
            }
        }
        let shape = if search.knobs.exact { None } else { self.shape_at(&handles.table, version).await? };
        lance::search(&handles.table, query, &search, self.layout.metric, shape).await
    }

    /// Brings the resident copy to the table's latest version now (after a write through this
    /// process), unless another catch-up is running (a write never waits for a large load; the next
    /// search catches up). Never fails the caller: a failure is kept for `stats()`, and searches use
    /// LanceDB until a later catch-up succeeds.
    pub(super) async fn catch_up_resident(&self, handles: &Arc<Handles>) {
        if let Some(resident) = &self.resident {
            match resident.catch_up(&handles.table, Some(INLINE_CATCH_UP_ROWS_AFTER_WRITE), false).await {
                Ok(CatchUp::TooLarge) => self.spawn_resident_catch_up(handles),
                Ok(CatchUp::Done) => self.spawn_graph_upkeep(),
                _ => {}
            }
        }
    }

    /// Starts the graph's upkeep in the background when the copy or the table's choice changed
    /// (one job per table at a time; its outcome lands in `stats().index`). A save the upkeep deferred
    /// (saved too recently) is waited for in the same task, after the job ends, so writes meanwhile
    /// start jobs of their own.
    pub(super) fn spawn_graph_upkeep(&self) {
        let Some(ticket) = self.resident.as_ref().and_then(Resident::schedule_graph) else { return };
        let handle = tokio::spawn(async move {
            // The outcome is kept in `stats().index.lastError`; searches scan exactly meanwhile.
            let _ = ticket.resident().upkeep_graph().await;
            let resident = ticket.shared();
            drop(ticket);
            // A failed save is kept in `stats().index.lastError`; the next upkeep or `close()` saves again.
            let _ = resident.save_when_due().await;
        });
        self.track(JobKind::Index, handle);
    }

    /// Loads or catches up the resident copy in the background (one such job per table at a time).
    pub(super) fn spawn_resident_catch_up(&self, handles: &Arc<Handles>) {
        let Some(ticket) = self.resident.as_ref().and_then(Resident::schedule) else { return };
        let handles = Arc::clone(handles);
        let handle = tokio::spawn(async move {
            // The outcome is kept in the copy's status; a failed load is retried by the next search.
            let _ = ticket.resident().catch_up(&handles.table, None, true).await;
            let resident = Arc::clone(ticket.resident());
            drop(ticket); // unscheduled here, or wherever `close()` drops this job
            // Then the graph: loaded from its sidecar or built, in the same job (so `close()` ends it).
            if let Some(graph) = Resident::schedule_graph(&resident) {
                let _ = graph.resident().upkeep_graph().await;
            }
        });
        self.track(JobKind::Resident, handle);
    }

    /// The vector index's shape at `version` (listed once per version).
    async fn shape_at(&self, table: &lancedb::Table, version: u64) -> Result<Option<IndexShape>> {
        if let Some((seen, shape)) = *lock(&self.index_shape)
            && seen == version
        {
            return Ok(shape);
        }
        let shape = index::lance::find_shape(table).await?;
        *lock(&self.index_shape) = Some((version, shape));
        Ok(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, options, path};
    use crate::store::{Item, SearchRequest, Store};

    #[tokio::test]
    async fn a_cached_answer_is_served_synchronously_only_at_the_latest_version() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        let other = Store::open(&path(&dir), options(2)).await?;
        store.add(vec![item("x", &[1.0, 0.0]), item("y", &[0.0, 1.0])]).await?;
        let request = SearchRequest::default();
        assert!(store.search_if_cached(&[1.0, 0.1], &request).is_none(), "nothing cached yet");
        let hits = store.search(&[1.0, 0.1], &request).await?;
        let cached = store.search_if_cached(&[1.0, 0.1], &request).expect("a hit at the latest version");
        assert!(Arc::ptr_eq(&hits, &cached));
        let bad = SearchRequest { limit: Some(0.0), ..Default::default() };
        assert!(store.search_if_cached(&[1.0, 0.1], &bad).is_none(), "bad options go the async way, which rejects");
        other.add(vec![item("z", &[1.0, 0.1])]).await?;
        assert!(store.search_if_cached(&[1.0, 0.1], &request).is_none(), "another store's commit is seen at once");
        assert_eq!(store.search(&[1.0, 0.1], &request).await?[0].id, "z");
        store.close().await?;
        assert!(store.search_if_cached(&[1.0, 0.1], &request).is_none(), "a closed store answers nothing");
        other.close().await?;
        Ok(())
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
        let hits = store
            .search(&[1.0, 0.0], &SearchRequest { limit: Some(20.0), threshold: Some(cut), ..Default::default() })
            .await?;
        let expected: Vec<&str> = all.iter().filter(|h| h.score >= cut).map(|h| h.id.as_str()).collect();
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), expected);
        assert!(hits.len() >= 7);
        Ok(())
    }
}
