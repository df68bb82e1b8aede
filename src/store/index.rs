//! Vector-index planning: a pure function from (rows, dimension, request) to an `IndexPlan`, the
//! index name that records the plan in the table, and the search-time defaults (nprobes, refine
//! factor, ef) each kind needs to reach its recall target. Every number here was measured on
//! `../shared/data` (see the README's "Vector index" section); nothing touches LanceDB data.

use lancedb::index::Index;
use lancedb::index::vector::{IvfFlatIndexBuilder, IvfHnswSqIndexBuilder, IvfPqIndexBuilder};

use super::config::{Metric, integer_in};
use super::error::{Result, StoreError};

/// Rows from which `"auto"` builds an index. Measured (MiniLM, p50, same run): 2,000 rows exact
/// 6.1 ms vs IVF-HNSW-SQ 5.8 ms (no gain); 5,000 rows 7.3 vs 4.7 ms (1.5×); 10,000 rows 12.4 vs 4.7 ms.
pub const AUTO_INDEX_MIN_ROWS: usize = 5_000;
/// Fewest rows each IVF partition gets to train on: more partitions than `rows / this` are not planned.
pub const MIN_ROWS_PER_PARTITION: usize = 40;
/// Most IVF partitions the √n rule plans.
pub const MAX_PARTITIONS: u32 = 1_024;
/// Fewest IVF partitions the √n rule plans, when the data supports that many.
pub const MIN_PARTITIONS: u32 = 8;
/// Rows per IVF partition planned for `ivf_hnsw_sq`: each partition holds a graph, and a graph
/// over many rows beats many small ones (measured at 20k×384: 1 partition recall@10 0.985 at the
/// same latency as 128 partitions at 0.92).
pub const HNSW_ROWS_PER_PARTITION: usize = 16_384;
/// Values per PQ sub-vector preferred (so sub-vectors = dimension / this, when it divides).
/// Measured at 20k×768 (128 partitions, 32 probes, refine 10): 8 values (96 sub-vectors) recall@10
/// 0.982 at 8.9 ms, 16 values (48 sub-vectors) 0.960 at 8.1 ms.
pub const PQ_VALUES_PER_SUB_VECTOR: usize = 8;
/// PQ codebook bits, and the fewest rows that can train a codebook of that size.
pub const PQ_BITS: u32 = 8;
/// PQ codebook bits on tables too small to train 256 centroids per sub-vector.
pub const PQ_BITS_SMALL: u32 = 4;
/// K-means iterations when training partitions and codebooks (LanceDB's default).
pub const DEFAULT_MAX_ITERATIONS: u32 = 50;
/// Training rows per partition drawn for k-means (LanceDB's default).
pub const DEFAULT_SAMPLE_RATE: u32 = 256;
/// HNSW neighbours per node.
pub const DEFAULT_NUM_EDGES: u32 = 20;
/// HNSW candidates while building the graph.
pub const DEFAULT_EF_CONSTRUCTION: u32 = 150;
/// Share of the partitions a search probes at least, by default (more when a filter leaves too few).
/// Measured at 20k×384, 128 IVF-FLAT partitions: 1/8 recall@10 0.938, 1/4 0.960, 1/2 0.986.
pub const DEFAULT_PROBE_FRACTION: f64 = 0.25;
/// Fewest partitions a search probes by default (all of them when there are fewer): small tables
/// have few, small partitions, and a quarter of them missed too many neighbours (recall@10 0.93 at 2k rows).
pub const MIN_DEFAULT_NPROBES: usize = 16;
/// Default refine factor of IVF-PQ searches: `limit × this` candidates are re-ranked on the full vectors.
pub const DEFAULT_PQ_REFINE_FACTOR: u32 = 10;
/// Refine factor of an IVF-HNSW-SQ search with a `threshold`: the cut is made on exact scores, not on
/// scores from 8-bit vectors (those differ in the third decimal).
pub const THRESHOLD_REFINE_FACTOR: u32 = 1;
/// Default HNSW `ef` is `max(limit × this, MIN_DEFAULT_EF)`.
pub const EF_PER_RESULT: usize = 10;
/// Smallest default HNSW `ef`.
pub const MIN_DEFAULT_EF: usize = 100;

