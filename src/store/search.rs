//! Search: validation, the query cache with single-flight for identical misses, and the choice of
//! backend. Today the one backend is LanceDB (`search/lance.rs`); the resident in-memory copy will
//! be the second. Results are labelled with the version read *before* searching, so a cached
//! answer is never newer than its data, and never served for another version.

mod lance;

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
use super::model::Hit;
use super::{Handles, Store};

/// A search computed once for everyone asking the same thing at the same version.
pub type InFlight = Arc<OnceCell<Arc<Vec<Hit>>>>;

impl Store {
    /// The stored embeddings nearest to `query`, best first. Served from the query cache when the
    /// same search was answered at the table's current version; identical concurrent misses run once.
    pub async fn search(&self, query: &[f32], request: &SearchRequest) -> Result<Arc<Vec<Hit>>> {
        let started = Instant::now();
        let handles = self.handles()?;
        let search = request.validate(query, self.layout.dimension, self.layout.metric, &self.layout.fields)?;
        // The version is read *before* searching: a result is never labelled newer than its data.
        let version = handles.version().await?;
        let shape = if search.knobs.exact { None } else { self.shape_at(&handles.table, version).await? };
        let hits = if lock(&self.cache).is_enabled() {
            self.search_cached(&handles, query, search, version, shape).await?
        } else {
            Arc::new(self.search_backend(&handles, query, search, shape).await?)
        };
        lock(&self.activity).record_search(elapsed_ms(started));
        Ok(hits)
    }

    async fn search_cached(
        &self,
        handles: &Handles,
        query: &[f32],
        search: Search,
        version: u64,
        shape: Option<IndexShape>,
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
                self.search_backend(handles, query, search, shape).await.map(Arc::new)
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

    /// One uncached search, bounded by the store's search slots.
    async fn search_backend(
        &self,
        handles: &Handles,
        query: &[f32],
        search: Search,
        shape: Option<IndexShape>,
    ) -> Result<Vec<Hit>> {
        let _slot = self.search_slots.acquire().await.map_err(|_| super::StoreError::Closed)?;
        lance::search(&handles.table, query, &search, self.layout.metric, shape).await
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
