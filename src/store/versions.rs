//! Table versions: `versions` lists the ones LanceDB keeps (newest first, with their row counts) and
//! `restore` makes an older one the latest again, as a new commit (nothing is rewritten or lost: the
//! versions after it stay in the history until pruned). The resident copy, the graph and the query
//! cache follow the new commit as they follow any other.

use std::time::Instant;

use super::activity::Write;
use super::error::{Result, StoreError};
use super::{Handles, Store};

/// Versions listed when the caller does not say how many.
pub const DEFAULT_VERSIONS_LISTED: usize = 100;

/// One kept table version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    /// The version number.
    pub version: u64,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Rows stored at that version.
    pub rows: usize,
}

impl Store {
    /// The `limit` newest kept versions (default `DEFAULT_VERSIONS_LISTED`), newest first. Each listed
    /// version's row count is read from its manifest (no data files are scanned).
    pub async fn versions(&self, limit: Option<usize>) -> Result<Vec<VersionInfo>> {
        let handles = self.handles()?;
        let limit = limit.unwrap_or(DEFAULT_VERSIONS_LISTED);
        if limit == 0 {
            return Err(StoreError::invalid("options.limit", "it must be at least 1"));
        }
        let mut listed = handles.table.list_versions().await.map_err(StoreError::lance("listing versions"))?;
        listed.sort_by_key(|v| std::cmp::Reverse(v.version));
        listed.truncate(limit);
        let reader = own_handle(&handles).await?;
        let mut versions = Vec::with_capacity(listed.len());
        for version in listed {
            reader.checkout(version.version).await.map_err(StoreError::lance("reading a version"))?;
            let rows = reader.count_rows(None).await.map_err(StoreError::lance("counting a version's rows"))?;
            versions.push(VersionInfo {
                version: version.version,
                timestamp_ms: version.timestamp.timestamp_millis(),
                rows,
            });
        }
        Ok(versions)
    }

    /// Makes `version` the latest again by committing its contents as a new version; resolves that
    /// new version. A version that is not kept (pruned, or never made) is refused.
    pub async fn restore(&self, version: u64) -> Result<u64> {
        let handles = self.handles()?;
        let started = Instant::now();
        let writing = self.lock_writes(&handles).await?;
        let kept = handles.table.list_versions().await.map_err(StoreError::lance("listing versions"))?;
        if !kept.iter().any(|v| v.version == version) {
            let oldest = kept.iter().map(|v| v.version).min().unwrap_or(0);
            return Err(StoreError::invalid(
                "version",
                format!(
                    "version {version} is not kept (the oldest kept is {oldest}; older ones were pruned by optimize, and \
                     newer ones than the latest do not exist)"
                ),
            ));
        }
        // On a handle of its own: a checkout on the shared one would show the old version to every
        // other call of this process until the restore commits.
        let restorer = own_handle(&handles).await?;
        restorer.checkout(version).await.map_err(StoreError::lance("checking out the version to restore"))?;
        restorer.restore().await.map_err(StoreError::lance("restoring a version"))?;
        let restored = restorer.version().await.map_err(StoreError::lance("reading the restored version"))?;
        drop(writing);
        self.committed(&handles, Write::Restore, restored, started).await;
        Ok(restored)
    }
}

/// A new handle of the store's table, separate from the one every call shares.
async fn own_handle(handles: &Handles) -> Result<lancedb::Table> {
    handles
        .shared
        .connection
        .open_table(handles.table.name())
        .execute()
        .await
        .map_err(StoreError::lance("opening the table"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, options, path};
    use crate::store::{DeleteTarget, SearchRequest};

    #[tokio::test]
    async fn lists_versions_and_restores_one_as_a_new_commit() -> Result<()> {
        for resident_memory_mb in [None, Some(0.0)] {
            let dir = tempfile::tempdir().unwrap();
            let store =
                Store::open(&path(&dir), crate::store::OpenOptions { resident_memory_mb, ..options(2) }).await?;
            store.add(vec![item("a", &[1.0, 0.0]), item("b", &[0.0, 1.0])]).await?;
            let good = store.version().await?;
            store.add(vec![item("c", &[0.7, 0.7])]).await?;
            store.delete(DeleteTarget::Ids(vec!["a".into()])).await?;
            let bad = store.version().await?;
            let listed = store.versions(None).await?;
            assert_eq!(listed[0].version, bad, "newest first");
            assert_eq!(listed.iter().find(|v| v.version == good).unwrap().rows, 2);
            assert_eq!(listed[0].rows, 2);
            assert_eq!(listed.iter().find(|v| v.version == good + 1).unwrap().rows, 3);
            assert!(listed.windows(2).all(|w| w[0].timestamp_ms >= w[1].timestamp_ms));
            assert_eq!(store.versions(Some(2)).await?.len(), 2);

            // Search once so the cache holds an answer at `bad`; after the restore it must not be served.
            let ids = |hits: &[crate::store::Hit]| hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&store.search(&[1.0, 0.0], &SearchRequest::default()).await?), ["c", "b"]);
            let restored = store.restore(good).await?;
            assert_eq!(restored, bad + 1);
            assert_eq!(store.version().await?, restored);
            assert_eq!(ids(&store.search(&[1.0, 0.0], &SearchRequest::default()).await?), ["a", "b"]);
            assert!(store.get(vec!["c".into()]).await?[0].is_none());
            assert_eq!(store.count(None).await?, 2);
            // History is kept: the restored-over version can be restored back.
            store.restore(bad).await?;
            assert_eq!(ids(&store.search(&[1.0, 0.0], &SearchRequest::default()).await?), ["c", "b"]);

            let err = store.restore(bad + 100).await.unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT");
            assert!(err.to_string().contains("not kept"), "{err}");
            store.close().await?;
        }
        Ok(())
    }
}
