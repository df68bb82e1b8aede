//! The JS-facing inputs (`#[napi(object)]` options and items) and their plain conversions to the
//! core's request types. No defaults or validation here: those live in `store/config.rs`.

use std::collections::{BTreeMap, HashMap};

use napi::bindgen_prelude::{Either, Float32Array, Function, Null};
use napi::threadsafe_function::UnknownReturnValue;
use napi_derive::napi;

use super::json::{FilterInput, JsonInput};
use crate::store::{self, StoreError};

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
    /// Typed metadata fields stored as real columns so `filter` can use them, e.g. `{ section: 'string', year: 'int', tags: 'string[]', body: 'text' }`. A `'text'` field (English; `'text:french'` etc. for another language) is also searched by its words (`searchText`, `search` with `text`). Names: a letter or `_`, then letters, digits, `_`. Fixed when the table is created; the values are read from each item's `metadata`. Default: none.
    #[napi(ts_type = "Record<string, 'string' | 'int' | 'float' | 'bool' | 'string[]' | 'text' | `text:${string}`>")]
    pub fields: Option<BTreeMap<String, String>>,
    /// Keep a vector index built and fresh in the background: an `"auto"` index is built once the table is large enough for one to pay off (the in-memory `hnsw` graph from 2,000 rows for tables held in memory; LanceDB's `ivf_hnsw_sq` from 5,000 rows for tables over the memory budget); later writes add new rows to it, and it is rebuilt when removed rows pile up (graph) or the table has grown about 4× (LanceDB). Searches stay correct meanwhile (rows not yet indexed are searched exactly). `createIndex({ kind: 'none' })` pauses it for this store object. Default `true`.
    pub auto_index: Option<bool>,
    /// Tuning knobs; see `PerformanceConfig`.
    #[napi(ts_type = "PerformanceConfig | null")]
    pub performance: Option<Either<PerformanceConfig, Null>>,
    /// How to reach the object store of an `s3://bucket/prefix` path (S3 or an S3-compatible server); see `StorageOptions`. Refused for a local directory.
    #[napi(ts_type = "StorageOptions | null")]
    pub storage: Option<Either<StorageOptions, Null>>,
}

/// Object-storage settings for an `s3://bucket/prefix` store. Every field is optional: credentials, region and endpoint also come from the usual environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`) and `~/.aws` profiles. Secrets never appear in error messages or `stats()`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct StorageOptions {
    /// URL of an S3-compatible server, e.g. `'http://127.0.0.1:9000'` (MinIO, moto, Ceph, R2, …). Default: AWS S3.
    pub endpoint: Option<String>,
    /// Region, e.g. `'us-east-1'`. Default: `AWS_REGION`, else found from the bucket on AWS.
    pub region: Option<String>,
    /// Access key id. Default: `AWS_ACCESS_KEY_ID` / the AWS credential chain.
    pub access_key_id: Option<String>,
    /// Secret access key. Default: `AWS_SECRET_ACCESS_KEY` / the AWS credential chain.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials. Default: `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// Allow a plain `http://` endpoint (local servers). Default `false`.
    pub allow_http: Option<bool>,
    /// Virtual-hosted-style requests (`bucket.endpoint/key`) instead of path-style (`endpoint/bucket/key`). Default `false` with an `endpoint`.
    pub virtual_hosted_style: Option<bool>,
    /// Longest wait for a connection to the server, in ms (1 to 3600000). Default `5000`.
    pub connect_timeout_ms: Option<f64>,
    /// Longest one request may take, in ms (1 to 3600000). Default `30000`.
    pub timeout_ms: Option<f64>,
    /// Retries of a failed request (network errors, 5xx, throttling): an integer from 0 to 100. Default `3`.
    pub max_retries: Option<f64>,
    /// Longest a request and its retries may take together, in ms (1 to 3600000; counted in whole seconds). Default `30000`.
    pub retry_timeout_ms: Option<f64>,
    /// Further LanceDB storage options passed as given, e.g. `{ aws_server_side_encryption: 'aws:kms' }` (see LanceDB's object-store docs). Values whose key names a secret (`key`, `secret`, `token`, `password`, `credential`, `signature`) are masked in messages.
    pub options: Option<HashMap<String, String>>,
    /// Local directory where this host keeps the store's saved graph and vector file (one subdirectory per store), so every process on the host maps one copy and a restart neither rebuilds the graph nor holds the vectors privately again. `false`: keep none (each process builds its graph in memory). Default: `LANCESTORE_CACHE_DIR`, else `$XDG_CACHE_HOME/lancestore` or `~/.cache/lancestore` (`~/Library/Caches/lancestore` on macOS, `%LOCALAPPDATA%\\lancestore` on Windows); a default directory that cannot be created is skipped, a named one rejects the open with `IO`.
    #[napi(ts_type = "string | false")]
    pub cache_dir: Option<Either<String, bool>>,
}

