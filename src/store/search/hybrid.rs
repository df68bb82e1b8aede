//! Searches with words: `searchText` (the words side alone) and hybrid `search` (both sides, fused by
//! reciprocal rank). The vector side is the ordinary search (resident copy or LanceDB); the words side
//! the resident copy's word index when the copy holds the version searched, else LanceDB's full-text
//! query (run at once with the vector side); both with the same filter; the fusion is `fusion.rs`. Owns
//! the first builds of both word indexes and the vector distance of rows only the words found.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{lance, words};
use crate::store::config::{MAX_LIMIT, Search, TextQuery};
use crate::store::error::{Result, StoreError};
use crate::store::fields::{FieldType, Fields};
use crate::store::filter::{self, Condition, Filter};
use crate::store::fusion;
use crate::store::index::knobs::Knobs;
use crate::store::index::upkeep::{AUTO_FOLD_FRACTION, AUTO_FOLD_MIN_ROWS};
use crate::store::lock::{LowerOnDrop, lock};
use crate::store::maintenance::JobKind;
use crate::store::model::Hit;
use crate::store::{Handles, Store, retry};

/// Candidates each side of a hybrid search contributes to the fusion: twice the hits asked for, at least
/// 20, so a row ranked just below `limit` on both sides can still make the top.
pub fn fusion_candidates(limit: usize) -> usize {
    (limit * 2).clamp(20, MAX_LIMIT)
}

