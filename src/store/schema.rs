//! The table's Arrow layout: `id` (utf8), `vector` (fixed-size list of f32), `metadata` (JSON text),
//! then one nullable column per declared field; the metric is kept in the schema metadata.
//! Owns item → RecordBatch and RecordBatch → hit / stored item.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::error::{Result, StoreError};
use super::fields::{self, FieldType, FieldValue, Fields, TextLanguage};
use super::metric::Metric;
use super::model::{Hit, Item, Sides, StoredItem};

/// Column holding the user's id.
pub const ID: &str = "id";
/// Column holding the embedding.
pub const VECTOR: &str = "vector";
/// Column holding the metadata object as JSON text (null when absent).
pub const METADATA: &str = "metadata";
/// Column LanceDB adds to vector-search results.
pub const DISTANCE: &str = "_distance";
/// Column LanceDB adds to full-text results: the BM25 score.
pub const TEXT_SCORE: &str = "_score";
/// Schema-metadata key recording the metric the table was created with.
const METRIC_KEY: &str = "lancestore.metric";
/// Field-metadata key marking LanceDB's (unenforced) primary key: set on `id` in tables created on object
/// storage, so concurrent inserts of one id conflict at commit (see `keyed_insert`).
const PRIMARY_KEY: &str = "lance-schema:unenforced-primary-key";
/// Field-metadata key marking a `'text'` field's column (a string column otherwise) with its language.
const TEXT_LANGUAGE_KEY: &str = "lancestore.text_language";

/// The schema of a new table of `dimension`-long vectors compared by `metric`, with `declared` fields;
/// `keyed` marks `id` as the primary key.
pub fn table_schema(dimension: usize, metric: Metric, declared: &Fields, keyed: bool) -> Result<SchemaRef> {
    let length = i32::try_from(dimension).map_err(|_| StoreError::invalid("dimension", "too large"))?;
    let mut id = Field::new(ID, DataType::Utf8, false);
    if keyed {
        id = id.with_metadata([(PRIMARY_KEY.to_owned(), "true".to_owned())].into());
    }
    let mut fields = vec![
        id,
        Field::new(VECTOR, DataType::FixedSizeList(item_field(), length), false),
        Field::new(METADATA, DataType::Utf8, true),
    ];
    fields.extend(declared.iter().map(|(name, kind)| {
        let field = Field::new(name, kind.data_type(), true);
        match kind {
            FieldType::Text(language) => {
                field.with_metadata([(TEXT_LANGUAGE_KEY.to_owned(), language.name().to_owned())].into())
            }
            _ => field,
        }
    }));
    let metadata = [(METRIC_KEY.to_owned(), metric.as_str().to_owned())].into();
    Ok(Arc::new(Schema::new_with_metadata(fields, metadata)))
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, true))
}

/// What an existing table holds. Rejects tables lancestore did not write.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Vector length.
    pub dimension: usize,
    /// Metric recorded at creation.
    pub metric: Metric,
    /// Declared metadata fields.
    pub fields: Fields,
}

/// Reads the dimension, metric and declared fields of an existing table.
pub fn describe(schema: &Schema) -> Result<Layout> {
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
    let mut declared = Fields::new();
    for field in schema.fields().iter().filter(|f| ![ID, VECTOR, METADATA].contains(&f.name().as_str())) {
        let mut kind = FieldType::from_data_type(field.data_type())
            .ok_or_else(|| foreign(&format!("column `{}` has a type lancestore does not write", field.name())))?;
        if let Some(language) = field.metadata().get(TEXT_LANGUAGE_KEY) {
            kind = TextLanguage::parse(language)
                .filter(|_| kind == FieldType::String)
                .map(FieldType::Text)
                .ok_or_else(|| foreign(&format!("column `{}` names an unknown text language", field.name())))?;
        }
        declared.insert(field.name().clone(), kind);
    }
    Ok(Layout { dimension, metric, fields: declared })
}

