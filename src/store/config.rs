//! Every default and every validation rule: open options → `StoreConfig`, search options →
//! `Search`, index options → `IndexOptions`, and the checks on ids, vectors, metadata, field
//! declarations and table names. Nothing here touches LanceDB data.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::error::{Result, StoreError};
use super::fields::{FieldType, Fields};
use super::filter;
use super::index::IndexKind;
use super::index::knobs::Knobs;
use super::index::plan::{AUTO_KIND, IndexOptions, MAX_ASKED_PARTITIONS, Requested};
use super::metric::Metric;
use super::model::Item;
use super::schema::Layout;

/// Memory the resident copy of a table may use by default, in MiB: 1 GiB holds about 330k × 768 or
/// 650k × 384 float32 vectors with small metadata, which covers what people embed in one Node
/// process; larger tables are searched through LanceDB (with its vector index) instead.
pub const DEFAULT_RESIDENT_MEMORY_MB: usize = 1_024;
/// Table name used when `OpenOptions.table` is not given.
pub const DEFAULT_TABLE: &str = "embeddings";
/// Hits returned when `SearchOptions.limit` is not given.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest accepted `SearchOptions.limit`.
pub const MAX_LIMIT: usize = 10_000;
/// Largest accepted vector dimension.
pub const MAX_DIMENSION: usize = 65_536;
/// Longest accepted id, in UTF-8 bytes.
pub const MAX_ID_BYTES: usize = 1_024;
/// Largest accepted metadata object, as JSON text in UTF-8 bytes.
pub const MAX_METADATA_BYTES: usize = 1 << 20;
/// Rows per Arrow record batch when an `addEmbeddings` call is streamed into LanceDB.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
/// Searches that may run at once inside one store; more wait their turn (memory stays bounded).
pub const DEFAULT_MAX_CONCURRENT_SEARCHES: usize = 8;
/// Query-cache entries kept by default.
pub const DEFAULT_CACHE_SIZE: usize = 1_000;
/// Age after which a cached result is recomputed, by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// Commits through a store after which it compacts the table in the background, by default.
pub const DEFAULT_AUTO_OPTIMIZE_COMMITS: usize = 100;
/// Most ids one `get` or `delete` takes.
pub const MAX_IDS_PER_CALL: usize = 100_000;
/// Longest accepted query text (`SearchOptions.text`, `searchText`), in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 4_096;
/// Reciprocal rank fusion's constant `k` when `rrfK` is not given (the RRF paper's and LanceDB's default).
pub const DEFAULT_RRF_K: usize = 60;
/// Versions younger than this survive `optimize()`'s pruning by default (readers elsewhere may still use them).
pub const DEFAULT_RETAIN_VERSIONS: Duration = Duration::from_secs(3_600);

/// Options for opening a store, as the user gave them (numbers unchecked).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Vector length; required to create a table.
    pub dimension: Option<f64>,
    /// Table name.
    pub table: Option<String>,
    /// `"cosine" | "l2" | "dot"`.
    pub metric: Option<String>,
    /// Searches allowed in flight at once.
    pub max_concurrent_searches: Option<f64>,
    /// Rows per record batch when streaming an insert.
    pub batch_size: Option<f64>,
    /// Query-cache entries (0: off).
    pub cache_size: Option<f64>,
    /// Query cache on or off.
    pub enable_query_cache: Option<bool>,
    /// Seconds after which a cached result is recomputed (0: never by age).
    pub cache_ttl_seconds: Option<f64>,
    /// Warm the data (and index) caches when the store opens.
    pub prefetch: Option<bool>,
    /// Rows of vectors the open-time warm-up reads.
    pub prefetch_size: Option<f64>,
    /// How stale a read may be with respect to other writers, in ms (0: never).
    pub read_consistency_interval_ms: Option<f64>,
    /// Declared metadata fields: name → `'string' | 'int' | 'float' | 'bool' | 'string[]'`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Commits after which the store compacts itself (0: never).
    pub auto_optimize_every: Option<f64>,
    /// Seconds old versions are kept by `optimize()`.
    pub retain_versions_seconds: Option<f64>,
    /// Build and maintain the vector index in the background as the table grows.
    pub auto_index: Option<bool>,
    /// Memory budget of the resident copy, in MiB (0: off).
    pub resident_memory_mb: Option<f64>,
    /// How to reach an object store (`s3://` paths only).
    pub storage: Option<StorageOptions>,
}

/// `storage` in `open`'s options: how to reach an object store. All optional; credentials and region
/// also come from the usual `AWS_*` environment variables (and `~/.aws` profiles) when not given here.
#[derive(Clone, Default)]
pub struct StorageOptions {
    /// Endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`); AWS S3 when absent.
    pub endpoint: Option<String>,
    /// Region (`us-east-1`).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key (never shown in messages or stats).
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials (never shown).
    pub session_token: Option<String>,
    /// Allow `http://` endpoints (plain HTTP; for local servers).
    pub allow_http: Option<bool>,
    /// Path-style (`endpoint/bucket/key`, false) or virtual-hosted-style (`bucket.endpoint/key`, true) requests.
    pub virtual_hosted_style: Option<bool>,
    /// Longest wait for a connection, in ms.
    pub connect_timeout_ms: Option<f64>,
    /// Longest one request may take, in ms.
    pub timeout_ms: Option<f64>,
    /// Retries of a failed request.
    pub max_retries: Option<f64>,
    /// Longest a request and its retries may take together, in ms.
    pub retry_timeout_ms: Option<f64>,
    /// Further LanceDB / object_store storage options, passed as given (a value whose key names a secret is masked in messages).
    pub extra: BTreeMap<String, String>,
    /// Where this host keeps the store's graph and vector files.
    pub cache_dir: super::cache_dir::CacheDir,
}

