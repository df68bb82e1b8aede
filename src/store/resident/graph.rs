//! The HNSW graph over the resident vectors (usearch's C++ core), keyed by LanceDB row address
//! (fragment id << 32 | offset) so a graph stays valid across processes and across the copy's slot
//! renumbering. Vectors are stored as f16 when f16 holds them (`Precision`): under cosine they are
//! normalised first (cosine ignores length), so any vector fits; under l2 and dot a table with values
//! beyond f16's range (±65504) or vectors too small for it gets an f32 graph instead of one whose
//! distances overflow or vanish. It only proposes candidates: the caller scores the best of them on
//! the exact f32 vectors, so scores are exact. Adds are spread over the cores; searches and adds may run at
//! once, growing the capacity takes the write lock briefly. A graph read from its file is viewed in place
//! (`Held::Viewed`: the mapped file's pages, shared by every process on the host) until it must change;
//! then it is copied into this process's memory once (`make_private`) and changed there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::mapped::{MappedFile, ViewedIndex};
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

/// The usearch index behind a graph.
enum Held {
    /// Built or loaded into this process's memory: searched and changed.
    Private(Index),
    /// Viewing the graph file, mapped and shared: searched only.
    Viewed(ViewedIndex),
}

impl Held {
    fn size(&self) -> usize {
        match self {
            Self::Private(index) => index.size(),
            Self::Viewed(view) => view.size(),
        }
    }

    fn contains(&self, key: u64) -> bool {
        match self {
            Self::Private(index) => index.contains(key),
            Self::Viewed(view) => view.contains(key),
        }
    }
}

/// One HNSW graph.
pub struct Graph {
    index: RwLock<Held>,
    /// Held by `add` and `to_bytes`: adds run beside searches (both under the read lock), but a save must
    /// not see the graph grow between measuring it and writing it out.
    changing: Mutex<()>,
    /// Bytes held in this process's memory, measured when the graph last changed: usearch measures a
    /// private index by walking every node, which is O(nodes) and must not run beside an add (a node being
    /// added is not readable yet: a `stats()` during a graph build crashed the process that way).
    private_bytes: AtomicUsize,
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

/// A private index loaded from `bytes` (a graph `to_bytes` wrote), checked against the expected shape.
fn load_private(
    bytes: &[u8],
    dimension: usize,
    metric: Metric,
    settings: GraphSettings,
    precision: Precision,
) -> Result<Index> {
    let index = Index::new(&options(dimension, metric, settings, precision)).map_err(failed("creating"))?;
    index.load_from_buffer(bytes).map_err(failed("loading"))?;
    if index.dimensions() != dimension || index.connectivity() != settings.num_edges as usize {
        return Err(StoreError::Internal("HNSW graph: the saved graph has another shape".into()));
    }
    index.change_expansion_add(settings.ef_construction as usize);
    index.change_expansion_search(EXPANSION_SEARCH);
    index.reserve_capacity_and_threads(index.size(), CONTEXTS).map_err(failed("reserving"))?;
    Ok(index)
}

impl Graph {
    fn holding(held: Held, dimension: usize, metric: Metric, settings: GraphSettings, precision: Precision) -> Self {
        let private_bytes = AtomicUsize::new(Self::measure(&held));
        Self {
            index: RwLock::new(held),
            changing: Mutex::new(()),
            private_bytes,
            settings,
            dimension,
            metric,
            precision,
        }
    }

    /// What `held` holds in this process's memory. Not beside an add (see `private_bytes`).
    fn measure(held: &Held) -> usize {
        match held {
            Held::Private(index) => index.memory_usage(),
            Held::Viewed(view) => view.memory_usage(),
        }
    }

