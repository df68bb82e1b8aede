//! `importFile` against real LanceDB tables: each format round-trips, bad files of each kind are
//! refused naming the line or row and write nothing, `commitEvery` commits in steps, progress ends at
//! the total.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Float64Builder, ListBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::json;

use super::ImportRequest;
use crate::store::error::{ErrorCode, Result, StoreError};
use crate::store::progress::{Progress, ProgressSink};
use crate::store::testing::{options, path, vectors};
use crate::store::{Item, Store};

const DIM: usize = 8;

async fn store(dir: &tempfile::TempDir) -> Result<Arc<Store>> {
    Ok(Arc::new(Store::open(&path(dir), options(DIM)).await?))
}

fn request(file: &std::path::Path) -> ImportRequest {
    ImportRequest { path: file.to_string_lossy().into_owned(), ..Default::default() }
}

fn write_jsonl(file: &std::path::Path, rows: &[serde_json::Value]) {
    let mut out = std::fs::File::create(file).unwrap();
    for row in rows {
        writeln!(out, "{row}").unwrap();
    }
}

fn jsonl_rows(n: usize, seed: u64) -> Vec<serde_json::Value> {
    vectors(n, DIM, seed)
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({ "id": format!("r{i}"), "vector": v, "section": format!("s{}", i % 5), "n": i }))
        .collect()
}

fn recorder() -> (ProgressSink, Arc<Mutex<Vec<Progress>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    (Arc::new(move |p: Progress| seen.lock().unwrap().push(p)), events)
}

async fn stored(store: &Store, id: &str) -> (Vec<f32>, serde_json::Value) {
    let got = store.get(vec![id.to_owned()]).await.unwrap().remove(0).expect("stored");
    (got.vector, got.metadata.map(|m| serde_json::from_str(&m).unwrap()).unwrap_or(json!(null)))
}

#[tokio::test]
async fn jsonl_round_trips_with_metadata_and_progress() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let file = dir.path().join("items.jsonl");
    let rows = jsonl_rows(20_000, 3);
    write_jsonl(&file, &rows);
    let (sink, events) = recorder();
    let outcome = store.import_file(request(&file), Some(sink)).await?;
    assert_eq!((outcome.added, outcome.rows, outcome.commits), (20_000, 20_000, 1));
    let (vector, metadata) = stored(&store, "r123").await;
    assert_eq!(vector, vectors(20_000, DIM, 3)[123]);
    assert_eq!(metadata, json!({ "section": "s3", "n": 123 }));
    let events = events.lock().unwrap();
    let last = events.last().unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!((last.phase, last.rows, last.bytes, last.total_bytes), ("done", 20_000, Some(size), Some(size)));
    let reads: Vec<u64> = events.iter().filter(|e| e.phase == "read").map(|e| e.rows).collect();
    assert!(reads.windows(2).all(|w| w[0] <= w[1]), "rows never go back: {reads:?}");
    assert!(events.iter().any(|e| e.phase == "commit"));
    Ok(())
}

#[tokio::test]
async fn jsonl_field_names_and_a_metadata_object() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let file = dir.path().join("dump.ndjson");
    let v = vectors(3, DIM, 1);
    std::fs::write(
        &file,
        format!(
            "{}\n\n{}\n{}",
            json!({ "key": 7, "embedding": v[0], "title": "a", "skip": 1 }),
            json!({ "key": "b", "embedding": v[1], "title": "b" }),
            json!({ "key": "c", "embedding": v[2] }),
        ),
    )
    .unwrap();
    let renamed = ImportRequest {
        id_field: Some("key".into()),
        vector_field: Some("embedding".into()),
        metadata_fields: Some(vec!["title".into()]),
        ..request(&file)
    };
    assert_eq!(store.import_file(renamed, None).await?.added, 3);
    assert_eq!(stored(&store, "7").await.1, json!({ "title": "a" }));
    assert_eq!(stored(&store, "c").await.1, json!(null));

    // The shape `get()` returns: { id, vector, metadata: {…} }.
    let file = dir.path().join("export.jsonl");
    write_jsonl(&file, &[json!({ "id": "x", "vector": v[0], "metadata": { "section": "libs" } })]);
    store.import_file(request(&file), None).await?;
    assert_eq!(stored(&store, "x").await.1, json!({ "section": "libs" }));
    Ok(())
}

