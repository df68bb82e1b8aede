//! The JS surface: `EmbeddingStore`. Every method copies its arguments into owned Rust values on the
//! JS thread, calls `Store` on napi's tokio runtime, and settles a Promise (see `napi/error.rs`).

mod convert;
mod error;
mod json;
mod options;
mod progress;
mod results;
mod scan;

use std::future::Future;
use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue, Unknown};
use napi_derive::napi;

use crate::store::{self, Store};
use convert::{
    Args, filter_option, from_js, items_from_js, open_options, optional_from_js, query_from_js, tables_storage,
};
use error::{BadArgument, settle, settle_args};
use json::JsonInput;
use napi::bindgen_prelude::Either;
use options::{
    AddOptions, CreateIndexOptions, DeleteByFilter, ImportOptions, OptimizeOptions, ScanOptions, SearchOptions,
    TextSearchOptions, VersionsOptions,
};
use results::{
    AddResult, DeleteResult, ImportResult, IndexReport, OptimizeResult, SearchHits, StoreStats, StoredEmbedding,
    UpdateResult, UpsertResult, VersionInfo,
};

/// An embedded embedding store: one LanceDB table on local disk or S3-compatible object storage. Create one with `EmbeddingStore.open`.
#[napi]
pub struct EmbeddingStore {
    inner: Arc<Store>,
}

/// The core's sink for an `onProgress` callback, if one was given.
fn progress_sink<'env>(
    callback: Option<
        &napi::bindgen_prelude::Function<'env, options::ProgressEvent, napi::threadsafe_function::UnknownReturnValue>,
    >,
) -> Result<Option<store::progress::ProgressSink>, BadArgument<'env>> {
    callback
        .map(progress::sink)
        .transpose()
        .map_err(|e| BadArgument::from(store::StoreError::invalid("options.onProgress", e.reason.clone())))
}

impl EmbeddingStore {
    /// Accepts a call now, on the JS thread (so a later `close()` waits for it), and runs `work` on
    /// the converted `args` off the JS thread. A conversion error or a closed store rejects the Promise.
    fn call<'env, A, T, V, F>(
        &self,
        env: &'env Env,
        args: Args<'env, A>,
        work: impl FnOnce(Arc<Store>, A) -> F,
        to_js: impl FnOnce(T) -> V + 'static,
    ) -> napi::Result<PromiseRaw<'env, V>>
    where
        F: Future<Output = store::Result<T>> + Send + 'static,
        T: Send + 'static,
        V: ToNapiValue + Send + 'static,
    {
        let accepted = args.and_then(|args| Ok((self.inner.begin()?, args)));
        let store = Arc::clone(&self.inner);
        settle_args(
            env,
            accepted,
            move |(call, args)| {
                let work = work(store, args);
                async move {
                    let outcome = work.await;
                    drop(call); // the call ends here: a waiting close() may proceed
                    outcome
                }
            },
            to_js,
        )
    }
}

#[napi]
impl EmbeddingStore {
    /// Opens the store in directory `path` (created if missing) or at an `s3://bucket/prefix` URL
    /// (with `options.storage`), creating the table on first use.
    /// Rejects `DIMENSION_MISMATCH` when `options.dimension` differs from an existing table's,
    /// `INVALID_ARGUMENT` for bad options or paths, `IO` when the directory cannot be created or written
    /// or the object store cannot be reached (unreachable endpoint, bad credentials, missing bucket, denied).
    #[napi(ts_args_type = "path: string, options?: OpenOptions", ts_return_type = "Promise<EmbeddingStore>")]
    pub fn open<'env>(
        env: &'env Env,
        path: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, EmbeddingStore>> {
        let args = from_js::<String>(env, &path, "path").and_then(|path| Ok((path, open_options(env, options)?)));
        settle_args(
            env,
            args,
            |(path, options)| async move { Store::open(&path, options.into()).await },
            |store| EmbeddingStore { inner: Arc::new(store) },
        )
    }