/// A spawned task that is aborted when its owner is dropped (tokio's `JoinHandle` detaches instead).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Store {
    /// The words side alone: BM25 over `text.field` among the rows the filter keeps; `threshold` is a
    /// minimum BM25 score.
    pub(super) async fn search_words(
        &self,
        handles: &Arc<Handles>,
        text: &TextQuery,
        search: &Search,
        version: u64,
    ) -> Result<Vec<Hit>> {
        let mut hits = match self.words_from_memory(text, search.limit, search.filter.as_deref(), version) {
            Some(hits) => hits,
            None => {
                if !self.ensure_text_index(handles, &text.field, version).await? {
                    return Ok(Vec::new()); // an empty table: nothing to index, nothing to find
                }
                words::search(&handles.table, text, search.limit, search.filter.as_deref()).await?
            }
        };
        if let Some(threshold) = search.threshold {
            hits.retain(|hit| hit.score >= threshold);
        }
        Ok(hits)
    }

    /// Both sides, fused: each contributes `fusion_candidates(limit)` rows; every returned hit carries its
    /// vector distance (looked up for rows only the words found), and `threshold` keeps hits whose vector
    /// score reaches it.
    pub(super) async fn search_hybrid(
        &self,
        handles: &Arc<Handles>,
        query: &[f32],
        text: &TextQuery,
        search: Search,
        version: u64,
    ) -> Result<Vec<Hit>> {
        let candidates = fusion_candidates(search.limit);
        let vectors = Search { limit: candidates, text: None, ..search.clone() };
        let in_memory = self.words_from_memory(text, candidates, search.filter.as_deref(), version);
        // Else the words side (LanceDB's full-text query, the slower one) runs as its own task, so it proceeds
        // on another worker while this one walks the graph; dropping this future (close()) aborts it.
        let words = if in_memory.is_some() {
            None
        } else if self.ensure_text_index(handles, &text.field, version).await? {
            let (table, text, filter) = (handles.table.clone(), text.clone(), search.filter.clone());
            Some(AbortOnDrop(tokio::spawn(
                async move { words::search(&table, &text, candidates, filter.as_deref()).await },
            )))
        } else {
            None // an empty table
        };
        let vector_hits = self.search_vectors(handles, query, vectors, version).await?;
        let word_hits = match (in_memory, words) {
            (Some(hits), _) => hits,
            (None, Some(mut task)) => (&mut task.0)
                .await
                .map_err(|e| StoreError::Internal(format!("the full-text search stopped: {e}")))??,
            (None, None) => Vec::new(),
        };
        let mut fused = fusion::fuse(vector_hits, word_hits, text.rrf_k);
        self.fill_distances(handles, query, &mut fused, version).await?;
        // A row the words side saw but the vector side could not score was removed in between: dropped.
        fused.retain(|hit| {
            !hit.distance.is_nan()
                && search.threshold.is_none_or(|threshold| self.layout.metric.score(hit.distance) >= threshold)
        });
        fused.truncate(search.limit);
        Ok(fused)
    }

    /// Sets the vector distance of the hits that have none (rows only the words side found): from the
    /// resident copy when it holds `version`, else with one exact LanceDB query over those ids.
    async fn fill_distances(&self, handles: &Handles, query: &[f32], hits: &mut [Hit], version: u64) -> Result<()> {
        let missing: Vec<String> = hits.iter().filter(|h| h.distance.is_nan()).map(|h| h.id.clone()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let found = match self.resident.as_ref().and_then(|r| r.distances(version, query, &missing)) {
            Some(found) => found,
            None => {
                let by_id = Filter {
                    condition: Condition::All(Vec::new()), // read by the resident copy only; LanceDB reads `sql`
                    sql: filter::id_in(missing.iter().map(String::as_str)),
                };
                let exact = Search {
                    limit: missing.len(),
                    threshold: None,
                    filter: Some(Arc::new(by_id)),
                    knobs: Knobs { exact: true, ..Knobs::default() },
                    text: None,
                };
                lance::search(&handles.table, query, &exact, self.layout.metric, None)
                    .await?
                    .into_iter()
                    .map(|hit| (hit.id, hit.distance))
                    .collect::<HashMap<_, _>>()
            }
        };
        for hit in hits.iter_mut().filter(|h| h.distance.is_nan()) {
            if let Some(&distance) = found.get(&hit.id) {
                hit.distance = distance;
            }
        }
        Ok(())
    }

    /// The words side from the resident copy's word index, when the copy holds `version`. The first time a
    /// field is searched the copy has none: it is built in the background (LanceDB answers meanwhile).
    /// `None`: ask LanceDB.
    fn words_from_memory(
        &self,
        text: &TextQuery,
        limit: usize,
        filter: Option<&Filter>,
        version: u64,
    ) -> Option<Vec<Hit>> {
        let resident = self.resident.as_ref()?;
        if let Some(hits) = resident.search_words(version, &text.field, &text.text, limit, filter) {
            return Some(hits);
        }
        if resident.lacks_words(version, &text.field) && !self.word_index_job.swap(true, Ordering::AcqRel) {
            let running = LowerOnDrop(Arc::clone(&self.word_index_job));
            let (resident, field) = (Arc::clone(resident), text.field.clone());
            let handle = tokio::spawn(async move {
                let _running = running; // cleared when the build ends or `close()` aborts it
                // A failure is kept in `stats().resident.lastError`; LanceDB keeps answering, correctly.
                let _ = resident.build_words(&field).await;
            });
            self.track(JobKind::Index, handle);
        }
        None
    }

    /// Makes sure `field` has its full-text index, building the missing ones now if not (the background job
    /// after writes usually has: see `spawn_text_indexes`). `false` when the table is empty.
    async fn ensure_text_index(&self, handles: &Arc<Handles>, field: &str, version: u64) -> Result<bool> {
        if lock(&self.text_indexes)
            .as_ref()
            .is_some_and(|(seen, fields)| *seen == version && fields.iter().any(|f| f == field))
        {
            return Ok(true);
        }
        let mut indexed = words::indexed_fields(&handles.table, &self.layout.fields).await?;
        if !indexed.iter().any(|f| f == field) {
            if build_text_indexes(handles, &self.layout.fields).await? {
                // The build is a commit (no row changed): the resident copy follows it now, as after a write,
                // so it keeps answering from memory instead of waiting for the next vector search.
                self.catch_up_resident(handles).await;
            }
            indexed = words::indexed_fields(&handles.table, &self.layout.fields).await?;
            if !indexed.iter().any(|f| f == field) {
                return Ok(false); // an empty table: nothing to index
            }
        }
        *lock(&self.text_indexes) = Some((version, indexed));
        Ok(true)
    }

    /// After a commit of `rows_written` rows: builds the full-text indexes that are missing in the
    /// background, so the first text search through LanceDB does not pay for the build, and once
    /// `AUTO_FOLD_MIN_ROWS` rows were written since the last look, folds the rows each index does not cover
    /// yet into it when they are as many as the vector index's upkeep would fold (LanceDB scans them at every
    /// text search it answers). One job per store at a time; none with `autoIndex: false`. A failed build is
    /// not lost: the next text search through LanceDB builds inline and rejects with it.
    pub(in crate::store) fn spawn_text_indexes(&self, handles: &Arc<Handles>, rows_written: usize) {
        if !self.config.auto_index || !self.layout.fields.values().any(|kind| kind.is_text()) {
            return;
        }
        let unchecked = self.text_rows_unchecked.fetch_add(rows_written, Ordering::AcqRel) + rows_written;
        if (self.text_indexes_done.load(Ordering::Acquire) && unchecked < AUTO_FOLD_MIN_ROWS)
            || self.text_index_job.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let running = LowerOnDrop(Arc::clone(&self.text_index_job));
        let (handles, declared, done) =
            (Arc::clone(handles), self.layout.fields.clone(), Arc::clone(&self.text_indexes_done));
        let (resident, unchecked) = (self.resident.clone(), Arc::clone(&self.text_rows_unchecked));
        let handle = tokio::spawn(async move {
            let _running = running; // cleared when the job ends or `close()` aborts it
            let Ok(mut committed) = build_text_indexes(&handles, &declared).await else { return };
            let texts = declared.values().filter(|kind| kind.is_text()).count();
            if words::indexed_fields(&handles.table, &declared).await.is_ok_and(|f| f.len() == texts) {
                done.store(true, Ordering::Release);
            }
            // Rows written before or while this job ran are folded in once enough piled up. A failed fold is
            // not kept: the rows stay searchable (LanceDB scans them) and the next look folds them.
            while unchecked.load(Ordering::Acquire) >= AUTO_FOLD_MIN_ROWS {
                unchecked.store(0, Ordering::Release);
                match fold_text_indexes(&handles, &declared).await {
                    Ok(folded) => committed |= folded,
                    Err(_) => break,
                }
            }
            if committed && let Some(resident) = resident {
                // Index commits change no row: the copy follows at once, as after a write. Kept in the copy's
                // status if it fails; the next search catches up.
                let _ = resident.catch_up(&handles.table, Some(1_000_000), false).await;
            }
        });
        self.track(JobKind::Index, handle);
    }
}

