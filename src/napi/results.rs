//! The JS-facing results (`#[napi(object)]` hits, reports and stats), filled from the core's
//! result types by plain `From` conversions.

use std::fmt::Write as _;
use std::sync::Arc;

use napi::bindgen_prelude::{Either, Float32Array, Null, ToNapiValue};
use napi::sys;
use napi_derive::napi;

use super::json::{JsonText, parse_json};
use crate::store;

/// What `createIndex` did.
#[napi(object, object_from_js = false)]
pub struct IndexReport {
    /// The kind built, or `"none"` when the store searches exactly.
    #[napi(ts_type = "'hnsw' | 'ivf_pq' | 'ivf_hnsw_sq' | 'ivf_flat' | 'none'")]
    pub kind: &'static str,
    /// Rows in the table when the build started.
    pub rows: f64,
    /// Why no index was built (`kind: 'none'`).
    pub reason: Option<String>,
    /// The index name in the table (it records kind and partitions).
    pub name: Option<String>,
    /// IVF partitions used.
    pub num_partitions: Option<f64>,
    /// PQ sub-vectors used (`ivf_pq`).
    pub num_sub_vectors: Option<f64>,
    /// PQ bits per code used (`ivf_pq`).
    pub num_bits: Option<f64>,
    /// K-means iterations used.
    pub max_iterations: Option<f64>,
    /// Training rows per partition used.
    pub sample_rate: Option<f64>,
    /// HNSW neighbours per vector used (`hnsw`, `ivf_hnsw_sq`).
    pub num_edges: Option<f64>,
    /// HNSW build candidates used (`hnsw`, `ivf_hnsw_sq`).
    pub ef_construction: Option<f64>,
    /// Wall time of the call, in milliseconds.
    pub build_ms: f64,
    /// Table version afterwards.
    pub version: f64,
}

impl From<store::IndexReport> for IndexReport {
    fn from(r: store::IndexReport) -> Self {
        let plan = r.plan;
        let num = |f: fn(&store::index::plan::IndexPlan) -> Option<u32>| plan.as_ref().and_then(f).map(f64::from);
        let graph = r.graph;
        Self {
            kind: match (r.kind, graph) {
                (Some(kind), _) => kind.as_str(),
                (None, Some(_)) => "hnsw",
                (None, None) => "none",
            },
            rows: r.rows as f64,
            reason: r.reason,
            name: r.name,
            num_partitions: num(|p| Some(p.num_partitions)),
            num_sub_vectors: num(|p| p.num_sub_vectors),
            num_bits: num(|p| p.num_bits),
            max_iterations: num(|p| Some(p.max_iterations)),
            sample_rate: num(|p| Some(p.sample_rate)),
            num_edges: graph.map(|g| f64::from(g.num_edges)).or(num(|p| p.num_edges)),
            ef_construction: graph.map(|g| f64::from(g.ef_construction)).or(num(|p| p.ef_construction)),
            build_ms: r.build_ms,
            version: r.version as f64,
        }
    }
}

/// The vector index in `stats().index`.
#[napi(object, object_from_js = false)]
pub struct IndexStats {
    /// The index kind: `"hnsw"` (the in-memory graph), `"ivf_pq"`, `"ivf_hnsw_sq"`, `"ivf_flat"` (or another LanceDB kind built elsewhere), or `null`: exact search.
    #[napi(ts_type = "string | null")]
    pub kind: Either<String, Null>,
    /// Its name in the table, or `null`.
    #[napi(ts_type = "string | null")]
    pub name: Either<String, Null>,
    /// IVF partitions (estimated for an index built by another tool), or `null`.
    #[napi(ts_type = "number | null")]
    pub num_partitions: Either<f64, Null>,
    /// Rows the index covers.
    pub indexed_rows: f64,
    /// Rows not in the index yet; searches scan them exactly (all rows when there is no index).
    pub unindexed_rows: f64,
    /// Whether a build or refresh is running now.
    pub building: bool,
    /// Builds and refreshes completed through this store object.
    pub builds: f64,
    /// The last failed build's or refresh's message (also the background ones), or `null` since a success.
    #[napi(ts_type = "string | null")]
    pub last_error: Either<String, Null>,
    /// Whether `autoIndex` keeps the index built and fresh.
    pub auto: bool,
    /// The in-memory graph's details when `kind` is `"hnsw"`, else `null`.
    #[napi(ts_type = "GraphStats | null")]
    pub graph: Either<GraphStats, Null>,
}