    /// Stores `items` in one atomic commit: all of them or, on any error, none. Resolves `{ added, version }`.
    /// Rejects `DUPLICATE_ID` when an id repeats in the batch or is already stored, `DIMENSION_MISMATCH`,
    /// `INVALID_VECTOR`, `INVALID_ARGUMENT`, `STORE_CLOSED`.
    #[napi(ts_args_type = "items: EmbeddingItem[], options?: AddOptions", ts_return_type = "Promise<AddResult>")]
    pub fn add_embeddings<'env>(
        &self,
        env: &'env Env,
        items: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, AddResult>> {
        let args = items_from_js(env, &items).and_then(|items| {
            let options = optional_from_js::<AddOptions>(env, options, "options", AddOptions::KEYS)?;
            Ok((items, progress_sink(options.as_ref().and_then(|o| o.on_progress.as_ref()))?))
        });
        self.call(
            env,
            args,
            |store, (items, sink)| async move { store.add_reporting(items, sink).await },
            AddResult::from,
        )
    }

    /// Streams a JSONL, NPY, Parquet or Arrow IPC file into the store, in Rust (never through JS objects, never
    /// the whole file in memory), in one atomic commit unless `commitEvery` is given. Resolves
    /// `{ added, version, rows, commits, ms }`. A bad line or row rejects naming it (`INVALID_ARGUMENT`,
    /// `INVALID_VECTOR`, `DIMENSION_MISMATCH`, `DUPLICATE_ID`) and writes nothing; `IO` when a file cannot be read.
    #[napi(ts_args_type = "path: string, options?: ImportOptions", ts_return_type = "Promise<ImportResult>")]
    pub fn import_file<'env>(
        &self,
        env: &'env Env,
        path: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, ImportResult>> {
        let args = from_js::<String>(env, &path, "path").and_then(|path| {
            let options = optional_from_js::<ImportOptions>(env, options, "options", ImportOptions::KEYS)?;
            let Some(options) = options else {
                return Ok((store::import::ImportRequest { path, ..Default::default() }, None));
            };
            Ok((options.request(path), progress_sink(options.on_progress.as_ref())?))
        });
        self.call(
            env,
            args,
            |store, (request, sink)| async move { store.import_file(request, sink).await },
            ImportResult::from,
        )
    }