impl std::fmt::Debug for StorageOptions {
    /// Names what is set, never a value: options end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageOptions")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "…"))
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "…"))
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

/// Checked, defaulted settings of an open store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Table name inside the LanceDB directory.
    pub table: String,
    /// Vector length asked for; `None` means "take the existing table's".
    pub dimension: Option<usize>,
    /// Metric asked for; `None` means "the existing table's, or cosine for a new one".
    pub metric: Option<Metric>,
    /// Searches allowed in flight at once.
    pub max_concurrent_searches: usize,
    /// Rows per Arrow record batch when an insert is streamed.
    pub batch_rows: usize,
    /// Query-cache entries; 0 when the cache is off.
    pub cache_capacity: usize,
    /// Age after which a cached result is recomputed; `None`: never by age.
    pub cache_ttl: Option<Duration>,
    /// Rows the open-time warm-up reads; `None`: no warm-up.
    pub prefetch_rows: Option<usize>,
    /// Longest a read may lag behind other writers; zero: every read sees the latest commit.
    pub read_consistency: Duration,
    /// Declared fields asked for; `None` means "the existing table's, or none for a new one".
    pub fields: Option<Fields>,
    /// Commits through this store after which it compacts the table in the background; 0: never.
    pub auto_optimize_commits: usize,
    /// Table versions younger than this survive `optimize()`'s pruning.
    pub retain_versions: Duration,
    /// Whether writes start background vector-index builds and refreshes.
    pub auto_index: bool,
    /// Bytes the resident copy of the table may hold; 0: searches always go through LanceDB.
    pub resident_budget_bytes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_owned(),
            dimension: None,
            metric: None,
            max_concurrent_searches: DEFAULT_MAX_CONCURRENT_SEARCHES,
            batch_rows: DEFAULT_BATCH_ROWS,
            cache_capacity: DEFAULT_CACHE_SIZE,
            cache_ttl: Some(DEFAULT_CACHE_TTL),
            prefetch_rows: None,
            read_consistency: Duration::ZERO,
            fields: None,
            auto_optimize_commits: DEFAULT_AUTO_OPTIMIZE_COMMITS,
            retain_versions: DEFAULT_RETAIN_VERSIONS,
            auto_index: true,
            resident_budget_bytes: DEFAULT_RESIDENT_MEMORY_MB << 20,
        }
    }
}

impl StoreConfig {
    /// Checks the user's options and lays them over the defaults.
    pub fn resolve(options: OpenOptions) -> Result<Self> {
        let mut config = Self::default();
        if let Some(dimension) = options.dimension {
            config.dimension = Some(integer_in("dimension", dimension, 1, MAX_DIMENSION)?);
        }
        if let Some(table) = options.table {
            config.table = check_table_name(table)?;
        }
        if let Some(metric) = options.metric {
            config.metric = Some(Metric::parse("metric", &metric)?);
        }
        if let Some(n) = options.max_concurrent_searches {
            config.max_concurrent_searches = integer_in("maxConcurrentSearches", n, 1, 1_024)?;
        }
        if let Some(n) = options.batch_size {
            config.batch_rows = integer_in("performance.batchSize", n, 1, 1 << 20)?;
        }
        if let Some(n) = options.cache_size {
            config.cache_capacity = integer_in("performance.cacheSize", n, 0, 1 << 24)?;
        }
        if options.enable_query_cache == Some(false) {
            config.cache_capacity = 0;
        }
        if let Some(seconds) = options.cache_ttl_seconds {
            let ttl = seconds_in("performance.cacheTtlSeconds", seconds)?;
            config.cache_ttl = (!ttl.is_zero()).then_some(ttl);
        }
        if options.prefetch == Some(true) {
            config.prefetch_rows = Some(match options.prefetch_size {
                Some(n) => integer_in("performance.prefetchSize", n, 1, usize::MAX >> 11)?,
                None => usize::MAX,
            });
        } else if let Some(n) = options.prefetch_size {
            integer_in("performance.prefetchSize", n, 1, usize::MAX >> 11)?; // still checked when unused
        }
        if let Some(ms) = options.read_consistency_interval_ms {
            config.read_consistency = seconds_in("performance.readConsistencyIntervalMs", ms / 1000.0)?;
        }
        if let Some(declared) = &options.fields {
            config.fields = Some(parse_fields(declared)?);
        }
        if let Some(seconds) = options.retain_versions_seconds {
            config.retain_versions = retention(seconds)?;
        }
        if let Some(on) = options.auto_index {
            config.auto_index = on;
        }
        if let Some(mb) = options.resident_memory_mb {
            config.resident_budget_bytes = integer_in("performance.residentMemoryMB", mb, 0, 1 << 20)? << 20;
        }
        if let Some(n) = options.auto_optimize_every {
            config.auto_optimize_commits = integer_in("performance.autoOptimizeEvery", n, 0, 1 << 30)?;
        }
        Ok(config)
    }
}

impl StoreConfig {
    /// Checks what these options ask of an existing table (`dimension`, `metric`, `fields`) against
    /// what it holds.
    pub fn check_layout(&self, layout: &Layout) -> Result<()> {
        if let Some(expected) = self.dimension
            && expected != layout.dimension
        {
            return Err(StoreError::DimensionMismatch {
                what: "options.dimension".into(),
                expected: layout.dimension,
                got: expected,
            });
        }
        if let Some(asked) = self.metric
            && asked != layout.metric
        {
            return Err(StoreError::invalid(
                "metric",
                format!("the table was created with metric '{}', not '{}'", layout.metric.as_str(), asked.as_str()),
            ));
        }
        if let Some(asked) = &self.fields
            && asked != &layout.fields
        {
            let show =
                |f: &Fields| f.iter().map(|(n, t)| format!("{n}: '{}'", t.as_str())).collect::<Vec<_>>().join(", ");
            return Err(StoreError::invalid(
                "fields",
                format!("the table was created with fields {{{}}}, not {{{}}}", show(&layout.fields), show(asked)),
            ));
        }
        Ok(())
    }
}

