//! The HNSW graph over the resident vectors (usearch's C++ core): vectors stored as f16, keyed by
//! LanceDB row address (fragment id << 32 | offset) so a graph stays valid across processes and
//! across the copy's slot renumbering. It only proposes candidates: the caller re-ranks them on the
//! exact f32 vectors, so scores are exact. Adds are spread over the cores; searches and adds may
//! run at once, growing the capacity takes the write lock briefly.

use std::sync::{Mutex, PoisonError, RwLock};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::store::error::{Result, StoreError};
use crate::store::metric::Metric;

/// Neighbours per node, unless `createIndex` sets `numEdges`.
pub const DEFAULT_NUM_EDGES: u32 = 16;
/// Candidates kept while inserting, unless `createIndex` sets `efConstruction`.
pub const DEFAULT_EF_CONSTRUCTION: u32 = 128;
/// Candidates kept while searching, unless the search sets `ef` (each is re-ranked exactly).
pub const DEFAULT_EF_SEARCH: usize = 64;
/// usearch's own search-time candidate list: the least possible, so the count each search asks
/// for (`ef`, at least `limit`) is exactly the list it keeps.
const EXPANSION_SEARCH: usize = 1;
/// Search contexts usearch keeps: concurrent searches beyond this fall back to the exact scan.
const CONTEXTS: usize = 64;

/// How a graph is built (recorded in its sidecar, kept by rebuilds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSettings {
    /// Neighbours per node (HNSW's M).
    pub num_edges: u32,
    /// Candidates kept while inserting.
    pub ef_construction: u32,
}

impl Default for GraphSettings {
    fn default() -> Self {
        Self { num_edges: DEFAULT_NUM_EDGES, ef_construction: DEFAULT_EF_CONSTRUCTION }
    }
}

/// One HNSW graph.
pub struct Graph {
    index: RwLock<Index>,
    /// Held by `add` and `to_bytes`: adds run beside searches (both under the read lock), but a save must
    /// not see the graph grow between measuring it and writing it out.
    changing: Mutex<()>,
    /// How it was built.
    pub settings: GraphSettings,
    /// Vector length.
    pub dimension: usize,
    /// The table's metric (the graph's own is the closest usearch has).
    pub metric: Metric,
}

fn failed<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Internal(format!("HNSW graph: {what}: {e}"))
}