    /// The stored embeddings nearest to `query`, best first (`score` descending).
    /// Rejects `DIMENSION_MISMATCH` on a wrong length, `INVALID_VECTOR`, `INVALID_ARGUMENT`, `STORE_CLOSED`.
    #[napi(
        ts_args_type = "query: Float32Array | number[], options?: SearchOptions",
        ts_return_type = "Promise<SearchHit[]>"
    )]
    pub fn search<'env>(
        &self,
        env: &'env Env,
        query: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, SearchHits>> {
        let args = query_from_js(env, &query).and_then(|query| {
            let options =
                optional_from_js::<SearchOptions>(env, options, "options", SearchOptions::KEYS)?.unwrap_or_default();
            Ok((query, store::SearchRequest::try_from(options)?))
        });
        // Each call gets fresh JS objects, so callers may mutate hits without touching the cache.
        let metric = self.inner.metric();
        let to_js = move |hits| SearchHits { hits, metric, words_only: false };
        // A cached answer at the latest version resolves at once, without a hop through the runtime.
        if let Ok((query, request)) = &args
            && let Ok(_call) = self.inner.begin()
            && let Some(hits) = self.inner.search_if_cached(query, request)
        {
            return PromiseRaw::resolve(env, to_js(hits));
        }
        self.call(env, args, |store, (query, request)| async move { store.search(&query, &request).await }, to_js)
    }

    /// The rows whose `'text'` field best matches `text` (BM25: word frequency weighed by rarity), best first.
    /// The field's full-text index is built in the background after writes (with `autoIndex`), else by the first
    /// such search, and by `optimize()`; later rows are found at once. Rejects `INVALID_ARGUMENT` (blank or too long `text`, no `'text'` field), `INVALID_FILTER`, `STORE_CLOSED`.
    #[napi(ts_args_type = "text: string, options?: TextSearchOptions", ts_return_type = "Promise<TextHit[]>")]
    pub fn search_text<'env>(
        &self,
        env: &'env Env,
        text: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, SearchHits>> {
        let args = from_js::<String>(env, &text, "text").and_then(|text| {
            let options = optional_from_js::<TextSearchOptions>(env, options, "options", TextSearchOptions::KEYS)?
                .unwrap_or_default();
            Ok(options.request(text)?)
        });
        let metric = self.inner.metric();
        self.call(
            env,
            args,
            |store, request| async move { store.search_text(&request).await },
            move |hits| SearchHits { hits, metric, words_only: true },
        )
    }

    /// Row count, version, query-cache counters, operation counts and latency summaries.
    #[napi(ts_return_type = "Promise<StoreStats>")]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, StoreStats>> {
        self.call(env, Ok(()), |store, ()| async move { store.stats().await }, StoreStats::from)
    }

    /// Number of stored embeddings, or of those matching `options.filter`. Rejects `INVALID_FILTER`.
    #[napi(ts_args_type = "options?: CountOptions", ts_return_type = "Promise<number>")]
    pub fn count<'env>(&self, env: &'env Env, options: Option<Unknown<'env>>) -> napi::Result<PromiseRaw<'env, f64>> {
        let filter = filter_option(env, options);
        self.call(env, filter, |store, filter| async move { store.count(filter.as_ref()).await }, |n| n as f64)
    }

    /// Inserts new ids and replaces existing ones (vector and metadata) in one atomic commit.
    /// Resolves `{ inserted, updated, version }`. Rejects like `addEmbeddings`, except that stored ids are replaced.
    #[napi(ts_args_type = "items: EmbeddingItem[]", ts_return_type = "Promise<UpsertResult>")]
    pub fn upsert_embeddings<'env>(
        &self,
        env: &'env Env,
        items: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, UpsertResult>> {
        self.call(
            env,
            items_from_js(env, &items),
            |store, items| async move { store.upsert(items).await },
            UpsertResult::from,
        )
    }

    /// The stored items for `ids`, in the order asked, with `null` for ids not stored.
    #[napi(ts_args_type = "ids: string[]", ts_return_type = "Promise<Array<StoredEmbedding | null>>")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        ids: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Option<StoredEmbedding>>>> {
        self.call(
            env,
            from_js::<Vec<String>>(env, &ids, "ids"),
            |store, ids| async move { store.get(ids).await },
            |items| items.into_iter().map(|item| item.map(StoredEmbedding::from)).collect(),
        )
    }

    /// Removes the given ids (missing ones are ignored), or the rows matching `{ filter }`, in one commit.
    /// Resolves `{ deleted, version }`. Rejects `INVALID_FILTER` (an empty filter is refused rather than deleting everything).
    #[napi(ts_args_type = "target: string[] | DeleteByFilter", ts_return_type = "Promise<DeleteResult>")]
    pub fn delete<'env>(&self, env: &'env Env, target: Unknown<'env>) -> napi::Result<PromiseRaw<'env, DeleteResult>> {
        let target = from_js::<Either<Vec<String>, DeleteByFilter>>(env, &target, "target").and_then(|target| {
            Ok(match target {
                Either::A(ids) => store::DeleteTarget::Ids(ids),
                Either::B(by_filter) => store::DeleteTarget::Filter(by_filter.filter.parse("target.filter")?),
            })
        });
        self.call(env, target, |store, target| async move { store.delete(target).await }, DeleteResult::from)
    }

    /// Patches the metadata of the stored `ids` (missing ones are ignored) with `patch`, a JSON merge patch
    /// (RFC 7396: each key replaces the stored one, `null` removes it, objects merge), keeping their vectors,
    /// in one atomic commit. Declared fields are checked and follow. Resolves `{ updated, version }`.
    /// Rejects `INVALID_ARGUMENT` for a patch that is not an object or gives a field the wrong type (nothing is written).
    #[napi(ts_args_type = "ids: string[], patch: Record<string, unknown>", ts_return_type = "Promise<UpdateResult>")]
    pub fn update_metadata<'env>(
        &self,
        env: &'env Env,
        ids: Unknown<'env>,
        patch: Unknown<'env>,
    ) -> napi::Result<PromiseRaw<'env, UpdateResult>> {
        let args = from_js::<Vec<String>>(env, &ids, "ids")
            .and_then(|ids| Ok((ids, from_js::<JsonInput>(env, &patch, "patch")?.parse("patch")?)));
        self.call(
            env,
            args,
            |store, (ids, patch)| async move { store.update_metadata(ids, patch).await },
            UpdateResult::from,
        )
    }

    /// Starts a scan of the stored rows (those matching `options.filter`), read `options.batchSize` at a
    /// time from the version current now. Use `store.scan()`, the async iterator over it.
    #[napi(ts_args_type = "options?: ScanOptions", ts_return_type = "Promise<ScanCursor>")]
    pub fn open_scan<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, scan::ScanCursor>> {
        let args = optional_from_js::<ScanOptions>(env, options, "options", ScanOptions::KEYS).and_then(|o| {
            let Some(o) = o else { return Ok((None, None)) };
            let filter = o.filter.map(|f| f.parse("options.filter")).transpose()?;
            let batch = match o.batch_size {
                Some(n) => Some(store::config::integer_in("options.batchSize", n, 1, store::scan::MAX_SCAN_BATCH)?),
                None => None,
            };
            Ok((filter, batch))
        });
        let store = Arc::clone(&self.inner);
        self.call(
            env,
            args,
            |inner, (filter, batch)| async move { inner.scan(filter.as_ref(), batch).await },
            move |scan| scan::ScanCursor::new(store, scan),
        )
    }

    /// Writes the stored rows (those matching `options.filter`) to `path` as Parquet — columns `id`, `vector`
    /// (fixed-size list of float32), `metadata` (JSON text) — which `importFile` reads back; streamed, and
    /// renamed into place only when complete. Resolves the rows written. Used by `lancestore export`.
    #[napi(ts_args_type = "path: string, options?: CountOptions", ts_return_type = "Promise<number>")]
    pub fn export_parquet<'env>(
        &self,
        env: &'env Env,
        path: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, f64>> {
        let args = from_js::<String>(env, &path, "path").and_then(|path| Ok((path, filter_option(env, options)?)));
        self.call(
            env,
            args,
            |store, (path, filter)| async move { store.export_parquet(&path, filter.as_ref()).await },
            |rows| rows as f64,
        )
    }

    /// The newest kept table versions (`options.limit`, default 100), newest first: `{ version, timestamp, rows }`.
    /// Versions older than `retainVersionsSeconds` are pruned by `optimize` and no longer listed.
    #[napi(ts_args_type = "options?: VersionsOptions", ts_return_type = "Promise<VersionInfo[]>")]
    pub fn versions<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<VersionInfo>>> {
        let limit = optional_from_js::<VersionsOptions>(env, options, "options", VersionsOptions::KEYS).and_then(|o| {
            Ok(match o.and_then(|o| o.limit) {
                Some(limit) => Some(store::config::integer_in("options.limit", limit, 1, 1_000_000)?),
                None => None,
            })
        });
        self.call(
            env,
            limit,
            |store, limit| async move { store.versions(limit).await },
            |versions| versions.into_iter().map(VersionInfo::from).collect(),
        )
    }

    /// Makes an earlier `version` the latest again, as a new commit (the versions after it stay in the
    /// history); the resident copy, graph and cache follow. Resolves the new version. Rejects
    /// `INVALID_ARGUMENT` for a version that is not kept (pruned, or never made).
    #[napi(ts_args_type = "version: number", ts_return_type = "Promise<number>")]
    pub fn restore<'env>(&self, env: &'env Env, version: Unknown<'env>) -> napi::Result<PromiseRaw<'env, f64>> {
        let version = from_js::<f64>(env, &version, "version")
            .and_then(|v| Ok(store::config::integer_in("version", v, 1, 1 << 53)? as u64));
        self.call(env, version, |store, version| async move { store.restore(version).await }, |v| v as f64)
    }

    /// The table names in directory (or `s3://` prefix) `path`, sorted; none when the directory does not exist.
    #[napi(ts_args_type = "path: string, options?: TablesOptions", ts_return_type = "Promise<string[]>")]
    pub fn tables<'env>(
        env: &'env Env,
        path: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let args = from_js::<String>(env, &path, "path").and_then(|path| Ok((path, tables_storage(env, options)?)));
        settle_args(
            env,
            args,
            |(path, storage)| async move { store::tables::list(&path, storage.as_ref()).await },
            |names| names,
        )
    }

    /// Drops table `table` at `path` with lancestore's files beside it (write lock, saved graph); resolves whether
    /// it existed. Rejects `INVALID_ARGUMENT` while a store of this process has it open (close it first).
    #[napi(ts_args_type = "path: string, table: string, options?: TablesOptions", ts_return_type = "Promise<boolean>")]
    pub fn drop_table<'env>(
        env: &'env Env,
        path: Unknown<'env>,
        table: Unknown<'env>,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let args = from_js::<String>(env, &path, "path")
            .and_then(|path| Ok((path, from_js::<String>(env, &table, "table")?, tables_storage(env, options)?)));
        settle_args(
            env,
            args,
            |(path, table, storage)| async move { store::tables::drop(&path, &table, storage.as_ref()).await },
            |existed| existed,
        )
    }

    /// Compacts small data fragments into large ones, deletes table versions older than `retainVersionsSeconds`
    /// (default one hour), builds scalar indexes on declared fields and folds new rows into indexes.
    /// Runs automatically every `performance.autoOptimizeEvery` commits.
    #[napi(ts_args_type = "options?: OptimizeOptions", ts_return_type = "Promise<OptimizeResult>")]
    pub fn optimize<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, OptimizeResult>> {
        let args = optional_from_js::<OptimizeOptions>(env, options, "options", OptimizeOptions::KEYS).and_then(|o| {
            let Some(o) = o else { return Ok((None, None)) };
            Ok((o.retain_versions_seconds, progress_sink(o.on_progress.as_ref())?))
        });
        self.call(
            env,
            args,
            |store, (retain, sink)| async move { store.optimize(retain, sink).await },
            OptimizeResult::from,
        )
    }

    /// Builds the vector index (tuned from the data unless parameters are given), replacing any other;
    /// `{ kind: 'none' }` drops it. Searches keep working meanwhile. Resolves a report of what was built.
    /// Rejects `INDEX_FAILED` with LanceDB's reason when the build fails (the store keeps searching
    /// exactly or with the old index), `INVALID_ARGUMENT` for bad options.
    #[napi(ts_args_type = "options?: CreateIndexOptions", ts_return_type = "Promise<IndexReport>")]
    pub fn create_index<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'env>>,
    ) -> napi::Result<PromiseRaw<'env, IndexReport>> {
        let args =
            optional_from_js::<CreateIndexOptions>(env, options, "options", CreateIndexOptions::KEYS).and_then(|o| {
                let Some(o) = o else { return Ok((store::IndexRequest::default(), None)) };
                Ok((store::IndexRequest::from(&o), progress_sink(o.on_progress.as_ref())?))
            });
        self.call(
            env,
            args,
            |store, (request, sink)| async move { store.create_index(request, sink).await },
            IndexReport::from,
        )
    }

    /// The table's latest committed version (it grows with every write).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn version<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        self.call(env, Ok(()), |store, ()| async move { store.version().await }, |v| v as f64)
    }

    /// Closes the store. Calls made before `close()` finish normally and `close()` resolves after them;
    /// calls made after it reject with `STORE_CLOSED`. A background index build is cancelled and a
    /// background compaction awaited, so once the Promise resolves nothing of this store touches the
    /// directory. The connection is released when the last store on the directory closes. Closing twice is harmless.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.inner.start_close(); // now, on the JS thread: every later call is refused
        let store = Arc::clone(&self.inner);
        settle(env, async move { store.close().await }, |()| ())
    }

    /// Length of every vector in this store.
    #[napi(getter)]
    pub fn dimension(&self) -> u32 {
        u32::try_from(self.inner.dimension()).unwrap_or(u32::MAX)
    }

    /// The metric fixed when the table was created.
    #[napi(getter, ts_return_type = "'cosine' | 'l2' | 'dot'")]
    pub fn metric(&self) -> &'static str {
        self.inner.metric().as_str()
    }

    /// The declared metadata fields and their types.
    #[napi(
        getter,
        ts_return_type = "Record<string, 'string' | 'int' | 'float' | 'bool' | 'string[]' | 'text' | `text:${string}`>"
    )]
    pub fn fields(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.fields().iter().map(|(name, kind)| (name.clone(), kind.spelling())).collect()
    }

    /// The table name.
    #[napi(getter)]
    pub fn table(&self) -> String {
        self.inner.table_name().to_owned()
    }

    /// The store's directory, as an absolute path, or its `s3://` URL.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.location().display()
    }

    /// Whether `close()` has been called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
