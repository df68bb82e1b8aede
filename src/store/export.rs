//! Parquet export: the stored rows (or those a filter matches) written as a Parquet file `importFile`
//! reads back — columns `id` (string), `vector` (fixed-size list of float32) and `metadata` (each row's
//! metadata object as JSON text, null for none). Streamed batch by batch from the version current when it
//! starts, so memory stays at one batch and one row group whatever the table's size. Written to a
//! temporary file beside the target and renamed into place, so a failed export leaves no partial file.

use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema};
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::error::{Result, StoreError};
use super::{Store, schema};

/// Rows per Parquet row group (and so the most held in memory while writing).
const ROWS_PER_GROUP: usize = 16_384;

impl Store {
    /// Writes the rows matching `filter` (every row without one) to `path` as Parquet; resolves the rows written.
    pub async fn export_parquet(&self, path: &str, filter: Option<&serde_json::Value>) -> Result<u64> {
        let handles = self.handles()?;
        let mut stream = self.stored_rows(&handles, filter, "starting the export").await?;
        let target = std::path::PathBuf::from(path);
        let partial = target.with_file_name(format!(
            ".{}.partial-{}",
            target.file_name().map_or("export".into(), |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        let io = |action: &str| {
            let action = format!("{action} {path:?}");
            move |e: std::io::Error| StoreError::io(action, &e)
        };
        let file = std::fs::File::create(&partial).map_err(io("creating"))?;
        let mut writer: Option<ArrowWriter<std::io::BufWriter<std::fs::File>>> = None;
        let mut file = Some(std::io::BufWriter::new(file));
        let mut rows = 0u64;
        let written: Result<()> = async {
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(StoreError::lance("reading rows to export"))?;
                let batch = marked(&batch)?;
                if writer.is_none() {
                    let properties = WriterProperties::builder()
                        .set_compression(Compression::ZSTD(ZstdLevel::default()))
                        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
                        .build();
                    let sink = file.take().ok_or_else(|| StoreError::Internal("export file taken twice".into()))?;
                    writer = Some(
                        ArrowWriter::try_new(sink, batch.schema(), Some(properties))
                            .map_err(|e| StoreError::Internal(format!("starting the Parquet writer: {e}")))?,
                    );
                }
                if let Some(writer) = writer.as_mut() {
                    writer.write(&batch).map_err(|e| parquet_io(path, e))?;
                }
                rows += batch.num_rows() as u64;
            }
            match writer.take() {
                Some(writer) => {
                    let mut sink = writer.into_inner().map_err(|e| parquet_io(path, e))?;
                    sink.flush().map_err(io("writing"))?;
                }
                // No row matched: an empty file with the columns, so it still imports (as nothing).
                None => {
                    let sink = file.take().ok_or_else(|| StoreError::Internal("export file taken twice".into()))?;
                    let empty = ArrowWriter::try_new(sink, exported_schema(&handles.schema), None)
                        .map_err(|e| StoreError::Internal(format!("starting the Parquet writer: {e}")))?;
                    empty.close().map_err(|e| parquet_io(path, e))?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial); // the error above is what the caller needs to see
            return Err(e);
        }
        std::fs::rename(&partial, &target).map_err(io("moving the export into place at"))?;
        Ok(rows)
    }
}

/// The batch with its `metadata` column marked as JSON text (`lancestore: json` in the field's metadata).
fn marked(batch: &RecordBatch) -> Result<RecordBatch> {
    let fields: Vec<Arc<Field>> = batch
        .schema()
        .fields()
        .iter()
        .map(|field| if field.name() == schema::METADATA { Arc::new(json_field(field)) } else { Arc::clone(field) })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
        .map_err(|e| StoreError::Internal(format!("marking the metadata column: {e}")))
}

fn json_field(field: &Field) -> Field {
    field.clone().with_metadata([("lancestore".to_owned(), "json".to_owned())].into())
}

/// The exported columns of a table whose schema is `stored` (used when no row matched).
fn exported_schema(stored: &Schema) -> Arc<Schema> {
    let fields: Vec<Arc<Field>> = [schema::ID, schema::VECTOR, schema::METADATA]
        .iter()
        .filter_map(|name| stored.field_with_name(name).ok())
        .map(
            |field| {
                if field.name() == schema::METADATA { Arc::new(json_field(field)) } else { Arc::new(field.clone()) }
            },
        )
        .collect();
    Arc::new(Schema::new(fields))
}

fn parquet_io(path: &str, e: parquet::errors::ParquetError) -> StoreError {
    StoreError::Io {
        action: format!("writing Parquet to {path:?}"),
        kind: std::io::ErrorKind::Other,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Item;
    use crate::store::import::ImportRequest;
    use crate::store::testing::{path, with_fields};

    #[tokio::test]
    async fn a_parquet_export_imports_back_to_equal_rows_and_a_bad_target_leaves_nothing() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), with_fields()).await?;
        let items: Vec<Item> = (0..40_000)
            .map(|i| Item {
                id: format!("r{i}"),
                vector: vec![(i + 1) as f32, -0.0],
                metadata: (i % 3 != 0).then(|| json!({ "section": if i % 2 == 0 { "even" } else { "odd" }, "i": i })),
            })
            .collect();
        store.add(items.clone()).await?;
        let file = dir.path().join("out.parquet");
        assert_eq!(store.export_parquet(&file.to_string_lossy(), None).await?, 40_000);
        let some = dir.path().join("some.parquet");
        assert_eq!(store.export_parquet(&some.to_string_lossy(), Some(&json!({ "section": "nope" }))).await?, 0);
        let copy = Arc::new(Store::open(&dir.path().join("copy").to_string_lossy(), with_fields()).await?);
        let request =
            |file: &std::path::Path| ImportRequest { path: file.to_string_lossy().into_owned(), ..Default::default() };
        assert_eq!(copy.import_file(request(&file), None).await?.added, 40_000);
        assert_eq!(copy.import_file(request(&some), None).await?.added, 0, "an empty export imports as nothing");
        let ids: Vec<String> = items.iter().map(|item| item.id.clone()).collect();
        for (got, want) in copy.get(ids).await?.into_iter().zip(&items) {
            let got = got.expect("every row was exported");
            assert_eq!(got.vector, want.vector);
            assert_eq!(got.metadata.map(|m| serde_json::from_str::<serde_json::Value>(&m).unwrap()), want.metadata);
        }
        assert_eq!(
            copy.count(Some(&json!({ "section": "odd" }))).await?,
            store.count(Some(&json!({ "section": "odd" }))).await?
        );
        let nowhere = dir.path().join("missing-dir").join("x.parquet");
        let err = store.export_parquet(&nowhere.to_string_lossy(), None).await.unwrap_err();
        assert_eq!(err.code(), "IO");
        assert!(!nowhere.exists());
        store.close().await?;
        copy.close().await?;
        Ok(())
    }
}
