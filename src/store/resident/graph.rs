//! The HNSW graph over the resident vectors (usearch's C++ core), keyed by LanceDB row address
//! (fragment id << 32 | offset) so a graph stays valid across processes and across the copy's slot
//! renumbering. Vectors are stored as f16 when f16 holds them (`Precision`): under cosine they are
//! normalised first (cosine ignores length), so any vector fits; under l2 and dot a table with values
//! beyond f16's range (±65504) or vectors too small for it gets an f32 graph instead of one whose
//! distances overflow or vanish. It only proposes candidates: the caller scores the best of them on
//! the exact f32 vectors, so scores are exact. Adds are spread over the cores; searches and adds may run at
//! once, growing the capacity takes the write lock briefly.

use std::sync::{Mutex, PoisonError, RwLock};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::store::error::{Result, StoreError};
use crate::store::metric::Metric;

/// Neighbours per node, unless `createIndex` sets `numEdges`.
pub const DEFAULT_NUM_EDGES: u32 = 16;
/// Candidates kept while inserting, unless `createIndex` sets `efConstruction`.
pub const DEFAULT_EF_CONSTRUCTION: u32 = 128;
/// Candidates kept while searching, unless the search sets `ef` (the best `limit` get exact scores).
pub const DEFAULT_EF_SEARCH: usize = 64;
/// usearch's own search-time candidate list: the least possible, so the count each search asks
/// for (`ef`, at least `limit`) is exactly the list it keeps.
const EXPANSION_SEARCH: usize = 1;
/// Threads one `add` spreads over, at most (each takes one of usearch's thread contexts).
pub const MAX_ADD_THREADS: usize = 16;
/// Concurrent searches of one graph that get a usearch context; more fall back to the exact scan.
const SEARCH_CONTEXTS: usize = 64;
/// Thread contexts usearch keeps: every add thread and every search at once needs one, so a build on a
/// host with more cores than contexts, or searches during a build, never run out.
const CONTEXTS: usize = SEARCH_CONTEXTS + MAX_ADD_THREADS;

/// Largest magnitude an f16 graph accepts (f16's largest finite value is 65504; sums of squares are
/// computed wider, but a value must not round to infinity).
const F16_MAX: f32 = 60_000.0;
/// A vector whose largest magnitude is below this loses its digits in f16 (its smallest normal value
/// is 6.1e-5): such a vector needs f32 under l2 and dot.
const F16_MIN_SCALE: f32 = 1e-2;

/// How the graph stores vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Half precision: half the memory; every table under cosine, and others whose vectors fit.
    F16,
    /// Single precision: l2 and dot tables with vectors f16 cannot hold.
    F32,
}

impl Precision {
    /// The name recorded in the sidecar.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::F32 => "f32",
        }
    }

    /// The precision named `name` in a sidecar.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "f16" => Some(Self::F16),
            "f32" => Some(Self::F32),
            _ => None,
        }
    }

    /// The precision a graph of `metric` needs for `vectors`: f16 unless one of them does not fit it.
    pub fn for_vectors<'a>(metric: Metric, mut vectors: impl Iterator<Item = &'a [f32]>) -> Self {
        if metric == Metric::Cosine || vectors.all(fits_f16) { Self::F16 } else { Self::F32 }
    }
}

/// Whether f16 holds `vector` well enough to rank it (all zeros counts as fitting).
fn fits_f16(vector: &[f32]) -> bool {
    let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    largest <= F16_MAX && (largest >= F16_MIN_SCALE || largest == 0.0)
}

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
    /// How vectors are stored.
    pub precision: Precision,
}

fn failed<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Internal(format!("HNSW graph: {what}: {e}"))
}

