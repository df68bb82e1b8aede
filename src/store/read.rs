//! Reads that are not searches: `get` by id, `count` (optionally filtered) and the table version.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use super::config::check_id_list;
use super::error::{Result, StoreError};
use super::model::StoredItem;
use super::{Store, filter, schema};

impl Store {
    /// The stored items for `ids`, in the order asked; `None` for ids not stored.
    pub async fn get(&self, ids: Vec<String>) -> Result<Vec<Option<StoredItem>>> {
        let handles = self.handles()?;
        check_id_list(&ids)?;
        // The resident copy holds id → vector and metadata: at the latest version it answers without a scan.
        if let Some(resident) = &self.resident {
            let version = self.read_version(&handles).await?;
            if let Some(items) = resident.get(version, &ids) {
                return Ok(items);
            }
        }
        let mut found: HashMap<String, StoredItem> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(filter::IDS_PER_PREDICATE) {
            let stream = handles
                .table
                .query()
                .only_if(filter::id_in(chunk.iter().map(String::as_str)))
                .select(Select::columns(&[schema::ID, schema::VECTOR, schema::METADATA]))
                .execute()
                .await
                .map_err(StoreError::lance("reading items"))?;
            let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(StoreError::lance("reading items"))?;
            for item in schema::read_items(&batches)? {
                found.insert(item.id.clone(), item);
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// Number of stored embeddings, or of those matching `filter`.
    pub async fn count(&self, filter: Option<&serde_json::Value>) -> Result<usize> {
        let handles = self.handles()?;
        let predicate = match filter {
            Some(filter) => filter::compile(filter, &self.layout.fields)?,
            None => None,
        };
        handles.table.count_rows(predicate).await.map_err(StoreError::lance("counting rows"))
    }

    /// The table's latest committed version.
    pub async fn version(&self) -> Result<u64> {
        let handles = self.handles()?;
        self.read_version(&handles).await
    }
}