/// The HNSW graph in `stats().index.graph`.
#[napi(object, object_from_js = false)]
pub struct GraphStats {
    /// Neighbours per node.
    pub num_edges: f64,
    /// Candidates kept while inserting.
    pub ef_construction: f64,
    /// Nodes of rows deleted or replaced since the graph was built: skipped by searches, and the graph is rebuilt in the background once they reach 20 % of it (and 1,000).
    pub removed_rows: f64,
    /// Approximate bytes the graph holds in this process's memory (f16 vectors and links), on top of `stats().resident.bytes`; a graph viewed in its file holds only its key lookup here.
    pub bytes: f64,
    /// Bytes of the graph file viewed in place: mapped read-only, its pages shared by every process on the host that views the same file (the OS page cache; not counted in `bytes`). `0` once the graph changed in this process (it then holds a private copy) or when it was built here.
    pub mapped_bytes: f64,
    /// Nodes renamed because a compaction moved their rows to new addresses (the graph keeps them instead of being rebuilt).
    pub renamed_rows: f64,
    /// How the graph stores vectors: `'f16'` (cosine tables, and l2/dot tables whose values f16 holds), or `'f32'` (l2/dot tables with values beyond ±60000 or vectors smaller than 0.01 in every component); `null` before the first graph.
    #[napi(ts_type = "'f16' | 'f32' | null")]
    pub precision: Either<&'static str, Null>,
    /// `'built'` in this process, or `'loaded'` from the graph file beside the table; `null` before the first graph.
    #[napi(ts_type = "'built' | 'loaded' | null")]
    pub source: Either<&'static str, Null>,
    /// Why the saved graph file was not used (missing rows, checksum, another table's graph, …), or `null`.
    #[napi(ts_type = "string | null")]
    pub ignored_file: Either<String, Null>,
}

/// The resident in-memory copy in `stats().resident`.
#[napi(object, object_from_js = false)]
pub struct ResidentStats {
    /// `'ready'`: searches are answered from memory; `'loading'`: the copy is being loaded or is catching up with a large change (LanceDB answers meanwhile); `'over_budget'`: the table does not fit `performance.residentMemoryMB`, so LanceDB answers; `'off'`: `residentMemoryMB: 0`.
    #[napi(ts_type = "'ready' | 'loading' | 'over_budget' | 'off'")]
    pub state: String,
    /// Rows held in memory.
    pub rows: f64,
    /// Approximate bytes held in this process's memory (vectors — unless read from the vector file, see `mappedBytes` —, ids, metadata text, field values, maps).
    pub bytes: f64,
    /// The table version the copy holds, or `null`.
    #[napi(ts_type = "number | null")]
    pub version: Either<f64, Null>,
    /// The last failed load's or catch-up's message, or `null` since a success.
    #[napi(ts_type = "string | null")]
    pub last_error: Either<String, Null>,
    /// Searches answered from memory so far, by every store on this table in this process (cache hits not included).
    pub searches: f64,
    /// Rows read from LanceDB into the copy so far: the first load reads the table; later changes read only what they added (this process's own writes are not read back).
    pub rows_read: f64,
    /// Of `rowsRead`, rows whose vectors were not read from LanceDB: the vector file already held them, for table fragments unchanged since it was written (what makes a restart or another process quick to serve from memory).
    pub rows_read_without_vectors: f64,
    /// Compactions the copy followed by re-pointing its rows to their new addresses, instead of reading the rewritten rows again.
    pub compactions_followed: f64,
    /// Bytes of the vector file (beside the table, or in `storage.cacheDir` for `s3://`) that the copy reads its vectors from in place: mapped read-only, shared by every process on the host serving the table (the OS page cache), not counted in `bytes`. `0` when every vector is held in this process's memory.
    pub mapped_bytes: f64,
}

impl From<store::resident::ResidentStatus> for ResidentStats {
    fn from(s: store::resident::ResidentStatus) -> Self {
        Self {
            state: s.state.as_str().to_owned(),
            rows: s.rows as f64,
            bytes: s.bytes as f64,
            version: or_null(s.version.map(|v| v as f64)),
            last_error: or_null(s.last_error),
            searches: s.searches as f64,
            rows_read: s.rows_read as f64,
            rows_read_without_vectors: s.rows_read_without_vectors as f64,
            compactions_followed: s.compactions_followed as f64,
            mapped_bytes: s.mapped_bytes as f64,
        }
    }
}