impl StorageOptions {
    /// The keys `storage` takes; any other is refused.
    pub const KEYS: &[&str] = &[
        "endpoint",
        "region",
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "allowHttp",
        "virtualHostedStyle",
        "connectTimeoutMs",
        "timeoutMs",
        "maxRetries",
        "retryTimeoutMs",
        "options",
        "cacheDir",
    ];
}

impl From<StorageOptions> for store::StorageOptions {
    fn from(s: StorageOptions) -> Self {
        Self {
            endpoint: s.endpoint,
            region: s.region,
            access_key_id: s.access_key_id,
            secret_access_key: s.secret_access_key,
            session_token: s.session_token,
            allow_http: s.allow_http,
            virtual_hosted_style: s.virtual_hosted_style,
            connect_timeout_ms: s.connect_timeout_ms,
            timeout_ms: s.timeout_ms,
            max_retries: s.max_retries,
            retry_timeout_ms: s.retry_timeout_ms,
            extra: s.options.unwrap_or_default().into_iter().collect(),
            cache_dir: match s.cache_dir {
                Some(Either::A(dir)) => store::cache_dir::CacheDir::At(dir),
                Some(Either::B(false)) => store::cache_dir::CacheDir::Off,
                Some(Either::B(true)) | None => store::cache_dir::CacheDir::Default,
            },
        }
    }
}

/// Performance tuning for `EmbeddingStore.open`. Every field is optional.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PerformanceConfig {
    /// Most entries in the query-result cache (LRU): an integer from 0 to 16777216; `0` turns the cache off. Default `1000`.
    pub cache_size: Option<f64>,
    /// Whether repeated searches are answered from the query cache. Default `true`.
    pub enable_query_cache: Option<bool>,
    /// Seconds after which a cached result is recomputed, from 0 up to a year; `0` means never by age. Results are never stale either way (see README). Default `300`.
    pub cache_ttl_seconds: Option<f64>,
    /// Rows per Arrow record batch when an `addEmbeddings` call is streamed into LanceDB (still one commit per call). An integer from 1 to 1048576. Default `65536` (measured: 20k×768 inserts at 45k/s with 1024, 56k/s with 8192, 64k/s with 65536).
    pub batch_size: Option<f64>,
    /// Warm the store when it opens: read the stored vectors once and load every vector index, so the first search is not cold. Default `false`.
    pub prefetch: Option<bool>,
    /// With `prefetch`, how many rows of vectors the warm-up reads: an integer ≥ 1. Default: all rows.
    pub prefetch_size: Option<f64>,
    /// Commits (adds, upserts, deletes) through this store after which it compacts the table in the background, so many small writes do not slow search down. An integer ≥ 0; `0` never compacts automatically. Default `100`.
    pub auto_optimize_every: Option<f64>,
    /// Seconds old table versions are kept when the table is compacted (`optimize()` or automatically), from 0 up to a year. Every call checks the latest version, and that check slows down with thousands of retained versions; but a reader in another process still on a pruned version may fail. Default `3600`.
    pub retain_versions_seconds: Option<f64>,
    /// How far behind writes from *other* processes a read may be, in milliseconds (from 0 up to a year). `0` (default on local disk): every call sees the latest commit, at ~10 µs per call; a larger value skips that check for up to this long. Default `1000` for an `s3://` store, where the check is a request to the server. Writes through stores in this process are always seen at once.
    pub read_consistency_interval_ms: Option<f64>,
    /// Memory the resident copy of the table may use, in MiB (an integer from 0 to 1048576). Searches are answered from this in-memory copy (an exact SIMD scan, filters included) while the table fits; a larger table, or `0`, is searched through LanceDB. Default `1024` (≈ 330k × 768 or 650k × 384 vectors with small metadata).
    #[napi(js_name = "residentMemoryMB")]
    pub resident_memory_mb: Option<f64>,
}