/// Builds the record batches of one write, `batch_rows` rows each. `metadata` is the items' JSON text;
/// declared fields are read from each item's metadata and type-checked (`INVALID_ARGUMENT`).
pub fn to_batches(
    schema: &SchemaRef,
    items: &[Item],
    metadata: &[Option<String>],
    layout: &Layout,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>> {
    let dimension = layout.dimension;
    let length = i32::try_from(dimension).map_err(|_| StoreError::invalid("dimension", "too large"))?;
    let rows = batch_rows.max(1);
    items
        .chunks(rows)
        .zip(metadata.chunks(rows))
        .enumerate()
        .map(|(chunk, (items, metadata))| {
            let ids = StringArray::from_iter_values(items.iter().map(|item| item.id.as_str()));
            let mut values = Vec::with_capacity(items.len() * dimension);
            for item in items {
                values.extend_from_slice(&item.vector);
            }
            let vectors = FixedSizeListArray::try_new(item_field(), length, Arc::new(Float32Array::from(values)), None)
                .map_err(|e| StoreError::Internal(format!("building the vector column: {e}")))?;
            let mut texts = StringBuilder::with_capacity(items.len(), 64 * items.len());
            for text in metadata {
                texts.append_option(text.as_deref());
            }
            let mut columns: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(vectors), Arc::new(texts.finish())];
            for (name, &kind) in &layout.fields {
                columns.push(field_column(items, chunk * rows, name, kind)?);
            }
            RecordBatch::try_new(Arc::clone(schema), columns)
                .map_err(|e| StoreError::Internal(format!("building a record batch: {e}")))
        })
        .collect()
}