fn or_null<T>(value: Option<T>) -> Either<T, Null> {
    value.map_or(Either::B(Null), Either::A)
}

impl From<store::IndexStatus> for IndexStats {
    fn from(s: store::IndexStatus) -> Self {
        Self {
            kind: or_null(s.kind),
            name: or_null(s.name),
            num_partitions: or_null(s.num_partitions.map(f64::from)),
            indexed_rows: s.indexed_rows as f64,
            unindexed_rows: s.unindexed_rows as f64,
            building: s.building,
            builds: s.builds as f64,
            last_error: or_null(s.last_error),
            auto: s.auto,
            graph: or_null(s.graph.map(|g| GraphStats {
                num_edges: f64::from(g.settings.num_edges),
                ef_construction: f64::from(g.settings.ef_construction),
                removed_rows: g.removed_rows as f64,
                renamed_rows: g.renamed_rows as f64,
                precision: or_null(g.precision),
                bytes: g.bytes as f64,
                mapped_bytes: g.mapped_bytes as f64,
                source: or_null(g.source),
                ignored_file: or_null(g.ignored_sidecar),
            })),
        }
    }
}

/// One stored embedding, as `get` returns it.
#[napi(object, object_from_js = false)]
pub struct StoredEmbedding {
    /// The id.
    pub id: String,
    /// The stored vector (float32).
    pub vector: Float32Array,
    /// The stored metadata object, or `null`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: JsonText,
}

impl From<store::StoredItem> for StoredEmbedding {
    fn from(item: store::StoredItem) -> Self {
        Self { id: item.id, vector: Float32Array::from(item.vector), metadata: JsonText(item.metadata) }
    }
}

/// What `upsertEmbeddings` wrote.
#[napi(object, object_from_js = false)]
pub struct UpsertResult {
    /// Ids that were new.
    pub inserted: f64,
    /// Ids that existed and were replaced (vector and metadata).
    pub updated: f64,
    /// Table version after the commit.
    pub version: f64,
}

impl From<store::UpsertOutcome> for UpsertResult {
    fn from(o: store::UpsertOutcome) -> Self {
        Self { inserted: o.inserted as f64, updated: o.updated as f64, version: o.version as f64 }
    }
}

/// What `delete` removed.
#[napi(object, object_from_js = false)]
pub struct DeleteResult {
    /// Rows removed.
    pub deleted: f64,
    /// Table version after the commit (unchanged when nothing matched).
    pub version: f64,
}

impl From<store::DeleteOutcome> for DeleteResult {
    fn from(o: store::DeleteOutcome) -> Self {
        Self { deleted: o.deleted as f64, version: o.version as f64 }
    }
}

/// What `optimize` did.
#[napi(object, object_from_js = false)]
pub struct OptimizeResult {
    /// Small data fragments merged away.
    pub fragments_removed: f64,
    /// Fragments written in their place.
    pub fragments_added: f64,
    /// Old table versions deleted (versions younger than `retainVersionsSeconds` are kept).
    pub versions_pruned: f64,
    /// Table version afterwards.
    pub version: f64,
}

impl From<store::OptimizeOutcome> for OptimizeResult {
    fn from(o: store::OptimizeOutcome) -> Self {
        Self {
            fragments_removed: o.fragments_removed as f64,
            fragments_added: o.fragments_added as f64,
            versions_pruned: o.versions_pruned as f64,
            version: o.version as f64,
        }
    }
}

/// Compaction state in `stats().optimize`.
#[napi(object, object_from_js = false)]
pub struct OptimizeStats {
    /// Compactions run through this store (by `optimize()` or automatically).
    pub runs: f64,
    /// Commits through this store since its last compaction.
    pub commits_since_optimize: f64,
    /// The last automatic compaction's error message, or `null`.
    #[napi(ts_type = "string | null")]
    pub last_error: Either<String, Null>,
}

/// One search result.
#[napi(object, object_from_js = false)]
pub struct SearchHit {
    /// The stored id.
    pub id: String,
    /// Larger is closer: cosine similarity for `"cosine"`, the dot product for `"dot"`, `1 / (1 + distance)` for `"l2"`.
    pub score: f64,
    /// Smaller is closer: `1 − cosine` for `"cosine"`, `1 − dot` for `"dot"`, squared Euclidean distance for `"l2"`.
    pub distance: f64,
    /// The stored metadata object, or `null`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: JsonText,
    /// Hybrid search (`text` given) only: the vector score (what `score` is in a vector search).
    pub vector_score: Option<f64>,
    /// Hybrid search only: the hit's rank (from 1) among the vector side's candidates, or `null` when only the words found it.
    #[napi(ts_type = "number | null")]
    pub vector_rank: Option<Either<u32, Null>>,
    /// Hybrid search only: the hit's rank (from 1) among the words side's candidates, or `null` when only the vector found it.
    #[napi(ts_type = "number | null")]
    pub text_rank: Option<Either<u32, Null>>,
    /// Hybrid search only: the BM25 score of the words in the hit's text field, or `null` when only the vector found it.
    #[napi(ts_type = "number | null")]
    pub text_score: Option<Either<f64, Null>>,
}

