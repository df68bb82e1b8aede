//! `store.scan()`'s native half: `openScan` starts a store scan and hands JS a `ScanCursor`, whose
//! `next()` resolves one batch of rows at a time (`null` at the end). `index.js` wraps the cursor in the
//! async iterator users call (`for await (const row of store.scan())`).

use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use super::error::{BadArgument, settle_args};
use super::results::StoredEmbedding;
use crate::store::{self, Store};

/// A scan in progress, created by `EmbeddingStore.openScan` (use `store.scan()`, which drives it).
#[napi]
pub struct ScanCursor {
    store: Arc<Store>,
    scan: Arc<tokio::sync::Mutex<store::scan::Scan>>,
}

impl ScanCursor {
    pub fn new(store: Arc<Store>, scan: store::scan::Scan) -> Self {
        Self { store, scan: Arc::new(tokio::sync::Mutex::new(scan)) }
    }
}

#[napi]
impl ScanCursor {
    /// The next batch of rows (at most `batchSize`), or `null` once every row was returned. Rejects
    /// `STORE_CLOSED` after the store was closed.
    #[napi(ts_return_type = "Promise<StoredEmbedding[] | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Vec<StoredEmbedding>>>> {
        let accepted = self.store.begin().map_err(BadArgument::from).map(|call| (call, Arc::clone(&self.scan)));
        settle_args(
            env,
            accepted,
            |(call, scan)| async move {
                let batch = scan.lock().await.next_batch().await;
                drop(call); // the call ends here: a waiting close() may proceed
                batch
            },
            |batch| batch.map(|items| items.into_iter().map(StoredEmbedding::from).collect()),
        )
    }
}