/// The column of declared field `name` for `items` (whose first has index `first` in the call).
fn field_column(items: &[Item], first: usize, name: &str, kind: FieldType) -> Result<ArrayRef> {
    let values = items
        .iter()
        .enumerate()
        .map(|(i, item)| fields::value_of(first + i, name, kind, item.metadata.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let mismatch = || StoreError::Internal(format!("field `{name}` value does not match its type"));
    // One builder per scalar type, filled the same way: the value of its variant, or null.
    macro_rules! scalar {
        ($builder:expr, $variant:ident) => {{
            let mut builder = $builder;
            for value in values {
                match value {
                    FieldValue::$variant(x) => builder.append_value(x),
                    FieldValue::Null => builder.append_null(),
                    _ => return Err(mismatch()),
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    Ok(match kind.stored_as() {
        FieldType::String | FieldType::Text(_) => scalar!(StringBuilder::new(), String),
        FieldType::Int => scalar!(Int64Builder::new(), Int),
        FieldType::Float => scalar!(Float64Builder::new(), Float),
        FieldType::Bool => scalar!(BooleanBuilder::new(), Bool),
        FieldType::StringList => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for v in values {
                match v {
                    FieldValue::StringList(list) => {
                        for s in list {
                            b.values().append_value(s);
                        }
                        b.append(true);
                    }
                    FieldValue::Null => b.append(false),
                    _ => return Err(mismatch()),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// Reads `id`, `vector`, `metadata` rows (as `get` selects them).
pub fn read_items(batches: &[RecordBatch]) -> Result<Vec<StoredItem>> {
    let mut items = Vec::new();
    for batch in batches {
        let ids = string_column(batch, ID)?;
        let metadata = string_column(batch, METADATA)?;
        let (vectors, width) = vector_values(batch)?;
        for (row, vector) in vectors.chunks_exact(width.max(1)).enumerate().take(batch.num_rows()) {
            items.push(StoredItem {
                id: ids.value(row).to_owned(),
                vector: vector.to_vec(),
                metadata: metadata_text(metadata, row),
            });
        }
    }
    Ok(items)
}

/// The floats of a batch's `vector` column, row after row, and the vector length.
pub fn vector_values(batch: &RecordBatch) -> Result<(&[f32], usize)> {
    let vectors = batch
        .column_by_name(VECTOR)
        .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
        .ok_or_else(|| StoreError::Internal("the rows lack a `vector` column".into()))?;
    let floats = vectors
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| StoreError::Internal("`vector` values are not float32".into()))?;
    let width = usize::try_from(vectors.value_length()).unwrap_or(0);
    let start = usize::try_from(vectors.value_offset(0)).unwrap_or(0);
    let values = floats
        .values()
        .get(start..start + width * batch.num_rows())
        .ok_or_else(|| StoreError::Internal("the `vector` column holds fewer floats than its rows".into()))?;
    Ok((values, width))
}

/// Reads vector-search results (`id`, `metadata`, `_distance`) into hits, scored by `metric`.
pub fn read_hits(batches: &[RecordBatch], metric: Metric) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let ids = string_column(batch, ID)?;
        let metadata = string_column(batch, METADATA)?;
        let distances = float32_column(batch, DISTANCE)?;
        for row in 0..batch.num_rows() {
            let distance = f64::from(distances.value(row));
            hits.push(Hit {
                id: ids.value(row).to_owned(),
                distance,
                score: metric.score(distance),
                metadata: metadata_text(metadata, row),
                sides: None,
            });
        }
    }
    Ok(hits)
}

/// Reads full-text results (`id`, `metadata`, `_score`) into hits: `score` is the BM25 score, `distance`
/// is left at 0 (the caller fills the vector distance where it has one), `sides` holds the text rank.
pub fn read_text_hits(batches: &[RecordBatch]) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let ids = string_column(batch, ID)?;
        let metadata = string_column(batch, METADATA)?;
        let scores = float32_column(batch, TEXT_SCORE)?;
        for row in 0..batch.num_rows() {
            let score = f64::from(scores.value(row));
            let rank = u32::try_from(hits.len() + 1).unwrap_or(u32::MAX);
            hits.push(Hit {
                id: ids.value(row).to_owned(),
                score,
                distance: 0.0,
                metadata: metadata_text(metadata, row),
                sides: Some(Sides { vector_rank: None, text_rank: Some(rank), text_score: Some(score) }),
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

fn float32_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float32Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
        .ok_or_else(|| StoreError::Internal(format!("results lack a float32 `{name}` column")))
}

/// The stored JSON text (parsed only in JS, by `JSON.parse`, so numbers round-trip exactly).
fn metadata_text(column: &StringArray, row: usize) -> Option<String> {
    (!column.is_null(row)).then(|| column.value(row).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_round_trips_dimension_metric_and_fields() {
        let french = FieldType::Text(TextLanguage::parse("french").unwrap());
        let declared: Fields = [
            ("section".to_owned(), FieldType::String),
            ("tags".to_owned(), FieldType::StringList),
            ("body".to_owned(), french),
        ]
        .into();
        let schema = table_schema(384, Metric::Dot, &declared, false).unwrap();
        assert_eq!(describe(&schema).unwrap(), Layout { dimension: 384, metric: Metric::Dot, fields: declared });
        let foreign = Schema::new(vec![Field::new("x", DataType::Int32, false)]);
        assert!(matches!(describe(&foreign), Err(StoreError::InvalidArgument { .. })));
    }

    #[test]
    fn batches_hold_every_item_in_order_in_chunks() {
        let layout = Layout { dimension: 2, metric: Metric::L2, fields: [("i".to_owned(), FieldType::Int)].into() };
        let schema = table_schema(2, Metric::L2, &layout.fields, false).unwrap();
        let items: Vec<Item> = (0..5)
            .map(|i| Item {
                id: format!("id-{i}"),
                vector: vec![i as f32, 1.0],
                metadata: Some(serde_json::json!({ "i": i })),
            })
            .collect();
        let metadata: Vec<Option<String>> = (0..5).map(|i| (i % 2 == 0).then(|| format!("{{\"i\":{i}}}"))).collect();
        let batches = to_batches(&schema, &items, &metadata, &layout, 2).unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![2, 2, 1]);
        let ids: Vec<String> = batches.iter().flat_map(|b| read_ids(b).unwrap()).collect();
        assert_eq!(ids, ["id-0", "id-1", "id-2", "id-3", "id-4"]);
    }
}

#[cfg(test)]
mod field_tests {
    use super::*;

    #[test]
    fn a_field_of_the_wrong_type_names_the_item() {
        let layout = Layout { dimension: 1, metric: Metric::L2, fields: [("year".to_owned(), FieldType::Int)].into() };
        let schema = table_schema(1, Metric::L2, &layout.fields, false).unwrap();
        let items: Vec<Item> = (0..3)
            .map(|i| Item {
                id: format!("{i}"),
                vector: vec![1.0],
                metadata: Some(if i == 2 {
                    serde_json::json!({ "year": "x" })
                } else {
                    serde_json::json!({ "year": i })
                }),
            })
            .collect();
        let err = to_batches(&schema, &items, &[None, None, None], &layout, 2).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "items[2].metadata.year"),
            "{err}"
        );
    }
}