/// The vector index kinds a store builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    /// IVF partitions of product-quantised vectors, re-ranked on the full vectors.
    IvfPq,
    /// IVF partitions, each an HNSW graph over 8-bit scalar-quantised vectors.
    IvfHnswSq,
    /// IVF partitions of the full vectors.
    IvfFlat,
}

impl IndexKind {
    /// The name users write and reports carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IvfPq => "ivf_pq",
            Self::IvfHnswSq => "ivf_hnsw_sq",
            Self::IvfFlat => "ivf_flat",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::IvfPq, Self::IvfHnswSq, Self::IvfFlat].into_iter().find(|k| k.as_str() == name)
    }
}

/// What `createIndex` was asked for, as the user gave it (numbers unchecked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRequest {
    /// `"auto" | "ivf_pq" | "ivf_hnsw_sq" | "ivf_flat" | "none"`; default `"auto"`.
    pub kind: Option<String>,
    /// IVF partitions.
    pub num_partitions: Option<f64>,
    /// PQ sub-vectors (must divide the dimension).
    pub num_sub_vectors: Option<f64>,
    /// PQ bits per code: 4 or 8.
    pub num_bits: Option<f64>,
    /// K-means iterations.
    pub max_iterations: Option<f64>,
    /// Training rows per partition.
    pub sample_rate: Option<f64>,
    /// HNSW neighbours per node.
    pub num_edges: Option<f64>,
    /// HNSW build-time candidates.
    pub ef_construction: Option<f64>,
}

/// Everything one index build needs, derived from the data and the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPlan {
    /// The kind to build.
    pub kind: IndexKind,
    /// IVF partitions.
    pub num_partitions: u32,
    /// PQ sub-vectors (IVF-PQ only).
    pub num_sub_vectors: Option<u32>,
    /// PQ bits per code (IVF-PQ only).
    pub num_bits: Option<u32>,
    /// K-means iterations.
    pub max_iterations: u32,
    /// Training rows per partition.
    pub sample_rate: u32,
    /// HNSW neighbours per node (IVF-HNSW-SQ only).
    pub num_edges: Option<u32>,
    /// HNSW build-time candidates (IVF-HNSW-SQ only).
    pub ef_construction: Option<u32>,
}

/// What `createIndex` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Build this index (replacing any vector index the table has).
    Build(IndexPlan),
    /// Search exactly: drop any vector index; the reason says why.
    Exact {
        /// Why no index is built (asked for `"none"`, or too few rows for `"auto"`).
        reason: String,
    },
}

/// Plans the index for a table of `rows` vectors of `dimension` from the user's request.
pub fn plan(rows: usize, dimension: usize, request: &IndexRequest) -> Result<Decision> {
    let asked = request.kind.as_deref().unwrap_or("auto");
    let kind = match asked {
        "auto" => AUTO_KIND,
        "none" => {
            if request != &(IndexRequest { kind: request.kind.clone(), ..Default::default() }) {
                return Err(StoreError::invalid("kind", "'none' drops the index, so it takes no index parameters"));
            }
            return Ok(Decision::Exact { reason: "asked for kind 'none'".into() });
        }
        other => IndexKind::parse(other).ok_or_else(|| {
            StoreError::invalid("kind", format!("got {other:?}, expected 'auto', 'ivf_pq', 'ivf_hnsw_sq', 'ivf_flat' or 'none'"))
        })?,
    };
    if asked == "auto" && rows < AUTO_INDEX_MIN_ROWS {
        plan_kind(kind, rows.max(1), dimension, request)?; // the parameters are still checked
        return Ok(Decision::Exact {
            reason: format!(
                "{rows} rows is below {AUTO_INDEX_MIN_ROWS}, where exact search is as fast as an index on this hardware; exact search keeps recall at 1"
            ),
        });
    }
    if rows == 0 {
        return Err(StoreError::IndexFailed { reason: "the table is empty; add embeddings before building an index".into() });
    }
    plan_kind(kind, rows, dimension, request).map(Decision::Build)
}

