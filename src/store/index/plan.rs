//! Index planning: a pure function from (rows, dimension, checked options) to an `IndexPlan`, with
//! the one partition rule per kind that both planning and background upkeep use. Every number here
//! was measured on `../shared/data` (see the README's "Vector index" section); nothing touches LanceDB.

use super::{IndexKind, IndexShape};
use crate::store::error::{Result, StoreError};

/// Rows from which `"auto"` builds an index. Measured (MiniLM, p50, same run): 2,000 rows exact
/// 6.1 ms vs IVF-HNSW-SQ 5.8 ms (no gain); 5,000 rows 7.3 vs 4.7 ms (1.5×); 10,000 rows 12.4 vs 4.7 ms.
pub const AUTO_INDEX_MIN_ROWS: usize = 5_000;
/// The kind `"auto"` builds. Measured at 20k rows with default knobs (p50 vs exact in the same run):
/// MiniLM-384 IVF-HNSW-SQ recall@10 0.985 at 5.0 ms, IVF-FLAT 0.960 at 4.1 ms, IVF-PQ 0.968 at 10.9 ms;
/// MPNet-768 IVF-HNSW-SQ 0.991 at 4.7 ms, IVF-FLAT 0.969 at 5.8 ms, IVF-PQ 0.982 at 8.9 ms (exact 34.5 ms).
pub const AUTO_KIND: IndexKind = IndexKind::IvfHnswSq;
/// Fewest rows each IVF partition gets to train on: more partitions than `rows / this` are not planned.
pub const MIN_ROWS_PER_PARTITION: usize = 40;
/// Most IVF partitions the √n rule plans.
pub const MAX_PARTITIONS: u32 = 1_024;
/// Fewest IVF partitions the √n rule plans, when the data supports that many.
pub const MIN_PARTITIONS: u32 = 8;
/// Most partitions a user may ask for.
pub const MAX_ASKED_PARTITIONS: usize = 65_536;
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

/// Which index `createIndex` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Requested {
    /// `"auto"`: [`AUTO_KIND`] from [`AUTO_INDEX_MIN_ROWS`] rows, exact search below.
    #[default]
    Auto,
    /// `"none"`: drop the index and search exactly.
    Exact,
    /// One kind, whatever the table's size.
    Kind(IndexKind),
    /// `"hnsw"`: the in-memory graph over the resident copy (built by `store/resident`, not planned here).
    Graph,
}

/// `createIndex` options after `config.rs` checked them (ranges, and that each applies to the kind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// The index asked for.
    pub requested: Requested,
    /// IVF partitions (checked against the row count when planning).
    pub num_partitions: Option<u32>,
    /// PQ sub-vectors (divides the dimension).
    pub num_sub_vectors: Option<u32>,
    /// PQ bits per code: 4 or 8.
    pub num_bits: Option<u32>,
    /// K-means iterations.
    pub max_iterations: Option<u32>,
    /// Training rows per partition.
    pub sample_rate: Option<u32>,
    /// HNSW neighbours per node.
    pub num_edges: Option<u32>,
    /// HNSW build-time candidates.
    pub ef_construction: Option<u32>,
}

impl IndexOptions {
    /// Options that build `kind` with every parameter tuned from the data.
    pub fn of_kind(kind: IndexKind) -> Self {
        Self { requested: Requested::Kind(kind), ..Self::default() }
    }
}

/// Everything one index build needs, derived from the data and the options.
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

