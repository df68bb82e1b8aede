//! The words side of a search: LanceDB's full-text (BM25) query on a `'text'` field, with the filter
//! applied first, and the full-text index it reads. The index is built in the background after writes
//! (`search/hybrid.rs`), else by the field's first search, and by `optimize()`; rows written after it are
//! still searched (LanceDB scans them) until upkeep folds them in.

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::index::scalar::FullTextSearchQuery;
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use crate::store::config::TextQuery;
use crate::store::error::{Result, StoreError};
use crate::store::fields::Fields;
use crate::store::filter::Filter;
use crate::store::model::Hit;
use crate::store::schema;

/// The `limit` rows whose `text.field` best matches `text.text` under BM25, best first (`score` is the
/// BM25 score), among the rows `filter` keeps. The field's full-text index must exist.
pub async fn search(
    table: &lancedb::Table,
    text: &TextQuery,
    limit: usize,
    filter: Option<&Filter>,
) -> Result<Vec<Hit>> {
    let words = FullTextSearchQuery::new(text.text.clone())
        .with_column(text.field.clone())
        .map_err(|e| StoreError::Internal(format!("preparing the full-text query: {e}")))?;
    let mut query =
        table.query().full_text_search(words).limit(limit).select(Select::columns(&[schema::ID, schema::METADATA]));
    if let Some(filter) = filter {
        query = query.only_if(&filter.sql);
    }
    let stream = query.execute().await.map_err(StoreError::lance("searching the text"))?;
    let batches: Vec<RecordBatch> =
        stream.try_collect().await.map_err(StoreError::lance("reading full-text results"))?;
    schema::read_text_hits(&batches)
}

/// The `'text'` fields that have a full-text index on `table`.
pub async fn indexed_fields(table: &lancedb::Table, declared: &Fields) -> Result<Vec<String>> {
    let listed = table.list_indices().await.map_err(StoreError::lance("listing indexes"))?;
    Ok(declared
        .iter()
        .filter(|(name, kind)| {
            kind.is_text()
                && listed.iter().any(|index| {
                    index.index_type == lancedb::index::IndexType::FTS && index.columns.iter().any(|c| c == *name)
                })
        })
        .map(|(name, _)| name.clone())
        .collect())
}

/// How far a `'text'` field's full-text index is behind the table (for `stats()`): `None` when it
/// has no index yet, else the rows written since it was built or last folded.
pub async fn unindexed_rows(table: &lancedb::Table, field: &str) -> Result<Option<usize>> {
    Ok(progress(table, field).await?.map(|p| p.unindexed_rows))
}

/// A `'text'` field's full-text index: its name and the rows it covers and does not cover yet.
pub struct Progress {
    /// The index's name.
    pub name: String,
    /// Rows it covers.
    pub indexed_rows: usize,
    /// Rows written since it was built or last folded (LanceDB scans them beside it).
    pub unindexed_rows: usize,
}

/// `field`'s full-text index and how far it is behind, or `None` when it has none.
pub async fn progress(table: &lancedb::Table, field: &str) -> Result<Option<Progress>> {
    let listed = table.list_indices().await.map_err(StoreError::lance("listing indexes"))?;
    let Some(index) =
        listed.iter().find(|i| i.index_type == lancedb::index::IndexType::FTS && i.columns.iter().any(|c| c == field))
    else {
        return Ok(None);
    };
    let stats = table.index_stats(&index.name).await.map_err(StoreError::lance("reading index statistics"))?;
    Ok(stats.map(|s| Progress {
        name: index.name.clone(),
        indexed_rows: s.num_indexed_rows,
        unindexed_rows: s.num_unindexed_rows,
    }))
}