/// The plan of `kind` for `rows` rows: the request's parameters, checked, over the tuned defaults.
fn plan_kind(kind: IndexKind, rows: usize, dimension: usize, request: &IndexRequest) -> Result<IndexPlan> {
    let num_partitions = match request.num_partitions {
        Some(n) => u32_in("numPartitions", n, 1, rows.min(65_536))?,
        None if kind == IndexKind::IvfHnswSq => hnsw_partitions_for(rows),
        None => partitions_for(rows),
    };
    let (num_sub_vectors, num_bits) = if kind == IndexKind::IvfPq {
        let sub_vectors = match request.num_sub_vectors {
            Some(n) => {
                let n = u32_in("numSubVectors", n, 1, dimension)?;
                if dimension % n as usize != 0 {
                    return Err(StoreError::invalid("numSubVectors", format!("{n} does not divide the dimension {dimension}")));
                }
                n
            }
            None => sub_vectors_for(dimension),
        };
        let bits = match request.num_bits {
            Some(b) if b == 4.0 || b == 8.0 => b as u32,
            Some(b) => return Err(StoreError::invalid("numBits", format!("got {b}, expected 4 or 8"))),
            None if rows < 1 << PQ_BITS => PQ_BITS_SMALL,
            None => PQ_BITS,
        };
        (Some(sub_vectors), Some(bits))
    } else {
        refuse_unless(IndexKind::IvfPq, kind, [("numSubVectors", request.num_sub_vectors), ("numBits", request.num_bits)])?;
        (None, None)
    };
    let (num_edges, ef_construction) = if kind == IndexKind::IvfHnswSq {
        let edges = opt_u32("numEdges", request.num_edges, 2, 512)?.unwrap_or(DEFAULT_NUM_EDGES);
        let ef = opt_u32("efConstruction", request.ef_construction, 10, 10_000)?.unwrap_or(DEFAULT_EF_CONSTRUCTION);
        (Some(edges), Some(ef))
    } else {
        refuse_unless(IndexKind::IvfHnswSq, kind, [("numEdges", request.num_edges), ("efConstruction", request.ef_construction)])?;
        (None, None)
    };
    Ok(IndexPlan {
        kind,
        num_partitions,
        num_sub_vectors,
        num_bits,
        max_iterations: opt_u32("maxIterations", request.max_iterations, 1, 1_000)?.unwrap_or(DEFAULT_MAX_ITERATIONS),
        sample_rate: opt_u32("sampleRate", request.sample_rate, 2, 65_536)?.unwrap_or(DEFAULT_SAMPLE_RATE),
        num_edges,
        ef_construction,
    })
}

/// Refuses the `options` given for a kind other than the one (`owner`) they belong to.
fn refuse_unless(owner: IndexKind, kind: IndexKind, options: [(&str, Option<f64>); 2]) -> Result<()> {
    match options.into_iter().find(|(_, given)| given.is_some()) {
        Some((option, _)) => {
            Err(StoreError::invalid(option, format!("only applies to kind '{}', not '{}'", owner.as_str(), kind.as_str())))
        }
        None => Ok(()),
    }
}

/// The kind `"auto"` builds. Measured at 20k rows with default knobs (p50 vs exact in the same run):
/// MiniLM-384 IVF-HNSW-SQ recall@10 0.985 at 5.0 ms, IVF-FLAT 0.960 at 4.1 ms, IVF-PQ 0.968 at 10.9 ms;
/// MPNet-768 IVF-HNSW-SQ 0.991 at 4.7 ms, IVF-FLAT 0.969 at 5.8 ms, IVF-PQ 0.982 at 8.9 ms (exact 34.5 ms).
pub const AUTO_KIND: IndexKind = IndexKind::IvfHnswSq;