/// Table names become directory names: keep them to a safe, portable alphabet.
pub fn check_table_name(table: String) -> Result<String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if table.is_empty() || table.len() > 128 || !table.chars().all(ok_char) || table.starts_with('.') {
        return Err(StoreError::invalid(
            "table",
            format!("got {table:?}; use 1–128 characters from A–Z, a–z, 0–9, '_', '-', '.', not starting with '.'"),
        ));
    }
    Ok(table)
}

/// Parses a JS number that must be an integer in `[min, max]`.
pub fn integer_in(option: &str, value: f64, min: usize, max: usize) -> Result<usize> {
    // `as` is exact here: the value is integral and within [min, max] ⊂ [0, 2^53].
    if value.is_finite() && value.fract() == 0.0 && value >= min as f64 && value <= max as f64 {
        return Ok(value as usize);
    }
    Err(StoreError::invalid(option, format!("got {value}, expected an integer from {min} to {max}")))
}

/// Parses `retainVersionsSeconds`.
pub fn retention(seconds: f64) -> Result<Duration> {
    seconds_in("retainVersionsSeconds", seconds)
}

/// Parses a non-negative, finite number of seconds (at most a year).
fn seconds_in(option: &str, seconds: f64) -> Result<Duration> {
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    if seconds.is_finite() && (0.0..=YEAR).contains(&seconds) {
        return Ok(Duration::from_secs_f64(seconds));
    }
    Err(StoreError::invalid(option, format!("got {seconds}, expected a number from 0 up to a year")))
}

/// Search options as the user gave them (numbers unchecked).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Most hits to return.
    pub limit: Option<f64>,
    /// Minimum score.
    pub threshold: Option<f64>,
    /// Metadata filter over declared fields.
    pub filter: Option<serde_json::Value>,
    /// Fewest IVF partitions probed.
    pub nprobes: Option<f64>,
    /// IVF-PQ re-ranking factor.
    pub refine_factor: Option<f64>,
    /// HNSW search candidates.
    pub ef: Option<f64>,
    /// Bypass the vector index.
    pub exact: Option<bool>,
    /// Words to search `text_field` for (hybrid `search`, `searchText`).
    pub text: Option<String>,
    /// The `'text'` field searched; needed when the store declares more than one.
    pub text_field: Option<String>,
    /// Reciprocal rank fusion's `k`.
    pub rrf_k: Option<f64>,
}

/// The words side of a checked search: what to look for, where, and how ranks are fused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextQuery {
    /// The query text as given (LanceDB's tokenizer splits it the way the field's index does).
    pub text: String,
    /// The `'text'` field searched.
    pub field: String,
    /// Reciprocal rank fusion's `k`: a hit at rank `r` (from 1) on one side adds `1 / (k + r)`.
    pub rrf_k: u32,
}

/// A checked search: what the store runs and what the query cache keys on.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Most hits to return.
    pub limit: usize,
    /// Minimum score, if any.
    pub threshold: Option<f64>,
    /// The checked filter applied before the top-k, if any.
    pub filter: Option<std::sync::Arc<filter::Filter>>,
    /// Index knobs the user set (defaults are filled per index at search time).
    pub knobs: Knobs,
    /// Words searched too (hybrid search), or only (`searchText`, with an empty query vector).
    pub text: Option<TextQuery>,
}

impl SearchRequest {
    /// Checks the query vector and the options against the store (`fields`: its declared fields).
    pub fn validate(&self, query: &[f32], dimension: usize, metric: Metric, fields: &Fields) -> Result<Search> {
        check_vector("query", query, dimension, metric)?;
        let (limit, filter) = self.limit_threshold_filter(fields)?;
        let knobs = Knobs {
            nprobes: self.nprobes.map(|n| integer_in("nprobes", n, 1, 65_536)).transpose()?,
            refine_factor: self
                .refine_factor
                .map(|n| integer_in("refineFactor", n, 1, 1_000).map(|n| n as u32))
                .transpose()?,
            ef: self.ef.map(|n| integer_in("ef", n, limit, 100_000)).transpose()?,
            exact: self.exact.unwrap_or(false),
        };
        let text = self.text_query(fields)?;
        if text.is_none() && (self.text_field.is_some() || self.rrf_k.is_some()) {
            let option = if self.text_field.is_some() { "textField" } else { "rrfK" };
            return Err(StoreError::invalid(option, "applies only to a search with `text`"));
        }
        Ok(Search { limit, threshold: self.threshold, filter, knobs, text })
    }

    /// Checks a words-only search (`searchText`): `text` is required; the vector index knobs do not apply.
    pub fn validate_text(&self, fields: &Fields) -> Result<Search> {
        if self.text.is_none() {
            return Err(StoreError::invalid("text", "is required"));
        }
        if self.rrf_k.is_some() {
            return Err(StoreError::invalid("rrfK", "applies only to a hybrid `search` (a vector and `text`)"));
        }
        let (limit, filter) = self.limit_threshold_filter(fields)?;
        let text = self.text_query(fields)?;
        Ok(Search { limit, threshold: self.threshold, filter, knobs: Knobs::default(), text })
    }