impl OpenOptions {
    /// The keys `EmbeddingStore.open` takes; any other is refused.
    pub const KEYS: &[&str] =
        &["dimension", "table", "metric", "maxConcurrentSearches", "fields", "autoIndex", "performance", "storage"];
}

impl PerformanceConfig {
    /// The keys `performance` takes; any other is refused.
    pub const KEYS: &[&str] = &[
        "cacheSize",
        "enableQueryCache",
        "cacheTtlSeconds",
        "batchSize",
        "prefetch",
        "prefetchSize",
        "autoOptimizeEvery",
        "retainVersionsSeconds",
        "readConsistencyIntervalMs",
        "residentMemoryMB",
    ];
}

impl From<OpenOptions> for store::OpenOptions {
    fn from(options: OpenOptions) -> Self {
        let performance = match options.performance {
            Some(Either::A(performance)) => performance,
            Some(Either::B(Null)) | None => PerformanceConfig::default(),
        };
        Self {
            dimension: options.dimension,
            table: options.table,
            metric: options.metric,
            max_concurrent_searches: options.max_concurrent_searches,
            batch_size: performance.batch_size,
            cache_size: performance.cache_size,
            enable_query_cache: performance.enable_query_cache,
            cache_ttl_seconds: performance.cache_ttl_seconds,
            prefetch: performance.prefetch,
            prefetch_size: performance.prefetch_size,
            read_consistency_interval_ms: performance.read_consistency_interval_ms,
            fields: options.fields,
            auto_optimize_every: performance.auto_optimize_every,
            retain_versions_seconds: performance.retain_versions_seconds,
            auto_index: options.auto_index,
            resident_memory_mb: performance.resident_memory_mb,
            storage: match options.storage {
                Some(Either::A(storage)) => Some(storage.into()),
                Some(Either::B(Null)) | None => None,
            },
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
    pub metadata: Option<JsonInput>,
}

impl EmbeddingItem {
    /// The core item; `what` names it in errors (`items[3]`).
    pub fn into_item(self, what: &str) -> Result<store::Item, StoreError> {
        let metadata = self.metadata.map(|m| m.parse(&format!("{what}.metadata"))).transpose()?;
        Ok(store::Item { id: self.id, vector: vector_from_js(self.vector), metadata })
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
    /// Only rows matching this filter over declared `fields`, applied before the top-k, e.g. `{ section: 'utils', year: { $gte: 2020 } }`. Operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or $not`. Default: none.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<FilterInput>,
    /// With an IVF index: the fewest partitions probed (more are probed when a filter leaves too few rows). An integer from 1 to 65536. Default: a quarter of the partitions, at least 16 (measured to reach recall@10 ≥ 0.95; see README).
    pub nprobes: Option<f64>,
    /// With an `ivf_pq` index: `limit × refineFactor` candidates are re-ranked on the full vectors, so scores are exact. An integer from 1 to 1000. Default `10` for `ivf_pq`; for `ivf_hnsw_sq` `1` when `threshold` is set (so the cut is on exact scores), else none.
    pub refine_factor: Option<f64>,
    /// With the `hnsw` graph: candidates kept while walking it, each re-ranked on the exact vectors. An integer from `limit` to 100000. Default `max(64, limit)`. With an `ivf_hnsw_sq` index (tables not held in memory): the same for each partition's graph, default `max(10 × limit, 100)`.
    pub ef: Option<f64>,
    /// `true` skips the vector index: an exact search over every row. Default `false`.
    pub exact: Option<bool>,
    /// Words to search for too: a hybrid search over the vector and a `'text'` field (BM25), fused by reciprocal rank (see "Full-text and hybrid search" in the README). Each hit's `score` is then the fused score, and `threshold` applies to `vectorScore`. Non-blank, at most 4096 bytes. Default: none (a vector search).
    pub text: Option<String>,
    /// With `text`: the `'text'` field searched. Default: the store's only `'text'` field (required when it has several).
    pub text_field: Option<String>,
    /// With `text`: reciprocal rank fusion's `k` (a hit at rank `r` on one side adds `1 / (k + r)`); smaller favours each side's top hits. An integer from 0 to 1000000. Default `60`.
    pub rrf_k: Option<f64>,
}

impl SearchOptions {
    /// The keys `search` takes; any other is refused.
    pub const KEYS: &[&str] =
        &["limit", "threshold", "filter", "nprobes", "refineFactor", "ef", "exact", "text", "textField", "rrfK"];
}

/// Options for `EmbeddingStore.searchText`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct TextSearchOptions {
    /// Most hits to return: an integer from 1 to 10000. Default `10`.
    pub limit: Option<f64>,
    /// Minimum BM25 `score` a hit needs to be returned. Default: none.
    pub threshold: Option<f64>,
    /// Only rows matching this filter over declared `fields` (as in `search`), applied before the top-k. Default: none.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<FilterInput>,
    /// The `'text'` field searched. Default: the store's only `'text'` field (required when it has several).
    pub text_field: Option<String>,
}

impl TextSearchOptions {
    /// The keys `searchText` takes; any other is refused.
    pub const KEYS: &[&str] = &["limit", "threshold", "filter", "textField"];

    /// The core request for the words `text`.
    pub fn request(self, text: String) -> Result<store::SearchRequest, StoreError> {
        Ok(store::SearchRequest {
            limit: self.limit,
            threshold: self.threshold,
            filter: self.filter.map(|f| f.parse("options.filter")).transpose()?,
            text: Some(text),
            text_field: self.text_field,
            ..Default::default()
        })
    }
}

impl TryFrom<SearchOptions> for store::SearchRequest {
    type Error = StoreError;

    fn try_from(options: SearchOptions) -> Result<Self, StoreError> {
        Ok(Self {
            limit: options.limit,
            threshold: options.threshold,
            filter: options.filter.map(|f| f.parse("options.filter")).transpose()?,
            nprobes: options.nprobes,
            refine_factor: options.refine_factor,
            ef: options.ef,
            exact: options.exact,
            text: options.text,
            text_field: options.text_field,
            rrf_k: options.rrf_k,
        })
    }
}

/// Options for `EmbeddingStore.createIndex`. Every field is optional: the parameters left out are tuned from the data.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct CreateIndexOptions<'env> {
    /// `"auto"` (default): for a table held in memory (see `residentMemoryMB`), exact search below 2,000 rows, else `"hnsw"`; for a table over the memory budget, exact search below 5,000 rows, else `"ivf_hnsw_sq"`. `"hnsw"`: the in-memory graph over the resident vectors, saved beside the table (needs the resident copy). `"ivf_pq"`, `"ivf_hnsw_sq"`, `"ivf_flat"`: that LanceDB index. `"none"`: drop the vector index and search exactly.
    #[napi(ts_type = "'auto' | 'hnsw' | 'ivf_pq' | 'ivf_hnsw_sq' | 'ivf_flat' | 'none'")]
    pub kind: Option<String>,
    /// IVF partitions, from 1 to the row count. Default: √rows rounded to a power of two within [8, 1024], lowered until each partition has 40 rows to train on.
    pub num_partitions: Option<f64>,
    /// `ivf_pq` only: sub-vectors per vector; must divide the dimension. Default: dimension / 8 (measured; see README).
    pub num_sub_vectors: Option<f64>,
    /// `ivf_pq` only: bits per code, 4 or 8. Default 8, or 4 below 256 rows.
    pub num_bits: Option<f64>,
    /// K-means iterations, from 1 to 1000. Default `50`.
    pub max_iterations: Option<f64>,
    /// Training rows drawn per partition, from 2 to 65536. Default `256`.
    pub sample_rate: Option<f64>,
    /// `hnsw` and `ivf_hnsw_sq` only: graph neighbours per vector, from 2 to 512. Default `16` for `hnsw`, `20` for `ivf_hnsw_sq`.
    pub num_edges: Option<f64>,
    /// `hnsw` and `ivf_hnsw_sq` only: candidates while building the graph, from 10 to 10000. Default `128` for `hnsw`, `150` for `ivf_hnsw_sq`.
    pub ef_construction: Option<f64>,
    /// Called while the index builds (`phase: 'index'`; for `hnsw`, `rows` counts the rows in the graph so
    /// far out of `totalRows`; LanceDB's IVF builds report only their start) and at the end (`'done'`).
    /// At most about ten calls a second; if it throws, it is not called again.
    pub on_progress: Option<Function<'env, ProgressEvent, UnknownReturnValue>>,
}

impl CreateIndexOptions<'_> {
    /// The keys `createIndex` takes; any other is refused.
    pub const KEYS: &'static [&'static str] = &[
        "kind",
        "numPartitions",
        "numSubVectors",
        "numBits",
        "maxIterations",
        "sampleRate",
        "numEdges",
        "efConstruction",
        "onProgress",
    ];
}

