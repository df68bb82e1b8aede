//! `stats()`: the table's size and version, the vector index's coverage, and this store's counters
//! (from `activity.rs`) and query-cache figures, in one report.

use super::cache::CacheStats;
use super::error::Result;
use super::fields::FieldType;
use super::index::lance;
use super::latency::LatencySummary;
use super::lock::lock;
use super::resident::{GraphStatus, ResidentStatus};
use super::search::words;
use super::secrets::redact;
use super::{Store, StoreError};

/// The vector index as `stats().index` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatus {
    /// The index kind, lower case (`"ivf_pq"`, …), or `None` when searches are exact.
    pub kind: Option<String>,
    /// Its name in the table.
    pub name: Option<String>,
    /// IVF partitions (estimated for indexes built by other tools).
    pub num_partitions: Option<u32>,
    /// Rows the index covers.
    pub indexed_rows: usize,
    /// Rows searched exactly beside it (added since it was built).
    pub unindexed_rows: usize,
    /// Whether a build or refresh is running now.
    pub building: bool,
    /// Index builds and refreshes completed through this store.
    pub builds: u64,
    /// The last failed build's or refresh's error, until one succeeds.
    pub last_error: Option<String>,
    /// Whether writes keep the index built and fresh in the background.
    pub auto: bool,
    /// The HNSW graph's details when the index is the in-memory graph (`kind` is `"hnsw"`).
    pub graph: Option<GraphStatus>,
}

/// A `'text'` field's full-text index as `stats().text` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextIndexStatus {
    /// The field.
    pub field: String,
    /// The language its words are stemmed in.
    pub language: &'static str,
    /// Whether its full-text index exists (built in the background after writes, else by the first text
    /// search, and by `optimize()`).
    pub indexed: bool,
    /// Rows written since the index was built or last folded (all rows without an index): text searches
    /// still find them (LanceDB scans them), a little slower, until `optimize()` folds them in.
    pub unindexed_rows: usize,
    /// Whether searches with words on it are answered from the resident copy's word index (built the
    /// first time the field is searched, then kept by every write the copy follows).
    pub in_memory: bool,
}

/// What `stats()` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// Stored embeddings.
    pub rows: usize,
    /// Latest committed table version.
    pub version: u64,
    /// Query-cache counters.
    pub cache: CacheStats,
    /// Searches run through this store (cached or not).
    pub searches: u64,
    /// `add` calls that committed.
    pub inserts: u64,
    /// Rows those calls stored.
    pub rows_inserted: u64,
    /// `upsert` calls that committed.
    pub upserts: u64,
    /// Rows those calls wrote (inserted or replaced).
    pub rows_upserted: u64,
    /// Latency of `search`, cache hits included.
    pub search_latency: LatencySummary,
    /// Latency of `add`.
    pub insert_latency: LatencySummary,
    /// Latency of `upsert`.
    pub upsert_latency: LatencySummary,
    /// Commits through this store since its last compaction.
    pub commits_since_optimize: u64,
    /// Compactions run (by `optimize()` or automatically).
    pub optimize_runs: u64,
    /// The last automatic compaction's error, if it failed.
    pub last_optimize_error: Option<String>,
    /// The vector index.
    pub index: IndexStatus,
    /// The resident in-memory copy.
    pub resident: ResidentStatus,
    /// Each `'text'` field's full-text index.
    pub text: Vec<TextIndexStatus>,
}

impl Store {
    /// Row count, version, cache counters and latency summaries.
    pub async fn stats(&self) -> Result<StoreStats> {
        let handles = self.handles()?;
        let version = handles.version().await?;
        let rows = handles.table.count_rows(None).await.map_err(StoreError::lance("counting rows"))?;
        let cache = lock(&self.cache).stats();
        let (kind, name, num_partitions, indexed_rows, unindexed_rows) = match lance::find(&handles.table).await? {
            Some(f) => (Some(f.kind), Some(f.name), Some(f.shape.num_partitions), f.indexed_rows, f.unindexed_rows),
            None => (None, None, None, 0, rows),
        };
        let activity = lock(&self.activity).summary();
        let auto = self.config.auto_index && !activity.index_declined;
        let graph = self.resident.as_ref().and_then(|r| r.graph_status());
        let index = match graph {
            Some(g) => IndexStatus {
                kind: Some("hnsw".into()),
                name: None,
                num_partitions: None,
                indexed_rows: g.indexed_rows,
                unindexed_rows: g.unindexed_rows,
                building: g.building || activity.index_building,
                builds: g.builds,
                last_error: g.last_error.as_deref().map(redact),
                auto,
                graph: Some(g),
            },
            None => IndexStatus {
                kind,
                name,
                num_partitions,
                indexed_rows,
                unindexed_rows,
                building: activity.index_building,
                builds: activity.index_builds,
                last_error: activity.index_error.as_deref().map(redact),
                auto,
                graph: None,
            },
        };
        let mut text = Vec::new();
        for (field, kind) in &self.layout.fields {
            let FieldType::Text(language) = kind else { continue };
            let behind = words::unindexed_rows(&handles.table, field).await?;
            text.push(TextIndexStatus {
                field: field.clone(),
                language: language.name(),
                indexed: behind.is_some(),
                unindexed_rows: behind.unwrap_or(rows),
                in_memory: self.resident.as_ref().is_some_and(|r| r.has_words(field)),
            });
        }
        Ok(StoreStats {
            text,
            rows,
            version,
            cache,
            searches: activity.search.count,
            inserts: activity.insert.count,
            rows_inserted: activity.rows_inserted,
            upserts: activity.upsert.count,
            rows_upserted: activity.rows_upserted,
            search_latency: activity.search,
            insert_latency: activity.insert,
            upsert_latency: activity.upsert,
            commits_since_optimize: activity.commits_since_optimize,
            optimize_runs: activity.optimize_runs,
            last_optimize_error: activity.last_optimize_error.as_deref().map(redact),
            index,
            resident: match &self.resident {
                Some(resident) => resident.status(version),
                None => ResidentStatus::off(),
            },
        })
    }
}