    /// An empty graph.
    pub fn new(dimension: usize, metric: Metric, settings: GraphSettings, precision: Precision) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings, precision)).map_err(failed("creating"))?;
        index.reserve_capacity_and_threads(0, CONTEXTS).map_err(failed("reserving"))?;
        Ok(Self::holding(Held::Private(index), dimension, metric, settings, precision))
    }

    /// A private copy of a graph saved by `to_bytes` (stores view the file instead: `view`).
    #[cfg(test)]
    pub fn from_bytes(
        bytes: &[u8],
        dimension: usize,
        metric: Metric,
        settings: GraphSettings,
        precision: Precision,
    ) -> Result<Self> {
        let index = load_private(bytes, dimension, metric, settings, precision)?;
        Ok(Self::holding(Held::Private(index), dimension, metric, settings, precision))
    }

    /// A graph saved by `to_bytes`, viewed where it lies in the mapped `file` (at `range`) instead of copied.
    pub fn view(
        file: Arc<MappedFile>,
        range: std::ops::Range<usize>,
        dimension: usize,
        metric: Metric,
        settings: GraphSettings,
        precision: Precision,
    ) -> Result<Self> {
        let index = Index::new(&options(dimension, metric, settings, precision)).map_err(failed("creating"))?;
        // The contexts are reserved before viewing: a view keeps the thread count it finds.
        index.reserve_capacity_and_threads(0, CONTEXTS).map_err(failed("reserving"))?;
        let view = ViewedIndex::view(index, file, range).map_err(failed("viewing"))?;
        if view.dimensions() != dimension || view.connectivity() != settings.num_edges as usize {
            return Err(StoreError::Internal("HNSW graph: the saved graph has another shape".into()));
        }
        view.change_expansion_search(EXPANSION_SEARCH);
        Ok(Self::holding(Held::Viewed(view), dimension, metric, settings, precision))
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Turns a viewed graph into a private copy, so it can change (a view's bytes are the shared,
    /// read-only file). The copy is made under the read lock (searches go on) and swapped in under the
    /// write lock; two callers at once make two equal copies and one is dropped.
    fn make_private(&self) -> Result<()> {
        let copy = match &*self.read() {
            Held::Private(_) => return Ok(()),
            Held::Viewed(view) => {
                load_private(view.bytes(), self.dimension, self.metric, self.settings, self.precision)?
            }
        };
        let mut held = self.index.write().unwrap_or_else(PoisonError::into_inner);
        if matches!(*held, Held::Viewed(_)) {
            *held = Held::Private(copy);
            self.private_bytes.store(Self::measure(&held), Ordering::Relaxed);
        }
        Ok(())
    }

    /// The private index, for a change (`make_private` ran first).
    fn private(held: &Held) -> Result<&Index> {
        match held {
            Held::Private(index) => Ok(index),
            Held::Viewed(_) => Err(StoreError::Internal("HNSW graph: a viewed graph cannot change".into())),
        }
    }

    /// The serialised graph and the nodes it holds (measured together, while no add runs).
    pub fn to_bytes(&self) -> Result<(Vec<u8>, usize)> {
        let _unchanging = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        match &*self.read() {
            Held::Private(index) => {
                let mut bytes = vec![0; index.serialized_length()];
                index.save_to_buffer(&mut bytes).map_err(failed("saving"))?;
                Ok((bytes, index.size()))
            }
            Held::Viewed(view) => Ok((view.bytes().to_vec(), view.size())),
        }
    }

    /// Nodes held (removed rows included until a rebuild).
    pub fn len(&self) -> usize {
        self.read().size()
    }

    /// Approximate bytes held in this process's memory (as measured after the last change).
    pub fn bytes(&self) -> usize {
        self.private_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of the graph file viewed in place (shared with every process viewing it), or 0.
    pub fn mapped_bytes(&self) -> usize {
        match &*self.read() {
            Held::Private(_) => 0,
            Held::Viewed(view) => view.bytes().len(),
        }
    }

    /// Whether the row at `key` is in the graph.
    pub fn contains(&self, key: u64) -> bool {
        self.read().contains(key)
    }

    /// The graph's (f16-rounded) copy of the vector at `key`, if held.
    pub fn vector(&self, key: u64) -> Option<Vec<f32>> {
        let mut vector = vec![0.0f32; self.dimension];
        let found = match &*self.read() {
            Held::Private(index) => index.get(key, &mut vector).ok()?,
            Held::Viewed(view) => view.get(key, &mut vector).ok()?,
        };
        (found > 0).then_some(vector)
    }

    /// Adds `rows` (key, vector), spread over `threads` threads (at most `MAX_ADD_THREADS`). Keys
    /// already held are skipped. A viewed graph is copied into memory first.
    pub fn add(&self, rows: &[(u64, &[f32])], threads: usize) -> Result<()> {
        let threads = threads.clamp(1, MAX_ADD_THREADS);
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        self.make_private()?;
        {
            let held = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let index = Self::private(&held)?;
            let needed = index.size() + rows.len();
            if needed > index.capacity() {
                index
                    .reserve_capacity_and_threads(needed.max(index.capacity() * 3 / 2), CONTEXTS)
                    .map_err(failed("growing"))?;
            }
        }
        let held = self.read();
        let index = Self::private(&held)?;
        let per_thread = rows.len().div_ceil(threads).max(1);
        let added = std::thread::scope(|scope| {
            let workers: Vec<_> = rows
                .chunks(per_thread)
                .map(|part| {
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
        });
        // Still under `changing`: no add runs while the nodes are walked.
        self.private_bytes.store(Self::measure(&held), Ordering::Relaxed);
        added
    }

    /// Renames the keys of `moves` (old, new) the graph holds: rows a compaction moved to new addresses.
    /// Returns how many were renamed. Runs beside searches and adds (usearch locks its key lookup). A
    /// viewed graph holding one of the keys is copied into memory first (a rename writes into the node).
    pub fn rename(&self, moves: &[(u64, u64)]) -> Result<usize> {
        if moves.iter().any(|&(from, to)| from != to && self.contains(from)) {
            self.make_private()?;
        }
        let held = self.read();
        let Held::Private(index) = &*held else { return Ok(0) }; // a view holding none of the keys
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
        let held = self.read();
        let query = self.prepared(query);
        match &*held {
            Held::Private(index) => match accept {
                None => index.search(&query, count),
                Some(accept) => index.filtered_search(&query, count, accept),
            }
            .map(|matches| matches.keys)
            .map_err(failed("searching")),
            Held::Viewed(view) => view.search(&query, count, accept).map_err(failed("searching")),
        }
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

    /// Issue 29: a graph read from its file is viewed where it lies (mapped, shared), answers as the graph
    /// it was saved from, and becomes a private copy — still answering, now changed — the first time a row
    /// is added or a key renamed; the file may be replaced meanwhile without disturbing the view.
    #[test]
    fn a_viewed_graph_searches_in_place_and_turns_private_when_it_changes() -> Result<()> {
        use crate::store::resident::sidecar;
        let data = vectors(3_000, 32, 9);
        let key = |i: usize| (i as u64) << 32 | 3;
        let built = Graph::new(32, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().take(2_500).map(|(i, v)| (key(i), &v[..])).collect();
        built.add(&rows, 2)?;
        let dir = tempfile::tempdir().map_err(|e| StoreError::Internal(e.to_string()))?;
        let path = sidecar::path(dir.path(), "t");
        let header = sidecar::Header {
            dimension: 32,
            metric: Metric::Cosine,
            settings: GraphSettings::default(),
            precision: Precision::F16,
            table_version: 1,
            rows: built.len(),
            fragments: vec![(0, "0-data.lance".into())],
        };
        let (bytes, _) = built.to_bytes()?;
        let (file, range) = sidecar_with(&path, &header, &bytes)?;
        let viewed = Graph::view(file, range, 32, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        assert_eq!(viewed.mapped_bytes(), bytes.len());
        assert!(viewed.bytes() < bytes.len() / 4, "a view holds {} private bytes", viewed.bytes());
        assert_eq!(viewed.to_bytes()?.0, bytes, "a view saves the bytes it views");
        let accept_even = |k: u64| (k >> 32).is_multiple_of(2);
        for q in [17, 1_234, 2_499] {
            assert_eq!(viewed.search(&data[q], 5, None)?, built.search(&data[q], 5, None)?);
            assert_eq!(viewed.search(&data[q], 5, Some(&accept_even))?, built.search(&data[q], 5, Some(&accept_even))?);
        }
        assert!(viewed.vector(key(17)).is_some() && viewed.contains(key(17)) && !viewed.contains(key(2_600)));

        // Another save replaces the file (temporary file + rename): the view keeps the bytes it maps.
        sidecar::write(&path, &header, &vec![7u8; 4096]).map_err(|e| StoreError::Internal(e.to_string()))?;
        assert_eq!(viewed.search(&data[42], 10, None)?.first(), Some(&key(42)));

        // A rename of keys the view does not hold changes nothing; one it holds makes it private.
        assert_eq!(viewed.rename(&[(key(2_900), key(2_901))])?, 0);
        assert_eq!(viewed.mapped_bytes(), bytes.len());
        assert_eq!(viewed.rename(&[(key(5), 99 << 32)])?, 1);
        assert_eq!(viewed.mapped_bytes(), 0, "private after a rename");
        assert_eq!(viewed.search(&data[5], 10, None)?.first(), Some(&(99 << 32)));

        // Adds go to the private copy.
        let more: Vec<(u64, &[f32])> = data.iter().enumerate().skip(2_500).map(|(i, v)| (key(i), &v[..])).collect();
        let (file, range) = sidecar_with(&path, &header, &bytes)?;
        let again = Graph::view(file, range, 32, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        again.add(&more, 2)?;
        assert_eq!((again.len(), again.mapped_bytes()), (3_000, 0));
        assert_eq!(again.search(&data[2_777], 10, None)?.first(), Some(&key(2_777)));
        assert_eq!(again.search(&data[1_000], 10, None)?.first(), Some(&key(1_000)));
        Ok(())
    }

    /// Writes `bytes` as the sidecar at `path` and maps it: the file and where the graph lies.
    fn sidecar_with(
        path: &std::path::Path,
        header: &crate::store::resident::sidecar::Header,
        bytes: &[u8],
    ) -> Result<(std::sync::Arc<MappedFile>, std::ops::Range<usize>)> {
        use crate::store::resident::sidecar;
        sidecar::write(path, header, bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(sidecar::read(path).map_err(StoreError::Internal)?.1.into_parts())
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

    /// `stats()` measured the graph by walking usearch's nodes while a build added nodes beside it, and read
    /// one not yet written (SIGSEGV in `cargo test`, now and then). The measurement is taken after each add.
    #[test]
    fn measuring_the_graph_beside_adds_reads_no_node_being_added() -> Result<()> {
        let data = vectors(8_000, 16, 41);
        let graph = Graph::new(16, Metric::Cosine, GraphSettings::default(), Precision::F16)?;
        let rows: Vec<(u64, &[f32])> = data.iter().enumerate().map(|(i, v)| (i as u64, &v[..])).collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        let mut seen = Vec::new();
        std::thread::scope(|scope| {
            let measuring = scope.spawn(|| {
                let mut seen = Vec::new();
                while !done.load(Ordering::Acquire) {
                    seen.push(graph.bytes());
                }
                seen
            });
            let added = rows.chunks(250).try_for_each(|batch| graph.add(batch, 2));
            done.store(true, Ordering::Release);
            seen = measuring.join().unwrap_or_default();
            added
        })?;
        assert_eq!(graph.len(), 8_000);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "measured after each add, it only grows");
        assert_eq!(graph.bytes(), Graph::measure(&graph.read()));
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