impl From<&IndexPlan> for IndexShape {
    fn from(plan: &IndexPlan) -> Self {
        Self { kind: plan.kind, num_partitions: plan.num_partitions }
    }
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

/// Plans the index for a table of `rows` vectors of `dimension` from checked `options`.
pub fn plan(rows: usize, dimension: usize, options: &IndexOptions) -> Result<Decision> {
    let kind = match options.requested {
        Requested::Exact => return Ok(Decision::Exact { reason: "asked for kind 'none'".into() }),
        Requested::Auto if rows < AUTO_INDEX_MIN_ROWS => {
            check_partitions_fit(options, rows.max(1))?; // still checked when exact search is kept
            return Ok(Decision::Exact {
                reason: format!(
                    "{rows} rows is below {AUTO_INDEX_MIN_ROWS}, where exact search is as fast as an index on this hardware; exact search keeps recall at 1"
                ),
            });
        }
        Requested::Auto => AUTO_KIND,
        Requested::Kind(kind) => kind,
        Requested::Graph => {
            return Err(StoreError::Internal("the HNSW graph is built by the resident copy, not planned".into()));
        }
    };
    if rows == 0 {
        return Err(StoreError::IndexFailed {
            reason: "the table is empty; add embeddings before building an index".into(),
            source: None,
        });
    }
    check_partitions_fit(options, rows)?;
    if kind == IndexKind::IvfPq && options.num_bits == Some(PQ_BITS) && rows < 1 << PQ_BITS {
        // LanceDB would commit an index covering no row; refused before anything is written.
        return Err(StoreError::index_failed(format!(
            "8-bit PQ codes need at least {} rows to train their codebooks and the table has {rows}; use numBits: 4, or add rows",
            1 << PQ_BITS
        )));
    }
    let is_pq = kind == IndexKind::IvfPq;
    let is_hnsw = kind == IndexKind::IvfHnswSq;
    Ok(Decision::Build(IndexPlan {
        kind,
        num_partitions: options.num_partitions.unwrap_or_else(|| partitions_for(kind, rows)),
        num_sub_vectors: is_pq.then(|| options.num_sub_vectors.unwrap_or_else(|| sub_vectors_for(dimension))),
        num_bits: is_pq.then(|| options.num_bits.unwrap_or(if rows < 1 << PQ_BITS { PQ_BITS_SMALL } else { PQ_BITS })),
        max_iterations: options.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS),
        sample_rate: options.sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE),
        num_edges: is_hnsw.then(|| options.num_edges.unwrap_or(DEFAULT_NUM_EDGES)),
        ef_construction: is_hnsw.then(|| options.ef_construction.unwrap_or(DEFAULT_EF_CONSTRUCTION)),
    }))
}

/// More partitions than rows cannot be trained: the one check that needs the row count.
fn check_partitions_fit(options: &IndexOptions, rows: usize) -> Result<()> {
    let most = rows.min(MAX_ASKED_PARTITIONS);
    match options.num_partitions {
        Some(n) if n as usize > most => {
            Err(StoreError::invalid("numPartitions", format!("got {n}, expected an integer from 1 to {most}")))
        }
        _ => Ok(()),
    }
}

/// The partitions planned for `kind` on `rows` rows: the one rule planning and upkeep share.
pub fn partitions_for(kind: IndexKind, rows: usize) -> u32 {
    match kind {
        IndexKind::IvfHnswSq => hnsw_partitions(rows),
        IndexKind::IvfPq | IndexKind::IvfFlat => ivf_partitions(rows),
    }
}

/// √rows rounded to the nearest power of two, clamped to [`MIN_PARTITIONS`, `MAX_PARTITIONS`], then
/// lowered (by powers of two) until every partition has `MIN_ROWS_PER_PARTITION` rows to train on.
pub fn ivf_partitions(rows: usize) -> u32 {
    let root = (rows.max(1) as f64).sqrt();
    let rounded = 2f64.powf(root.log2().round()).clamp(f64::from(MIN_PARTITIONS), f64::from(MAX_PARTITIONS)) as u32;
    rounded.min(floor_power_of_two(rows / MIN_ROWS_PER_PARTITION))
}

