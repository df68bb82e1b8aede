//! The resident copy against the LanceDB path, on real LanceDB tables: every metric, generated
//! filters over every field type with absent values, writes through another connection (appends,
//! deletes, upserts, compaction), and the memory budget. A store opened with `residentMemoryMB: 0`
//! on the same directory is the reference: it always searches through LanceDB.

use serde_json::{Value, json};

use crate::store::resident::ResidentState;
use crate::store::testing::{path, vectors};
use crate::store::{Item, OpenOptions, Result, SearchRequest, Store};

fn open_options(dimension: usize, metric: &str) -> OpenOptions {
    let fields = [("section", "string"), ("year", "int"), ("score", "float"), ("flag", "bool"), ("tags", "string[]")];
    OpenOptions {
        dimension: Some(dimension as f64),
        metric: Some(metric.to_owned()),
        fields: Some(fields.map(|(a, b)| (a.to_owned(), b.to_owned())).into()),
        auto_index: Some(false),
        cache_size: Some(0.0),
        ..Default::default()
    }
}

fn reference_options() -> OpenOptions {
    OpenOptions { resident_memory_mb: Some(0.0), cache_size: Some(0.0), ..Default::default() }
}

/// A small deterministic generator (xorshift), so a failing case can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SECTIONS: [&str; 5] = ["libs", "utils", "net", "it's", "admin"];
const TAGS: [&str; 4] = ["a", "b", "c", "d"];

/// Items whose metadata has every field, some absent or null.
fn items(prefix: &str, n: usize, dimension: usize, seed: u64) -> Vec<Item> {
    let mut rng = Rng(seed | 1);
    vectors(n, dimension, seed)
        .into_iter()
        .enumerate()
        .map(|(i, vector)| {
            let mut metadata = serde_json::Map::new();
            if rng.below(5) > 0 {
                metadata.insert("section".into(), json!(SECTIONS[rng.below(SECTIONS.len())]));
            }
            match rng.below(6) {
                0 => {}
                1 => {
                    metadata.insert("year".into(), Value::Null);
                }
                _ => {
                    metadata.insert("year".into(), json!(2015 + rng.below(10)));
                }
            }
            if rng.below(4) > 0 {
                metadata.insert("score".into(), json!(rng.below(100) as f64 / 10.0));
            }
            if rng.below(3) > 0 {
                metadata.insert("flag".into(), json!(rng.below(2) == 0));
            }
            if rng.below(4) > 0 {
                let tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.below(2) == 0).collect();
                metadata.insert("tags".into(), json!(tags));
            }
            Item { id: format!("{prefix}{i}"), vector, metadata: Some(Value::Object(metadata)) }
        })
        .collect()
}

/// A random filter using every operator, nested at most `depth` deep.
fn filter(rng: &mut Rng, depth: usize) -> Value {
    if depth > 0 && rng.below(3) == 0 {
        let parts: Vec<Value> = (0..1 + rng.below(3)).map(|_| filter(rng, depth - 1)).collect();
        return match rng.below(3) {
            0 => json!({ "$and": parts }),
            1 => json!({ "$or": parts }),
            _ => json!({ "$not": parts[0] }),
        };
    }
    match rng.below(14) {
        0 => json!({ "section": SECTIONS[rng.below(5)] }),
        1 => json!({ "section": { "$ne": SECTIONS[rng.below(5)] } }),
        2 => json!({ "section": { "$in": [SECTIONS[rng.below(5)], SECTIONS[rng.below(5)]] } }),
        3 => json!({ "section": { "$nin": [SECTIONS[rng.below(5)]] } }),
        4 => json!({ "section": { "$gte": SECTIONS[rng.below(5)] } }),
        5 => json!({ "year": { "$gt": 2015 + rng.below(10), "$lte": 2020 + rng.below(5) } }),
        6 => json!({ "year": if rng.below(4) == 0 { Value::Null } else { json!(2015 + rng.below(10)) } }),
        7 => json!({ "year": { "$exists": rng.below(2) == 0 } }),
        8 => json!({ "score": { "$lt": rng.below(100) as f64 / 10.0 } }),
        9 => json!({ "score": { "$in": [rng.below(100) as f64 / 10.0, 1.5] } }),
        10 => json!({ "flag": rng.below(2) == 0 }),
        11 => json!({ "flag": { "$ne": rng.below(2) == 0 } }),
        12 => json!({ "tags": TAGS[rng.below(4)] }),
        _ => {
            json!({ "tags": { if rng.below(2) == 0 { "$in" } else { "$nin" }: [TAGS[rng.below(4)], TAGS[rng.below(4)]] } })
        }
    }
}

