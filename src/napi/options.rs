//! The JS-facing option and result objects (`#[napi(object)]`), and their plain conversions
//! to and from the core types. No defaults or validation here: those live in `store/config.rs`.

use napi::bindgen_prelude::{Either, Float32Array};
use napi_derive::napi;

use crate::store;

/// Options for `EmbeddingStore.open`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct OpenOptions {
    /// Length of every vector: an integer from 1 to 65536. Required when the table does not exist yet; when it exists it must match (else `DIMENSION_MISMATCH`).
    pub dimension: Option<f64>,
    /// Name of the table inside the directory: 1–128 characters from `A–Z a–z 0–9 _ - .`. Default `"embeddings"`.
    pub table: Option<String>,
    /// How closeness is measured, fixed when the table is created: `"cosine"`, `"l2"` (squared Euclidean) or `"dot"`. Default `"cosine"`; reopening with another metric rejects with `INVALID_ARGUMENT`.
    #[napi(ts_type = "'cosine' | 'l2' | 'dot'")]
    pub metric: Option<String>,
    /// Most searches this store runs at once; more wait their turn, so memory stays bounded under load. An integer from 1 to 1024. Default `8`.
    pub max_concurrent_searches: Option<f64>,
    /// Tuning knobs; see `PerformanceConfig`.
    pub performance: Option<PerformanceConfig>,
}

/// Performance tuning for `EmbeddingStore.open`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PerformanceConfig {
    /// Rows per Arrow record batch when an `addEmbeddings` call is streamed into LanceDB (still one commit per call). An integer from 1 to 1048576. Default `8192`.
    pub batch_size: Option<f64>,
}

impl From<OpenOptions> for store::OpenOptions {
    fn from(options: OpenOptions) -> Self {
        let performance = options.performance.unwrap_or_default();
        Self {
            dimension: options.dimension,
            table: options.table,
            metric: options.metric,
            max_concurrent_searches: options.max_concurrent_searches,
            batch_size: performance.batch_size,
        }
    }
}

/// One embedding for `addEmbeddings`.
#[napi(object, object_to_js = false)]
pub struct EmbeddingItem {
    /// Unique, non-empty string of at most 1024 bytes.
    pub id: String,
    /// The embedding, `dimension` numbers long. A `Float32Array` is copied without per-element conversion.
    #[napi(ts_type = "Float32Array | number[]")]
    pub vector: Either<Float32Array, Vec<f64>>,
    /// Any JSON object (at most 1 MiB as JSON); returned exactly as given. `null` or missing gives `metadata: null` in hits.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Option<serde_json::Value>,
}

impl From<EmbeddingItem> for store::Item {
    fn from(item: EmbeddingItem) -> Self {
        Self { id: item.id, vector: vector_from_js(item.vector), metadata: item.metadata }
    }
}

/// A JS vector as `f32`s: a `Float32Array` is one copy, a `number[]` is narrowed element by element.
pub fn vector_from_js(vector: Either<Float32Array, Vec<f64>>) -> Vec<f32> {
    match vector {
        Either::A(typed) => typed.to_vec(),
        // Narrowing is the documented behaviour: out-of-range numbers become ±Infinity and are rejected later.
        Either::B(numbers) => numbers.into_iter().map(|x| x as f32).collect(),
    }
}

/// Options for `EmbeddingStore.search`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SearchOptions {
    /// Most hits to return: an integer from 1 to 10000. Default `10`.
    pub limit: Option<f64>,
    /// Minimum `score` a hit needs to be returned (see "Scores and distances" in the README). Default: none.
    pub threshold: Option<f64>,
}

impl From<SearchOptions> for store::SearchRequest {
    fn from(options: SearchOptions) -> Self {
        Self { limit: options.limit, threshold: options.threshold }
    }
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
    pub metadata: serde_json::Value,
}

impl From<store::Hit> for SearchHit {
    fn from(hit: store::Hit) -> Self {
        Self { id: hit.id, score: hit.score, distance: hit.distance, metadata: hit.metadata.unwrap_or_default() }
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
