//! Following a compaction without re-reading it. A compaction commits a `Rewrite`: groups of old
//! fragments replaced by new ones holding the same live rows in the same order, under new row
//! addresses. When the copy holds the version just before, it re-points its slots to the new addresses
//! (`Columns::follow_rewrite`) and the graph renames its keys, instead of dropping the rows, reading
//! them back and adding them to the graph again. Any mismatch (a fragment the copy holds differently,
//! a row count that does not add up, a version pruned in between) leaves the copy as it was, and the
//! ordinary catch-up (`sync.rs`) re-reads the rewritten fragments.

use lance::Dataset;
use lance::dataset::transaction::Operation;

use super::columns::FragmentIdentity;
use super::sync::identity;

/// Versions after the copy's own whose transactions are read to look for a compaction.
const LOOKAHEAD: u64 = 16;

/// One rewrite group: the old fragments (id, what the copy must hold for it) and the new ones
/// (id, identity, rows), in order.
#[derive(Debug, Clone)]
pub struct Group {
    /// The fragments replaced.
    pub old: Vec<(u64, FragmentIdentity)>,
    /// The fragments written, with their row counts.
    pub new: Vec<(u64, FragmentIdentity, usize)>,
}

/// The first compaction committed after version `after` (looking at most `LOOKAHEAD` versions ahead,
/// up to `latest`): its version and groups. `None` when there is none, or a version's transaction cannot
/// be read (pruned) or a group's row counts are not recorded.
pub async fn find(dataset: &Dataset, after: u64, latest: u64) -> Option<(u64, Vec<Group>)> {
    let last = latest.min(after.saturating_add(LOOKAHEAD));
    for version in after + 1..=last {
        // A version pruned meanwhile (its manifest is gone) cannot be followed: the ordinary catch-up then
        // re-reads the rewritten fragments, and reports any real I/O failure itself.
        let Ok(Some(transaction)) = dataset.read_transaction_by_version(version).await else { return None };
        if let Operation::Rewrite { groups, .. } = &transaction.operation {
            let groups = groups
                .iter()
                .map(|group| {
                    let new = group
                        .new_fragments
                        .iter()
                        .map(|f| Some((f.id, identity(f), f.physical_rows?)))
                        .collect::<Option<Vec<_>>>()?;
                    Some(Group { old: group.old_fragments.iter().map(|f| (f.id, identity(f))).collect(), new })
                })
                .collect::<Option<Vec<_>>>();
            return groups.map(|groups| (version, groups));
        }
    }
    None
}