/// Partitions for `ivf_hnsw_sq`: one per `HNSW_ROWS_PER_PARTITION` rows, as a power of two (at
/// least 1, at most `MAX_PARTITIONS`).
fn hnsw_partitions(rows: usize) -> u32 {
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
        .find(|len| dimension.is_multiple_of(*len) && dimension >= *len)
        .unwrap_or(1);
    u32::try_from(dimension / length).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(rows: usize, dimension: usize, options: &IndexOptions) -> IndexPlan {
        match plan(rows, dimension, options).unwrap() {
            Decision::Build(plan) => plan,
            other => panic!("expected a build, got {other:?}"),
        }
    }

    #[test]
    fn partitions_follow_the_square_root_but_never_outrun_the_data() {
        assert_eq!(ivf_partitions(20_000), 128); // √ = 141 → 128
        assert_eq!(ivf_partitions(100_000), 256); // √ = 316 → 256
        assert_eq!(ivf_partitions(10_000_000), MAX_PARTITIONS);
        assert_eq!(ivf_partitions(1_000), 16); // √ = 32, but 1000 / 40 = 25 → 16
        assert_eq!(ivf_partitions(100), 2);
        assert_eq!(ivf_partitions(10), 1);
        assert_eq!(ivf_partitions(0), 1);
        for rows in [1, 50, 333, 4_000, 65_000, 3_000_000] {
            let p = ivf_partitions(rows);
            assert!(p.is_power_of_two() && p <= MAX_PARTITIONS, "{rows} → {p}");
            assert!(p == 1 || p as usize * MIN_ROWS_PER_PARTITION <= rows, "{rows} → {p}");
        }
    }

    #[test]
    fn hnsw_partitions_hold_many_rows_each() {
        assert_eq!(partitions_for(IndexKind::IvfHnswSq, 20_000), 1);
        assert_eq!(partitions_for(IndexKind::IvfHnswSq, 100_000), 4);
        assert_eq!(partitions_for(IndexKind::IvfHnswSq, 1 << 40), MAX_PARTITIONS);
        assert_eq!(partitions_for(IndexKind::IvfFlat, 20_000), 128);
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
        let decision = plan(AUTO_INDEX_MIN_ROWS - 1, 384, &IndexOptions::default()).unwrap();
        assert!(matches!(decision, Decision::Exact { ref reason } if reason.contains("exact search")));
        assert!(matches!(plan(AUTO_INDEX_MIN_ROWS, 384, &IndexOptions::default()).unwrap(), Decision::Build(_)));
        let none = IndexOptions { requested: Requested::Exact, ..Default::default() };
        assert!(matches!(plan(5, 384, &none).unwrap(), Decision::Exact { .. }));
    }

    #[test]
    fn small_tables_get_small_codebooks_and_few_partitions() {
        let small = build(100, 384, &IndexOptions::of_kind(IndexKind::IvfPq));
        assert_eq!((small.num_partitions, small.num_bits), (2, Some(PQ_BITS_SMALL)));
        let large = build(20_000, 768, &IndexOptions::of_kind(IndexKind::IvfPq));
        assert_eq!((large.num_partitions, large.num_bits), (128, Some(PQ_BITS)));
        assert!(matches!(plan(0, 8, &IndexOptions::of_kind(IndexKind::IvfFlat)), Err(StoreError::IndexFailed { .. })));
        // Issue 13, item 5: refused by the plan, before LanceDB commits an empty index.
        let eight_bits = IndexOptions { num_bits: Some(8), ..IndexOptions::of_kind(IndexKind::IvfPq) };
        assert!(matches!(plan(255, 8, &eight_bits), Err(StoreError::IndexFailed { .. })));
        assert!(matches!(plan(256, 8, &eight_bits), Ok(Decision::Build(_))));
    }

    #[test]
    fn given_parameters_override_and_partitions_must_fit_the_rows() {
        let options = IndexOptions {
            num_partitions: Some(4),
            num_sub_vectors: Some(16),
            num_bits: Some(4),
            ..IndexOptions::of_kind(IndexKind::IvfPq)
        };
        let given = build(5_000, 384, &options);
        assert_eq!((given.num_partitions, given.num_sub_vectors, given.num_bits), (4, Some(16), Some(4)));
        let too_many = IndexOptions { num_partitions: Some(5_001), ..IndexOptions::of_kind(IndexKind::IvfFlat) };
        assert!(matches!(plan(5_000, 384, &too_many), Err(StoreError::InvalidArgument { .. })));
        let auto_small = IndexOptions { num_partitions: Some(4), ..Default::default() };
        assert!(matches!(plan(2, 384, &auto_small), Err(StoreError::InvalidArgument { .. })));
    }
}