    /// The checked `limit` (or the default) and `filter`, with `threshold` checked finite: what every search takes.
    fn limit_threshold_filter(&self, fields: &Fields) -> Result<(usize, Option<std::sync::Arc<filter::Filter>>)> {
        let limit = match self.limit {
            Some(limit) => integer_in("limit", limit, 1, MAX_LIMIT)?,
            None => DEFAULT_LIMIT,
        };
        if let Some(threshold) = self.threshold
            && !threshold.is_finite()
        {
            return Err(StoreError::invalid("threshold", format!("got {threshold}, expected a finite number")));
        }
        let filter = match &self.filter {
            Some(filter) => filter::parse(filter, fields)?.map(std::sync::Arc::new),
            None => None,
        };
        Ok((limit, filter))
    }

    /// The checked words side, if `text` was given: non-blank, at most `MAX_TEXT_BYTES`, searched in a
    /// declared `'text'` field (the only one, or the one `textField` names).
    fn text_query(&self, fields: &Fields) -> Result<Option<TextQuery>> {
        let Some(text) = &self.text else { return Ok(None) };
        if text.trim().is_empty() {
            return Err(StoreError::invalid("text", "is empty; give the words to search for"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(StoreError::invalid(
                "text",
                format!("is {} bytes long; at most {MAX_TEXT_BYTES} (UTF-8)", text.len()),
            ));
        }
        let text_fields: Vec<&str> =
            fields.iter().filter(|(_, kind)| kind.is_text()).map(|(name, _)| name.as_str()).collect();
        let field = match (&self.text_field, text_fields.as_slice()) {
            (_, []) => {
                return Err(StoreError::invalid(
                    "text",
                    "the store has no 'text' field to search; declare one when the table is created, e.g. `fields: { body: 'text' }`",
                ));
            }
            (None, [only]) => (*only).to_owned(),
            (None, _) => {
                return Err(StoreError::invalid(
                    "textField",
                    format!("the store has several 'text' fields; name one of {}", text_fields.join(", ")),
                ));
            }
            (Some(asked), _) if text_fields.contains(&asked.as_str()) => asked.clone(),
            (Some(asked), _) => {
                return Err(StoreError::invalid(
                    "textField",
                    format!(
                        "{asked:?} is not a 'text' field of this store (its 'text' fields: {})",
                        text_fields.join(", ")
                    ),
                ));
            }
        };
        let rrf_k = match self.rrf_k {
            Some(k) => integer_in("rrfK", k, 0, 1_000_000)? as u32,
            None => DEFAULT_RRF_K as u32,
        };
        Ok(Some(TextQuery { text: text.clone(), field, rrf_k }))
    }
}

/// A vector must have the store's length, hold only finite numbers, and (under cosine) not be all zeros.
pub fn check_vector(what: &str, vector: &[f32], dimension: usize, metric: Metric) -> Result<()> {
    if vector.len() != dimension {
        return Err(StoreError::DimensionMismatch { what: what.to_owned(), expected: dimension, got: vector.len() });
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        let value = vector.get(i).copied().unwrap_or(f32::NAN);
        return Err(StoreError::InvalidVector { what: what.to_owned(), reason: format!("element {i} is {value}") });
    }
    if metric == Metric::Cosine && vector.iter().all(|&x| x == 0.0) {
        return Err(StoreError::InvalidVector {
            what: what.to_owned(),
            reason: "an all-zero vector has no direction, so cosine similarity is undefined".to_owned(),
        });
    }
    // Distances are computed in float32 (by LanceDB, and by the in-memory scan): the squared length must
    // be representable there, computed here in f64 so the check itself cannot under- or overflow.
    let squared: f64 = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if squared > MAX_SQUARED_NORM {
        return Err(StoreError::InvalidVector {
            what: what.to_owned(),
            reason: format!(
                "its length is {:e}; at most {:e} is allowed, so that distances and dot products stay finite in float32",
                squared.sqrt(),
                MAX_SQUARED_NORM.sqrt()
            ),
        });
    }
    if metric == Metric::Cosine && squared < MIN_COSINE_SQUARED_NORM {
        return Err(StoreError::InvalidVector {
            what: what.to_owned(),
            reason: format!(
                "its length is {:e}; cosine needs at least {:e}, below which float32 cannot compute its direction exactly",
                squared.sqrt(),
                MIN_COSINE_SQUARED_NORM.sqrt()
            ),
        });
    }
    Ok(())
}

/// Largest squared length of a vector: a quarter of `f32::MAX`, so the squared distance between any two
/// stored or query vectors (at most `(|a| + |b|)²`) and every dot product stay finite in float32.
pub const MAX_SQUARED_NORM: f64 = f32::MAX as f64 / 4.0;
/// Smallest squared length of a vector under cosine (length 1e-12): its largest element's square is then
/// a normal float32, so the float32 norm is exact to ~1e-9 and the score to the same.
pub const MIN_COSINE_SQUARED_NORM: f64 = 1e-24;

/// An id must be a non-empty string of at most `MAX_ID_BYTES` bytes, without NUL.
pub fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(StoreError::invalid(what, "ids must be non-empty strings"));
    }
    if id.contains('\0') {
        return Err(StoreError::invalid(what, "ids must not contain the NUL character"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(StoreError::invalid(
            what,
            format!("id is {} bytes long; at most {MAX_ID_BYTES} allowed", id.len()),
        ));
    }
    Ok(())
}

/// Checks a whole batch before anything is written, and returns each item's metadata as JSON text.
pub fn check_items(items: &[Item], dimension: usize, metric: Metric) -> Result<Vec<Option<String>>> {
    check_items_at(items, dimension, metric, &|i, field| format!("items[{i}].{field}"))
}

/// `check_items`, naming a bad value by `at(index, field)` (`field` is `id`, `vector` or `metadata`):
/// imports name the file, line and field instead of `items[i]`.
pub fn check_items_at(
    items: &[Item],
    dimension: usize,
    metric: Metric,
    at: &dyn Fn(usize, &str) -> String,
) -> Result<Vec<Option<String>>> {
    let mut seen = HashSet::with_capacity(items.len());
    let mut metadata = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        check_id(&at(i, "id"), &item.id)?;
        if !seen.insert(item.id.as_str()) {
            return Err(StoreError::DuplicateId {
                id: item.id.clone(),
                reason: "it appears twice in this batch".into(),
            });
        }
        check_vector(&at(i, "vector"), &item.vector, dimension, metric)?;
        metadata.push(metadata_json(&at(i, "metadata"), item.metadata.as_ref())?);
    }
    Ok(metadata)
}

/// Metadata is a JSON object (or absent); it is stored as JSON text.
fn metadata_json(option: &str, metadata: Option<&serde_json::Value>) -> Result<Option<String>> {
    match metadata {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value @ serde_json::Value::Object(_)) => {
            let text = serde_json::to_string(value).map_err(|e| StoreError::invalid(option, e.to_string()))?;
            if text.len() > MAX_METADATA_BYTES {
                return Err(StoreError::invalid(
                    option,
                    format!("metadata is {} bytes as JSON; at most {MAX_METADATA_BYTES} allowed", text.len()),
                ));
            }
            Ok(Some(text))
        }
        Some(other) => {
            Err(StoreError::invalid(option, format!("expected an object or null, got {}", json_kind(other))))
        }
    }
}

