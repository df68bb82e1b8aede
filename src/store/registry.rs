//! Shared handles: one LanceDB connection per directory (and read-consistency setting) per process,
//! one open table handle per table on that connection, and one pair of locks per table, shared by
//! every `Store` opened on them. LanceDB tracks what a handle has seen per handle, so sharing it is
//! what lets a store see another store's write at once even when reads may lag other processes.
//! Held weakly here, so the last store to let go closes the connection.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use super::error::{Result, StoreError};
use super::location::Location;
use super::remote_error;
use super::resident::Resident;

/// A LanceDB connection shared by the stores opened on one directory.
pub struct Shared {
    /// The open connection.
    pub connection: lancedb::Connection,
    /// Table handles opened through it, by table name.
    tables: tokio::sync::Mutex<HashMap<String, lancedb::Table>>,
    /// The resident copy of each table, by table name (made by the first store that wants one).
    residents: Mutex<HashMap<String, Arc<Resident>>>,
}

impl Shared {
    /// The connection's handle of table `name`, opened (or first created by `create`) on first use.
    /// Opens and creates of one table in this process are serialised here.
    pub async fn table<F>(&self, name: &str, create: impl FnOnce() -> F) -> Result<lancedb::Table>
    where
        F: Future<Output = Result<lancedb::Table>>,
    {
        let mut tables = self.tables.lock().await;
        if let Some(table) = tables.get(name) {
            return Ok(table.clone());
        }
        let table = create().await?;
        tables.insert(name.to_owned(), table.clone());
        Ok(table)
    }

    /// The resident copy of table `name`, made by `make` for the first store that asks.
    pub fn resident(&self, name: &str, make: impl FnOnce() -> Resident) -> Arc<Resident> {
        let mut residents = self.residents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(residents.entry(name.to_owned()).or_insert_with(|| Arc::new(make())))
    }
}

/// The locks of one table, shared by every store on it in this process.
pub struct TableLocks {
    /// Serialises writes in this process (see `lock_writes`).
    write: tokio::sync::Mutex<()>,
    /// Serialises maintenance (compaction, vector-index builds) with each other, but not with
    /// writes: an index build takes seconds to minutes, and LanceDB merges it with concurrent appends.
    pub maintenance: tokio::sync::Mutex<()>,
    /// `.lancestore-<table>.lock` in the store directory: an advisory lock (flock) that serialises
    /// writers across processes. The kernel releases it when a process dies, so a crash never leaves
    /// the table locked. `None` on object storage, which has no such lock: there LanceDB's conditional
    /// commits keep concurrent writers from overwriting each other (see the README's Object storage).
    writers: Option<std::fs::File>,
}

/// Held while a write checks for stored ids and commits: no other writer of the table, in this
/// process or another on this machine, does the same meanwhile.
pub struct WriteLock<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    file: Option<&'a std::fs::File>,
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        // Unlocking an open, locked file cannot fail on the platforms we build for; were it to, the
        // kernel still releases the lock when the process exits.
        if let Some(file) = self.file {
            let _ = file.unlock();
        }
    }
}

/// How often a writer waiting for another process's write lock checks again.
const WRITE_LOCK_POLL: Duration = Duration::from_millis(2);

impl TableLocks {
    /// Takes the table's write lock: first among the stores of this process, then against other
    /// processes (polling `try_lock`, so a caller that stops waiting never leaves a lock behind).
    pub async fn lock_writes(&self) -> Result<WriteLock<'_>> {
        let local = self.write.lock().await;
        let Some(writers) = &self.writers else {
            return Ok(WriteLock { _local: local, file: None });
        };
        loop {
            match writers.try_lock() {
                Ok(()) => return Ok(WriteLock { _local: local, file: Some(writers) }),
                Err(std::fs::TryLockError::WouldBlock) => tokio::time::sleep(WRITE_LOCK_POLL).await,
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::io("locking the table for writing".to_owned(), &e));
                }
            }
        }
    }
}

/// The locks of each table by (canonical directory or URL, table name); weak, so the last store drops them.
type LocksByTable = HashMap<(String, String), Weak<TableLocks>>;