/// `Some(value or null)`: a property that is present, possibly `null`.
fn present<T>(value: Option<T>) -> Option<Either<T, Null>> {
    Some(value.map_or(Either::B(Null), Either::A))
}

impl SearchHit {
    fn from_hit(hit: store::Hit, metric: store::Metric) -> Self {
        let sides = hit.sides;
        Self {
            vector_score: sides.map(|_| metric.score(hit.distance)),
            vector_rank: sides.and_then(|s| present(s.vector_rank)),
            text_rank: sides.and_then(|s| present(s.text_rank)),
            text_score: sides.and_then(|s| present(s.text_score)),
            id: hit.id,
            score: hit.score,
            distance: hit.distance,
            metadata: JsonText(hit.metadata),
        }
    }
}

/// One `searchText` result.
#[napi(object, object_from_js = false)]
pub struct TextHit {
    /// The stored id.
    pub id: String,
    /// The BM25 score of the words in the text field: larger is a better match.
    pub score: f64,
    /// The stored metadata object, or `null`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: JsonText,
}

impl From<store::Hit> for TextHit {
    fn from(hit: store::Hit) -> Self {
        Self { id: hit.id, score: hit.score, metadata: JsonText(hit.metadata) }
    }
}

/// A search's hits as the JS array of `SearchHit` (or, from `searchText`, `TextHit`) objects, built by one
/// `JSON.parse` of the whole result: the metadata is JSON text already, and one parse is several times
/// cheaper than creating each object, its properties and its metadata through N-API calls (it is most of
/// a cached hit). Scores print in Rust's shortest round-trip form, which `JSON.parse` reads back to the
/// same double. The cache's `Arc` is shared, not copied: every call still gets fresh JS objects.
pub struct SearchHits {
    /// The hits, shared with the query cache.
    pub hits: Arc<Vec<store::Hit>>,
    /// The store's metric, for the vector score of hybrid hits.
    pub metric: store::Metric,
    /// `searchText`'s shape: no distance, no sides.
    pub words_only: bool,
}

/// Appends `value` as a JSON number, or `null` for `None`; `None` overall when the number is not finite (JSON
/// has no such number). Written in place: a cached hit builds its whole answer in one buffer.
fn push_number<T: std::fmt::Debug + Into<f64> + Copy>(text: &mut String, value: Option<T>) -> Option<()> {
    match value {
        None => text.push_str("null"),
        Some(v) if v.into().is_finite() => write!(text, "{v:?}").ok()?,
        Some(_) => return None,
    }
    Some(())
}