/// Ids for `get`/`delete`: each a valid id, at most `MAX_IDS_PER_CALL` of them.
pub fn check_id_list(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_IDS_PER_CALL {
        return Err(StoreError::invalid("ids", format!("got {} ids; at most {MAX_IDS_PER_CALL} per call", ids.len())));
    }
    ids.iter().enumerate().try_for_each(|(i, id)| check_id(&format!("ids[{i}]"), id))
}

/// Column names lancestore uses itself; a field may not take them.
const RESERVED_FIELD_NAMES: [&str; 4] = ["id", "vector", "metadata", "_distance"];

/// Checks a field name: a letter or `_` first, then letters, digits and `_`, at most 64 characters.
pub fn check_field_name(option: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || name.len() > 64 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::invalid(
            option,
            format!(
                "field name {name:?} must start with a letter or '_' and hold only letters, digits and '_' (at most 64)"
            ),
        ));
    }
    if RESERVED_FIELD_NAMES.contains(&name) || name.starts_with("_row") {
        return Err(StoreError::invalid(option, format!("field name {name:?} is reserved")));
    }
    Ok(())
}

/// Parses `{ name: 'string' | 'int' | … }`.
pub fn parse_fields(declared: &BTreeMap<String, String>) -> Result<Fields> {
    declared
        .iter()
        .map(|(name, kind)| {
            let option = format!("fields.{name}");
            check_field_name(&option, name)?;
            Ok((name.clone(), FieldType::parse(&option, kind)?))
        })
        .collect()
}

/// What `createIndex` was asked for, as the user gave it (numbers unchecked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRequest {
    /// `"auto" | "hnsw" | "ivf_pq" | "ivf_hnsw_sq" | "ivf_flat" | "none"`; default `"auto"`.
    pub kind: Option<String>,
    /// IVF partitions.
    pub num_partitions: Option<f64>,
    /// PQ sub-vectors (must divide the dimension).
    pub num_sub_vectors: Option<f64>,
    /// PQ bits per code: 4 or 8.
    pub num_bits: Option<f64>,
    /// K-means iterations.
    pub max_iterations: Option<f64>,
    /// Training rows per partition.
    pub sample_rate: Option<f64>,
    /// HNSW neighbours per node.
    pub num_edges: Option<f64>,
    /// HNSW build-time candidates.
    pub ef_construction: Option<f64>,
}