async fn wait_ready(store: &Store) -> Result<()> {
    for _ in 0..500 {
        let stats = store.stats().await?;
        if stats.resident.state == ResidentState::Ready {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the resident copy never became ready: {:?}", store.stats().await?.resident);
}

/// Searches both stores and checks the same ids in the same order with scores within 1e-5.
/// Checks that `resident` answers from memory: same ids in the same order as the reference, with
/// scores within 1e-5.
async fn assert_same(resident: &Store, reference: &Store, query: &[f32], request: &SearchRequest) -> Result<usize> {
    let served = resident.stats().await?.resident.searches;
    let ours = resident.search(query, request).await?;
    assert_eq!(resident.stats().await?.resident.searches, served + 1, "answered from memory");
    let theirs = reference.search(query, request).await?;
    let ids = |hits: &[crate::store::Hit]| hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&ours), ids(&theirs), "filter {:?}", request.filter);
    for (a, b) in ours.iter().zip(theirs.iter()) {
        assert!((a.score - b.score).abs() < 1e-5, "{} vs {} for {}", a.score, b.score, a.id);
        assert_eq!(a.metadata, b.metadata);
    }
    Ok(ours.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_results_equal_lancedbs_for_every_metric() -> Result<()> {
    for metric in ["cosine", "l2", "dot"] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), open_options(24, metric)).await?;
        let reference = Store::open(&path(&dir), reference_options()).await?;
        store.add(items("a", 400, 24, 1)).await?;
        store.add(items("b", 300, 24, 2)).await?;
        store.delete(crate::store::DeleteTarget::Ids((0..50).map(|i| format!("a{i}")).collect())).await?;
        store.upsert(items("b", 20, 24, 3)).await?;
        wait_ready(&store).await?;
        assert_eq!(store.stats().await?.resident.rows, 650);
        for (i, query) in vectors(20, 24, 99).iter().enumerate() {
            let limit = [1.0, 10.0, 100.0, 1000.0][i % 4];
            assert_same(&store, &reference, query, &SearchRequest { limit: Some(limit), ..Default::default() }).await?;
        }
        let query = &vectors(1, 24, 5)[0];
        let all = reference.search(query, &SearchRequest { limit: Some(50.0), ..Default::default() }).await?;
        let threshold = all[20].score;
        let request = SearchRequest { limit: Some(50.0), threshold: Some(threshold), ..Default::default() };
        assert!(assert_same(&store, &reference, query, &request).await? >= 21, "{metric}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_filters_select_what_lancedb_selects() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&path(&dir), open_options(8, "cosine")).await?;
    let reference = Store::open(&path(&dir), reference_options()).await?;
    store.add(items("r", 600, 8, 11)).await?;
    wait_ready(&store).await?;
    let mut rng = Rng(0x5eed);
    let query = &vectors(1, 8, 3)[0];
    let mut matched = 0;
    for _ in 0..300 {
        let request = SearchRequest { limit: Some(1000.0), filter: Some(filter(&mut rng, 3)), ..Default::default() };
        matched += assert_same(&store, &reference, query, &request).await?;
    }
    assert!(matched > 300 * 50, "the filters select something: {matched}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_another_connection_are_seen_by_the_next_search() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&path(&dir), open_options(8, "l2")).await?;
    let reference = Store::open(&path(&dir), reference_options()).await?;
    // Another connection (its own handle and resident copy), as another process would be.
    let other = Store::open(
        &path(&dir),
        OpenOptions { read_consistency_interval_ms: Some(5.0), resident_memory_mb: Some(0.0), ..Default::default() },
    )
    .await?;
    store.add(items("s", 200, 8, 21)).await?;
    let query = &vectors(1, 8, 4)[0];
    let all = SearchRequest { limit: Some(1000.0), ..Default::default() };
    other.add(items("o", 50, 8, 22)).await?;
    assert_eq!(assert_same(&store, &reference, query, &all).await?, 250);
    other.delete(crate::store::DeleteTarget::Ids((0..30).map(|i| format!("s{i}")).collect())).await?;
    assert_eq!(assert_same(&store, &reference, query, &all).await?, 220);
    other.upsert(items("o", 10, 8, 23)).await?;
    assert_eq!(assert_same(&store, &reference, query, &all).await?, 220);
    other.optimize(Some(0.0), None).await?;
    assert_eq!(assert_same(&store, &reference, query, &all).await?, 220);
    let stats = store.stats().await?;
    assert_eq!((stats.resident.state, stats.resident.rows), (ResidentState::Ready, 220));
    assert_eq!(stats.resident.version, Some(stats.version), "answered from memory at the latest version");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_over_the_budget_is_searched_through_lancedb() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions { resident_memory_mb: Some(1.0), ..open_options(512, "cosine") };
    let store = Store::open(&path(&dir), options).await?;
    let reference = Store::open(&path(&dir), reference_options()).await?;
    store.add(items("x", 600, 512, 31)).await?; // 1.2 MB of vectors
    let query = &vectors(1, 512, 6)[0];
    let ids = |hits: &[crate::store::Hit]| hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
    let request = SearchRequest::default();
    assert_eq!(ids(&store.search(query, &request).await?), ids(&reference.search(query, &request).await?));
    let status = store.stats().await?.resident;
    assert_eq!((status.state, status.rows, status.bytes), (ResidentState::OverBudget, 0, 0));
    store.delete(crate::store::DeleteTarget::Ids((0..400).map(|i| format!("x{i}")).collect())).await?;
    assert_same(&store, &reference, query, &SearchRequest::default()).await?;
    assert_eq!(store.stats().await?.resident.state, ResidentState::Ready, "fits again after the delete");
    Ok(())
}

#[tokio::test]
async fn turned_off_it_reports_off_and_lancedb_answers() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(&path(&dir), OpenOptions { resident_memory_mb: Some(0.0), ..open_options(4, "cosine") }).await?;
    store.add(items("z", 10, 4, 41)).await?;
    assert_eq!(store.search(&[1.0, 0.0, 0.0, 0.0], &SearchRequest::default()).await?.len(), 10);
    assert_eq!(store.stats().await?.resident.state, ResidentState::Off);
    Ok(())
}

/// A table of `rows` 8-dimensional rows written through a store without a resident copy, and its
/// LanceDB handle through a connection of its own (as another store in the process would have).
async fn written_table(dir: &tempfile::TempDir, rows: usize) -> Result<lancedb::Table> {
    let writer = Store::open(&path(dir), OpenOptions { dimension: Some(8.0), ..reference_options() }).await?;
    for chunk in items("r", rows, 8, 11).chunks(10_000) {
        writer.add(chunk.to_vec()).await?;
    }
    writer.close().await?;
    let connection = lancedb::connect(&path(dir)).execute().await.unwrap();
    Ok(connection.open_table(crate::store::config::DEFAULT_TABLE).execute().await.unwrap())
}

/// Issue 26, item 1: a load dropped between two batches (what `close()` does to a background load)
/// left its fragments recorded as loaded without their rows, and the next catch-up then marked the
/// half-filled copy ready: searches missed rows and the duplicate-id check let stored ids in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_dropped_between_batches_leaves_the_copy_empty_not_half_filled() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use crate::store::metric::Metric;
    use crate::store::resident::{CatchUp, Resident};

    let dir = tempfile::tempdir().unwrap();
    let rows = 30_000;
    let table = written_table(&dir, rows).await?;
    let version = table.version().await.unwrap();
    let resident = Arc::new(Resident::new(8, Metric::Cosine, &Default::default(), 1 << 30, None));
    resident.load_pause.on.store(true, Ordering::Release);
    let job = tokio::spawn({
        let (resident, table) = (Arc::clone(&resident), table.clone());
        async move { resident.catch_up(&table, None, true).await }
    });
    resident.load_pause.reached.notified().await; // one batch is in
    job.abort();
    assert!(job.await.unwrap_err().is_cancelled());
    let status = resident.status(version);
    assert_eq!((status.rows, status.state), (0, ResidentState::Loading), "cut off: emptied, not half-filled");

    resident.load_pause.on.store(false, Ordering::Release);
    assert_eq!(resident.catch_up(&table, None, true).await?, CatchUp::Done);
    let status = resident.status(version);
    assert_eq!((status.rows, status.state), (rows, ResidentState::Ready));
    let last = format!("r{}", rows - 1);
    assert_eq!(resident.first_stored(version, [last.as_str()].into_iter()), Some(Some(last.clone())));
    Ok(())
}

