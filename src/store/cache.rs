//! Query cache: an LRU of search results keyed by the full request (every byte of the query vector,
//! limit, threshold, metric) and stamped with the table version they were computed at, so a hit is
//! only served for the version it was computed at and can never be stale. Owns eviction, TTL expiry
//! and the hit/miss counters; knows nothing of LanceDB. Time is passed in, so tests control the clock.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;

use super::config::{Search, TextQuery};
use super::index::knobs::Knobs;
use super::metric::Metric;
use super::model::Hit;

/// Everything that changes a search's answer (vector, limit, threshold, compiled filter, metric). Compared in full (the LRU's `Eq`), so two different
/// vectors never share an entry even if their hashes collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    query_bits: Box<[u32]>,
    limit: usize,
    threshold_bits: Option<u64>,
    filter: Option<String>,
    knobs: Knobs,
    metric: Metric,
    text: Option<TextQuery>,
}

impl CacheKey {
    /// The key of `search` for `query` on a store with `metric`.
    pub fn new(query: &[f32], search: &Search, metric: Metric) -> Self {
        Self {
            query_bits: query.iter().map(|x| x.to_bits()).collect(),
            limit: search.limit,
            threshold_bits: search.threshold.map(f64::to_bits),
            filter: search.filter.as_ref().map(|f| f.sql.clone()),
            knobs: search.knobs,
            metric,
            text: search.text.clone(),
        }
    }
}

struct Entry {
    version: u64,
    stored_at: Instant,
    hits: Arc<Vec<Hit>>,
}

/// Counters and sizes reported by `stats().cache`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheStats {
    /// Searches answered from the cache.
    pub hits: u64,
    /// Searches that had to run (including entries rejected as stale or expired).
    pub misses: u64,
    /// Entries dropped to make room (least recently used first).
    pub evictions: u64,
    /// Entries found but computed at an older table version, so dropped instead of served.
    pub stale_rejected: u64,
    /// Entries found but older than the TTL, so dropped instead of served.
    pub expired: u64,
    /// Misses that waited for an identical search already running and shared its answer (single-flight).
    pub coalesced: u64,
    /// Entries held now.
    pub size: usize,
    /// Most entries held; 0 when the cache is off.
    pub capacity: usize,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0 before any lookup.
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 { 0.0 } else { self.hits as f64 / lookups as f64 }
    }
}

/// The LRU itself. Callers hold it behind a `std::sync::Mutex` (no `.await` inside).
pub struct QueryCache {
    lru: Option<LruCache<CacheKey, Entry>>,
    ttl: Option<Duration>,
    stats: CacheStats,
}

impl QueryCache {
    /// A cache of at most `capacity` entries (0: off) whose entries expire after `ttl` (`None`: never by age).
    pub fn new(capacity: usize, ttl: Option<Duration>) -> Self {
        let lru = NonZeroUsize::new(capacity).map(LruCache::new);
        Self { lru, ttl, stats: CacheStats { capacity, ..CacheStats::default() } }
    }

    /// Whether the cache holds anything at all (capacity > 0).
    pub fn is_enabled(&self) -> bool {
        self.lru.is_some()
    }

    /// The cached hits for `key` if they were computed at `version` and are younger than the TTL.
    pub fn get(&mut self, key: &CacheKey, version: u64, now: Instant) -> Option<Arc<Vec<Hit>>> {
        match self.verdict(key, version, now) {
            Some(Ok(hits)) => {
                self.stats.hits += 1;
                return Some(hits);
            }
            Some(Err(expired)) => {
                if let Some(lru) = self.lru.as_mut() {
                    lru.pop(key);
                }
                if expired { self.stats.expired += 1 } else { self.stats.stale_rejected += 1 }
            }
            None => {}
        }
        self.stats.misses += 1;
        None
    }

    /// `get` for a fast path that falls back to `get` when it finds nothing servable: an entry computed
    /// at `version` and not expired is a hit (counted); anything else is `None`, counted and dropped by
    /// the fallback's own `get`, so no lookup is counted twice.
    pub fn get_fresh(&mut self, key: &CacheKey, version: u64, now: Instant) -> Option<Arc<Vec<Hit>>> {
        let hits = self.verdict(key, version, now)?.ok()?;
        self.stats.hits += 1;
        Some(hits)
    }