impl From<&CreateIndexOptions<'_>> for store::IndexRequest {
    fn from(o: &CreateIndexOptions<'_>) -> Self {
        Self {
            kind: o.kind.clone(),
            num_partitions: o.num_partitions,
            num_sub_vectors: o.num_sub_vectors,
            num_bits: o.num_bits,
            max_iterations: o.max_iterations,
            sample_rate: o.sample_rate,
            num_edges: o.num_edges,
            ef_construction: o.ef_construction,
        }
    }
}

/// Options for `EmbeddingStore.count`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct CountOptions {
    /// Count only rows matching this filter over declared `fields`. Default: all rows.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<FilterInput>,
}

/// Options for `EmbeddingStore.scan`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ScanOptions {
    /// Only rows matching this filter over declared `fields`. Default: every row.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<FilterInput>,
    /// Rows read per batch (what is held in memory at a time): an integer from 1 to 100000. Default `1000`.
    pub batch_size: Option<f64>,
}

impl ScanOptions {
    pub const KEYS: &'static [&'static str] = &["filter", "batchSize"];
}

/// Options for `EmbeddingStore.versions`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct VersionsOptions {
    /// How many of the newest kept versions to list: an integer from 1 to 1000000. Default `100`.
    pub limit: Option<f64>,
}

