//! Shared handles: one LanceDB connection per directory (and read-consistency setting) per process,
//! one open table handle per table on that connection, and one pair of locks and one resident copy per
//! table, shared by every `Store` opened on them. LanceDB tracks what a handle has seen per handle, so sharing it is
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
}

/// The resident copy of each table by (canonical directory or URL, table name), with the number of open
/// stores leasing it: the entry goes when the last of them closes, so the copy and its graph are freed then
/// (other tables' stores do not keep it), and a store opened later starts from the table afresh.
type ResidentsByTable = HashMap<(String, String), (Arc<Resident>, usize)>;

static RESIDENTS: LazyLock<Mutex<ResidentsByTable>> = LazyLock::new(Default::default);

/// An open store's claim on its table's resident copy; dropped when the store closes.
pub struct ResidentLease {
    key: (String, String),
}

impl Drop for ResidentLease {
    fn drop(&mut self) {
        let mut residents = RESIDENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, leases)) = residents.get_mut(&self.key) {
            *leases = leases.saturating_sub(1);
            if *leases == 0 {
                residents.remove(&self.key);
            }
        }
    }
}

/// The resident copy of `table` at `location`, made by `make` for the first store that asks, and that
/// store's lease on it. One per table in the process, whatever connection (read-consistency setting) a
/// store uses: the copy is tagged with its version, and each store answers from it only at the version its
/// own handle reads.
pub fn resident(location: &Location, table: &str, make: impl FnOnce() -> Resident) -> (Arc<Resident>, ResidentLease) {
    let mut residents = RESIDENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (location.display(), table.to_owned());
    let entry = residents.entry(key.clone()).or_insert_with(|| (Arc::new(make()), 0));
    entry.1 += 1;
    (Arc::clone(&entry.0), ResidentLease { key })
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
        Location::ObjectStore { .. } | Location::Memory(_) => None,
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

/// Whether a store of this process has `table` at `location` (canonical) open.
pub fn table_in_use(location: &Location, table: &str) -> bool {
    let locks = TABLE_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.get(&(location.display(), table.to_owned())).is_some_and(|weak| weak.strong_count() > 0)
}

/// The file the cross-process write lock of `table` is taken on.
pub fn lock_file_path(dir: &Path, table: &str) -> std::path::PathBuf {
    dir.join(format!(".lancestore-{table}.lock"))
}

/// Opens (creating it if needed) the file the cross-process write lock is taken on.
fn lock_file(dir: &Path, table: &str) -> Result<std::fs::File> {
    let file = lock_file_path(dir, table);
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

/// One connection's place in `CONNECTIONS`: the async lock serialises connecting to that key only, so a
/// slow endpoint (an `s3://` connect retries for up to its timeout) never holds up opens of other stores.
type Slot = Arc<tokio::sync::Mutex<Weak<Shared>>>;

/// Open connections by key; weak, so dropping the last store closes one. The map's own lock is a
/// std mutex held only to find or add a slot, never across an await.
static CONNECTIONS: LazyLock<Mutex<HashMap<Key, Slot>>> = LazyLock::new(Default::default);

/// The shared connection for `location` (canonical), connecting if no store holds one.
/// `read_consistency` zero makes every read check the latest committed version (~8 µs on local disk,
/// a request on object storage), so writes from other processes or other connections are always
/// seen; larger values allow that much lag.
pub async fn connect(location: &Location, read_consistency: Duration) -> Result<Arc<Shared>> {
    let memory_uri;
    let (uri, options) = match location {
        Location::Local(dir) => {
            (dir.to_str().ok_or_else(|| StoreError::invalid("path", "the path is not valid UTF-8"))?, None)
        }
        Location::ObjectStore { uri, options, .. } => (uri.as_str(), Some(options)),
        Location::Memory(_) => {
            memory_uri = location.display();
            (memory_uri.as_str(), None)
        }
    };
    let mut sorted_options: Vec<(String, String)> =
        options.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    sorted_options.sort();
    let key = (uri.to_owned(), read_consistency, sorted_options);
    shared_for(key, async {
        let session = lancedb::Session::new(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES, Arc::default());
        let mut builder = lancedb::connect(uri).session(Arc::new(session)).read_consistency_interval(read_consistency);
        if let Some(options) = options {
            builder = builder.storage_options(options.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let connection = builder.execute().await.map_err(remote_error::classify("connecting to the store"))?;
        Ok(Shared { connection, tables: tokio::sync::Mutex::default() })
    })
    .await
}

/// The live connection for `key`, or the one `connect` makes. Two opens of one key wait for each other
/// (one connection, not two); opens of other keys do not wait. A caller dropped while connecting leaves
/// the slot empty for the next one.
async fn shared_for(key: Key, connect: impl Future<Output = Result<Shared>>) -> Result<Arc<Shared>> {
    let slot = {
        let mut slots = CONNECTIONS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Drop slots nobody waits on whose connection is gone (a slot being connected is locked: kept).
        slots.retain(|_, slot| Arc::strong_count(slot) > 1 || slot.try_lock().map_or(true, |w| w.strong_count() > 0));
        Arc::clone(slots.entry(key).or_default())
    };
    let mut held = slot.lock().await;
    if let Some(shared) = held.upgrade() {
        return Ok(shared);
    }
    let shared = Arc::new(connect.await?);
    *held = Arc::downgrade(&shared);
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path) -> Key {
        (dir.display().to_string(), Duration::ZERO, Vec::new())
    }

    async fn local(dir: &Path) -> Result<Shared> {
        let connection = lancedb::connect(dir.to_str().unwrap()).execute().await.unwrap();
        Ok(Shared { connection, tables: tokio::sync::Mutex::default() })
    }

    #[tokio::test]
    async fn a_connect_that_hangs_does_not_hold_up_other_stores() -> Result<()> {
        let (slow, fast) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // A connect that never finishes (an unresponsive endpoint), holding its key's slot.
        let stuck = tokio::spawn(shared_for(key(slow.path()), std::future::pending()));
        tokio::task::yield_now().await;
        let opened = tokio::time::timeout(Duration::from_secs(30), shared_for(key(fast.path()), local(fast.path())))
            .await
            .expect("the second open waited for the hanging one")?;
        // The same key again shares the connection instead of making a second one.
        let again = shared_for(key(fast.path()), std::future::pending()).await?;
        assert!(Arc::ptr_eq(&opened, &again));
        stuck.abort();
        Ok(())
    }

    /// Issue 26, item 7: the copy was held by the connection for as long as any store on the directory was
    /// open, and stores with another read-consistency setting (another connection) made a second copy.
    #[test]
    fn one_copy_per_table_freed_with_its_last_store() {
        use crate::store::metric::Metric;
        let location = Location::Local("/tmp/lancestore-registry-test".into());
        let made = std::sync::atomic::AtomicUsize::new(0);
        let make = || {
            made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Resident::new(4, Metric::Cosine, &Default::default(), 1 << 20, None)
        };
        let (first, first_lease) = resident(&location, "t", make);
        let (second, second_lease) = resident(&location, "t", make);
        assert!(Arc::ptr_eq(&first, &second), "one copy for both stores");
        let (other, _other_lease) = resident(&location, "u", make);
        assert!(!Arc::ptr_eq(&first, &other));
        let weak = Arc::downgrade(&first);
        drop((first, second, first_lease));
        assert!(weak.upgrade().is_some(), "kept while a store on the table is open");
        drop(second_lease);
        assert!(weak.upgrade().is_none(), "freed with the last store on the table, though table u is open");
        let (_again, _lease) = resident(&location, "t", make);
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_connect_dropped_midway_leaves_the_slot_usable() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let dropped =
            tokio::time::timeout(Duration::from_millis(20), shared_for(key(dir.path()), std::future::pending()));
        assert!(dropped.await.is_err());
        let shared = shared_for(key(dir.path()), local(dir.path())).await?;
        assert_eq!(Arc::strong_count(&shared), 1);
        Ok(())
    }
}