/// Issue 29: a process starting on a table whose vectors are in the vector file loads only ids, metadata and
/// fields; a search arriving meanwhile waits for that quick load and is answered from memory instead of
/// going to LanceDB. A load that reads vectors is not waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_waits_for_a_quick_load_and_not_for_a_slow_one() -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::store::metric::Metric;
    use crate::store::resident::{CatchUp, Resident};

    let dir = tempfile::tempdir().unwrap();
    let table = written_table(&dir, 30_000).await?;
    let version = table.version().await.unwrap();
    let graph_file = super::sidecar::path(dir.path(), "t");
    let resident = |sidecar: Option<std::path::PathBuf>| {
        Arc::new(Resident::new(8, Metric::Cosine, &Default::default(), 1 << 30, sidecar))
    };
    // The first copy copies the vectors (a slow load) and writes the vector file.
    let first = resident(Some(graph_file.clone()));
    assert_eq!(first.catch_up(&table, None, true).await?, CatchUp::Done);
    assert!(first.status(version).mapped_bytes > 0, "the vector file was written");

    for (copy, quick) in [(resident(Some(graph_file)), true), (resident(None), false)] {
        copy.load_pause.on.store(true, Ordering::Release);
        let load = tokio::spawn({
            let (copy, table) = (Arc::clone(&copy), table.clone());
            async move { copy.catch_up(&table, None, true).await }
        });
        copy.load_pause.reached.notified().await; // loading, held after its first batch
        let waiter = tokio::spawn({
            let copy = Arc::clone(&copy);
            async move { copy.wait_for_quick_load().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(waiter.is_finished(), !quick, "quick: {quick}");
        copy.load_pause.on.store(false, Ordering::Release);
        copy.load_pause.go.add_permits(1);
        assert_eq!(waiter.await.unwrap(), quick, "quick: {quick}");
        assert_eq!(load.await.unwrap()?, CatchUp::Done);
        let status = copy.status(version);
        assert_eq!(status.rows_read_without_vectors, if quick { 30_000 } else { 0 });
        assert!(!copy.wait_for_quick_load().await, "no load running: nothing to wait for");
    }
    Ok(())
}

/// Issue 26, item 2: a background catch-up aborted by `close()` left its "scheduled" flag set, so no
/// background catch-up ever ran again for that table in the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_background_catch_up_can_be_scheduled_again() -> Result<()> {
    use std::sync::Arc;

    use crate::store::metric::Metric;
    use crate::store::resident::Resident;

    let resident = Arc::new(Resident::new(8, Metric::Cosine, &Default::default(), 1 << 30, None));
    let ticket = Resident::schedule(&resident).expect("nothing was scheduled");
    assert!(Resident::schedule(&resident).is_none(), "one at a time");
    let job = tokio::spawn(async move {
        let _held = ticket;
        std::future::pending::<()>().await;
    });
    tokio::task::yield_now().await;
    job.abort();
    let _ = job.await;
    assert!(!resident.is_scheduled());
    assert!(Resident::schedule(&resident).is_some(), "scheduled again after the abort");
    Ok(())
}

/// Issue 27, item 5: `get` scanned the id column although the copy holds id → vector and metadata. It
/// now answers from the copy at the latest version, with exactly what LanceDB returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_from_the_copy_equals_get_from_lancedb() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&path(&dir), open_options(8, "l2")).await?;
    store.add(items("g", 3_000, 8, 5)).await?;
    store.delete(crate::store::DeleteTarget::Ids(vec!["g7".into()])).await?;
    let reference = Store::open(&path(&dir), reference_options()).await?;
    let ids: Vec<String> = (0..120).map(|i| format!("g{}", i * 7)).chain(["missing".to_owned()]).collect();
    let version = store.version().await?;
    assert!(store.resident.as_ref().is_some_and(|r| r.get(version, &ids).is_some()), "answered by the copy");
    let from_copy = store.get(ids.clone()).await?;
    assert_eq!(from_copy, reference.get(ids).await?);
    assert!(from_copy[0].is_some() && from_copy[1].is_none(), "g0 stored, g7 deleted");
    assert_eq!(from_copy.iter().filter(|i| i.is_none()).count(), 1 + 1, "g7 was deleted, and one id is missing");
    Ok(())
}