impl VersionsOptions {
    pub const KEYS: &'static [&'static str] = &["limit"];
}

/// Options for `EmbeddingStore.tables` and `EmbeddingStore.dropTable`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct TablesOptions {
    /// Object-storage settings, for an `s3://` path (as in `open`).
    pub storage: Option<StorageOptions>,
}

impl TablesOptions {
    pub const KEYS: &'static [&'static str] = &["storage"];
}

/// The rows `EmbeddingStore.delete` removes when given an object.
#[napi(object, object_to_js = false)]
pub struct DeleteByFilter {
    /// Remove the rows matching this (non-empty) filter over declared `fields`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: FilterInput,
}

/// Options for `EmbeddingStore.optimize`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct OptimizeOptions<'env> {
    /// Keep table versions younger than this many seconds (0 keeps only the latest). Default: `performance.retainVersionsSeconds` (3600).
    pub retain_versions_seconds: Option<f64>,
    /// Called when compaction starts (`phase: 'compact'`) and ends (`'done'`); LanceDB reports nothing in between.
    pub on_progress: Option<Function<'env, ProgressEvent, UnknownReturnValue>>,
}

impl OptimizeOptions<'_> {
    /// The keys `optimize` takes; any other is refused.
    pub const KEYS: &'static [&'static str] = &["retainVersionsSeconds", "onProgress"];
}