/// √rows rounded to the nearest power of two, clamped to [`MIN_PARTITIONS`, `MAX_PARTITIONS`], then
/// lowered (by powers of two) until every partition has `MIN_ROWS_PER_PARTITION` rows to train on.
pub fn partitions_for(rows: usize) -> u32 {
    let root = (rows.max(1) as f64).sqrt();
    let rounded = 2f64.powf(root.log2().round()).clamp(f64::from(MIN_PARTITIONS), f64::from(MAX_PARTITIONS)) as u32;
    rounded.min(floor_power_of_two(rows / MIN_ROWS_PER_PARTITION))
}

/// Partitions for `ivf_hnsw_sq`: one per `HNSW_ROWS_PER_PARTITION` rows, as a power of two (at
/// least 1, at most `MAX_PARTITIONS`).
pub fn hnsw_partitions_for(rows: usize) -> u32 {
    floor_power_of_two(rows / HNSW_ROWS_PER_PARTITION).min(MAX_PARTITIONS)
}

/// The largest power of two at most `n` (1 for 0), saturating at 2^31.
fn floor_power_of_two(n: usize) -> u32 {
    1 << n.max(1).ilog2().min(31)
}

/// PQ sub-vectors: `dimension / PQ_VALUES_PER_SUB_VECTOR` when that divides, else the longest
/// sub-vector length from 16, 8, 4, 2, 1 that divides the dimension.
pub fn sub_vectors_for(dimension: usize) -> u32 {
    let length = std::iter::once(PQ_VALUES_PER_SUB_VECTOR)
        .chain([16, 8, 4, 2, 1])
        .find(|len| dimension % len == 0 && dimension >= *len)
        .unwrap_or(1);
    u32::try_from(dimension / length).unwrap_or(u32::MAX)
}

/// LanceDB's builder for `plan`, trained with `metric`.
pub fn to_lance(plan: &IndexPlan, metric: Metric) -> Index {
    let distance = metric.distance_type();
    match plan.kind {
        IndexKind::IvfPq => {
            let mut builder = IvfPqIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate);
            if let Some(n) = plan.num_sub_vectors {
                builder = builder.num_sub_vectors(n);
            }
            if let Some(bits) = plan.num_bits {
                builder = builder.num_bits(bits);
            }
            Index::IvfPq(builder)
        }
        IndexKind::IvfHnswSq => Index::IvfHnswSq(
            IvfHnswSqIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate)
                .num_edges(plan.num_edges.unwrap_or(DEFAULT_NUM_EDGES))
                .ef_construction(plan.ef_construction.unwrap_or(DEFAULT_EF_CONSTRUCTION)),
        ),
        IndexKind::IvfFlat => Index::IvfFlat(
            IvfFlatIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate),
        ),
    }
}

/// The index as the table records it: kind and partitions are kept in the index name, so a store
/// reopened later (or in another process) knows the search defaults without guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexShape {
    /// The kind.
    pub kind: IndexKind,
    /// IVF partitions.
    pub num_partitions: u32,
}

const NAME_PREFIX: &str = "lancestore_vector";

impl IndexShape {
    /// The index name recording this shape, e.g. `lancestore_vector__ivf_pq__p128`.
    pub fn name(self) -> String {
        format!("{NAME_PREFIX}__{}__p{}", self.kind.as_str(), self.num_partitions)
    }

    /// Reads a name written by `name()`; `None` for indexes made by other tools.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut parts = name.split("__");
        if parts.next()? != NAME_PREFIX {
            return None;
        }
        let kind = IndexKind::parse(parts.next()?)?;
        let num_partitions = parts.next()?.strip_prefix('p')?.parse().ok()?;
        parts.next().is_none().then_some(Self { kind, num_partitions })
    }
}

impl From<&IndexPlan> for IndexShape {
    fn from(plan: &IndexPlan) -> Self {
        Self { kind: plan.kind, num_partitions: plan.num_partitions }
    }
}