/// Issue 26, item 5: measuring the copy after each write walked every id, metadata and field value. The
/// bytes of the text are now counted as rows arrive (and afresh by a repack); the running count must
/// stay what a walk over every slot finds, through adds, upserts, deletes and a repack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_byte_count_equals_a_count_over_every_slot() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&path(&dir), open_options(8, "cosine")).await?;
    let resident = store.resident.clone().expect("on by default");
    let check = |step: &str| {
        let columns = resident.read();
        assert!(columns.slots() > 0, "{step}: rows are held");
        assert_eq!(columns.bytes(), columns.bytes_counted_afresh(), "{step}");
    };
    store.add(items("b", 6_000, 8, 3)).await?;
    wait_ready(&store).await?;
    check("after adding");
    store.upsert(items("b", 500, 8, 4)).await?;
    wait_ready(&store).await?;
    check("after upserting");
    let slots_before = resident.read().slots();
    let doomed: Vec<String> = (0..5_000).map(|i| format!("b{i}")).collect();
    store.delete(crate::store::DeleteTarget::Ids(doomed)).await?;
    wait_ready(&store).await?;
    assert!(resident.read().slots() < slots_before, "the deletes were repacked away");
    check("after deleting and repacking");
    Ok(())
}

/// Same hits as the LanceDB path, from memory; with 12,000 rows two neighbours' scores may tie within
/// float noise, and such a pair may come in either order.
async fn same_as_lancedb(store: &Store, reference: &Store, query: &[f32]) -> Result<()> {
    let request = SearchRequest { limit: Some(10.0), ..Default::default() };
    let served = store.stats().await?.resident.searches;
    let ours = store.search(query, &request).await?;
    assert_eq!(store.stats().await?.resident.searches, served + 1, "answered from memory");
    let theirs = reference.search(query, &request).await?;
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs.iter()) {
        assert!((a.score - b.score).abs() < 1e-5, "{} {} vs {} {}", a.id, a.score, b.id, b.score);
        let tied =
            |hits: &[crate::store::Hit], id: &str| hits.iter().any(|h| h.id == id && (h.score - a.score).abs() < 1e-5);
        assert!(a.id == b.id || (tied(&theirs, &a.id) && tied(&ours, &b.id)), "{} vs {}", a.id, b.id);
    }
    Ok(())
}