/// Options for `EmbeddingStore.addEmbeddings`.
#[napi(object, object_to_js = false)]
pub struct AddOptions<'env> {
    /// Called as LanceDB takes the rows (`phase: 'write'`, `rows` of `totalRows`, one event per record batch of
    /// `performance.batchSize` rows at most ten times a second) and after the commit (`'done'`). The items are
    /// read from JS before this starts. If it throws, it is not called again.
    pub on_progress: Option<Function<'env, ProgressEvent, UnknownReturnValue>>,
}

impl AddOptions<'_> {
    /// The keys `addEmbeddings` takes; any other is refused.
    pub const KEYS: &'static [&'static str] = &["onProgress"];
}

/// Options for `EmbeddingStore.importFile`.
#[napi(object, object_to_js = false)]
pub struct ImportOptions<'env> {
    /// `"jsonl"`, `"npy"`, `"parquet"` or `"arrow"` (IPC file or stream). Default: from the extension
    /// (`.jsonl`/`.ndjson`, `.npy`, `.parquet`/`.pq`, `.arrow`/`.arrows`/`.ipc`/`.feather`).
    #[napi(ts_type = "'jsonl' | 'npy' | 'parquet' | 'arrow'")]
    pub format: Option<String>,
    /// The field (JSONL) or column (Parquet, Arrow) holding the id: a string or an integer. Default `"id"`.
    pub id_field: Option<String>,
    /// The field or column holding the vector: an array (JSONL), a list or fixed-size list of floats. Default `"vector"`.
    pub vector_field: Option<String>,
    /// The fields or columns stored as metadata. Default: all except the id and vector (for JSONL, a lone
    /// `metadata` object is used as the metadata).
    pub metadata_fields: Option<Vec<String>>,
    /// `.npy` only: a file of ids, one per line, or a `.jsonl` file of records with the id field and metadata,
    /// in row order. Default: the row numbers `"0"`, `"1"`, … as ids.
    pub ids_path: Option<String>,
    /// Commit every this many rows instead of once for the whole file (an error then leaves the earlier
    /// commits in place). Default: one atomic commit.
    pub commit_every: Option<f64>,
    /// Called with progress while the file is read (`phase: 'read'`), after each commit (`'commit'`) and at
    /// the end (`'done'`): at most about ten calls a second, never blocking the import. If it throws, it
    /// is not called again and the import goes on.
    pub on_progress: Option<Function<'env, ProgressEvent, UnknownReturnValue>>,
}

impl ImportOptions<'_> {
    /// The keys `importFile` takes; any other is refused.
    pub const KEYS: &'static [&'static str] =
        &["format", "idField", "vectorField", "metadataFields", "idsPath", "commitEvery", "onProgress"];

    /// The core request for the file at `path`.
    pub fn request(&self, path: String) -> store::import::ImportRequest {
        store::import::ImportRequest {
            path,
            format: self.format.clone(),
            id_field: self.id_field.clone(),
            vector_field: self.vector_field.clone(),
            metadata_fields: self.metadata_fields.clone(),
            ids_path: self.ids_path.clone(),
            commit_every: self.commit_every,
        }
    }
}

/// One progress report (see each method's `onProgress`).
#[napi(object, object_from_js = false)]
pub struct ProgressEvent {
    /// What is happening now.
    #[napi(ts_type = "'read' | 'commit' | 'write' | 'index' | 'compact' | 'done'")]
    pub phase: &'static str,
    /// Rows done so far.
    pub rows: f64,
    /// Rows in all, when known.
    pub total_rows: Option<f64>,
    /// Bytes of the file read so far (imports).
    pub bytes: Option<f64>,
    /// Size of the file (imports).
    pub total_bytes: Option<f64>,
}

impl From<store::progress::Progress> for ProgressEvent {
    fn from(p: store::progress::Progress) -> Self {
        Self {
            phase: p.phase,
            rows: p.rows as f64,
            total_rows: p.total_rows.map(|n| n as f64),
            bytes: p.bytes.map(|n| n as f64),
            total_bytes: p.total_bytes.map(|n| n as f64),
        }
    }
}