impl IndexRequest {
    /// Checks every option that does not depend on the row count (that one check is made when
    /// planning): ranges, that PQ sub-vectors divide `dimension`, and that each option applies to the kind.
    pub fn validate(&self, dimension: usize) -> Result<IndexOptions> {
        let requested = match self.kind.as_deref().unwrap_or("auto") {
            "auto" => Requested::Auto,
            "none" => {
                if self != &(Self { kind: self.kind.clone(), ..Default::default() }) {
                    return Err(StoreError::invalid("kind", "'none' drops the index, so it takes no index parameters"));
                }
                return Ok(IndexOptions { requested: Requested::Exact, ..Default::default() });
            }
            "hnsw" => {
                let ivf = [
                    ("numPartitions", self.num_partitions),
                    ("numSubVectors", self.num_sub_vectors),
                    ("numBits", self.num_bits),
                    ("maxIterations", self.max_iterations),
                    ("sampleRate", self.sample_rate),
                ];
                if let Some((option, _)) = ivf.into_iter().find(|(_, given)| given.is_some()) {
                    return Err(StoreError::invalid(option, "only applies to the IVF kinds, not 'hnsw'"));
                }
                return Ok(IndexOptions {
                    requested: Requested::Graph,
                    num_edges: opt_u32("numEdges", self.num_edges, 2, 512)?,
                    ef_construction: opt_u32("efConstruction", self.ef_construction, 10, 10_000)?,
                    ..Default::default()
                });
            }
            other => Requested::Kind(IndexKind::parse(other).ok_or_else(|| {
                StoreError::invalid(
                    "kind",
                    format!("got {other:?}, expected 'auto', 'hnsw', 'ivf_pq', 'ivf_hnsw_sq', 'ivf_flat' or 'none'"),
                )
            })?),
        };
        let kind = match requested {
            Requested::Kind(kind) => kind,
            Requested::Auto | Requested::Exact | Requested::Graph => AUTO_KIND,
        };
        let num_partitions = opt_u32("numPartitions", self.num_partitions, 1, MAX_ASKED_PARTITIONS)?;
        let (mut num_sub_vectors, mut num_bits) = (None, None);
        if kind == IndexKind::IvfPq {
            num_sub_vectors = opt_u32("numSubVectors", self.num_sub_vectors, 1, dimension)?;
            if let Some(n) = num_sub_vectors
                && !dimension.is_multiple_of(n as usize)
            {
                return Err(StoreError::invalid(
                    "numSubVectors",
                    format!("{n} does not divide the dimension {dimension}"),
                ));
            }
            num_bits = match self.num_bits {
                Some(b) if b == 4.0 || b == 8.0 => Some(b as u32),
                Some(b) => return Err(StoreError::invalid("numBits", format!("got {b}, expected 4 or 8"))),
                None => None,
            };
        } else {
            refuse_unless(
                IndexKind::IvfPq,
                kind,
                [("numSubVectors", self.num_sub_vectors), ("numBits", self.num_bits)],
            )?;
        }
        let (mut num_edges, mut ef_construction) = (None, None);
        if kind == IndexKind::IvfHnswSq {
            num_edges = opt_u32("numEdges", self.num_edges, 2, 512)?;
            ef_construction = opt_u32("efConstruction", self.ef_construction, 10, 10_000)?;
        } else {
            refuse_unless(
                IndexKind::IvfHnswSq,
                kind,
                [("numEdges", self.num_edges), ("efConstruction", self.ef_construction)],
            )?;
        }
        Ok(IndexOptions {
            requested,
            num_partitions,
            num_sub_vectors,
            num_bits,
            max_iterations: opt_u32("maxIterations", self.max_iterations, 1, 1_000)?,
            sample_rate: opt_u32("sampleRate", self.sample_rate, 2, 65_536)?,
            num_edges,
            ef_construction,
        })
    }
}

/// Refuses the `options` given for a kind other than the one (`owner`) they belong to.
fn refuse_unless(owner: IndexKind, kind: IndexKind, options: [(&str, Option<f64>); 2]) -> Result<()> {
    match options.into_iter().find(|(_, given)| given.is_some()) {
        Some((option, _)) => Err(StoreError::invalid(
            option,
            format!("only applies to kind '{}', not '{}'", owner.as_str(), kind.as_str()),
        )),
        None => Ok(()),
    }
}