/// Unindexed rows (searched exactly) after which background upkeep folds them into the index…
pub const AUTO_FOLD_MIN_ROWS: usize = 2_000;
/// …or this share of the indexed rows, whichever is larger.
pub const AUTO_FOLD_FRACTION: f64 = 0.05;
/// Background upkeep rebuilds an index once the √ rule asks for this many times its partitions
/// (the table has grown about this factor squared since the build).
pub const AUTO_REBUILD_GROWTH: u32 = 2;

/// The vector index as background upkeep sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// Kind and partitions.
    pub shape: IndexShape,
    /// Whether lancestore built it (only those are rebuilt automatically).
    pub ours: bool,
    /// Rows it covers.
    pub indexed_rows: usize,
    /// Rows searched exactly beside it.
    pub unindexed_rows: usize,
}

/// What background upkeep does after writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Nothing is due.
    Nothing,
    /// Build an index: `None` plans `"auto"`, `Some(kind)` rebuilds that kind with a new plan.
    Build(Option<IndexKind>),
    /// Fold the unindexed rows into the existing index.
    Fold,
}

/// Decides background upkeep for a table of `rows` rows and its current vector index.
pub fn upkeep(rows: usize, current: Option<Current>) -> Upkeep {
    match current {
        None if rows >= AUTO_INDEX_MIN_ROWS => Upkeep::Build(None),
        None => Upkeep::Nothing,
        Some(c) if c.ours && partitions_for(rows) >= c.shape.num_partitions.saturating_mul(AUTO_REBUILD_GROWTH) => {
            Upkeep::Build(Some(c.shape.kind))
        }
        Some(c) if c.unindexed_rows >= AUTO_FOLD_MIN_ROWS.max((c.indexed_rows as f64 * AUTO_FOLD_FRACTION) as usize) => Upkeep::Fold,
        Some(_) => Upkeep::Nothing,
    }
}

/// Search-time knobs as the user gave them (checked by `SearchRequest::validate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Knobs {
    /// Fewest IVF partitions to probe.
    pub nprobes: Option<usize>,
    /// IVF-PQ re-ranking factor.
    pub refine_factor: Option<u32>,
    /// HNSW search candidates.
    pub ef: Option<usize>,
    /// Skip the index: exact search.
    pub exact: bool,
}

/// The knobs one indexed search runs with: the user's, else this kind's measured defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Fewest IVF partitions to probe.
    pub nprobes: usize,
    /// Re-ranking factor, if any.
    pub refine_factor: Option<u32>,
    /// HNSW candidates, if the kind has a graph.
    pub ef: Option<usize>,
}

/// Fills the knobs the user left unset for a search of `limit` hits on `shape`; `exact_scores`
/// (a threshold was given) re-ranks quantised candidates on the full vectors.
pub fn resolve_knobs(knobs: &Knobs, shape: IndexShape, limit: usize, exact_scores: bool) -> Resolved {
    let partitions = shape.num_partitions as usize;
    let default_nprobes = ((partitions as f64 * DEFAULT_PROBE_FRACTION).ceil() as usize).max(MIN_DEFAULT_NPROBES).min(partitions.max(1));
    let nprobes = knobs.nprobes.unwrap_or(default_nprobes);
    let refine_factor = knobs.refine_factor.or(match shape.kind {
        IndexKind::IvfPq => Some(DEFAULT_PQ_REFINE_FACTOR),
        IndexKind::IvfHnswSq if exact_scores => Some(THRESHOLD_REFINE_FACTOR),
        IndexKind::IvfHnswSq | IndexKind::IvfFlat => None,
    });
    let ef = (shape.kind == IndexKind::IvfHnswSq).then(|| knobs.ef.unwrap_or((limit * EF_PER_RESULT).max(MIN_DEFAULT_EF)));
    Resolved { nprobes, refine_factor, ef }
}

fn u32_in(option: &str, value: f64, min: usize, max: usize) -> Result<u32> {
    let n = integer_in(option, value, min, max)?;
    u32::try_from(n).map_err(|_| StoreError::invalid(option, format!("got {n}, too large")))
}

