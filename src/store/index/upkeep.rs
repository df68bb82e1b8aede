//! Background upkeep policy: after writes (and at open), whether to build the first index, fold
//! unindexed rows into the existing one, or rebuild it because the table outgrew its partitions.
//! A pure decision; `store/maintenance.rs` runs it.

use super::plan::{self, AUTO_INDEX_MIN_ROWS};
use super::{IndexKind, IndexShape};

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
pub fn decide(rows: usize, current: Option<Current>) -> Upkeep {
    match current {
        None if rows >= AUTO_INDEX_MIN_ROWS => Upkeep::Build(None),
        None => Upkeep::Nothing,
        Some(c) if c.ours && outgrown(rows, c.shape) => Upkeep::Build(Some(c.shape.kind)),
        Some(c) if c.unindexed_rows >= AUTO_FOLD_MIN_ROWS.max((c.indexed_rows as f64 * AUTO_FOLD_FRACTION) as usize) => Upkeep::Fold,
        Some(_) => Upkeep::Nothing,
    }
}

/// Whether a plan for `rows` rows would give `shape`'s kind `AUTO_REBUILD_GROWTH` times its partitions.
fn outgrown(rows: usize, shape: IndexShape) -> bool {
    plan::ivf_partitions(rows) >= shape.num_partitions.saturating_mul(AUTO_REBUILD_GROWTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upkeep_builds_at_the_crossover_folds_new_rows_and_rebuilds_after_growth() {
        assert_eq!(decide(AUTO_INDEX_MIN_ROWS - 1, None), Upkeep::Nothing);
        assert_eq!(decide(AUTO_INDEX_MIN_ROWS, None), Upkeep::Build(None));
        let shape = IndexShape { kind: IndexKind::IvfPq, num_partitions: plan::ivf_partitions(20_000) };
        let current = |indexed, unindexed, ours| Some(Current { shape, ours, indexed_rows: indexed, unindexed_rows: unindexed });
        assert_eq!(decide(20_500, current(20_000, 500, true)), Upkeep::Nothing);
        assert_eq!(decide(22_000, current(20_000, 2_000, true)), Upkeep::Fold);
        assert_eq!(decide(80_000, current(20_000, 60_000, true)), Upkeep::Build(Some(IndexKind::IvfPq)));
        assert_eq!(decide(80_000, current(20_000, 60_000, false)), Upkeep::Fold); // not ours: never rebuilt
    }
}
