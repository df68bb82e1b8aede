//! Where an `s3://` store keeps its graph and vector files on this host (`storage.cacheDir`): one
//! directory per store (server endpoint and URL) under the cache root, so every process of the host
//! maps the same files and a restart finds them instead of rebuilding the graph. The root is the user's
//! `cacheDir`, else `LANCESTORE_CACHE_DIR`, else the platform's cache directory (`$XDG_CACHE_HOME`,
//! `~/.cache`, `~/Library/Caches`, `%LOCALAPPDATA%`) + `lancestore`. Local stores keep these files
//! beside the table instead; `memory://` stores keep none.

use std::path::{Path, PathBuf};

/// The user's `storage.cacheDir`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// Not given: the default root (`default_root`).
    #[default]
    Default,
    /// `false`: no files; every process builds its own graph in memory.
    Off,
    /// A directory given by the user.
    At(String),
}

/// The directory a store's files go to, and whether the user named its root (a root they named must be
/// usable: the open fails if it cannot be created; a default one that cannot is simply not used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// This store's directory under the root.
    pub dir: PathBuf,
    /// The user named the root.
    pub explicit: bool,
}

/// Environment variable naming the default cache root (containers, tests).
pub const ENV_ROOT: &str = "LANCESTORE_CACHE_DIR";

/// The entry of the store at `uri` on the server `endpoint` (AWS when `None`), under `choice`'s root.
pub fn entry(choice: &CacheDir, endpoint: Option<&str>, uri: &str) -> Option<CacheEntry> {
    let (root, explicit) = match choice {
        CacheDir::Off => return None,
        CacheDir::At(dir) => (PathBuf::from(dir), true),
        CacheDir::Default => (default_root()?, false),
    };
    Some(CacheEntry { dir: root.join(entry_name(endpoint, uri)), explicit })
}

/// The default root: `LANCESTORE_CACHE_DIR`, else the platform's cache directory + `lancestore`, else the
/// temporary directory's `lancestore-cache`.
pub fn default_root() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(root) = var(ENV_ROOT) {
        return Some(root);
    }
    let platform = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|home| home.join("Library").join("Caches"))
    } else {
        var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))
    };
    Some(platform.map_or_else(|| std::env::temp_dir().join("lancestore-cache"), |dir| dir.join("lancestore")))
}

/// A store's directory name: readable (`s3-<bucket>-<prefix>`, cut short) and unique (a hash of the endpoint
/// and the URL, so one bucket name on two servers gets two directories).
fn entry_name(endpoint: Option<&str>, uri: &str) -> String {
    let readable: String = uri
        .trim_start_matches("s3://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') { c } else { '_' })
        .take(80)
        .collect();
    let identity = format!("{}\n{uri}", endpoint.unwrap_or("aws"));
    format!("s3-{readable}-{:016x}", fnv1a(identity.as_bytes()))
}

/// FNV-1a, 64 bits: a hash that never changes between builds or Rust versions (directory names must not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Creates `entry`'s directory. `Ok(None)` when a default root cannot be used (the store then works
/// without files, as before); an unusable root the user named is an error.
pub fn prepare(entry: CacheEntry) -> std::io::Result<Option<CacheEntry>> {
    match std::fs::create_dir_all(&entry.dir).and_then(|()| probe(&entry.dir)) {
        Ok(()) => Ok(Some(entry)),
        Err(_) if !entry.explicit => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether files can be written in `dir` (root ignores permission bits, so write one).
fn probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".lancestore-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_gets_its_own_readable_directory_under_the_root() {
        let at = CacheDir::At("/cache".into());
        let one = entry(&at, Some("http://127.0.0.1:9000"), "s3://bucket-a/some/prefix").unwrap();
        assert!(one.explicit);
        let name = one.dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("s3-bucket-a_some_prefix-"), "{name}");
        assert_eq!(one.dir.parent(), Some(Path::new("/cache")));
        assert_eq!(entry(&at, Some("http://127.0.0.1:9000"), "s3://bucket-a/some/prefix"), Some(one.clone()));
        for (endpoint, uri) in
            [(None, "s3://bucket-a/some/prefix"), (Some("http://127.0.0.1:9000"), "s3://bucket-a/some")]
        {
            assert_ne!(entry(&at, endpoint, uri).unwrap().dir, one.dir, "{endpoint:?} {uri}");
        }
        assert_eq!(entry(&CacheDir::Off, None, "s3://b/p"), None);
        assert_eq!(fnv1a(b"lancestore"), 0xe5b9_62fc_f8b4_bf15, "the hash must never change");
    }

    #[test]
    fn an_unusable_default_root_is_skipped_and_a_named_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let under_file = file.join("entry");
        assert_eq!(prepare(CacheEntry { dir: under_file.clone(), explicit: false }).unwrap(), None);
        assert!(prepare(CacheEntry { dir: under_file, explicit: true }).is_err());
        let fine = CacheEntry { dir: dir.path().join("root").join("entry"), explicit: true };
        assert_eq!(prepare(fine.clone()).unwrap(), Some(fine.clone()));
        assert!(fine.dir.is_dir());
        assert_eq!(std::fs::read_dir(&fine.dir).unwrap().count(), 0, "the probe is removed");
    }
}
