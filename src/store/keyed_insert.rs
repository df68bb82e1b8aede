//! Adds on object storage, where no lock spans processes (or machines). The rows go in through a
//! LanceDB merge insert keyed on `id` that fails when an id is already stored (at the version it reads)
//! and inserts the rest. A table created on object storage marks `id` as its primary key, so the commit
//! carries a filter of the inserted ids and LanceDB's conflict check refuses it when a writer that
//! committed meanwhile inserted (or appended) an id it may share. LanceDB's own retries are off (its
//! retry would re-run the insert unseen); the conflict comes back as `Conflict` and the caller checks
//! the ids again (`DUPLICATE_ID` if the other writer stored one) and retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use lance::dataset::{MergeInsertBuilder, WhenMatched, WhenNotMatched};

use super::error::{Result, StoreError};
use super::schema;

/// Inserts `batches` in one commit and returns the new version; `None` (nothing written) when one of the
/// ids is already stored; `Conflict` when a concurrent commit may have stored one of them.
pub async fn insert_new_ids(
    table: &lancedb::Table,
    schema: &SchemaRef,
    batches: impl Iterator<Item = RecordBatch> + Send + 'static,
) -> Result<Option<u64>> {
    let lance_error = |action: &'static str| move |e: lance::Error| StoreError::lance(action)(lancedb::Error::from(e));
    let handle = table.dataset().ok_or_else(|| StoreError::Internal("the table is not a LanceDB table".into()))?;
    let dataset = handle.get().await.map_err(StoreError::lance("reading the table version"))?;
    let mut builder =
        MergeInsertBuilder::try_new(dataset, vec![schema::ID.to_owned()]).map_err(lance_error("adding embeddings"))?;
    builder.when_matched(WhenMatched::Fail).when_not_matched(WhenNotMatched::InsertAll).conflict_retries(0);
    let job = builder.try_build().map_err(lance_error("adding embeddings"))?;
    let rows = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&rows);
    let batches = batches.inspect(move |batch| {
        counted.fetch_add(batch.num_rows(), Ordering::Relaxed);
    });
    let reader = RecordBatchIterator::new(batches.map(Ok), SchemaRef::clone(schema));
    let (dataset, stats) = match job.execute_reader(reader).await {
        Ok(done) => done,
        // What `WhenMatched::Fail` reports (a DataFusion execution error, so matched by its text).
        Err(e) if e.to_string().contains("found matching row") => return Ok(None),
        Err(e) => return Err(lance_error("adding embeddings")(e)),
    };
    let version = dataset.manifest().version;
    // The handle moves to the version just written, as LanceDB's own writes do.
    handle.update(dataset.as_ref().clone());
    let rows = rows.load(Ordering::Relaxed);
    if usize::try_from(stats.num_inserted_rows).ok() != Some(rows) {
        // A matched id fails the insert, so every row is new: anything else is a broken invariant.
        return Err(StoreError::Internal(format!(
            "the add committed {} of {rows} rows (version {version})",
            stats.num_inserted_rows
        )));
    }
    Ok(Some(version))
}
