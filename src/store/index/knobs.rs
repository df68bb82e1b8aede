//! Search-time knobs of an indexed search: what the user set, and the measured defaults (probes,
//! refine factor, HNSW `ef`) each index kind needs to reach its recall target.

use super::{IndexKind, IndexShape};

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
pub fn resolve(knobs: &Knobs, shape: IndexShape, limit: usize, exact_scores: bool) -> Resolved {
    let partitions = shape.num_partitions as usize;
    let default_nprobes =
        ((partitions as f64 * DEFAULT_PROBE_FRACTION).ceil() as usize).max(MIN_DEFAULT_NPROBES).min(partitions.max(1));
    let nprobes = knobs.nprobes.unwrap_or(default_nprobes);
    let refine_factor = knobs.refine_factor.or(match shape.kind {
        IndexKind::IvfPq => Some(DEFAULT_PQ_REFINE_FACTOR),
        IndexKind::IvfHnswSq if exact_scores => Some(THRESHOLD_REFINE_FACTOR),
        IndexKind::IvfHnswSq | IndexKind::IvfFlat => None,
    });
    let ef =
        (shape.kind == IndexKind::IvfHnswSq).then(|| knobs.ef.unwrap_or((limit * EF_PER_RESULT).max(MIN_DEFAULT_EF)));
    Resolved { nprobes, refine_factor, ef }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_default_per_kind_and_yield_to_the_user() {
        let pq = IndexShape { kind: IndexKind::IvfPq, num_partitions: 128 };
        let resolved = resolve(&Knobs::default(), pq, 10, false);
        assert_eq!(resolved.refine_factor, Some(DEFAULT_PQ_REFINE_FACTOR));
        assert_eq!(resolved.ef, None);
        assert!(resolved.nprobes >= MIN_DEFAULT_NPROBES && resolved.nprobes <= 128);
        let user = Knobs { nprobes: Some(3), refine_factor: Some(2), ef: Some(50), exact: false };
        assert_eq!(resolve(&user, pq, 10, true), Resolved { nprobes: 3, refine_factor: Some(2), ef: None });
        let hnsw = IndexShape { kind: IndexKind::IvfHnswSq, num_partitions: 2 };
        let resolved = resolve(&Knobs::default(), hnsw, 100, false);
        assert_eq!((resolved.nprobes, resolved.ef, resolved.refine_factor), (2, Some(100 * EF_PER_RESULT), None));
        assert_eq!(resolve(&Knobs::default(), hnsw, 10, true).refine_factor, Some(THRESHOLD_REFINE_FACTOR));
        let flat = IndexShape { kind: IndexKind::IvfFlat, num_partitions: 1024 };
        assert_eq!(resolve(&Knobs::default(), flat, 10, true).nprobes, 256);
    }
}
