//! Memory given back to the operating system under many small commits. Each commit makes many
//! short-lived allocations (manifests, plans, record batches) between long-lived ones, and glibc's
//! malloc fragments under that pattern: RSS climbed although the live heap did not (heaptrack, 2,000
//! five-row commits with searches: 55 MiB live at the end, peak 72 MiB, RSS 160 → 285 MiB and rising).
//!
//! - On x86_64 Linux (glibc), every Rust allocation — LanceDB's, Arrow's, ours — goes to jemalloc
//!   (`ALLOCATOR`), which keeps size-class slabs apart and returns dirty pages after a decay. Built
//!   without initial-exec TLS, because the addon is a `dlopen`ed library (initial-exec TLS fails to load
//!   there: "cannot allocate memory in static TLS block"). Measured over 10,000 five-row commits with 10
//!   searches each (default options): RSS +72 MiB after warm-up (32 MiB of it the resident copy and
//!   graph of the grown table), against +335 MiB with glibc's malloc.
//!   mimalloc was tried and grew faster than glibc (+171 MiB over 2,500 commits).
//! - What still uses glibc's malloc (Node itself, usearch's C++ graph) is trimmed: every
//!   `TRIM_EVERY_COMMITS` commits in this process, `malloc_trim` returns the free pages of every glibc
//!   arena to the kernel (madvise); it moves no live data and runs on a blocking thread, never inside
//!   a call. A no-op on other C libraries (musl, macOS, Windows), which keep their system allocator.
//! - After bulk work (a large load of the resident copy, a graph built), the pages
//!   it freed are given back at once (`after_bulk_work`: jemalloc's purge of every arena, then the
//!   trim), instead of over jemalloc's 10-second decay. Measured on a 100k × 768 table with its graph:
//!   the process held 1,051 MiB of anonymous memory 2 s after it answered from memory and 486 MiB once
//!   the decay was over; several processes started together would otherwise hold the transient pages
//!   at the same time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Commits between two trims.
const TRIM_EVERY_COMMITS: u64 = 20;

static COMMITS: AtomicU64 = AtomicU64::new(0);

/// Counts a commit; every `TRIM_EVERY_COMMITS` of them, trims the heaps in the background.
pub fn after_commit() {
    if COMMITS.fetch_add(1, Ordering::Relaxed).is_multiple_of(TRIM_EVERY_COMMITS) {
        // Called from async code on the tokio runtime; the trim itself may take a few milliseconds.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn_blocking(trim));
        }
    }
}

/// Rows a load must have read for `after_bulk_work` to be worth its few milliseconds.
pub const BULK_ROWS: usize = 10_000;

/// Gives the free pages of every heap back to the operating system in the background, now.
pub fn after_bulk_work() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn_blocking(|| {
            // A failed purge leaves the pages to jemalloc's decay: nothing is lost but time.
            let _purged = purge();
            trim();
        }));
    }
}

/// Returns the free pages of every jemalloc arena to the kernel; whether jemalloc did.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
fn purge() -> bool {
    // `MALLCTL_ARENAS_ALL`: the pseudo-index jemalloc reads as "every arena".
    let name = c"arena.4096.purge";
    // SAFETY: "arena.<i>.purge" is a documented void control (no old or new value: null pointers and
    // zero length); it only returns unused dirty pages of the arenas to the kernel and is thread-safe.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(name.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0)
    };
    status == 0
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")))]
fn purge() -> bool {
    true
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim only releases free memory inside glibc's own heaps; it has no preconditions
    // and is thread-safe (it takes each arena's lock).
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, read at its first allocation; `_RJEM_MALLOC_CONF` in the
/// environment still overrides them). `oversize_threshold:0`: by default jemalloc serves every
/// allocation of 8 MiB or more from a separate arena that returns its pages at once, so the large
/// buffers of every LanceDB-path search were faulted in afresh each time — exact search on MiniLM 20k
/// took p50 46 ms against 22 ms with glibc; with this option 21 ms, and the many-commit growth is
/// unchanged (+43 MiB over 2,500 commits, against +36 MiB without it).
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS: Option<&u8> = c"oversize_threshold:0".to_bytes_with_nul().first();

#[cfg(all(test, target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
mod tests {
    /// Reads one of jemalloc's numeric options through `mallctl`.
    fn option(name: &std::ffi::CStr) -> usize {
        let mut value: usize = 0;
        let mut size = std::mem::size_of::<usize>();
        // SAFETY: `name` is a NUL-terminated option jemalloc documents as a size_t, `value`/`size` describe
        // a writable usize, and no new value is given.
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(name.as_ptr(), (&raw mut value).cast(), &raw mut size, std::ptr::null_mut(), 0)
        };
        assert_eq!(status, 0, "mallctl {name:?}");
        value
    }

    /// This process's resident memory in MiB.
    fn resident_mib() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: Option<usize> = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        assert!(pages.is_some(), "/proc/self/statm reads {statm:?}");
        pages.unwrap_or_default() * 4096 / (1024 * 1024)
    }

    #[test]
    fn a_purge_gives_freed_pages_back_at_once() {
        // 256 MiB in 1 MiB blocks, each page touched, then freed: jemalloc keeps them as dirty pages.
        let blocks: Vec<Vec<u8>> = (0..256).map(|_| vec![1u8; 1024 * 1024]).collect();
        assert_eq!(blocks.iter().map(|b| usize::from(b[4096])).sum::<usize>(), 256);
        drop(blocks);
        let before = resident_mib();
        assert!(super::purge(), "jemalloc refused arena.4096.purge");
        let after = resident_mib();
        // Other tests run beside this one and allocate too: most of the 256 MiB is enough to show it.
        assert!(before >= after + 160, "resident {before} MiB before the purge, {after} MiB after");
    }

    #[test]
    fn jemalloc_reads_the_options_baked_in() {
        // The environment may override them on purpose (experiments); then there is nothing to check.
        if std::env::var_os("_RJEM_MALLOC_CONF").is_none() {
            assert_eq!(option(c"opt.oversize_threshold"), 0);
        }
    }
}
