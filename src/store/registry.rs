//! Shared handles: one LanceDB connection per directory per process, and one write lock per
//! table, shared by every `Store` opened on them. The last store to let go closes the connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use super::error::{Result, StoreError};

/// A LanceDB connection shared by the stores opened on one directory.
pub struct Shared {
    /// The open connection.
    pub connection: lancedb::Connection,
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    /// The lock that serialises writes to `table` from this process (checks for stored ids,
    /// then the commit, happen under it, so two stores cannot both insert the same id).
    pub fn write_lock(&self, table: &str) -> Result<Arc<tokio::sync::Mutex<()>>> {
        let mut locks = self.write_locks.lock().map_err(|_| StoreError::Internal("write-lock map poisoned".into()))?;
        Ok(Arc::clone(locks.entry(table.to_owned()).or_default()))
    }
}

/// Open connections by canonical directory; weak, so dropping the last store closes one.
/// A tokio mutex because connecting awaits, and two opens of one directory must not race.
static CONNECTIONS: LazyLock<tokio::sync::Mutex<HashMap<PathBuf, Weak<Shared>>>> = LazyLock::new(Default::default);

/// The shared connection for `dir` (a canonical path), connecting if no store holds one.
pub async fn connect(dir: &Path) -> Result<Arc<Shared>> {
    let mut connections = CONNECTIONS.lock().await;
    if let Some(shared) = connections.get(dir).and_then(Weak::upgrade) {
        return Ok(shared);
    }
    let uri = dir.to_str().ok_or_else(|| StoreError::invalid("path", "the path is not valid UTF-8"))?;
    // An interval of zero makes every read check the latest committed version (~8 µs),
    // so writes from other processes or other connections are always seen.
    let connection = lancedb::connect(uri)
        .read_consistency_interval(Duration::ZERO)
        .execute()
        .await
        .map_err(StoreError::lance("connecting to the store directory"))?;
    let shared = Arc::new(Shared { connection, write_locks: Mutex::default() });
    connections.retain(|_, weak| weak.strong_count() > 0);
    connections.insert(dir.to_owned(), Arc::downgrade(&shared));
    Ok(shared)
}

/// How many directories have a live shared connection (for tests and stats).
pub async fn open_connections() -> usize {
    CONNECTIONS.lock().await.values().filter(|weak| weak.strong_count() > 0).count()
}