    /// The entry for `key`: `Ok` when servable at `version`, `Err(expired)` when it is stale (`false`) or
    /// older than the TTL (`true`); `None` when there is none (or the cache is off). Marks it recently used.
    fn verdict(&mut self, key: &CacheKey, version: u64, now: Instant) -> Option<Result<Arc<Vec<Hit>>, bool>> {
        let entry = self.lru.as_mut()?.get(key)?;
        Some(if entry.version != version {
            Err(false)
        } else if self.ttl.is_some_and(|ttl| now.saturating_duration_since(entry.stored_at) >= ttl) {
            Err(true)
        } else {
            Ok(Arc::clone(&entry.hits))
        })
    }

    /// Remembers `hits` for `key` as computed at `version`, evicting the least recently used entry when full.
    pub fn insert(&mut self, key: CacheKey, version: u64, hits: Arc<Vec<Hit>>, now: Instant) {
        let Some(lru) = self.lru.as_mut() else { return };
        if let Some((old_key, _)) = lru.push(key.clone(), Entry { version, stored_at: now, hits })
            && old_key != key
        {
            self.stats.evictions += 1;
        }
    }

    /// Counts a miss that was answered by an identical search already in flight.
    pub fn record_coalesced(&mut self) {
        self.stats.coalesced += 1;
    }

    /// Drops every entry (counters stay).
    pub fn clear(&mut self) {
        if let Some(lru) = self.lru.as_mut() {
            lru.clear();
        }
    }