static TABLE_LOCKS: LazyLock<Mutex<LocksByTable>> = LazyLock::new(Default::default);

/// The locks of `table` at `location` (canonical), shared by every store on it.
pub fn table_locks(location: &Location, table: &str) -> Result<Arc<TableLocks>> {
    let mut locks = TABLE_LOCKS.lock().map_err(|_| StoreError::Internal("table-lock map poisoned".into()))?;
    let key = (location.display(), table.to_owned());
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let writers = match location {
        Location::Local(dir) => Some(lock_file(dir, table)?),
        Location::ObjectStore { .. } => None,
    };
    let lock = Arc::new(TableLocks {
        write: tokio::sync::Mutex::default(),
        maintenance: tokio::sync::Mutex::default(),
        writers,
    });
    locks.retain(|_, weak| weak.strong_count() > 0);
    locks.insert(key, Arc::downgrade(&lock));
    Ok(lock)
}

/// Opens (creating it if needed) the file the cross-process write lock is taken on.
fn lock_file(dir: &Path, table: &str) -> Result<std::fs::File> {
    let file = dir.join(format!(".lancestore-{table}.lock"));
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file)
        .map_err(|e| StoreError::io(format!("opening the write-lock file {file:?}"), &e))
}

/// LanceDB's index cache per connection: its own default (6 GiB), so large indexes stay in memory.
const INDEX_CACHE_BYTES: usize = 6 << 30;
/// LanceDB's metadata cache per connection (manifests, fragment and file metadata). LanceDB's default is
/// 1 GiB, and it fills with every small commit: measured over 1,800 five-row commits with searches, RSS
/// grew 209 MiB at 1 GiB and kept climbing, 117 MiB at 64 MiB and levelling off. Over 1,500 commits with
/// 10 searches each (and `memory::after_commit` trimming): +74 MiB at 64 MiB, +29 MiB at 32 MiB, +29 MiB
/// at 16 MiB after warm-up.
const METADATA_CACHE_BYTES: usize = 32 << 20;

/// A connection is shared by stores on the same directory or URL that ask for the same read consistency
/// (and, on object storage, give the same storage options).
type Key = (String, Duration, Vec<(String, String)>);

/// Open connections by canonical directory; weak, so dropping the last store closes one.
/// A tokio mutex because connecting awaits, and two opens of one directory must not race.
static CONNECTIONS: LazyLock<tokio::sync::Mutex<HashMap<Key, Weak<Shared>>>> = LazyLock::new(Default::default);

/// The shared connection for `location` (canonical), connecting if no store holds one.
/// `read_consistency` zero makes every read check the latest committed version (~8 µs on local disk,
/// a request on object storage), so writes from other processes or other connections are always
/// seen; larger values allow that much lag.
pub async fn connect(location: &Location, read_consistency: Duration) -> Result<Arc<Shared>> {
    let (uri, options) = match location {
        Location::Local(dir) => {
            (dir.to_str().ok_or_else(|| StoreError::invalid("path", "the path is not valid UTF-8"))?, None)
        }
        Location::ObjectStore { uri, options } => (uri.as_str(), Some(options)),
    };
    let mut sorted_options: Vec<(String, String)> =
        options.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    sorted_options.sort();
    let key = (uri.to_owned(), read_consistency, sorted_options);
    let mut connections = CONNECTIONS.lock().await;
    if let Some(shared) = connections.get(&key).and_then(Weak::upgrade) {
        return Ok(shared);
    }
    let session = lancedb::Session::new(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES, Arc::default());
    let mut builder = lancedb::connect(uri).session(Arc::new(session)).read_consistency_interval(read_consistency);
    if let Some(options) = options {
        builder = builder.storage_options(options.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let connection = builder.execute().await.map_err(remote_error::classify("connecting to the store"))?;
    let shared = Arc::new(Shared { connection, tables: tokio::sync::Mutex::default(), residents: Mutex::default() });
    connections.retain(|_, weak| weak.strong_count() > 0);
    connections.insert(key, Arc::downgrade(&shared));
    Ok(shared)
}