fn options(dimension: usize, metric: Metric, settings: GraphSettings, precision: Precision) -> IndexOptions {
    IndexOptions {
        dimensions: dimension,
        metric: match metric {
            Metric::Cosine => MetricKind::Cos,
            Metric::Dot => MetricKind::IP,
            Metric::L2 => MetricKind::L2sq,
        },
        quantization: match precision {
            Precision::F16 => ScalarKind::F16,
            Precision::F32 => ScalarKind::F32,
        },
        connectivity: settings.num_edges as usize,
        expansion_add: settings.ef_construction as usize,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

impl Graph {
    /// An empty graph.
    pub fn new(dimension: usize, metric: Metric, settings: GraphSettings, precision: Precision) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings, precision)).map_err(failed("creating"))?;
        index.reserve_capacity_and_threads(0, CONTEXTS).map_err(failed("reserving"))?;
        Ok(Self { index: RwLock::new(index), changing: Mutex::new(()), settings, dimension, metric, precision })
    }

    /// A graph saved by `to_bytes` (the caller checked the sidecar's checksum and header).
    pub fn from_bytes(
        bytes: &[u8],
        dimension: usize,
        metric: Metric,
        settings: GraphSettings,
        precision: Precision,
    ) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings, precision)).map_err(failed("creating"))?;
        index.load_from_buffer(bytes).map_err(failed("loading"))?;
        if index.dimensions() != dimension || index.connectivity() != settings.num_edges as usize {
            return Err(StoreError::Internal("HNSW graph: the saved graph has another shape".into()));
        }
        index.change_expansion_add(settings.ef_construction as usize);
        index.change_expansion_search(EXPANSION_SEARCH);
        index.reserve_capacity_and_threads(index.size(), CONTEXTS).map_err(failed("reserving"))?;
        Ok(Self { index: RwLock::new(index), changing: Mutex::new(()), settings, dimension, metric, precision })
    }

    /// `vector` as the graph stores and searches it: unit length under cosine (which ignores length,
    /// and so never leaves f16's range), as it is otherwise.
    pub fn prepared<'a>(&self, vector: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if self.metric != Metric::Cosine {
            return std::borrow::Cow::Borrowed(vector);
        }
        let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return std::borrow::Cow::Borrowed(vector);
        }
        std::borrow::Cow::Owned(vector.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
    }

    /// Whether the graph's precision holds every one of `vectors` (an f16 graph of an l2 or dot table
    /// does not hold values beyond f16's range: such rows need an f32 graph).
    pub fn holds<'a>(&self, mut vectors: impl Iterator<Item = &'a [f32]>) -> bool {
        self.precision == Precision::F32 || self.metric == Metric::Cosine || vectors.all(fits_f16)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The serialised graph and the nodes it holds (measured together, while no add runs).
    pub fn to_bytes(&self) -> Result<(Vec<u8>, usize)> {
        let _unchanging = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let index = self.read();
        let mut bytes = vec![0; index.serialized_length()];
        index.save_to_buffer(&mut bytes).map_err(failed("saving"))?;
        Ok((bytes, index.size()))
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

    /// Adds `rows` (key, vector), spread over `threads` threads (at most `MAX_ADD_THREADS`). Keys
    /// already held are skipped.
    pub fn add(&self, rows: &[(u64, &[f32])], threads: usize) -> Result<()> {
        let threads = threads.clamp(1, MAX_ADD_THREADS);
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
        let per_thread = rows.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(per_thread)
                .map(|part| {
                    let index = &*index;
                    scope.spawn(move || {
                        for &(key, vector) in part {
                            if !index.contains(key) {
                                index.add(key, &self.prepared(vector)).map_err(failed("adding"))?;
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

    /// Renames the keys of `moves` (old, new) the graph holds: rows a compaction moved to new addresses.
    /// Returns how many were renamed. Runs beside searches and adds (usearch locks its key lookup).
    pub fn rename(&self, moves: &[(u64, u64)]) -> Result<usize> {
        let index = self.read();
        let mut renamed = 0;
        for &(from, to) in moves {
            if from != to && index.contains(from) {
                index.rename(from, to).map_err(failed("renaming a key"))?;
                renamed += 1;
            }
        }
        Ok(renamed)
    }

    /// Up to `count` keys near `query`, searching with at least `count` candidates; `accept`
    /// (when given) decides which keys may be returned (the others are still walked through).
    pub fn search(&self, query: &[f32], count: usize, accept: Option<&dyn Fn(u64) -> bool>) -> Result<Vec<u64>> {
        let index = self.read();
        let query = self.prepared(query);
        let matches = match accept {
            None => index.search(&query, count),
            Some(accept) => index.filtered_search(&query, count, accept),
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
        let graph = Graph::new(32, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| ((i as u64) << 32 | 7, &v[..])).collect();
        graph.add(&rows, 2)?;
        graph.add(&rows[..10], 2)?; // already held: skipped, not duplicated
        assert_eq!(graph.len(), 2_000);
        let again =
            Graph::from_bytes(&graph.to_bytes()?.0, 32, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        for g in [&graph, &again] {
            let found = g.search(&data[123], 5, None)?;
            assert_eq!(found.first(), Some(&(123u64 << 32 | 7)));
            let odd = |key: u64| (key >> 32) % 2 == 1;
            let found = g.search(&data[124], 5, Some(&odd))?;
            assert!(found.iter().all(|&k| odd(k)) && found.len() == 5, "{found:?}");
        }
        let held = again.vector(123 << 32 | 7).unwrap_or_default();
        let stored = again.prepared(&data[123]);
        assert!(held.iter().zip(stored.iter()).all(|(a, b)| (a - b).abs() <= 1e-2 * b.abs().max(1e-3)));
        assert!(again.vector(5).is_none());
        Ok(())
    }

    /// A save while rows are being added (a background upkeep batch still running when `close()` saves)
    /// once failed with "Failed to serialize into stream": the graph grew between measuring and writing.
    #[test]
    fn saving_while_rows_are_added_always_succeeds() -> Result<()> {
        let data = vectors(6_000, 16, 3);
        let graph = Graph::new(16, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect();
        std::thread::scope(|scope| {
            let adder = scope.spawn(|| rows.chunks(200).try_for_each(|batch| graph.add(batch, 1)));
            let mut saves = 0;
            while !adder.is_finished() || saves == 0 {
                let (bytes, rows) = graph.to_bytes()?;
                assert_eq!(
                    Graph::from_bytes(&bytes, 16, Metric::Cosine, GraphSettings::default(), Precision::F16)?.len(),
                    rows
                );
                saves += 1;
            }
            adder.join().unwrap_or_else(|_| Err(StoreError::Internal("the adder panicked".into())))
        })?;
        assert_eq!(graph.len(), 6_000);
        Ok(())
    }

    /// Issue 26, item 8: adds spread over more threads than usearch had contexts failed ("Reserve
    /// capacity ahead of insertions!") on hosts with more than 64 hardware threads.
    #[test]
    fn adds_asked_to_use_more_threads_than_contexts_still_succeed_beside_searches() -> Result<()> {
        let data = vectors(3_000, 16, 8);
        let graph = Graph::new(16, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect();
        graph.add(&rows[..100], 1)?;
        std::thread::scope(|scope| {
            let searchers: Vec<_> = (0..SEARCH_CONTEXTS)
                .map(|i| {
                    let (graph, query) = (&graph, &data[i]);
                    scope.spawn(move || (0..20).try_for_each(|_| graph.search(query, 10, None).map(|_| ())))
                })
                .collect();
            graph.add(&rows[100..], 200)?;
            searchers
                .into_iter()
                .try_for_each(|s| s.join().unwrap_or_else(|_| Err(StoreError::Internal("panicked".into()))))
        })?;
        assert_eq!(graph.len(), 3_000);
        Ok(())
    }

    /// Issue 27, item 10: in f16, values beyond ±65504 became infinite and tiny vectors zero, so
    /// recall collapsed silently on l2 and dot tables of unnormalised vectors.
    #[test]
    fn vectors_f16_cannot_hold_get_a_graph_that_still_finds_them() -> Result<()> {
        let base = vectors(1_500, 16, 12);
        for (metric, scale) in [(Metric::L2, 1e6f32), (Metric::Dot, 1e6), (Metric::L2, 1e-7), (Metric::Cosine, 1e6)] {
            let data: Vec<Vec<f32>> = base.iter().map(|v| v.iter().map(|x| x * scale).collect()).collect();
            let precision = Precision::for_vectors(metric, data.iter().map(Vec::as_slice));
            let expected = if metric == Metric::Cosine { Precision::F16 } else { Precision::F32 };
            assert_eq!(precision, expected, "{metric:?} × {scale}");
            let graph = Graph::new(16, metric, GraphSettings::default(), precision)?;
            let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect();
            graph.add(&rows, 2)?;
            // l2 and cosine: each vector is its own nearest neighbour (dot ranks by length, so skip it). Asked for
            // 10 candidates, as the store asks for `ef` and re-ranks them exactly: a top-1 alone varied from run
            // to run (two threads add in a different order each time) and failed at 90/100 once.
            if metric != Metric::Dot {
                let found = (0..100)
                    .filter(|&i| graph.search(&data[i], 10, None).is_ok_and(|keys| keys.contains(&(i as u64))))
                    .count();
                assert!(found >= 95, "{metric:?} × {scale}: {found}/100 found themselves");
            }
        }
        // An f16 graph of an l2 table does not hold a vector beyond f16's range; a cosine one does.
        let l2 = Graph::new(16, Metric::L2, GraphSettings::default(), Precision::F16)?;
        let huge = vec![1e6f32; 16];
        assert!(!l2.holds(std::iter::once(huge.as_slice())));
        let cosine = Graph::new(16, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        assert!(cosine.holds(std::iter::once(huge.as_slice())));
        Ok(())
    }

    #[test]
    fn a_saved_graph_of_another_shape_is_refused() -> Result<()> {
        let graph = Graph::new(16, Metric::L2, GraphSettings::default(), Precision::F16)?;
        let data = vectors(50, 16, 1);
        graph.add(&data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect::<Vec<_>>(), 1)?;
        let (bytes, _) = graph.to_bytes()?;
        assert!(Graph::from_bytes(&bytes, 32, Metric::L2, GraphSettings::default(), Precision::F16).is_err());
        let other = GraphSettings { num_edges: 8, ..GraphSettings::default() };
        assert!(Graph::from_bytes(&bytes, 16, Metric::L2, other, Precision::F16).is_err());
        Ok(())
    }
}
