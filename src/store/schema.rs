//! The table's Arrow layout: `id` (utf8), `vector` (fixed-size list of f32), `metadata` (JSON text),
//! with the metric kept in the schema metadata. Owns item → RecordBatch and RecordBatch → hit/row.

use std::sync::Arc;

use arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch, StringArray, builder::StringBuilder};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::config::Metric;
use super::error::{Result, StoreError};
use super::{Hit, Item};

/// Column holding the user's id.
pub const ID: &str = "id";
/// Column holding the embedding.
pub const VECTOR: &str = "vector";
/// Column holding the metadata object as JSON text (null when absent).
pub const METADATA: &str = "metadata";
/// Column LanceDB adds to vector-search results.
pub const DISTANCE: &str = "_distance";
/// Schema-metadata key recording the metric the table was created with.
const METRIC_KEY: &str = "lancestore.metric";

/// The schema of a new table of `dimension`-long vectors compared by `metric`.
pub fn table_schema(dimension: usize, metric: Metric) -> Result<SchemaRef> {
    let length = i32::try_from(dimension).map_err(|_| StoreError::invalid("dimension", "too large"))?;
    let fields = vec![
        Field::new(ID, DataType::Utf8, false),
        Field::new(VECTOR, DataType::FixedSizeList(item_field(), length), false),
        Field::new(METADATA, DataType::Utf8, true),
    ];
    let metadata = [(METRIC_KEY.to_owned(), metric.as_str().to_owned())].into();
    Ok(Arc::new(Schema::new_with_metadata(fields, metadata)))
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, true))
}

/// What an existing table holds: its vector dimension and metric. Rejects tables lancestore did not write.
pub fn describe(schema: &Schema) -> Result<(usize, Metric)> {
    let foreign = |why: &str| StoreError::invalid("table", format!("the table is not a lancestore table: {why}"));
    let id = schema.field_with_name(ID).map_err(|_| foreign("no `id` column"))?;
    if id.data_type() != &DataType::Utf8 {
        return Err(foreign("`id` is not a string column"));
    }
    let dimension = match schema.field_with_name(VECTOR).map_err(|_| foreign("no `vector` column"))?.data_type() {
        DataType::FixedSizeList(item, length) if item.data_type() == &DataType::Float32 => {
            usize::try_from(*length).map_err(|_| foreign("negative vector length"))?
        }
        _ => return Err(foreign("`vector` is not a fixed-size list of float32")),
    };
    schema.field_with_name(METADATA).map_err(|_| foreign("no `metadata` column"))?;
    let metric = match schema.metadata().get(METRIC_KEY) {
        Some(name) => Metric::parse("metric", name)?,
        None => return Err(foreign("no recorded metric")),
    };
    Ok((dimension, metric))
}

/// Builds the record batches of one insert, `batch_rows` rows each. `metadata` is the items' JSON text.
pub fn to_batches(
    schema: &SchemaRef,
    items: &[Item],
    metadata: &[Option<String>],
    dimension: usize,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>> {
    let length = i32::try_from(dimension).map_err(|_| StoreError::invalid("dimension", "too large"))?;
    items
        .chunks(batch_rows.max(1))
        .zip(metadata.chunks(batch_rows.max(1)))
        .map(|(items, metadata)| {
            let ids = StringArray::from_iter_values(items.iter().map(|item| item.id.as_str()));
            let mut values = Vec::with_capacity(items.len() * dimension);
            for item in items {
                values.extend_from_slice(&item.vector);
            }
            let vectors =
                FixedSizeListArray::try_new(item_field(), length, Arc::new(Float32Array::from(values)), None)
                    .map_err(|e| StoreError::Internal(format!("building the vector column: {e}")))?;
            let mut texts = StringBuilder::with_capacity(items.len(), 64 * items.len());
            for text in metadata {
                texts.append_option(text.as_deref());
            }
            RecordBatch::try_new(Arc::clone(schema), vec![Arc::new(ids), Arc::new(vectors), Arc::new(texts.finish())])
                .map_err(|e| StoreError::Internal(format!("building a record batch: {e}")))
        })
        .collect()
}

/// Reads vector-search results (`id`, `metadata`, `_distance`) into hits, scored by `metric`.
pub fn read_hits(batches: &[RecordBatch], metric: Metric) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let ids = string_column(batch, ID)?;
        let metadata = string_column(batch, METADATA)?;
        let distances = batch
            .column_by_name(DISTANCE)
            .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
            .ok_or_else(|| StoreError::Internal("search results lack a float32 `_distance` column".into()))?;
        for row in 0..batch.num_rows() {
            let distance = f64::from(distances.value(row));
            hits.push(Hit {
                id: ids.value(row).to_owned(),
                distance,
                score: metric.score(distance),
                metadata: parse_metadata(metadata, row)?,
            });
        }
    }
    Ok(hits)
}

/// The ids in a batch that has an `id` column.
pub fn read_ids(batch: &RecordBatch) -> Result<Vec<String>> {
    let ids = string_column(batch, ID)?;
    Ok((0..batch.num_rows()).map(|row| ids.value(row).to_owned()).collect())
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| StoreError::Internal(format!("results lack a string `{name}` column")))
}

fn parse_metadata(column: &StringArray, row: usize) -> Result<Option<serde_json::Value>> {
    if column.is_null(row) {
        return Ok(None);
    }
    serde_json::from_str(column.value(row))
        .map(Some)
        .map_err(|e| StoreError::Internal(format!("stored metadata is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_round_trips_dimension_and_metric() {
        let schema = table_schema(384, Metric::Dot).unwrap();
        assert_eq!(describe(&schema).unwrap(), (384, Metric::Dot));
        let foreign = Schema::new(vec![Field::new("x", DataType::Int32, false)]);
        assert!(matches!(describe(&foreign), Err(StoreError::InvalidArgument { .. })));
    }

    #[test]
    fn batches_hold_every_item_in_order_in_chunks() {
        let schema = table_schema(2, Metric::L2).unwrap();
        let items: Vec<Item> = (0..5)
            .map(|i| Item { id: format!("id-{i}"), vector: vec![i as f32, 1.0], metadata: None })
            .collect();
        let metadata: Vec<Option<String>> = (0..5).map(|i| (i % 2 == 0).then(|| format!("{{\"i\":{i}}}"))).collect();
        let batches = to_batches(&schema, &items, &metadata, 2, 2).unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![2, 2, 1]);
        let ids: Vec<String> = batches.iter().flat_map(|b| read_ids(b).unwrap()).collect();
        assert_eq!(ids, ["id-0", "id-1", "id-2", "id-3", "id-4"]);
    }
}