    /// Current counters and size.
    pub fn stats(&self) -> CacheStats {
        CacheStats { size: self.lru.as_ref().map_or(0, LruCache::len), ..self.stats }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(id: &str) -> Arc<Vec<Hit>> {
        Arc::new(vec![Hit { id: id.into(), score: 1.0, distance: 0.0, metadata: None, sides: None }])
    }

    fn key(query: &[f32]) -> CacheKey {
        CacheKey::new(
            query,
            &Search { limit: 10, threshold: None, filter: None, knobs: Knobs::default(), text: None },
            Metric::Cosine,
        )
    }

    #[test]
    fn hit_after_insert_at_the_same_version_only() {
        let now = Instant::now();
        let mut cache = QueryCache::new(10, None);
        assert!(cache.get(&key(&[1.0]), 1, now).is_none());
        cache.insert(key(&[1.0]), 1, hits("a"), now);
        assert_eq!(cache.get(&key(&[1.0]), 1, now).unwrap()[0].id, "a");
        assert!(cache.get(&key(&[1.0]), 2, now).is_none(), "a newer version must miss");
        assert!(cache.get(&key(&[1.0]), 1, now).is_none(), "the stale entry was dropped");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.stale_rejected, stats.size), (1, 3, 1, 0));
    }

    #[test]
    fn get_fresh_counts_only_its_hits_and_leaves_the_rest_to_get() {
        let now = Instant::now();
        let mut cache = QueryCache::new(10, Some(Duration::from_secs(60)));
        assert!(cache.get_fresh(&key(&[1.0]), 1, now).is_none(), "nothing stored");
        cache.insert(key(&[1.0]), 1, hits("a"), now);
        assert_eq!(cache.get_fresh(&key(&[1.0]), 1, now).unwrap()[0].id, "a");
        assert!(cache.get_fresh(&key(&[1.0]), 2, now).is_none(), "a newer version is not served");
        assert!(cache.get_fresh(&key(&[1.0]), 1, now + Duration::from_secs(61)).is_none(), "nor an expired entry");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.stale_rejected, stats.expired, stats.size), (1, 0, 0, 0, 1));
        // The fallback's `get` then counts the miss and drops the stale entry, once.
        assert!(cache.get(&key(&[1.0]), 2, now).is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.stale_rejected, stats.size), (1, 1, 1, 0));
    }

    #[test]
    fn vectors_differing_in_one_late_element_never_share_an_entry() {
        let now = Instant::now();
        let mut cache = QueryCache::new(10, None);
        let mut a = vec![0.5_f32; 768];
        cache.insert(key(&a), 1, hits("a"), now);
        a[700] = f32::from_bits(a[700].to_bits() + 1); // the smallest possible change, far past any prefix
        assert!(cache.get(&key(&a), 1, now).is_none());
    }

    #[test]
    fn every_option_is_part_of_the_key() {
        let q = [1.0_f32, 2.0];
        let search = |limit, threshold, filter: Option<&str>| Search {
            limit,
            threshold,
            filter: filter.map(|sql: &str| {
                let condition = crate::store::filter::Condition::All(Vec::new());
                std::sync::Arc::new(crate::store::filter::Filter { condition, sql: sql.to_owned() })
            }),
            knobs: Knobs::default(),
            text: None,
        };
        let base = CacheKey::new(&q, &search(10, None, None), Metric::Cosine);
        assert_ne!(base, CacheKey::new(&q, &search(11, None, None), Metric::Cosine));
        assert_ne!(base, CacheKey::new(&q, &search(10, Some(0.5), None), Metric::Cosine));
        assert_ne!(base, CacheKey::new(&q, &search(10, None, Some("a = 1")), Metric::Cosine));
        assert_ne!(base, CacheKey::new(&q, &search(10, None, None), Metric::Dot));
        let exact = Search { knobs: Knobs { exact: true, ..Knobs::default() }, ..search(10, None, None) };
        assert_ne!(base, CacheKey::new(&q, &exact, Metric::Cosine));
        let probes = Search { knobs: Knobs { nprobes: Some(4), ..Knobs::default() }, ..search(10, None, None) };
        assert_ne!(base, CacheKey::new(&q, &probes, Metric::Cosine));
        let words = |text: &str, field: &str, rrf_k| Search {
            text: Some(TextQuery { text: text.into(), field: field.into(), rrf_k }),
            ..search(10, None, None)
        };
        let hybrid = CacheKey::new(&q, &words("a b", "body", 60), Metric::Cosine);
        assert_ne!(base, hybrid);
        assert_ne!(hybrid, CacheKey::new(&q, &words("a c", "body", 60), Metric::Cosine));
        assert_ne!(hybrid, CacheKey::new(&q, &words("a b", "title", 60), Metric::Cosine));
        assert_ne!(hybrid, CacheKey::new(&q, &words("a b", "body", 1), Metric::Cosine));
        assert_ne!(hybrid, CacheKey::new(&[], &words("a b", "body", 60), Metric::Cosine), "words alone");
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let t0 = Instant::now();
        let mut cache = QueryCache::new(10, Some(Duration::from_secs(300)));
        cache.insert(key(&[1.0]), 1, hits("a"), t0);
        assert!(cache.get(&key(&[1.0]), 1, t0 + Duration::from_secs(299)).is_some());
        assert!(cache.get(&key(&[1.0]), 1, t0 + Duration::from_secs(300)).is_none());
        assert_eq!(cache.stats().expired, 1);
    }

    #[test]
    fn lru_bound_holds_and_the_least_recently_used_goes_first() {
        let now = Instant::now();
        let mut cache = QueryCache::new(3, None);
        for i in 0..3 {
            cache.insert(key(&[i as f32]), 1, hits("x"), now);
        }
        assert!(cache.get(&key(&[0.0]), 1, now).is_some()); // 0 is now the most recent
        cache.insert(key(&[3.0]), 1, hits("x"), now); // evicts 1
        assert_eq!(cache.stats().size, 3);
        assert_eq!(cache.stats().evictions, 1);
        assert!(cache.get(&key(&[1.0]), 1, now).is_none());
        assert!(cache.get(&key(&[0.0]), 1, now).is_some());
        assert!(cache.get(&key(&[2.0]), 1, now).is_some());
        for i in 10..100 {
            cache.insert(key(&[i as f32]), 1, hits("x"), now);
            assert!(cache.stats().size <= 3);
        }
    }

    #[test]
    fn capacity_zero_turns_the_cache_off() {
        let now = Instant::now();
        let mut cache = QueryCache::new(0, None);
        assert!(!cache.is_enabled());
        cache.insert(key(&[1.0]), 1, hits("a"), now);
        assert!(cache.get(&key(&[1.0]), 1, now).is_none());
        assert_eq!(cache.stats().size, 0);
    }
}
