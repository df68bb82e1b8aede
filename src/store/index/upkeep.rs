//! Background upkeep policy: after writes (and at open), whether to build the first index, fold
//! unindexed rows into the existing one, or rebuild it because the table outgrew its partitions.
//! A pure decision; `store/maintenance.rs` runs it.

use super::plan::{self, AUTO_INDEX_MIN_ROWS};
use super::{IndexKind, IndexShape};

/// Unindexed rows (searched exactly) after which background upkeep folds them into the index…
pub const AUTO_FOLD_MIN_ROWS: usize = 2_000;
/// …or this share of the indexed rows, whichever is larger.
pub const AUTO_FOLD_FRACTION: f64 = 0.05;
/// Background upkeep rebuilds an index once its kind's partition rule asks for this many times its
/// partitions (for the √ rule, the table has grown about this factor squared since the build).
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
        Some(c)
            if c.unindexed_rows >= AUTO_FOLD_MIN_ROWS.max((c.indexed_rows as f64 * AUTO_FOLD_FRACTION) as usize) =>
        {
            Upkeep::Fold
        }
        Some(_) => Upkeep::Nothing,
    }
}

/// Whether a plan of `shape`'s kind for `rows` rows would give it `AUTO_REBUILD_GROWTH` times its
/// partitions. The same rule as planning (`plan::partitions_for`), so an index just built is never outgrown.
fn outgrown(rows: usize, shape: IndexShape) -> bool {
    plan::partitions_for(shape.kind, rows) >= shape.num_partitions.saturating_mul(AUTO_REBUILD_GROWTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upkeep_builds_at_the_crossover_folds_new_rows_and_rebuilds_after_growth() {
        assert_eq!(decide(AUTO_INDEX_MIN_ROWS - 1, None), Upkeep::Nothing);
        assert_eq!(decide(AUTO_INDEX_MIN_ROWS, None), Upkeep::Build(None));
        let shape = IndexShape { kind: IndexKind::IvfPq, num_partitions: plan::ivf_partitions(20_000) };
        let current =
            |indexed, unindexed, ours| Some(Current { shape, ours, indexed_rows: indexed, unindexed_rows: unindexed });
        assert_eq!(decide(20_500, current(20_000, 500, true)), Upkeep::Nothing);
        assert_eq!(decide(22_000, current(20_000, 2_000, true)), Upkeep::Fold);
        assert_eq!(decide(80_000, current(20_000, 60_000, true)), Upkeep::Build(Some(IndexKind::IvfPq)));
        assert_eq!(decide(80_000, current(20_000, 60_000, false)), Upkeep::Fold); // not ours: never rebuilt
    }

    /// Issue 12, defect 1: the auto kind (`ivf_hnsw_sq`) was compared with the √ rule, so every write
    /// after the first build asked for a rebuild. For every kind, an index just planned for `rows` is
    /// kept (and folded) as the table grows a little, and rebuilt only once its own rule doubles.
    #[test]
    fn an_index_is_kept_until_its_own_partition_rule_doubles_for_every_kind() {
        for kind in IndexKind::ALL {
            for rows in [AUTO_INDEX_MIN_ROWS, 20_000, 100_000] {
                let shape = IndexShape { kind, num_partitions: plan::partitions_for(kind, rows) };
                let current =
                    |unindexed| Some(Current { shape, ours: true, indexed_rows: rows, unindexed_rows: unindexed });
                assert_eq!(decide(rows, current(0)), Upkeep::Nothing, "{kind:?} at {rows}");
                assert_eq!(decide(rows + 1, current(1)), Upkeep::Nothing, "{kind:?} at {rows} + 1");
                let fold = AUTO_FOLD_MIN_ROWS.max(rows / 20);
                assert_eq!(decide(rows + fold, current(fold)), Upkeep::Fold, "{kind:?} at {rows} + {fold}");
                let grown =
                    (rows..).step_by(1_000).find(|&r| plan::partitions_for(kind, r) >= 2 * shape.num_partitions);
                let grown = grown.expect("partitions grow with rows");
                assert_eq!(
                    decide(grown, current(grown - rows)),
                    Upkeep::Build(Some(kind)),
                    "{kind:?} from {rows} to {grown}"
                );
                assert_eq!(
                    decide(grown - 1_000, current(0)),
                    Upkeep::Nothing,
                    "{kind:?} from {rows} to {}",
                    grown - 1_000
                );
            }
        }
    }
}