/// Issue 29: a whole load writes the vectors it had to copy into the vector file beside the table and
/// then reads them from it (mapped, shared); the next store — another process, or a restart — reads
/// them in place; rows added later are held in memory; a file of another table is never trusted (its
/// rows differ, so the load copies and writes a new file). Results equal LanceDB's throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_are_read_in_place_from_the_vector_file_and_a_foreign_one_is_never_trusted() -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    const DIMENSION: usize = 64;
    let rows = super::vector_share::PUBLISH_MIN_ROWS + 2_000;
    let options = || OpenOptions { cache_size: Some(0.0), auto_index: Some(false), ..Default::default() };
    async fn table(dir: &tempfile::TempDir, rows: usize, seed: u64) -> Result<()> {
        let writer = Store::open(
            &path(dir),
            OpenOptions { dimension: Some(64.0), auto_index: Some(false), ..reference_options() },
        )
        .await?;
        for chunk in items("r", rows, 64, seed).chunks(5_000) {
            writer.add(chunk.to_vec()).await?;
        }
        writer.close().await
    }
    /// Waits until the copy reads its vectors from the file; its resident status then.
    async fn shared(store: &Store) -> Result<super::ResidentStatus> {
        for _ in 0..1_000 {
            let status = store.stats().await?.resident;
            if status.state == ResidentState::Ready && status.mapped_bytes > 0 {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the vectors were never read from the file: {:?}", store.stats().await?.resident);
    }
    let dir = tempfile::tempdir().unwrap();
    table(&dir, rows, 21).await?;
    let file = super::vector_file::path_beside(&super::sidecar::path(&dir.path().join("store"), "embeddings"));
    // LanceDB's exact search: with autoIndex it would build an index over these 12,000 rows and answer
    // with quantised scores.
    let reference = Store::open(&path(&dir), OpenOptions { auto_index: Some(false), ..reference_options() }).await?;
    let queries = vectors(8, DIMENSION, 77);
    let request = SearchRequest { limit: Some(10.0), ..Default::default() };

    // The first whole load copies the vectors, writes the file and switches to it.
    let first = Store::open(&path(&dir), options()).await?;
    let status = shared(&first).await?;
    assert!(status.bytes < rows * DIMENSION * 4, "vectors no longer in private memory: {status:?}");
    assert!(status.mapped_bytes >= rows * DIMENSION * 4);
    for query in &queries {
        same_as_lancedb(&first, &reference, query).await?;
    }
    first.close().await?;
    let written = std::fs::metadata(&file).unwrap();

    // The next store reads them in place: the file is not written again, and as the table's fragments
    // are those the file records, their vectors are not even read from the table.
    let second = Store::open(&path(&dir), options()).await?;
    let status = shared(&second).await?;
    assert_eq!((status.rows_read, status.rows_read_without_vectors), (rows as u64, rows as u64), "{status:?}");
    let now = std::fs::metadata(&file).unwrap();
    assert_eq!((now.ino(), now.mtime_nsec()), (written.ino(), written.mtime_nsec()), "the file was not rewritten");
    second.add(items("new", 30, DIMENSION, 5)).await?;
    let added = items("new", 30, DIMENSION, 5);
    let hits = second.search(&added[7].vector, &request).await?;
    assert_eq!(hits[0].id, "new7");
    for query in &queries {
        same_as_lancedb(&second, &reference, query).await?;
    }
    second.close().await?;

    // Another table's file of the same shape in its place: its rows differ, so nothing of it is used.
    let other = tempfile::tempdir().unwrap();
    table(&other, rows + 30, 22).await?;
    let other_store = Store::open(&path(&other), options()).await?;
    shared(&other_store).await?;
    other_store.close().await?;
    // Put in place the way a process writes it: a new file renamed over the old one.
    let copied = file.with_extension("copied");
    std::fs::copy(
        super::vector_file::path_beside(&super::sidecar::path(&other.path().join("store"), "embeddings")),
        &copied,
    )
    .unwrap();
    std::fs::rename(&copied, &file).unwrap();
    let foreign = std::fs::metadata(&file).unwrap().ino();
    let third = Store::open(&path(&dir), options()).await?;
    let status = shared(&third).await?; // a new file, written from this table's rows
    assert_eq!(status.rows_read_without_vectors, 0, "another table's fragments: nothing taken on trust");
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), foreign, "the foreign file was replaced");
    for query in &queries {
        same_as_lancedb(&third, &reference, query).await?;
    }
    third.close().await?;

    // This table's fragment records over other vectors (a file written wrong): the sample compared with
    // the table catches it, and the rows are compared one by one instead.
    let rows_now = rows + 30;
    rewrite(&file, |bytes, addresses_at| {
        for float in bytes[addresses_at + 12 * rows_now..].chunks_exact_mut(4) {
            float[0] ^= 1;
        }
    });
    let fourth = Store::open(&path(&dir), options()).await?;
    let status = shared(&fourth).await?; // compared, copied, and published afresh
    assert_eq!(status.rows_read_without_vectors, 0, "{status:?}");
    for query in &queries {
        same_as_lancedb(&fourth, &reference, query).await?;
    }
    fourth.close().await?;

    // Records and sample right, but two rows' addresses swapped: the load taking vectors on trust stops at
    // the first address it does not find where the file says, and the next load compares instead.
    rewrite(&file, |bytes, addresses_at| {
        let (a, b) = (addresses_at + 8 * 100, addresses_at + 8 * 101);
        let first: [u8; 8] = bytes[a..a + 8].try_into().unwrap();
        bytes.copy_within(b..b + 8, a);
        bytes[b..b + 8].copy_from_slice(&first);
    });
    let fifth = Store::open(&path(&dir), options()).await?;
    let mut status = fifth.stats().await?.resident;
    for _ in 0..1_000 {
        if status.state == ResidentState::Ready {
            break;
        }
        fifth.search(&queries[0], &request).await?; // a search starts the next catch-up after a failed one
        tokio::time::sleep(Duration::from_millis(10)).await;
        status = fifth.stats().await?.resident;
    }
    assert_eq!((status.state, status.rows), (ResidentState::Ready, rows_now), "{status:?}");
    for query in &queries {
        same_as_lancedb(&fifth, &reference, query).await?;
    }
    fifth.close().await?;
    Ok(())
}