fn options(dimension: usize, metric: Metric, settings: GraphSettings) -> IndexOptions {
    IndexOptions {
        dimensions: dimension,
        metric: match metric {
            Metric::Cosine => MetricKind::Cos,
            Metric::Dot => MetricKind::IP,
            Metric::L2 => MetricKind::L2sq,
        },
        quantization: ScalarKind::F16,
        connectivity: settings.num_edges as usize,
        expansion_add: settings.ef_construction as usize,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

impl Graph {
    /// An empty graph.
    pub fn new(dimension: usize, metric: Metric, settings: GraphSettings) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings)).map_err(failed("creating"))?;
        index.reserve_capacity_and_threads(0, CONTEXTS).map_err(failed("reserving"))?;
        Ok(Self { index: RwLock::new(index), changing: Mutex::new(()), settings, dimension, metric })
    }

    /// A graph saved by `to_bytes` (the caller checked the sidecar's checksum and header).
    pub fn from_bytes(bytes: &[u8], dimension: usize, metric: Metric, settings: GraphSettings) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings)).map_err(failed("creating"))?;
        index.load_from_buffer(bytes).map_err(failed("loading"))?;
        if index.dimensions() != dimension || index.connectivity() != settings.num_edges as usize {
            return Err(StoreError::Internal("HNSW graph: the saved graph has another shape".into()));
        }
        index.change_expansion_add(settings.ef_construction as usize);
        index.change_expansion_search(EXPANSION_SEARCH);
        index.reserve_capacity_and_threads(index.size(), CONTEXTS).map_err(failed("reserving"))?;
        Ok(Self { index: RwLock::new(index), changing: Mutex::new(()), settings, dimension, metric })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The serialised graph.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let _unchanging = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self.read();
        let mut bytes = vec![0; index.serialized_length()];
        index.save_to_buffer(&mut bytes).map_err(failed("saving"))?;
        Ok(bytes)
    }

    /// Nodes held (removed rows included until a rebuild).
    pub fn len(&self) -> usize {
        self.read().size()
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.read().memory_usage()
    }

    /// Whether the row at `key` is in the graph.
    pub fn contains(&self, key: u64) -> bool {
        self.read().contains(key)
    }

    /// The graph's (f16-rounded) copy of the vector at `key`, if held.
    pub fn vector(&self, key: u64) -> Option<Vec<f32>> {
        let mut vector = vec![0.0f32; self.dimension];
        let found = self.read().get(key, &mut vector).ok()?;
        (found > 0).then_some(vector)
    }

    /// Adds `rows` (key, vector), spread over `threads` threads. Keys already held are skipped.
    pub fn add(&self, rows: &[(u64, &[f32])], threads: usize) -> Result<()> {
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let needed = index.size() + rows.len();
            if needed > index.capacity() {
                index
                    .reserve_capacity_and_threads(needed.max(index.capacity() * 3 / 2), CONTEXTS)
                    .map_err(failed("growing"))?;
            }
        }
        let index = self.read();
        let per_thread = rows.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(per_thread)
                .map(|part| {
                    let index = &*index;
                    scope.spawn(move || {
                        for &(key, vector) in part {
                            if !index.contains(key) {
                                index.add(key, vector).map_err(failed("adding"))?;
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|worker| {
                worker.join().unwrap_or_else(|_| Err(StoreError::Internal("HNSW graph: an add thread stopped".into())))
            })
        })
    }

    /// Up to `count` keys near `query`, searching with at least `count` candidates; `accept`
    /// (when given) decides which keys may be returned (the others are still walked through).
    pub fn search(&self, query: &[f32], count: usize, accept: Option<&dyn Fn(u64) -> bool>) -> Result<Vec<u64>> {
        let index = self.read();
        let matches = match accept {
            None => index.search(query, count),
            Some(accept) => index.filtered_search(query, count, accept),
        }
        .map_err(failed("searching"))?;
        Ok(matches.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::vectors;

    #[test]
    fn a_graph_finds_its_own_vectors_and_survives_a_round_trip_through_bytes() -> Result<()> {
        let data = vectors(2_000, 32, 5);
        let graph = Graph::new(32, Metric::Cosine, GraphSettings::default())?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| ((i as u64) << 32 | 7, &v[..])).collect();
        graph.add(&rows, 2)?;
        graph.add(&rows[..10], 2)?; // already held: skipped, not duplicated
        assert_eq!(graph.len(), 2_000);
        let again = Graph::from_bytes(&graph.to_bytes()?, 32, Metric::Cosine, GraphSettings::default())?;
        for g in [&graph, &again] {
            let found = g.search(&data[123], 5, None)?;
            assert_eq!(found.first(), Some(&(123u64 << 32 | 7)));
            let odd = |key: u64| (key >> 32) % 2 == 1;
            let found = g.search(&data[124], 5, Some(&odd))?;
            assert!(found.iter().all(|&k| odd(k)) && found.len() == 5, "{found:?}");
        }
        let held = again.vector(123 << 32 | 7).unwrap_or_default();
        assert!(held.iter().zip(&data[123]).all(|(a, b)| (a - b).abs() <= 1e-2 * b.abs().max(1e-3)));
        assert!(again.vector(5).is_none());
        Ok(())
    }

    /// A save while rows are being added (a background upkeep batch still running when `close()` saves)
    /// once failed with "Failed to serialize into stream": the graph grew between measuring and writing.
    #[test]
    fn saving_while_rows_are_added_always_succeeds() -> Result<()> {
        let data = vectors(6_000, 16, 3);
        let graph = Graph::new(16, Metric::Cosine, GraphSettings::default())?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect();
        std::thread::scope(|scope| {
            let adder = scope.spawn(|| rows.chunks(200).try_for_each(|batch| graph.add(batch, 1)));
            let mut saves = 0;
            while !adder.is_finished() || saves == 0 {
                let bytes = graph.to_bytes()?;
                Graph::from_bytes(&bytes, 16, Metric::Cosine, GraphSettings::default())?;
                saves += 1;
            }
            adder.join().unwrap_or_else(|_| Err(StoreError::Internal("the adder panicked".into())))
        })?;
        assert_eq!(graph.len(), 6_000);
        Ok(())
    }

    #[test]
    fn a_saved_graph_of_another_shape_is_refused() -> Result<()> {
        let graph = Graph::new(16, Metric::L2, GraphSettings::default())?;
        let data = vectors(50, 16, 1);
        graph.add(&data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect::<Vec<_>>(), 1)?;
        let bytes = graph.to_bytes()?;
        assert!(Graph::from_bytes(&bytes, 32, Metric::L2, GraphSettings::default()).is_err());
        let other = GraphSettings { num_edges: 8, ..GraphSettings::default() };
        assert!(Graph::from_bytes(&bytes, 16, Metric::L2, other).is_err());
        Ok(())
    }
}