/// Builds the full-text index of every `'text'` field that has none, once the table has rows (one build at
/// a time per table in this process: `optimize()` builds them under the same lock). `true` if it built one.
async fn build_text_indexes(handles: &Handles, declared: &Fields) -> Result<bool> {
    let _maintaining = handles.locks.maintenance.lock().await;
    let indexed = words::indexed_fields(&handles.table, declared).await?;
    let missing: Vec<(&String, FieldType)> = declared
        .iter()
        .filter(|(name, kind)| kind.is_text() && !indexed.contains(name))
        .map(|(n, k)| (n, *k))
        .collect();
    if missing.is_empty() || handles.table.count_rows(None).await.map_err(StoreError::lance("counting rows"))? == 0 {
        return Ok(false);
    }
    for (field, kind) in missing {
        retry::on_conflict(|| async {
            handles
                .table
                .create_index(&[field], kind.index()?)
                .execute()
                .await
                .map_err(StoreError::lance("creating the full-text index"))
        })
        .await?;
    }
    Ok(true)
}

/// Folds into each `'text'` field's full-text index the rows it does not cover yet, when they are at least
/// `AUTO_FOLD_MIN_ROWS` and `AUTO_FOLD_FRACTION` of the rows it covers (the vector index's rule). `true` if it
/// folded any.
async fn fold_text_indexes(handles: &Handles, declared: &Fields) -> Result<bool> {
    let _maintaining = handles.locks.maintenance.lock().await;
    let mut folded = false;
    for field in declared.iter().filter(|(_, kind)| kind.is_text()).map(|(name, _)| name) {
        let Some(progress) = words::progress(&handles.table, field).await? else { continue };
        let due = AUTO_FOLD_MIN_ROWS.max((progress.indexed_rows as f64 * AUTO_FOLD_FRACTION) as usize);
        if progress.unindexed_rows >= due {
            crate::store::index::lance::fold_new_rows(&handles.table, &progress.name).await?;
            folded = true;
        }
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::Sides;
    use crate::store::testing::path;
    use crate::store::{Item, OpenOptions, SearchRequest};

    fn options(resident: bool) -> OpenOptions {
        OpenOptions {
            dimension: Some(2.0),
            fields: Some([("body".to_owned(), "text".to_owned()), ("kind".to_owned(), "string".to_owned())].into()),
            resident_memory_mb: (!resident).then_some(0.0),
            auto_optimize_every: Some(0.0),
            ..Default::default()
        }
    }

    fn doc(id: &str, vector: [f32; 2], body: &str, kind: &str) -> Item {
        Item {
            id: id.into(),
            vector: vector.to_vec(),
            metadata: Some(serde_json::json!({ "body": body, "kind": kind })),
        }
    }

    fn words(text: &str) -> SearchRequest {
        SearchRequest { text: Some(text.to_owned()), ..Default::default() }
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[tokio::test]
    async fn words_and_vectors_are_fused_by_rank_on_both_paths() -> Result<()> {
        for resident in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&path(&dir), options(resident)).await?;
            assert!(store.search_text(&words("apple")).await?.is_empty(), "an empty table has nothing to find");
            let mut items = vec![
                doc("a", [1.0, 0.0], "apple pie recipe", "food"),
                doc("b", [0.5, 0.5], "banana bread", "food"),
                doc("c", [0.0, 1.0], "cherry apple tart", "food"),
                doc("z", [-1.0, 0.05], "a zebra crossing", "other"),
            ];
            // Thirty rows near [1, 0] so that `z` is not among the vector side's 20 candidates.
            items.extend((0..30).map(|i| doc(&format!("f{i}"), [1.0, 0.01 * i as f32], "filler words", "food")));
            store.add(items).await?;

            let apple = store.search_text(&words("apples")).await?;
            let mut found = ids(&apple);
            found.sort_unstable();
            assert_eq!(found, ["a", "c"], "stemmed: apples → apple; resident {resident}");
            assert!(apple.iter().all(|h| h.score > 0.0 && h.sides.is_some_and(|s| s.text_score == Some(h.score))));

            // Vector [0, 1]: c first, then b; words: only b.
            let request = SearchRequest { limit: Some(3.0), ..words("banana") };
            let hybrid = store.search(&[0.0, 1.0], &request).await?;
            assert_eq!(hybrid[0].id, "b", "both sides (1/62 + 1/61) beat one side's 1/61; resident {resident}");
            let b = hybrid[0].sides.expect("hybrid hits say where they were found");
            assert_eq!(b.text_rank, Some(1));
            assert_eq!(b.vector_rank, Some(2));
            assert_eq!(hybrid[1].id, "c");
            assert_eq!(hybrid[1].sides.map(|s| s.text_rank), Some(None));

            // `z` only the words find: its vector distance is looked up (cosine of [1,0] and [-1,0.05]).
            let zebra = store.search(&[1.0, 0.0], &SearchRequest { limit: Some(5.0), ..words("zebra") }).await?;
            let z = zebra.iter().find(|h| h.id == "z").expect("the words side brings z in");
            assert_eq!(
                z.sides,
                Some(Sides { vector_rank: None, text_rank: Some(1), text_score: z.sides.and_then(|s| s.text_score) })
            );
            let expected = 1.0 - (-1.0 / (1.0f64 + 0.05 * 0.05).sqrt());
            assert!((z.distance - expected).abs() < 1e-5, "{} vs {expected}; resident {resident}", z.distance);
            assert_eq!(zebra[1].id, "z", "ties at 1/61 go to the vector side's first");

            // The filter applies to both sides; a threshold cuts on the vector score.
            let kind = serde_json::json!({ "kind": "other" });
            let filtered =
                store.search(&[1.0, 0.0], &SearchRequest { filter: Some(kind), ..words("apple zebra") }).await?;
            assert_eq!(ids(&filtered), ["z"]);
            let cut = store.search(&[1.0, 0.0], &SearchRequest { threshold: Some(0.5), ..words("zebra") }).await?;
            assert!(cut.iter().all(|h| 1.0 - h.distance >= 0.5) && !cut.iter().any(|h| h.id == "z"));
            store.close().await?;
        }
        Ok(())
    }

    /// Issue 31: the words side is answered from the resident copy's word index once it is built (the first
    /// text search starts the build; LanceDB answers meanwhile), with LanceDB's ranking and BM25 scores, and
    /// it follows the writes the copy follows: new rows found at once, deleted rows never.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn words_are_answered_from_memory_as_lancedb_answers_them() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(true)).await?;
        let reference = Store::open(&path(&dir), options(false)).await?;
        let vocabulary = ["apple", "banana", "cherry", "grape", "lemon", "mango", "olive", "peach", "pear", "plum"];
        let items: Vec<Item> = (0..300usize)
            .map(|i| {
                let words: Vec<&str> =
                    (0..1 + i % 7).map(|k| vocabulary[(i * 7 + k * k * 3 + k) % vocabulary.len()]).collect();
                let kind = if i % 3 == 0 { "odd" } else { "even" };
                doc(&format!("d{i}"), [1.0, i as f32 / 300.0], &words.join(" "), kind)
            })
            .collect();
        store.add(items).await?;
        let resident = store.resident.clone().expect("on by default");
        assert!(!resident.has_words("body"));
        store.search_text(&words("apple")).await?; // answered by LanceDB; starts the build
        for _ in 0..500 {
            if resident.has_words("body") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(resident.has_words("body"), "the word index was built");
        assert!(store.stats().await?.text[0].in_memory);
        for query in ["apple", "banana cherry", "plum plum pear", "mango olive lemon grape", "nothing"] {
            for filter in [None, Some(serde_json::json!({ "kind": "odd" }))] {
                let request = SearchRequest { limit: Some(15.0), filter: filter.clone(), ..words(query) };
                let version = store.version().await?;
                let memory = resident.search_words(version, "body", query, 15, None);
                assert!(memory.is_some(), "the copy answers");
                let (ours, theirs) = (store.search_text(&request).await?, reference.search_text(&request).await?);
                assert_eq!(ours.len(), theirs.len(), "{query} {filter:?}");
                for (a, b) in ours.iter().zip(theirs.iter()) {
                    assert!((a.score - b.score).abs() < 1e-4, "{query}: {} {} vs {} {}", a.id, a.score, b.id, b.score);
                }
                // The same rows at each score, but at the lowest one: a tie cut by the limit may keep other rows.
                let lowest = ours.last().map_or(0, |h| (h.score * 1e3).round() as i64);
                let by_score = |hits: &[Hit]| {
                    let mut ids: Vec<(i64, String)> = hits
                        .iter()
                        .map(|h| ((h.score * 1e3).round() as i64, h.id.clone()))
                        .filter(|(score, _)| *score > lowest)
                        .collect();
                    ids.sort();
                    ids
                };
                assert_eq!(by_score(&ours), by_score(&theirs), "{query} {filter:?}: the same rows at each score");
            }
        }
        store.delete(crate::store::DeleteTarget::Ids((0..300).step_by(2).map(|i| format!("d{i}")).collect())).await?;
        store.add(vec![doc("new", [0.0, 1.0], "kiwi apple", "odd")]).await?;
        let found = store.search_text(&SearchRequest { limit: Some(300.0), ..words("apple kiwi") }).await?;
        assert_eq!(found[0].id, "new", "a new row is found at once");
        assert!(found.iter().all(|h| h.id == "new" || h.id[1..].parse::<usize>().unwrap() % 2 == 1), "no deleted row");
        let hybrid = store.search(&[0.0, 1.0], &SearchRequest { limit: Some(5.0), ..words("kiwi") }).await?;
        assert_eq!(hybrid[0].id, "new", "first on both sides");
        assert_eq!(hybrid[0].sides.and_then(|s| s.text_rank), Some(1));
        store.close().await?;
        reference.close().await?;
        Ok(())
    }

    #[tokio::test]
    async fn the_index_is_built_once_and_rows_after_it_are_found_until_optimize_folds_them() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        // autoIndex off: no background build, so the first text search builds the index.
        let store = Store::open(&path(&dir), OpenOptions { auto_index: Some(false), ..options(true) }).await?;
        store.add(vec![doc("a", [1.0, 0.0], "old words", "x")]).await?;
        let handles = store.handles()?;
        assert!(words::indexed_fields(&handles.table, &store.layout.fields).await?.is_empty());
        assert_eq!(ids(&store.search_text(&words("old")).await?), ["a"]);
        assert_eq!(words::indexed_fields(&handles.table, &store.layout.fields).await?, ["body"]);
        assert_eq!(words::unindexed_rows(&handles.table, "body").await?, Some(0));
        let built = store.version().await?;
        store.add(vec![doc("b", [0.0, 1.0], "new words", "x")]).await?;
        assert_eq!(ids(&store.search_text(&words("new")).await?), ["b"], "found before it is folded in");
        assert_eq!(store.version().await?, built + 1, "no second build");
        assert_eq!(words::unindexed_rows(&handles.table, "body").await?, Some(1));
        store.optimize(None, None).await?;
        assert_eq!(words::unindexed_rows(&handles.table, "body").await?, Some(0));
        let mut both =
            ids(&store.search_text(&words("words")).await?).into_iter().map(str::to_owned).collect::<Vec<_>>();
        both.sort_unstable();
        assert_eq!(both, ["a", "b"]);
        store.close().await?;
        Ok(())
    }

    #[tokio::test]
    async fn writes_start_the_missing_text_indexes_in_the_background_once() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(true)).await?;
        store.add(vec![doc("a", [1.0, 0.0], "some words", "x")]).await?;
        let handles = store.handles()?;
        for _ in 0..300 {
            if !words::indexed_fields(&handles.table, &store.layout.fields).await?.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(words::indexed_fields(&handles.table, &store.layout.fields).await?, ["body"]);
        while store.text_index_job.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(store.text_indexes_done.load(Ordering::Acquire));
        let version = store.version().await?;
        store.add(vec![doc("b", [0.0, 1.0], "extra words", "x")]).await?;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(store.version().await?, version + 1, "no second build once every text field has its index");
        assert_eq!(ids(&store.search_text(&words("extra")).await?), ["b"]);
        store.close().await?;
        Ok(())
    }

    /// Issue 31: rows added in a few large commits stayed outside the full-text index until the automatic
    /// compaction (every 100 commits) folded them, and LanceDB scanned them at every text search it answered
    /// (180 ms for 15,000 rows). The background job now folds them once enough were written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_written_in_bulk_are_folded_into_the_full_text_index_in_the_background() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(false)).await?;
        store.add(vec![doc("first", [1.0, 0.0], "first words", "x")]).await?;
        let handles = store.handles()?;
        let wait = |what: &'static str, done: fn(Option<usize>) -> bool| {
            let table = handles.table.clone();
            async move {
                for _ in 0..600 {
                    if done(words::unindexed_rows(&table, "body").await?) {
                        return Ok::<_, StoreError>(());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                panic!("waited 30 s for {what}");
            }
        };
        wait("the index", |behind| behind == Some(0)).await?;
        let bulk =
            (0..AUTO_FOLD_MIN_ROWS + 500).map(|i| doc(&format!("b{i}"), [0.0, 1.0], "bulk words", "x")).collect();
        store.add(bulk).await?;
        wait("the fold", |behind| behind == Some(0)).await?;
        assert_eq!(store.search_text(&SearchRequest { limit: Some(3.0), ..words("first") }).await?[0].id, "first");
        store.close().await?;
        Ok(())
    }
}
