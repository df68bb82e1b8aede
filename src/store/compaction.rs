//! Which fragments a compaction may merge: size tiers, so settled data is left alone. LanceDB's own
//! rule makes every fragment under `target_rows_per_fragment` (1 Mi rows) a candidate, so a table under
//! a million rows was rewritten whole by each compaction (new fragment ids, new row addresses). Here a
//! fragment is settled — excluded from the plan — when it holds more live rows than every newer
//! fragment together and at least `SETTLED_MIN_ROWS`: only a run of recent small fragments is merged,
//! into one about the size of their sum. Fragments grow in tiers, so each row is rewritten about
//! log₂(table ÷ batch) times over its life rather than at every compaction. A fragment with enough
//! deleted rows to be worth cleaning is never settled (LanceDB then rewrites it without them).

use lancedb::table::CompactionOptions;

use super::error::{Result, StoreError};

/// Fragments smaller than this are always merged with their neighbours.
pub const SETTLED_MIN_ROWS: usize = 1_024;
/// Share of deleted rows from which a fragment is rewritten without them (LanceDB's default).
const MATERIALIZE_DELETIONS_SHARE: f64 = 0.1;

/// One fragment as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentRows {
    /// Its id.
    pub id: u32,
    /// Rows in its files.
    pub physical: usize,
    /// Rows deleted from it.
    pub deleted: usize,
}

/// The ids of the settled fragments among `fragments` (in table order, oldest first).
pub fn settled(fragments: &[FragmentRows]) -> Vec<u32> {
    let mut newer = 0usize;
    let mut settled = Vec::new();
    for fragment in fragments.iter().rev() {
        let live = fragment.physical.saturating_sub(fragment.deleted);
        let dirty =
            fragment.physical > 0 && fragment.deleted as f64 >= MATERIALIZE_DELETIONS_SHARE * fragment.physical as f64;
        if !dirty && live >= SETTLED_MIN_ROWS && live > newer {
            settled.push(fragment.id);
        }
        newer = newer.saturating_add(live);
    }
    settled.reverse();
    settled
}

/// Compaction options for `table` at its latest version: LanceDB's defaults with the settled
/// fragments excluded.
pub async fn options(table: &lancedb::Table) -> Result<CompactionOptions> {
    let Some(wrapper) = table.dataset() else { return Ok(CompactionOptions::default()) };
    let dataset = wrapper.get().await.map_err(StoreError::lance("reading the table's fragments"))?;
    let fragments: Vec<FragmentRows> = dataset
        .fragments()
        .iter()
        .filter_map(|f| {
            Some(FragmentRows {
                id: u32::try_from(f.id).ok()?,
                physical: f.physical_rows?,
                deleted: f.deletion_file.as_ref().and_then(|d| d.num_deleted_rows).unwrap_or(0),
            })
        })
        .collect();
    Ok(CompactionOptions { excluded_fragment_ids: settled(&fragments), ..CompactionOptions::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sizes: &[usize]) -> Vec<FragmentRows> {
        sizes.iter().enumerate().map(|(i, &physical)| FragmentRows { id: i as u32, physical, deleted: 0 }).collect()
    }

    #[test]
    fn a_large_settled_fragment_is_left_alone_while_small_new_ones_merge() {
        let mut table = vec![20_000];
        table.extend([1; 100]);
        assert_eq!(settled(&rows(&table)), vec![0]);
    }

    #[test]
    fn small_fragments_are_never_settled() {
        assert!(settled(&rows(&[1_000, 10, 10])).is_empty());
    }

    #[test]
    fn a_fragment_no_larger_than_the_newer_ones_together_is_not_settled() {
        // 1,200 > 600 + 10 stays; 1,500 ≤ 1,810 does not; 20,000 > 3,310 stays.
        assert_eq!(settled(&rows(&[20_000, 1_500, 1_200, 600, 10])), vec![0, 2]);
        // The newest large fragment (a fresh import) is left alone.
        assert_eq!(settled(&rows(&[5, 50_000])), vec![1]);
    }

    #[test]
    fn a_fragment_with_many_deleted_rows_is_rewritten() {
        let mut fragments = rows(&[20_000, 5]);
        fragments[0].deleted = 2_500;
        assert!(settled(&fragments).is_empty());
        fragments[0].deleted = 100;
        assert_eq!(settled(&fragments), vec![0]);
    }

    /// Simulated single-row commits with a compaction every 100: each row is rewritten a few times over
    /// the run, not once per compaction (which rewrote the whole table each time).
    #[test]
    fn rows_are_rewritten_a_logarithmic_number_of_times() {
        let mut fragments: Vec<usize> = vec![20_000];
        let mut rewritten = 0usize;
        let commits = 10_000;
        for commit in 1..=commits {
            fragments.push(1);
            if commit % 100 == 0 {
                let listed = rows(&fragments);
                let keep: Vec<u32> = settled(&listed);
                // Merge each maximal run of unsettled fragments (as LanceDB's planner bins them).
                let mut next = Vec::new();
                let mut run = 0usize;
                let mut run_len = 0usize;
                for f in &listed {
                    if keep.contains(&f.id) {
                        if run_len > 1 {
                            rewritten += run;
                        }
                        if run_len > 0 {
                            next.push(run);
                        }
                        next.push(f.physical);
                        (run, run_len) = (0, 0);
                    } else {
                        run += f.physical;
                        run_len += 1;
                    }
                }
                if run_len > 1 {
                    rewritten += run;
                }
                if run_len > 0 {
                    next.push(run);
                }
                fragments = next;
            }
        }
        let per_row = rewritten as f64 / commits as f64;
        assert!(per_row < 16.0, "each added row was rewritten {per_row:.1} times");
        assert!(fragments.len() < 40, "{} fragments", fragments.len());
        assert_eq!(fragments.iter().sum::<usize>(), 20_000 + commits);
    }
}