/// Every refusal names the line or row and field, and the table is as it was.
#[tokio::test]
async fn bad_jsonl_writes_nothing_and_names_the_line() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    store.add(vec![Item { id: "stored".into(), vector: vec![1.0; DIM], metadata: None }]).await?;
    let version = store.version().await?;
    let mut rows = jsonl_rows(12_000, 5);
    type Spoil = Box<dyn Fn(&mut Vec<serde_json::Value>)>;
    let cases: Vec<(&str, Spoil, ErrorCode, &str)> = vec![
        (
            "nan",
            Box::new(|r| r[9_999]["vector"][2] = json!("x")),
            ErrorCode::InvalidVector,
            "line 10000, field \"vector\"",
        ),
        ("short", Box::new(|r| r[10_500]["vector"] = json!([1.0, 2.0])), ErrorCode::DimensionMismatch, "line 10501"),
        ("zero", Box::new(|r| r[11_000]["vector"] = json!(vec![0.0; DIM])), ErrorCode::InvalidVector, "line 11001"),
        (
            "repeat",
            Box::new(|r| r[11_500]["id"] = json!("r3")),
            ErrorCode::DuplicateId,
            "line 11501 repeats the id of line 4",
        ),
        ("stored", Box::new(|r| r[9_000]["id"] = json!("stored")), ErrorCode::DuplicateId, "line 9001"),
        (
            "no id",
            Box::new(|r| drop(r[8_500].as_object_mut().unwrap().remove("id"))),
            ErrorCode::InvalidArgument,
            "line 8501, field \"id\"",
        ),
        (
            "object id",
            Box::new(|r| r[100]["id"] = json!({ "nested": true })),
            ErrorCode::InvalidArgument,
            "line 101, field \"id\"",
        ),
        ("in chunk", Box::new(|r| r[50]["id"] = json!("r7")), ErrorCode::DuplicateId, "line 51"),
    ];
    for (name, spoil, code, says) in cases {
        let mut spoiled = rows.clone();
        spoil(&mut spoiled);
        let file = dir.path().join(format!("{name}.jsonl"));
        write_jsonl(&file, &spoiled);
        let err = store.import_file(request(&file), None).await.unwrap_err();
        assert_eq!(err.kind(), code, "{name}: {err}");
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert_eq!(store.version().await?, version, "{name} committed");
        assert_eq!(store.count(None).await?, 1, "{name} stored rows");
    }
    // A file cut off in the middle of a line.
    let file = dir.path().join("cut.jsonl");
    write_jsonl(&file, &rows);
    let text = std::fs::read(&file).unwrap();
    std::fs::write(&file, &text[..text.len() - 40]).unwrap();
    let err = store.import_file(request(&file), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("line 12000"), "{err}");
    assert_eq!(store.version().await?, version);

    // An empty file adds nothing and commits nothing.
    let file = dir.path().join("empty.jsonl");
    std::fs::write(&file, "\n\n").unwrap();
    let outcome = store.import_file(request(&file), None).await?;
    assert_eq!((outcome.added, outcome.commits, outcome.version), (0, 0, version));
    rows.truncate(1);
    Ok(())
}

#[tokio::test]
async fn commit_every_commits_in_steps_and_keeps_earlier_steps() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let file = dir.path().join("steps.jsonl");
    write_jsonl(&file, &jsonl_rows(2_500, 9));
    let outcome = store.import_file(ImportRequest { commit_every: Some(1_000.0), ..request(&file) }, None).await?;
    assert_eq!((outcome.added, outcome.commits, outcome.rows), (2_500, 3, 2_500));

    let dir = tempfile::tempdir().unwrap();
    let store = self::store(&dir).await?;
    let mut rows = jsonl_rows(2_500, 9);
    rows[2_100]["vector"] = json!([1.0]);
    write_jsonl(&file, &rows);
    let err =
        store.import_file(ImportRequest { commit_every: Some(1_000.0), ..request(&file) }, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::DimensionMismatch);
    assert_eq!(store.count(None).await?, 2_000, "the two full steps stand");
    Ok(())
}