fn opt_u32(option: &str, value: Option<f64>, min: usize, max: usize) -> Result<Option<u32>> {
    value
        .map(|v| {
            let n = integer_in(option, v, min, max)?;
            u32::try_from(n).map_err(|_| StoreError::invalid(option, format!("got {n}, too large")))
        })
        .transpose()
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, vector: Vec<f32>) -> Item {
        Item { id: id.into(), vector, metadata: None }
    }

    #[test]
    fn limit_must_be_a_positive_integer_up_to_the_maximum() {
        for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 1e9] {
            let err = SearchRequest { limit: Some(bad), ..Default::default() }
                .validate(&[1.0], 1, Metric::Cosine, &Fields::new())
                .unwrap_err();
            assert!(matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "limit"), "{bad}");
        }
        let ok = SearchRequest { limit: Some(10_000.0), threshold: Some(0.5), ..Default::default() }
            .validate(&[1.0], 1, Metric::Cosine, &Fields::new())
            .unwrap();
        assert_eq!(
            ok,
            Search { limit: 10_000, threshold: Some(0.5), filter: None, knobs: Knobs::default(), text: None }
        );
        assert_eq!(
            SearchRequest::default().validate(&[1.0], 1, Metric::L2, &Fields::new()).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn index_knobs_are_checked() {
        let check = |request: SearchRequest| request.validate(&[1.0], 1, Metric::L2, &Fields::new());
        let bad = [
            SearchRequest { nprobes: Some(0.0), ..Default::default() },
            SearchRequest { refine_factor: Some(2.5), ..Default::default() },
            SearchRequest { ef: Some(5.0), limit: Some(10.0), ..Default::default() },
        ];
        for request in bad {
            assert!(matches!(check(request.clone()), Err(StoreError::InvalidArgument { .. })), "{request:?}");
        }
        let ok = check(SearchRequest {
            nprobes: Some(4.0),
            refine_factor: Some(3.0),
            ef: Some(64.0),
            exact: Some(true),
            ..Default::default()
        });
        assert_eq!(ok.unwrap().knobs, Knobs { nprobes: Some(4), refine_factor: Some(3), ef: Some(64), exact: true });
    }

    #[test]
    fn threshold_must_be_finite() {
        let err = SearchRequest { threshold: Some(f64::NAN), ..Default::default() }
            .validate(&[1.0], 1, Metric::Cosine, &Fields::new())
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidArgument { .. }));
    }

    #[test]
    fn vectors_are_checked_for_length_finiteness_and_zero_under_cosine() {
        assert!(matches!(
            check_vector("q", &[1.0, 2.0], 3, Metric::Cosine),
            Err(StoreError::DimensionMismatch { expected: 3, got: 2, .. })
        ));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert!(matches!(check_vector("q", &[1.0, bad], 2, Metric::L2), Err(StoreError::InvalidVector { .. })));
        }
        assert!(matches!(check_vector("q", &[0.0, 0.0], 2, Metric::Cosine), Err(StoreError::InvalidVector { .. })));
        assert!(check_vector("q", &[0.0, 0.0], 2, Metric::Dot).is_ok());
        assert!(check_vector("q", &[0.0, 0.0], 2, Metric::L2).is_ok());
    }

    /// Issue 13, item 2: vectors whose length float32 cannot carry gave `score: Infinity` or vanished.
    #[test]
    fn vectors_too_short_for_cosine_or_too_long_for_float32_are_refused() {
        let tiny = [1e-45_f32; 4];
        let small = [1e-23_f32, 0.0, 0.0, 0.0];
        let huge = [3e38_f32, 0.0];
        for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
            assert!(matches!(check_vector("q", &huge, 2, metric), Err(StoreError::InvalidVector { .. })), "{metric:?}");
            let at_limit = [(MAX_SQUARED_NORM.sqrt() * 0.999) as f32, 0.0];
            assert!(check_vector("q", &at_limit, 2, metric).is_ok(), "{metric:?}");
        }
        assert!(matches!(check_vector("q", &tiny, 4, Metric::Cosine), Err(StoreError::InvalidVector { .. })));
        assert!(matches!(check_vector("q", &small, 4, Metric::Cosine), Err(StoreError::InvalidVector { .. })));
        assert!(check_vector("q", &[2e-12, 0.0, 0.0, 0.0], 4, Metric::Cosine).is_ok());
        assert!(check_vector("q", &small, 4, Metric::L2).is_ok() && check_vector("q", &tiny, 4, Metric::Dot).is_ok());
    }

    #[test]
    fn open_options_are_checked() {
        let bad = [
            OpenOptions { dimension: Some(0.0), ..Default::default() },
            OpenOptions { dimension: Some(-3.0), ..Default::default() },
            OpenOptions { dimension: Some(2.5), ..Default::default() },
            OpenOptions { metric: Some("euclid".into()), ..Default::default() },
            OpenOptions { table: Some("../escape".into()), ..Default::default() },
            OpenOptions { table: Some(String::new()), ..Default::default() },
            OpenOptions { batch_size: Some(0.0), ..Default::default() },
            OpenOptions { cache_size: Some(-1.0), ..Default::default() },
            OpenOptions { cache_size: Some(f64::NAN), ..Default::default() },
            OpenOptions { cache_ttl_seconds: Some(-5.0), ..Default::default() },
            OpenOptions { cache_ttl_seconds: Some(f64::INFINITY), ..Default::default() },
            OpenOptions { prefetch_size: Some(0.0), ..Default::default() },
            OpenOptions { read_consistency_interval_ms: Some(-1.0), ..Default::default() },
            OpenOptions { retain_versions_seconds: Some(f64::NAN), ..Default::default() },
        ];
        for options in bad {
            let err = StoreConfig::resolve(options.clone()).unwrap_err();
            assert!(matches!(err, StoreError::InvalidArgument { .. }), "{options:?}");
        }
        let config = StoreConfig::resolve(OpenOptions {
            dimension: Some(768.0),
            metric: Some("dot".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(config.dimension, Some(768));
        assert_eq!(config.metric, Some(Metric::Dot));
        assert_eq!(config.table, DEFAULT_TABLE);
        assert_eq!((config.cache_capacity, config.cache_ttl), (DEFAULT_CACHE_SIZE, Some(DEFAULT_CACHE_TTL)));
        assert_eq!(config.read_consistency, Duration::ZERO);
    }

    #[test]
    fn cache_options_resolve() {
        let off = StoreConfig::resolve(OpenOptions {
            enable_query_cache: Some(false),
            cache_size: Some(50.0),
            ..Default::default()
        });
        assert_eq!(off.unwrap().cache_capacity, 0);
        let no_ttl = StoreConfig::resolve(OpenOptions { cache_ttl_seconds: Some(0.0), ..Default::default() }).unwrap();
        assert_eq!(no_ttl.cache_ttl, None);
        let warm = StoreConfig::resolve(OpenOptions {
            prefetch: Some(true),
            prefetch_size: Some(100.0),
            ..Default::default()
        });
        assert_eq!(warm.unwrap().prefetch_rows, Some(100));
        let lag = StoreConfig::resolve(OpenOptions { read_consistency_interval_ms: Some(250.0), ..Default::default() });
        assert_eq!(lag.unwrap().read_consistency, Duration::from_millis(250));
    }

    #[test]
    fn batches_reject_empty_long_and_repeated_ids_and_bad_metadata() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(matches!(check_items(&[item("", vec![1.0])], 1, Metric::L2), Err(StoreError::InvalidArgument { .. })));
        assert!(matches!(
            check_items(&[item(&long, vec![1.0])], 1, Metric::L2),
            Err(StoreError::InvalidArgument { .. })
        ));
        let repeated = [item("a", vec![1.0]), item("b", vec![1.0]), item("a", vec![1.0])];
        assert!(
            matches!(check_items(&repeated, 1, Metric::L2), Err(StoreError::DuplicateId { ref id, .. }) if id == "a")
        );
        let mut array_meta = item("a", vec![1.0]);
        array_meta.metadata = Some(serde_json::json!([1, 2]));
        assert!(matches!(check_items(&[array_meta], 1, Metric::L2), Err(StoreError::InvalidArgument { .. })));
        let mut ok = item("a", vec![1.0]);
        ok.metadata = Some(serde_json::json!({"title": "x", "n": [1, {"k": "ü"}]}));
        let texts = check_items(&[ok, item("b", vec![2.0])], 1, Metric::L2).unwrap();
        assert_eq!(texts, vec![Some(r#"{"title":"x","n":[1,{"k":"ü"}]}"#.to_owned()), None]);
    }

    #[test]
    fn index_options_are_checked_before_anything_is_built() {
        let kind = |name: &str| IndexRequest { kind: Some(name.into()), ..Default::default() };
        let bad = [
            IndexRequest { num_sub_vectors: Some(7.0), ..kind("ivf_pq") },
            IndexRequest { num_bits: Some(6.0), ..kind("ivf_pq") },
            IndexRequest { num_partitions: Some(0.0), ..kind("ivf_flat") },
            IndexRequest { num_partitions: Some(65_537.0), ..kind("ivf_flat") },
            IndexRequest { num_sub_vectors: Some(8.0), ..kind("ivf_flat") },
            IndexRequest { num_edges: Some(8.0), ..kind("ivf_pq") },
            IndexRequest { max_iterations: Some(1.5), ..kind("ivf_flat") },
            IndexRequest { max_iterations: Some(0.0), ..kind("auto") },
            IndexRequest { num_partitions: Some(4.0), ..kind("none") },
            kind("hnsw_x"),
            IndexRequest { num_partitions: Some(4.0), ..kind("hnsw") },
            IndexRequest { num_edges: Some(1.0), ..kind("hnsw") },
            IndexRequest { ef_construction: Some(5.0), ..kind("hnsw") },
        ];
        for request in bad {
            assert!(matches!(request.validate(384), Err(StoreError::InvalidArgument { .. })), "{request:?}");
        }
        let ok = IndexRequest {
            num_partitions: Some(4.0),
            num_sub_vectors: Some(16.0),
            num_bits: Some(4.0),
            ..kind("ivf_pq")
        };
        let options = ok.validate(384).unwrap();
        assert_eq!(
            (options.requested, options.num_partitions, options.num_sub_vectors),
            (Requested::Kind(IndexKind::IvfPq), Some(4), Some(16))
        );
        assert_eq!(IndexRequest::default().validate(8).unwrap().requested, Requested::Auto);
        assert_eq!(kind("none").validate(8).unwrap().requested, Requested::Exact);
        let graph = IndexRequest { num_edges: Some(32.0), ef_construction: Some(200.0), ..kind("hnsw") };
        let graph = graph.validate(8).unwrap();
        assert_eq!((graph.requested, graph.num_edges, graph.ef_construction), (Requested::Graph, Some(32), Some(200)));
    }

    #[test]
    fn field_declarations_parse_and_bad_ones_are_rejected() {
        let ok: BTreeMap<String, String> =
            [("section", "string"), ("year", "int"), ("tags", "string[]")].map(|(a, b)| (a.into(), b.into())).into();
        let fields = parse_fields(&ok).unwrap();
        assert_eq!(fields["tags"], FieldType::StringList);
        for (name, kind) in [("id", "string"), ("1abc", "int"), ("a-b", "int"), ("x", "date"), ("a b", "string")] {
            let bad: BTreeMap<String, String> = [(name.to_owned(), kind.to_owned())].into();
            assert!(matches!(parse_fields(&bad), Err(StoreError::InvalidArgument { .. })), "{name} {kind}");
        }
    }

    #[test]
    fn text_searches_need_words_and_a_text_field_to_search() {
        use crate::store::fields::TextLanguage;
        let text = FieldType::Text(TextLanguage::ENGLISH);
        let one: Fields = [("body".to_owned(), text), ("section".to_owned(), FieldType::String)].into();
        let two: Fields = [("body".to_owned(), text), ("title".to_owned(), text)].into();
        let none: Fields = [("section".to_owned(), FieldType::String)].into();
        let ask = |words: &str| SearchRequest { text: Some(words.to_owned()), ..Default::default() };
        let search = ask("free software").validate_text(&one).unwrap();
        assert_eq!(
            search.text,
            Some(TextQuery { text: "free software".into(), field: "body".into(), rrf_k: DEFAULT_RRF_K as u32 })
        );
        let hybrid = SearchRequest { rrf_k: Some(10.0), ..ask("x") }.validate(&[1.0, 0.0], 2, Metric::Cosine, &one);
        assert_eq!(hybrid.unwrap().text.map(|t| t.rrf_k), Some(10));
        let named = SearchRequest { text_field: Some("title".into()), ..ask("x") }.validate_text(&two).unwrap();
        assert_eq!(named.text.map(|t| t.field), Some("title".to_owned()));
        let bad = [
            (ask(""), &one, "text"),
            (ask("  \n\t"), &one, "text"),
            (ask(&"w ".repeat(MAX_TEXT_BYTES)), &one, "text"),
            (ask("x"), &none, "text"),
            (ask("x"), &two, "textField"),
            (SearchRequest { text_field: Some("section".into()), ..ask("x") }, &one, "textField"),
            (SearchRequest { text_field: Some("nope".into()), ..ask("x") }, &one, "textField"),
            (SearchRequest::default(), &one, "text"),
            (SearchRequest { rrf_k: Some(60.0), ..ask("x") }, &one, "rrfK"),
            (SearchRequest { limit: Some(0.0), ..ask("x") }, &one, "limit"),
        ];
        for (request, fields, option) in bad {
            let err = request.validate_text(fields).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidArgument { option: ref o, .. } if o == option),
                "{request:?}: {err}"
            );
        }
        let stray = SearchRequest { text_field: Some("body".into()), ..Default::default() };
        let err = stray.validate(&[1.0, 0.0], 2, Metric::Cosine, &one).unwrap_err();
        assert!(matches!(err, StoreError::InvalidArgument { option: ref o, .. } if o == "textField"));
        let err = SearchRequest { rrf_k: Some(-1.0), ..ask("x") }.validate(&[1.0, 0.0], 2, Metric::Cosine, &one);
        assert!(matches!(err, Err(StoreError::InvalidArgument { option: ref o, .. }) if o == "rrfK"));
    }
}
