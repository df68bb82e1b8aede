//! Files mapped read-only into memory, and usearch graphs viewed inside them. A mapped file's pages are
//! the operating system's page cache: every process mapping the same file shares one copy, the kernel
//! can drop clean pages under pressure and read them again, and opening costs no read of the file.
//!
//! Only files lancestore itself writes are mapped, and it writes them whole to a temporary file and
//! renames that into place (`sidecar.rs`): a mapped file's bytes never change, and a newer file is a
//! new inode the mapping does not see. What would break a mapping — another program truncating or
//! rewriting the file in place — is outside that contract (the process would get SIGBUS or read the
//! new bytes).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Whether files are mapped (and their pages shared between processes). On Windows a file that is
/// mapped cannot be replaced by a rename, which is how every process publishes a newer file, so there
/// the file is read into memory instead and nothing is shared.
pub const SHARES_PAGES: bool = cfg!(unix);

/// A file mapped read-only and shared (read into memory where mapping is off: `SHARES_PAGES`).
#[derive(Debug)]
pub struct MappedFile {
    #[cfg(unix)]
    map: memmap2::Mmap,
    #[cfg(not(unix))]
    map: Vec<u8>,
}

impl MappedFile {
    /// Maps the file at `path` (an empty file maps to no bytes).
    #[cfg(unix)]
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the mapping is read-only, and the files mapped here are written once and replaced by
        // rename, never changed in place (see the module's comment); the bytes are only read as `&[u8]`.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self { map })
    }

    /// Reads the file at `path` into memory.
    #[cfg(not(unix))]
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self { map: std::fs::read(path)? })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// A usearch index viewing a serialised graph inside a mapped file: its vectors and links are read from
/// the mapping (shared), only its key lookup and per-node offsets are built privately. It offers the
/// reading calls only: usearch refuses adds to a viewed index, but a key rename or removal would write
/// into the read-only mapping (SIGSEGV), so a caller that needs to change the graph loads a private copy
/// of `bytes()` instead.
pub struct ViewedIndex {
    // Declared before `file`, so it is dropped first: the index never outlives the bytes it points into.
    index: usearch::Index,
    file: Arc<MappedFile>,
    range: Range<usize>,
}

impl ViewedIndex {
    /// Makes `index` (created with the graph's options, its thread contexts reserved) view the graph
    /// serialised at `range` of `file`.
    pub fn view(index: usearch::Index, file: Arc<MappedFile>, range: Range<usize>) -> Result<Self, String> {
        let bytes = file.bytes().get(range.clone()).ok_or("the graph lies outside the file")?;
        // SAFETY: `bytes` borrow from `file`, which this value keeps alive for as long as `index` (dropped
        // first, by field order) and which is never modified (see `MappedFile::open`).
        unsafe { index.view_from_buffer(bytes) }.map_err(|e| e.to_string())?;
        Ok(Self { index, file, range })
    }

    /// The serialised graph viewed (to load a private copy from, or to save elsewhere).
    pub fn bytes(&self) -> &[u8] {
        self.file.bytes().get(self.range.clone()).unwrap_or_default()
    }

    /// Nodes held.
    pub fn size(&self) -> usize {
        self.index.size()
    }

    /// Bytes the view holds privately (its key lookup and offsets), not counting the mapping.
    pub fn memory_usage(&self) -> usize {
        self.index.memory_usage()
    }

    /// Vector length.
    pub fn dimensions(&self) -> usize {
        self.index.dimensions()
    }

    /// Neighbours per node.
    pub fn connectivity(&self) -> usize {
        self.index.connectivity()
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    /// Copies the vector at `key` into `vector`; how many vectors were found (0 or 1).
    pub fn get(&self, key: u64, vector: &mut [f32]) -> Result<usize, String> {
        self.index.get(key, vector).map_err(|e| e.to_string())
    }

    /// The `count` keys nearest `query`, those `accept` refuses skipped (walked through all the same).
    pub fn search(
        &self,
        query: &[f32],
        count: usize,
        accept: Option<&dyn Fn(u64) -> bool>,
    ) -> Result<Vec<u64>, String> {
        let found = match accept {
            None => self.index.search(query, count),
            Some(accept) => self.index.filtered_search(query, count, accept),
        };
        found.map(|matches| matches.keys).map_err(|e| e.to_string())
    }

    /// Sets the candidates a search keeps (a setting of the index object, not of the mapped bytes).
    pub fn change_expansion_search(&self, expansion: usize) {
        self.index.change_expansion_search(expansion);
    }
}