/// Rewrites the vector file at `file` through `change` (its bytes, where its addresses start), putting the
/// result in place by rename as a writer does.
fn rewrite(file: &std::path::Path, change: impl FnOnce(&mut [u8], usize)) {
    let mut bytes = std::fs::read(file).unwrap();
    let header = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    change(&mut bytes, 12 + header);
    let temporary = file.with_extension("rewritten");
    std::fs::write(&temporary, &bytes).unwrap();
    std::fs::rename(&temporary, file).unwrap();
}

/// Issue 29: a table whose rows fit `residentMemoryMB` only without their vectors is no longer left to
/// LanceDB: its vector file is written straight from the table (never held in memory), the copy loads
/// reading the vectors in place, and the budget counts what this process holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_fits_only_with_its_vectors_in_place_is_served_from_memory() -> Result<()> {
    const DIMENSION: usize = 64;
    let rows = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let writer =
        Store::open(&path(&dir), OpenOptions { dimension: Some(64.0), auto_index: Some(false), ..reference_options() })
            .await?;
    for chunk in items("r", rows, DIMENSION, 31).chunks(6_000) {
        writer.add(chunk.to_vec()).await?;
    }
    writer.close().await?;
    // 4 MiB: the vectors alone take 3 MiB, and a row costs at least its vector and 128 bytes (4.4 MiB).
    let budget = 4.0;
    let options = OpenOptions {
        cache_size: Some(0.0),
        auto_index: Some(false),
        resident_memory_mb: Some(budget),
        ..Default::default()
    };
    let store = Store::open(&path(&dir), options).await?;
    let reference = Store::open(&path(&dir), OpenOptions { auto_index: Some(false), ..reference_options() }).await?;
    let mut status = store.stats().await?.resident;
    for _ in 0..1_000 {
        if status.state == ResidentState::Ready && status.mapped_bytes > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        status = store.stats().await?.resident;
    }
    assert_eq!((status.state, status.rows), (ResidentState::Ready, rows), "{status:?}");
    assert!(status.mapped_bytes >= rows * DIMENSION * 4, "{status:?}");
    assert!(status.bytes <= (budget * 1024.0 * 1024.0) as usize, "{status:?}");
    for query in vectors(5, DIMENSION, 8) {
        same_as_lancedb(&store, &reference, &query).await?;
    }
    store.close().await?;
    Ok(())
}
