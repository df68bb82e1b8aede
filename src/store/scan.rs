//! `scan`: every stored row (or those a filter matches) read out in batches, in bounded memory, from
//! the table version the scan started at (a snapshot: writes made meanwhile are not seen).

use std::collections::VecDeque;

use futures::StreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use super::error::{Result, StoreError};
use super::model::StoredItem;
use super::{Handles, Store, filter, schema};

/// Rows per batch when the caller does not say.
pub const DEFAULT_SCAN_BATCH: usize = 1_000;
/// Most rows per batch.
pub const MAX_SCAN_BATCH: usize = 100_000;

/// A scan in progress: LanceDB's stream, and rows read but not handed out yet (fewer than one batch
/// beyond what LanceDB's own batch holds).
pub struct Scan {
    stream: Option<lancedb::arrow::SendableRecordBatchStream>,
    pending: VecDeque<StoredItem>,
    batch_rows: usize,
}

impl Store {
    /// Starts reading the rows matching `filter` (all rows without one), `batch_rows` at a time.
    pub async fn scan(&self, filter: Option<&serde_json::Value>, batch_rows: Option<usize>) -> Result<Scan> {
        let handles = self.handles()?;
        let batch_rows = batch_rows.unwrap_or(DEFAULT_SCAN_BATCH);
        if !(1..=MAX_SCAN_BATCH).contains(&batch_rows) {
            return Err(StoreError::invalid("options.batchSize", format!("it must be from 1 to {MAX_SCAN_BATCH}")));
        }
        let stream = self.stored_rows(&handles, filter, "starting a scan").await?;
        Ok(Scan { stream: Some(stream), pending: VecDeque::new(), batch_rows })
    }

    /// LanceDB's stream of the stored rows (`id`, `vector`, `metadata`) matching `filter` (all without one),
    /// at the version current now: what `scan` and the Parquet export read.
    pub(super) async fn stored_rows(
        &self,
        handles: &Handles,
        filter: Option<&serde_json::Value>,
        action: &'static str,
    ) -> Result<lancedb::arrow::SendableRecordBatchStream> {
        let predicate = match filter {
            Some(filter) => filter::compile(filter, &self.layout.fields)?,
            None => None,
        };
        let mut query = handles.table.query().select(Select::columns(&[schema::ID, schema::VECTOR, schema::METADATA]));
        if let Some(predicate) = predicate {
            query = query.only_if(predicate);
        }
        query.execute().await.map_err(StoreError::lance(action))
    }
}

impl Scan {
    /// The next batch of at most `batch_rows` rows; `None` once every row was handed out.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<StoredItem>>> {
        while self.pending.len() < self.batch_rows {
            let Some(stream) = self.stream.as_mut() else { break };
            match stream.next().await {
                Some(batch) => {
                    let batch = batch.map_err(StoreError::lance("scanning rows"))?;
                    self.pending.extend(schema::read_items(std::slice::from_ref(&batch))?);
                }
                None => self.stream = None,
            }
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let take = self.batch_rows.min(self.pending.len());
        Ok(Some(self.pending.drain(..take).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{path, with_fields};
    use crate::store::{Item, Store};

    #[tokio::test]
    async fn reads_every_row_once_in_batches_filtered_and_as_a_snapshot() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), with_fields()).await?;
        let items: Vec<Item> = (0..2_345)
            .map(|i| Item {
                id: format!("r{i}"),
                vector: vec![i as f32, 1.0],
                metadata: Some(serde_json::json!({ "section": if i % 3 == 0 { "three" } else { "other" }, "i": i })),
            })
            .collect();
        store.add(items.clone()).await?;
        let mut scan = store.scan(None, Some(500)).await?;
        store.add(vec![Item { id: "late".into(), vector: vec![0.0, 1.0], metadata: None }]).await?;
        let mut seen = Vec::new();
        while let Some(batch) = scan.next_batch().await? {
            assert!(batch.len() <= 500);
            seen.extend(batch);
        }
        assert!(scan.next_batch().await?.is_none(), "stays finished");
        assert_eq!(seen.len(), 2_345, "the rows of the version the scan started at, each once");
        seen.sort_by_key(|item| item.id[1..].parse::<usize>().unwrap_or(usize::MAX));
        assert_eq!(seen[7].vector, vec![7.0, 1.0]);
        assert!(seen[7].metadata.as_deref().unwrap().contains(r#""i":7"#));

        let mut filtered = store.scan(Some(&serde_json::json!({ "section": "three" })), None).await?;
        let mut count = 0;
        while let Some(batch) = filtered.next_batch().await? {
            count += batch.len();
        }
        assert_eq!(count, 782);
        assert!(store.scan(None, Some(0)).await.is_err());
        assert!(store.scan(Some(&serde_json::json!({ "nope": 1 })), None).await.is_err());
        store.close().await?;
        Ok(())
    }
}