impl SearchHits {
    /// The array as JSON text; `None` if a score is not finite (JSON has no such number).
    fn json(&self) -> Option<String> {
        let mut text = String::with_capacity(
            64 + self.hits.iter().map(|h| 128 + h.id.len() + h.metadata.as_ref().map_or(4, String::len)).sum::<usize>(),
        );
        text.push('[');
        for (i, hit) in self.hits.iter().enumerate() {
            text.push_str(if i == 0 { r#"{"id":"# } else { r#",{"id":"# });
            text.push_str(&serde_json::to_string(&hit.id).ok()?);
            text.push_str(r#","score":"#);
            push_number(&mut text, Some(hit.score))?;
            if !self.words_only {
                text.push_str(r#","distance":"#);
                push_number(&mut text, Some(hit.distance))?;
            }
            text.push_str(r#","metadata":"#);
            text.push_str(hit.metadata.as_deref().unwrap_or("null"));
            if let (Some(sides), false) = (hit.sides, self.words_only) {
                text.push_str(r#","vectorScore":"#);
                push_number(&mut text, Some(self.metric.score(hit.distance)))?;
                text.push_str(r#","vectorRank":"#);
                push_number(&mut text, sides.vector_rank)?;
                text.push_str(r#","textRank":"#);
                push_number(&mut text, sides.text_rank)?;
                text.push_str(r#","textScore":"#);
                push_number(&mut text, sides.text_score)?;
            }
            text.push('}');
        }
        text.push(']');
        Some(text)
    }
}

impl ToNapiValue for SearchHits {
    unsafe fn to_napi_value(raw_env: sys::napi_env, hits: Self) -> napi::Result<sys::napi_value> {
        match hits.json() {
            // SAFETY: `raw_env` is the live env napi handed to this conversion, on the JS thread.
            Some(text) => unsafe { parse_json(raw_env, text) },
            None if hits.words_only => {
                let objects: Vec<TextHit> = hits.hits.iter().cloned().map(TextHit::from).collect();
                // SAFETY: as above.
                unsafe { Vec::to_napi_value(raw_env, objects) }
            }
            None => {
                let objects: Vec<SearchHit> =
                    hits.hits.iter().cloned().map(|hit| SearchHit::from_hit(hit, hits.metric)).collect();
                // SAFETY: as above.
                unsafe { Vec::to_napi_value(raw_env, objects) }
            }
        }
    }
}

/// What `updateMetadata` wrote.
#[napi(object, object_from_js = false)]
pub struct UpdateResult {
    /// Stored rows whose metadata was patched (ids not stored are not counted).
    pub updated: u32,
    /// Table version after the commit (unchanged when no id was stored).
    pub version: f64,
}

impl From<store::UpdateOutcome> for UpdateResult {
    fn from(outcome: store::UpdateOutcome) -> Self {
        Self { updated: u32::try_from(outcome.updated).unwrap_or(u32::MAX), version: outcome.version as f64 }
    }
}

/// One kept table version, as `versions()` lists it.
#[napi(object, object_from_js = false)]
pub struct VersionInfo {
    /// The version number (what `restore` takes).
    pub version: f64,
    /// When it was committed, in milliseconds since the Unix epoch (`new Date(timestamp)`).
    pub timestamp: f64,
    /// Rows stored at that version.
    pub rows: f64,
}

impl From<store::versions::VersionInfo> for VersionInfo {
    fn from(v: store::versions::VersionInfo) -> Self {
        Self { version: v.version as f64, timestamp: v.timestamp_ms as f64, rows: v.rows as f64 }
    }
}

/// What `addEmbeddings` wrote.
#[napi(object, object_from_js = false)]
pub struct AddResult {
    /// Number of embeddings stored by this call.
    pub added: u32,
    /// Table version after the commit.
    pub version: f64,
}

impl From<store::AddOutcome> for AddResult {
    fn from(outcome: store::AddOutcome) -> Self {
        // A single call cannot add more than u32::MAX items: JS arrays are shorter.
        Self { added: u32::try_from(outcome.added).unwrap_or(u32::MAX), version: outcome.version as f64 }
    }
}

/// Query-cache counters in `stats().cache`.
#[napi(object, object_from_js = false)]
pub struct CacheStats {
    /// Searches answered from the cache.
    pub hits: f64,
    /// Searches that had to run (including entries rejected as stale or expired).
    pub misses: f64,
    /// Entries dropped to make room, least recently used first.
    pub evictions: f64,
    /// Entries found but computed at an older table version, so recomputed instead of served.
    pub stale_rejected: f64,
    /// Entries found but older than `cacheTtlSeconds`, so recomputed instead of served.
    pub expired: f64,
    /// Misses that waited for an identical search already running and shared its answer (single-flight).
    pub coalesced: f64,
    /// Entries held now.
    pub size: f64,
    /// Most entries held (`cacheSize`); 0 when the cache is off.
    pub capacity: f64,
    /// `hits / (hits + misses)`, 0 before the first search.
    pub hit_ratio: f64,
}

impl From<store::cache::CacheStats> for CacheStats {
    fn from(stats: store::cache::CacheStats) -> Self {
        Self {
            hits: stats.hits as f64,
            misses: stats.misses as f64,
            evictions: stats.evictions as f64,
            stale_rejected: stats.stale_rejected as f64,
            expired: stats.expired as f64,
            coalesced: stats.coalesced as f64,
            size: stats.size as f64,
            capacity: stats.capacity as f64,
            hit_ratio: stats.hit_ratio(),
        }
    }
}

/// Latency of one kind of call, in milliseconds.
#[napi(object, object_from_js = false)]
pub struct LatencySummary {
    /// Calls measured since the store opened.
    pub count: f64,
    /// Median over the last 2048 calls, in ms.
    pub p50: f64,
    /// 95th percentile over the last 2048 calls, in ms.
    pub p95: f64,
    /// Slowest call since the store opened, in ms.
    pub max: f64,
}

impl From<store::LatencySummary> for LatencySummary {
    fn from(s: store::LatencySummary) -> Self {
        Self { count: s.count as f64, p50: s.p50_ms, p95: s.p95_ms, max: s.max_ms }
    }
}

/// What `stats()` resolves to.
#[napi(object, object_from_js = false)]
pub struct StoreStats {
    /// Stored embeddings.
    pub rows: f64,
    /// Latest committed table version.
    pub version: f64,
    /// Query-cache counters.
    pub cache: CacheStats,
    /// The vector index and its coverage.
    pub index: IndexStats,
    /// The resident in-memory copy that answers searches.
    pub resident: ResidentStats,
    /// `search` calls answered by this store object (cached or not).
    pub searches: f64,
    /// `addEmbeddings` calls that committed through this store object.
    pub inserts: f64,
    /// Rows those calls stored.
    pub rows_inserted: f64,
    /// `upsertEmbeddings` calls that committed through this store object.
    pub upserts: f64,
    /// Rows those calls wrote (inserted or replaced).
    pub rows_upserted: f64,
    /// Latency of `search`, cache hits included.
    pub search_latency: LatencySummary,
    /// Latency of `addEmbeddings`.
    pub insert_latency: LatencySummary,
    /// Latency of `upsertEmbeddings`.
    pub upsert_latency: LatencySummary,
    /// Compaction state.
    pub optimize: OptimizeStats,
    /// Each `'text'` field's full-text index (empty when the store has none).
    pub text: Vec<TextIndexStats>,
}

/// A `'text'` field's full-text index in `stats().text`.
#[napi(object, object_from_js = false)]
pub struct TextIndexStats {
    /// The field.
    pub field: String,
    /// The language its words are stemmed in (`"English"` for `'text'`).
    pub language: String,
    /// Whether its full-text index exists: built in the background after writes (with `autoIndex`), else by the first `searchText` or hybrid `search`, and by `optimize()`.
    pub indexed: bool,
    /// Rows written since the index was built or last folded in by `optimize()` (all rows before it exists): still found by text searches, which scan them.
    pub unindexed_rows: f64,
    /// Whether searches with words on this field are answered from the resident copy's in-memory word index (built in the background the first time the field is searched, then kept current by every write the copy follows); else LanceDB's full-text index answers.
    pub in_memory: bool,
}

impl From<store::StoreStats> for StoreStats {
    fn from(stats: store::StoreStats) -> Self {
        Self {
            rows: stats.rows as f64,
            version: stats.version as f64,
            cache: stats.cache.into(),
            index: stats.index.into(),
            resident: stats.resident.into(),
            searches: stats.searches as f64,
            inserts: stats.inserts as f64,
            rows_inserted: stats.rows_inserted as f64,
            upserts: stats.upserts as f64,
            rows_upserted: stats.rows_upserted as f64,
            search_latency: stats.search_latency.into(),
            insert_latency: stats.insert_latency.into(),
            upsert_latency: stats.upsert_latency.into(),
            optimize: OptimizeStats {
                runs: stats.optimize_runs as f64,
                commits_since_optimize: stats.commits_since_optimize as f64,
                last_error: or_null(stats.last_optimize_error),
            },
            text: stats
                .text
                .into_iter()
                .map(|t| TextIndexStats {
                    field: t.field,
                    language: t.language.to_owned(),
                    indexed: t.indexed,
                    unindexed_rows: t.unindexed_rows as f64,
                    in_memory: t.in_memory,
                })
                .collect(),
        }
    }
}

/// What `importFile` did.
#[napi(object, object_from_js = false)]
pub struct ImportResult {
    /// Rows added.
    pub added: f64,
    /// Table version after the (last) commit.
    pub version: f64,
    /// Rows in the table afterwards.
    pub rows: f64,
    /// Commits made: 1, or one per `commitEvery` rows, or 0 for an empty file.
    pub commits: f64,
    /// Wall time of the import, in milliseconds.
    pub ms: f64,
}

impl From<store::import::ImportOutcome> for ImportResult {
    fn from(o: store::import::ImportOutcome) -> Self {
        Self {
            added: o.added as f64,
            version: o.version as f64,
            rows: o.rows as f64,
            commits: o.commits as f64,
            ms: o.ms,
        }
    }
}