fn npy_bytes(descr: &str, rows: usize, dimension: usize, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dimension}), }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[tokio::test]
async fn npy_in_each_float_type_with_each_kind_of_ids() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let v = vectors(10_000, DIM, 4);
    let flat: Vec<f32> = v.iter().flatten().copied().collect();

    // float32, row numbers as ids.
    let f32_le: Vec<u8> = flat.iter().flat_map(|x| x.to_le_bytes()).collect();
    let file = dir.path().join("a.npy");
    std::fs::write(&file, npy_bytes("<f4", 10_000, DIM, &f32_le)).unwrap();
    let outcome = store.import_file(request(&file), None).await?;
    assert_eq!(outcome.added, 10_000);
    assert_eq!(stored(&store, "9999").await.0, v[9_999]);

    // float64 big-endian, ids from a text file.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = self::store(&dir2).await?;
    let f64_be: Vec<u8> = flat.iter().take(3 * DIM).flat_map(|x| f64::from(*x).to_be_bytes()).collect();
    let file = dir.path().join("b.npy");
    std::fs::write(&file, npy_bytes(">f8", 3, DIM, &f64_be)).unwrap();
    let ids = dir.path().join("b.txt");
    std::fs::write(&ids, "alpha\r\nbeta\ngamma\n").unwrap();
    store2.import_file(ImportRequest { ids_path: Some(ids.to_string_lossy().into()), ..request(&file) }, None).await?;
    assert_eq!(stored(&store2, "gamma").await.0, v[2]);

    // float16, ids and metadata from JSONL.
    let f16: Vec<u8> = flat.iter().take(2 * DIM).flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
    let file = dir.path().join("c.npy");
    std::fs::write(&file, npy_bytes("<f2", 2, DIM, &f16)).unwrap();
    let ids = dir.path().join("c.jsonl");
    write_jsonl(&ids, &[json!({ "id": "h1", "lang": "en" }), json!({ "id": "h2" })]);
    store2.import_file(ImportRequest { ids_path: Some(ids.to_string_lossy().into()), ..request(&file) }, None).await?;
    let (vector, metadata) = stored(&store2, "h1").await;
    assert!(vector.iter().zip(&v[0]).all(|(a, b)| (a - b).abs() < 1e-3));
    assert_eq!(metadata, json!({ "lang": "en" }));

    // Refused before anything is written: truncated, wrong dimension, too few / too many ids.
    let version = store2.version().await?;
    let file = dir.path().join("cut.npy");
    let whole = npy_bytes("<f4", 10_000, DIM, &f32_le);
    std::fs::write(&file, &whole[..whole.len() - 7]).unwrap();
    let err = store2.import_file(request(&file), None).await.unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let file = dir.path().join("wide.npy");
    std::fs::write(&file, npy_bytes("<f4", 2_000, DIM * 5, &[])).unwrap();
    let err = store2.import_file(request(&file), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::DimensionMismatch, "{err}");
    let file = dir.path().join("few.npy");
    std::fs::write(&file, npy_bytes("<f4", 3, DIM, &f32_le[..3 * DIM * 4])).unwrap();
    let ids = dir.path().join("few.txt");
    std::fs::write(&ids, "x1\nx2\n").unwrap();
    let err = store2
        .import_file(ImportRequest { ids_path: Some(ids.to_string_lossy().into()), ..request(&file) }, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fewer ids"), "{err}");
    std::fs::write(&ids, "x1\nx2\nx3\nx4\n").unwrap();
    let err = store2
        .import_file(ImportRequest { ids_path: Some(ids.to_string_lossy().into()), ..request(&file) }, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more ids"), "{err}");
    assert_eq!(store2.version().await?, version);
    Ok(())
}

/// A batch of `n` rows: `key` (string), `emb` (fixed-size list of f32), `year` (int), `tag` (string).
fn columnar_batch(n: usize, seed: u64, fixed: bool) -> RecordBatch {
    let v = vectors(n, DIM, seed);
    let ids: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("k{i}"))));
    let vectors: ArrayRef = if fixed {
        let mut b = FixedSizeListBuilder::new(Float32Builder::new(), DIM as i32);
        for row in &v {
            b.values().append_slice(row);
            b.append(true);
        }
        Arc::new(b.finish())
    } else {
        let mut b = ListBuilder::new(Float64Builder::new());
        for row in &v {
            b.values().append_slice(&row.iter().map(|x| f64::from(*x)).collect::<Vec<_>>());
            b.append(true);
        }
        Arc::new(b.finish())
    };
    let years: ArrayRef = Arc::new(Int64Array::from_iter((0..n).map(|i| (i % 3 != 0).then_some(2000 + i as i64))));
    let tags: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("t{}", i % 4))));
    let schema = Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("emb", vectors.data_type().clone(), false),
        Field::new("year", DataType::Int64, true),
        Field::new("tag", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![ids, vectors, years, tags]).unwrap()
}

fn columnar_request(file: &std::path::Path) -> ImportRequest {
    ImportRequest { id_field: Some("key".into()), vector_field: Some("emb".into()), ..request(file) }
}

