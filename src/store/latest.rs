//! The table's latest version in constant time on local disk. With `readConsistencyIntervalMs: 0`
//! LanceDB answers "which version is latest?" by listing `_versions/` and parsing every entry, so the
//! check grows with the versions kept (1.2 ms with 3,000). A commit — by this process or another —
//! makes the manifest of the next version appear atomically (LanceDB writes it under a temporary name
//! and renames it), so when the manifest of the version last read still exists and the next one does
//! not, nothing was committed since: two `stat` calls answer. Anything else (a newer manifest, the
//! version's own manifest gone, no version read yet) asks LanceDB as before, so a search never reads an
//! older version than the last committed one.

use std::path::PathBuf;
use std::sync::Mutex;

use super::lock::lock;

/// How LanceDB names manifests (lance-table `ManifestNamingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// `_versions/{version}.manifest`
    V1,
    /// `_versions/{u64::MAX - version:020}.manifest`
    V2,
}

impl Naming {
    fn file(self, version: u64) -> String {
        match self {
            Self::V1 => format!("{version}.manifest"),
            Self::V2 => format!("{:020}.manifest", u64::MAX - version),
        }
    }
}

/// The last version read of one local table, and how to tell in O(1) whether it is still the latest.
pub struct LatestVersion {
    /// The table's `_versions` directory.
    versions: PathBuf,
    /// The version last read from LanceDB, with its manifests' naming (`None`: not known).
    known: Mutex<Option<(u64, Naming)>>,
}

impl LatestVersion {
    /// Watches the table whose directory is `table_dir` (`<store>/<table>.lance`).
    pub fn new(table_dir: PathBuf) -> Self {
        Self { versions: table_dir.join("_versions"), known: Mutex::new(None) }
    }

    /// The version last recorded, if nothing was committed after it (its manifest is there, the next
    /// one is not); `None` when LanceDB must be asked.
    pub fn unchanged(&self) -> Option<u64> {
        let (version, naming) = (*lock(&self.known))?;
        let exists = |v: u64| self.versions.join(naming.file(v)).exists();
        (!exists(version.checked_add(1)?) && exists(version)).then_some(version)
    }

    /// Records `version`, just read from LanceDB or just committed, learning its manifests' naming from the
    /// file that exists.
    pub fn record(&self, version: u64) {
        let naming = [Naming::V2, Naming::V1].into_iter().find(|n| self.versions.join(n.file(version)).exists());
        *lock(&self.known) = naming.map(|naming| (version, naming));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, options, path};
    use crate::store::{Result, Store};

    #[tokio::test]
    async fn sees_every_commit_and_answers_from_two_stats_in_between() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        let writer = Store::open(&path(&dir), options(2)).await?;
        let latest = LatestVersion::new(std::path::Path::new(&path(&dir)).join("embeddings.lance"));
        assert_eq!(latest.unchanged(), None, "nothing recorded yet");
        for i in 0..20 {
            let version = store.version().await?;
            latest.record(version);
            assert_eq!(latest.unchanged(), Some(version));
            writer.add(vec![item(&format!("x{i}"), &[1.0, i as f32])]).await?;
            assert_eq!(latest.unchanged(), None, "a commit after the recorded version is noticed");
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_commit_through_the_store_is_recorded_so_the_next_read_needs_no_listing() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        let other = Store::open(&path(&dir), options(2)).await?;
        let latest = store.latest.as_ref().expect("a local store checks versions in O(1)");
        for i in 0..5 {
            let added = store.add(vec![item(&format!("x{i}"), &[1.0, i as f32])]).await?;
            assert_eq!(
                latest.unchanged(),
                Some(added.version),
                "the store's own commit is known without asking LanceDB"
            );
            let deleted = store.delete(crate::store::DeleteTarget::Ids(vec![format!("x{i}")])).await?;
            assert_eq!(latest.unchanged(), Some(deleted.version));
        }
        other.add(vec![item("y", &[0.0, 1.0])]).await?;
        assert_eq!(latest.unchanged(), None, "another store's commit after it is noticed");
        assert_eq!(store.version().await?, other.version().await?);
        Ok(())
    }

    #[test]
    fn names_manifests_as_lance_does() {
        assert_eq!(Naming::V1.file(7), "7.manifest");
        assert_eq!(Naming::V2.file(1), "18446744073709551614.manifest");
        assert_eq!(Naming::V2.file(u64::MAX), "00000000000000000000.manifest");
    }
}