fn opt_u32(option: &str, value: Option<f64>, min: usize, max: usize) -> Result<Option<u32>> {
    value.map(|v| u32_in(option, v, min, max)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(rows: usize, dimension: usize, request: &IndexRequest) -> IndexPlan {
        match plan(rows, dimension, request).unwrap() {
            Decision::Build(plan) => plan,
            other => panic!("expected a build, got {other:?}"),
        }
    }

    fn kind(name: &str) -> IndexRequest {
        IndexRequest { kind: Some(name.into()), ..Default::default() }
    }

    #[test]
    fn partitions_follow_the_square_root_but_never_outrun_the_data() {
        assert_eq!(partitions_for(20_000), 128); // √ = 141 → 128
        assert_eq!(partitions_for(100_000), 256); // √ = 316 → 256
        assert_eq!(partitions_for(10_000_000), MAX_PARTITIONS);
        assert_eq!(partitions_for(1_000), 16); // √ = 32, but 1000 / 40 = 25 → 16
        assert_eq!(partitions_for(100), 2);
        assert_eq!(partitions_for(10), 1);
        assert_eq!(partitions_for(0), 1);
        for rows in [1, 50, 333, 4_000, 65_000, 3_000_000] {
            let p = partitions_for(rows);
            assert!(p.is_power_of_two() && p <= MAX_PARTITIONS, "{rows} → {p}");
            assert!(p == 1 || p as usize * MIN_ROWS_PER_PARTITION <= rows, "{rows} → {p}");
        }
    }

    #[test]
    fn sub_vectors_divide_the_dimension() {
        assert_eq!(sub_vectors_for(384), 384 / PQ_VALUES_PER_SUB_VECTOR as u32);
        assert_eq!(sub_vectors_for(768), 768 / PQ_VALUES_PER_SUB_VECTOR as u32);
        for dimension in [1, 2, 3, 12, 100, 1536, 1000, 7] {
            let n = sub_vectors_for(dimension) as usize;
            assert!(n >= 1 && dimension % n == 0, "{dimension} → {n}");
        }
    }

    #[test]
    fn auto_keeps_exact_search_on_small_tables() {
        let decision = plan(AUTO_INDEX_MIN_ROWS - 1, 384, &IndexRequest::default()).unwrap();
        assert!(matches!(decision, Decision::Exact { ref reason } if reason.contains("exact search")));
        assert!(matches!(plan(AUTO_INDEX_MIN_ROWS, 384, &IndexRequest::default()).unwrap(), Decision::Build(_)));
        assert!(matches!(plan(5, 384, &kind("none")).unwrap(), Decision::Exact { .. }));
    }

    #[test]
    fn small_tables_get_small_codebooks_and_few_partitions() {
        let small = build(100, 384, &kind("ivf_pq"));
        assert_eq!((small.num_partitions, small.num_bits), (2, Some(PQ_BITS_SMALL)));
        let large = build(20_000, 768, &kind("ivf_pq"));
        assert_eq!((large.num_partitions, large.num_bits), (128, Some(PQ_BITS)));
        assert!(matches!(plan(0, 8, &kind("ivf_flat")), Err(StoreError::IndexFailed { .. })));
    }

    #[test]
    fn explicit_parameters_override_and_are_checked() {
        let request = IndexRequest { num_partitions: Some(4.0), num_sub_vectors: Some(16.0), num_bits: Some(4.0), ..kind("ivf_pq") };
        let given = build(5_000, 384, &request);
        assert_eq!((given.num_partitions, given.num_sub_vectors, given.num_bits), (4, Some(16), Some(4)));
        let bad = [
            IndexRequest { num_sub_vectors: Some(7.0), ..kind("ivf_pq") },
            IndexRequest { num_bits: Some(6.0), ..kind("ivf_pq") },
            IndexRequest { num_partitions: Some(0.0), ..kind("ivf_flat") },
            IndexRequest { num_partitions: Some(5_001.0), ..kind("ivf_flat") },
            IndexRequest { num_sub_vectors: Some(8.0), ..kind("ivf_flat") },
            IndexRequest { num_edges: Some(8.0), ..kind("ivf_pq") },
            IndexRequest { max_iterations: Some(1.5), ..kind("ivf_flat") },
            IndexRequest { max_iterations: Some(0.0), ..kind("auto") },
            IndexRequest { num_partitions: Some(4.0), ..kind("none") },
            kind("hnsw"),
        ];
        for request in bad {
            assert!(matches!(plan(5_000, 384, &request), Err(StoreError::InvalidArgument { .. })), "{request:?}");
        }
    }

    #[test]
    fn upkeep_builds_at_the_crossover_folds_new_rows_and_rebuilds_after_growth() {
        assert_eq!(upkeep(AUTO_INDEX_MIN_ROWS - 1, None), Upkeep::Nothing);
        assert_eq!(upkeep(AUTO_INDEX_MIN_ROWS, None), Upkeep::Build(None));
        let shape = IndexShape { kind: IndexKind::IvfPq, num_partitions: partitions_for(20_000) };
        let current = |indexed, unindexed, ours| Some(Current { shape, ours, indexed_rows: indexed, unindexed_rows: unindexed });
        assert_eq!(upkeep(20_500, current(20_000, 500, true)), Upkeep::Nothing);
        assert_eq!(upkeep(22_000, current(20_000, 2_000, true)), Upkeep::Fold);
        assert_eq!(upkeep(80_000, current(20_000, 60_000, true)), Upkeep::Build(Some(IndexKind::IvfPq)));
        assert_eq!(upkeep(80_000, current(20_000, 60_000, false)), Upkeep::Fold); // not ours: never rebuilt
    }

    #[test]
    fn index_names_record_the_shape() {
        for kind in [IndexKind::IvfPq, IndexKind::IvfHnswSq, IndexKind::IvfFlat] {
            let shape = IndexShape { kind, num_partitions: 64 };
            assert_eq!(IndexShape::from_name(&shape.name()), Some(shape));
        }
        for foreign in ["vector_idx", "lancestore_vector__ivf_pq", "lancestore_vector__ivf_pq__pX", "lancestore_vector__x__p2"] {
            assert_eq!(IndexShape::from_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn knobs_default_per_kind_and_yield_to_the_user() {
        let pq = IndexShape { kind: IndexKind::IvfPq, num_partitions: 128 };
        let resolved = resolve_knobs(&Knobs::default(), pq, 10, false);
        assert_eq!(resolved.refine_factor, Some(DEFAULT_PQ_REFINE_FACTOR));
        assert_eq!(resolved.ef, None);
        assert!(resolved.nprobes >= MIN_DEFAULT_NPROBES && resolved.nprobes <= 128);
        let user = Knobs { nprobes: Some(3), refine_factor: Some(2), ef: Some(50), exact: false };
        assert_eq!(resolve_knobs(&user, pq, 10, true), Resolved { nprobes: 3, refine_factor: Some(2), ef: None });
        assert_eq!(hnsw_partitions_for(20_000), 1);
        assert_eq!(hnsw_partitions_for(100_000), 4);
        assert_eq!(hnsw_partitions_for(1 << 40), MAX_PARTITIONS);
        let hnsw = IndexShape { kind: IndexKind::IvfHnswSq, num_partitions: 2 };
        let resolved = resolve_knobs(&Knobs::default(), hnsw, 100, false);
        assert_eq!((resolved.nprobes, resolved.ef, resolved.refine_factor), (2, Some(100 * EF_PER_RESULT), None));
        assert_eq!(resolve_knobs(&Knobs::default(), hnsw, 10, true).refine_factor, Some(THRESHOLD_REFINE_FACTOR));
        let flat = IndexShape { kind: IndexKind::IvfFlat, num_partitions: 1024 };
        assert_eq!(resolve_knobs(&Knobs::default(), flat, 10, true).nprobes, 256);
    }
}