#[tokio::test]
async fn parquet_and_arrow_round_trip_and_truncation_is_refused() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let batch = columnar_batch(10_000, 6, true);
    let expected = vectors(10_000, DIM, 6);

    let parquet_file = dir.path().join("items.parquet");
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(3_000)).build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet_file).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let store = store(&dir).await?;
    let (sink, events) = recorder();
    let outcome = store.import_file(columnar_request(&parquet_file), Some(sink)).await?;
    assert_eq!(outcome.added, 10_000);
    let (vector, metadata) = stored(&store, "k7").await;
    assert_eq!(vector, expected[7]);
    assert_eq!(metadata, json!({ "year": 2007, "tag": "t3" }));
    assert_eq!(stored(&store, "k9").await.1, json!({ "tag": "t1" }), "a null column is left out");
    assert_eq!(events.lock().unwrap().iter().find(|e| e.phase == "read").unwrap().total_rows, Some(10_000));

    // Arrow IPC, file and stream format, with list<f64> vectors and only `tag` as metadata.
    let batch = columnar_batch(500, 8, false);
    for stream in [false, true] {
        let file = dir.path().join(if stream { "s.arrows" } else { "f.arrow" });
        let out = std::fs::File::create(&file).unwrap();
        if stream {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(out, &batch.schema()).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
        } else {
            let mut w = arrow_ipc::writer::FileWriter::try_new(out, &batch.schema()).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let store = self::store(&dir).await?;
        let request = ImportRequest { metadata_fields: Some(vec!["tag".into()]), ..columnar_request(&file) };
        assert_eq!(store.import_file(request, None).await?.added, 500);
        let (vector, metadata) = stored(&store, "k499").await;
        assert_eq!(vector, vectors(500, DIM, 8)[499]);
        assert_eq!(metadata, json!({ "tag": "t3" }));
    }

    // Truncated Parquet (footer gone) and a truncated Arrow stream: refused, nothing written.
    let version = store.version().await?;
    let bytes = std::fs::read(&parquet_file).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = store.import_file(columnar_request(&cut), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
    let bytes = std::fs::read(dir.path().join("s.arrows")).unwrap();
    let cut = dir.path().join("cut.arrows");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = store.import_file(columnar_request(&cut), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
    assert_eq!(store.version().await?, version);

    // One flipped bit in a declared length (a footer block's, a stream message's body length) asked arrow-ipc
    // for 2^55 bytes and aborted the process: refused before reading now, nothing written.
    for name in ["f.arrow", "s.arrows"] {
        let mut bytes = std::fs::read(dir.path().join(name)).unwrap();
        let body = batch_body_length(&bytes, name.ends_with(".arrow"));
        let at = bytes.windows(8).rposition(|w| w == body.to_le_bytes()).unwrap();
        bytes[at + 6] ^= 0x80; // bit 55 of the little-endian i64
        let flipped = dir.path().join(format!("flipped-{name}"));
        std::fs::write(&flipped, &bytes).unwrap();
        let err = store.import_file(columnar_request(&flipped), None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
        assert!(err.to_string().contains("past the end") || err.to_string().contains("beyond"), "{err}");
    }
    assert_eq!(store.version().await?, version);

    // A missing column names the columns there are; a wrong vector width is a dimension mismatch.
    let err = store.import_file(request(&parquet_file), None).await.unwrap_err();
    assert!(err.to_string().contains("no column \"id\"") && err.to_string().contains("key, emb, year, tag"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let wide = Arc::new(Store::open(&path(&dir), options(DIM + 1)).await?);
    let err = wide.import_file(columnar_request(&parquet_file), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::DimensionMismatch, "{err}");
    Ok(())
}

#[tokio::test]
async fn options_are_checked() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let file = dir.path().join("x.csv");
    std::fs::write(&file, "id,vector\n").unwrap();
    let err = store.import_file(request(&file), None).await.unwrap_err();
    assert!(err.to_string().contains("format"), "{err}");
    let err =
        store.import_file(ImportRequest { format: Some("csv".into()), ..request(&file) }, None).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument { ref option, .. } if option == "options.format"), "{err}");
    let missing = dir.path().join("missing.jsonl");
    let err = store.import_file(request(&missing), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::Io, "{err}");
    let jsonl = dir.path().join("x.jsonl");
    std::fs::write(&jsonl, "").unwrap();
    for bad in [
        ImportRequest { commit_every: Some(0.0), ..request(&jsonl) },
        ImportRequest { id_field: Some(String::new()), ..request(&jsonl) },
        ImportRequest { ids_path: Some("ids.txt".into()), ..request(&jsonl) },
    ] {
        let err = store.import_file(bad, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
    }
    Ok(())
}

/// A source that hands over `good` chunks of a real one, then panics (as a decoder can on malformed data).
struct PanicsAfter {
    inner: Box<dyn super::Source>,
    good: usize,
}

impl super::Source for PanicsAfter {
    fn next_chunk(&mut self, rows: usize) -> Result<Option<super::Chunk>> {
        if self.good == 0 {
            panic!("decoder exploded on malformed page");
        }
        self.good -= 1;
        self.inner.next_chunk(rows)
    }

    fn total_rows(&self) -> Option<u64> {
        self.inner.total_rows()
    }

    fn unit(&self) -> &'static str {
        self.inner.unit()
    }
}

/// Issue 27, item 2: a reader thread that panics midway used to look like the end of the file, and
/// the rows read so far were committed.
#[tokio::test]
async fn a_reader_that_panics_midway_commits_nothing() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let file = dir.path().join("rows.jsonl");
    write_jsonl(&file, &jsonl_rows(20_000, 3));
    for commit_every in [None, Some(5_000.0)] {
        let mut opened = super::open(&ImportRequest { commit_every, ..request(&file) }, DIM)?;
        opened.source = Box::new(PanicsAfter { inner: opened.source, good: 1 });
        let before = store.count(None).await?;
        let err = store.import_opened(opened, None, std::time::Instant::now()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
        assert!(err.to_string().contains("decoder exploded on malformed page"), "{err}");
        assert!(err.to_string().contains("rows.jsonl"), "{err}");
        // One chunk (8,192 rows) was read: with one commit nothing lands; with commitEvery 5,000 only the
        // first full commit does, never the rows of the chunk's remainder.
        let expected = if commit_every.is_some() { 5_000 } else { 0 };
        assert_eq!(store.count(None).await? - before, expected, "commitEvery {commit_every:?}");
        store.delete(crate::store::DeleteTarget::Ids((0..20_000).map(|i| format!("r{i}")).collect())).await?;
    }
    Ok(())
}

/// Issue 27, item 3: an ids file with no line breaks was read into one string, and the rest of an ids file
/// with too many ids was read whole into memory; both are now bounded and still refused.
#[tokio::test]
async fn a_wrong_ids_file_is_refused_without_reading_it_into_memory() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await?;
    let data: Vec<u8> = vectors(3, DIM, 4).iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    let file = dir.path().join("v.npy");
    std::fs::write(&file, npy_bytes("<f4", 3, DIM, &data)).unwrap();
    let ids = dir.path().join("ids.txt");
    let import =
        |ids: &std::path::Path| ImportRequest { ids_path: Some(ids.to_string_lossy().into_owned()), ..request(&file) };
    // One endless line (a binary file given as ids).
    std::fs::write(&ids, format!("a\n{}", "x".repeat(1 << 20))).unwrap();
    let err = store.import_file(import(&ids), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorCode::InvalidArgument, "{err}");
    assert!(err.to_string().contains("line 2") && err.to_string().contains("longer than"), "{err}");
    // Three ids, then a large tail: refused at its first byte, however large it is.
    std::fs::write(&ids, format!("a\nb\nc\n  \n{}", "junk ".repeat(1 << 20))).unwrap();
    let err = store.import_file(import(&ids), None).await.unwrap_err();
    assert!(err.to_string().contains("more ids than"), "{err}");
    // Three ids and blank lines: accepted.
    std::fs::write(&ids, "a\nb\nc\n\n  \n").unwrap();
    assert_eq!(store.import_file(import(&ids), None).await?.added, 3);
    Ok(())
}

/// The body length of the first record batch of an Arrow IPC file (`file`: from its footer) or stream (from
/// its second message; the first is the schema).
fn batch_body_length(bytes: &[u8], file: bool) -> i64 {
    if file {
        let trailer: [u8; 10] = bytes[bytes.len() - 10..].try_into().unwrap();
        let footer_len = arrow_ipc::reader::read_footer_length(trailer).unwrap();
        let footer = &bytes[bytes.len() - 10 - footer_len..bytes.len() - 10];
        let blocks = arrow_ipc::root_as_footer(footer).unwrap().recordBatches().unwrap();
        return blocks.get(0).bodyLength();
    }
    let mut at = 0;
    let mut lengths = Vec::new();
    while lengths.len() < 2 {
        let meta_len = i32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let message = arrow_ipc::root_as_message(&bytes[at + 8..at + 8 + meta_len]).unwrap();
        lengths.push(message.bodyLength());
        at += 8 + meta_len + message.bodyLength() as usize;
    }
    lengths[1]
}
