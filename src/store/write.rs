//! Writes: `add`, `upsert` and `delete`, each validated in full before one atomic commit, and what
//! follows a commit through this store (cache invalidation, counters, due maintenance). Writes in
//! this process, and across processes on one machine by a file lock, are serialised per table, so the
//! stored-id check and the commit cannot interleave. On object storage (no such lock) adds go through
//! `keyed_insert`, whose commit refuses ids another writer stored meanwhile.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use super::activity::Write;
use super::config::{self, check_id_list};
use super::error::{Result, StoreError};
use super::latency::elapsed_ms;
use super::lock::lock;
use super::model::{AddOutcome, DeleteOutcome, DeleteTarget, Item, UpsertOutcome};
use super::progress::{Progress, ProgressSink, Reporter};
use super::{Handles, Store, filter, keyed_insert, registry, retry, schema};

impl Store {
    /// Adds `items` in one atomic commit: every item is stored, or (on any error) none is.
    #[cfg(test)]
    pub async fn add(&self, items: Vec<Item>) -> Result<AddOutcome> {
        self.add_reporting(items, None).await
    }

    /// `add`, telling `progress` how many rows LanceDB has taken (`write`, as it pulls each record batch)
    /// and `done` after the commit.
    pub async fn add_reporting(&self, items: Vec<Item>, progress: Option<ProgressSink>) -> Result<AddOutcome> {
        let handles = self.handles()?;
        if items.is_empty() {
            return Ok(AddOutcome { added: 0, version: handles.version().await? });
        }
        let started = Instant::now();
        let batches = self.prepare(&handles, &items)?;
        let writing = self.lock_writes(&handles).await?;
        let total = items.len() as u64;
        let version = if self.location.is_remote() {
            self.insert_keyed(&handles, &items, &batches, progress.as_ref()).await?
        } else {
            // A failed append wrote nothing visible, so retrying it cannot store a row twice; the stored
            // ids are checked again on every attempt, as the conflicting writer may have stored one.
            let result = retry::on_conflict(|| async {
                self.reject_stored_ids(&handles, &items).await?;
                let add = match &progress {
                    None => handles.table.add(batches.clone()),
                    Some(sink) => {
                        handles.table.add(reporting(&handles.schema, batches.clone(), Arc::clone(sink), total))
                    }
                };
                add.execute().await.map_err(StoreError::lance("adding embeddings"))
            })
            .await?;
            result.version
        };
        Reporter::new(progress).always(Progress::rows("done", total, Some(total)));
        drop(writing);
        // The resident copy takes the rows from `batches` instead of reading them back. When it cannot
        // (another commit came in between) or fails, `committed` below catches it up by reading the
        // table, and records any error for `stats()`.
        if let Some(resident) = &self.resident {
            let _ = resident.apply_own_append(&handles.table, version, &batches).await;
        }
        self.committed(&handles, Write::Add(items.len()), version, started).await;
        Ok(AddOutcome { added: items.len(), version })
    }

    /// `add` on object storage (see `keyed_insert`): no lock spans processes there, so the commit itself
    /// refuses an id stored meanwhile. Each attempt starts from the latest version.
    async fn insert_keyed(
        &self,
        handles: &Handles,
        items: &[Item],
        batches: &[RecordBatch],
        progress: Option<&ProgressSink>,
    ) -> Result<u64> {
        let total = items.len() as u64;
        retry::on_conflict(|| async {
            self.look_for_new_commits(handles).await?;
            self.reject_stored_ids(handles, items).await?;
            let reported = pulled(batches.to_vec(), progress.cloned(), total);
            if let Some(version) = keyed_insert::insert_new_ids(&handles.table, &handles.schema, reported).await? {
                return Ok(version);
            }
            // Another writer stored one of the ids between the check and the insert: name it.
            self.look_for_new_commits(handles).await?;
            self.reject_stored_ids(handles, items).await?;
            Err(StoreError::DuplicateId {
                id: items.first().map(|item| item.id.clone()).unwrap_or_default(),
                reason: "another writer stored one of the batch's ids at the same time (it was removed again since)"
                    .into(),
            })
        })
        .await
    }

    /// Inserts new ids and replaces existing ones (vector and metadata) in one atomic commit.
    pub async fn upsert(&self, items: Vec<Item>) -> Result<UpsertOutcome> {
        let handles = self.handles()?;
        if items.is_empty() {
            return Ok(UpsertOutcome { inserted: 0, updated: 0, version: handles.version().await? });
        }
        let started = Instant::now();
        let batches = self.prepare(&handles, &items)?;
        let writing = self.lock_writes(&handles).await?;
        let outcome = self.merge_locked(&handles, batches).await?;
        drop(writing);
        self.committed(&handles, Write::Upsert(items.len()), outcome.version, started).await;
        Ok(outcome)
    }

    /// One merge-insert commit keyed on `id`: rows whose id is stored replace it, the others are added.
    /// The caller holds the write lock (`lock_writes`) and records the commit (`committed`).
    pub(super) async fn merge_locked(&self, handles: &Handles, batches: Vec<RecordBatch>) -> Result<UpsertOutcome> {
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), Arc::clone(&handles.schema));
        let mut merge = handles.table.merge_insert(&[schema::ID]);
        merge.when_matched_update_all(None).when_not_matched_insert_all();
        let result = merge.execute(Box::new(reader)).await.map_err(StoreError::lance("upserting embeddings"))?;
        Ok(UpsertOutcome {
            inserted: usize::try_from(result.num_inserted_rows).unwrap_or(usize::MAX),
            updated: usize::try_from(result.num_updated_rows).unwrap_or(usize::MAX),
            version: result.version,
        })
    }

    /// Removes rows by id or by filter in one commit.
    pub async fn delete(&self, target: DeleteTarget) -> Result<DeleteOutcome> {
        let handles = self.handles()?;
        let doomed = match &target {
            DeleteTarget::Ids(ids) => {
                check_id_list(ids)?;
                if ids.is_empty() {
                    return Ok(DeleteOutcome { deleted: 0, version: handles.version().await? });
                }
                Doomed::Ids(ids)
            }
            DeleteTarget::Filter(value) => {
                Doomed::Matching(filter::compile(value, &self.layout.fields)?.ok_or_else(|| {
                    StoreError::InvalidFilter {
                        reason: "an empty filter would delete every row; pass a filter that says what to delete".into(),
                    }
                })?)
            }
        };
        let started = Instant::now();
        let writing = self.lock_writes(&handles).await?;
        let (predicate, known) = match doomed {
            Doomed::Ids(ids) => self.ids_to_delete(&handles, ids).await?,
            Doomed::Matching(predicate) => (predicate, None),
        };
        let matching = match known {
            Some(matching) => matching,
            None => {
                handles.table.count_rows(Some(predicate.clone())).await.map_err(StoreError::lance("counting rows"))?
            }
        };
        if matching == 0 {
            return Ok(DeleteOutcome { deleted: 0, version: handles.version().await? });
        }
        let result = handles.table.delete(predicate.as_str()).await.map_err(StoreError::lance("deleting rows"))?;
        drop(writing);
        self.committed(&handles, Write::Delete, result.version, started).await;
        let deleted = usize::try_from(result.num_deleted_rows).unwrap_or(matching);
        Ok(DeleteOutcome { deleted: if deleted == 0 { matching } else { deleted }, version: result.version })
    }

    /// The predicate that deletes `ids`, and how many rows it matches when known. With the resident copy
    /// at the latest version (checked under the write lock, so no commit can come in between) it names
    /// only the stored ids, so a list of mostly missing ids costs no scan and an IN list no longer than
    /// the rows it removes; otherwise every id, counted by LanceDB.
    async fn ids_to_delete(&self, handles: &Handles, ids: &[String]) -> Result<(String, Option<usize>)> {
        if let Some(resident) = &self.resident {
            let version = self.read_version(handles).await?;
            if let Some(stored) = resident.stored(version, ids) {
                return Ok((filter::id_in(stored.iter().copied()), Some(stored.len())));
            }
        }
        Ok((filter::id_in(ids.iter().map(String::as_str)), None))
    }

    /// Takes the table's write lock (this process and, by a file lock, other processes on this
    /// machine) and makes sure the handle sees the latest commit, so the stored-id check and the
    /// commit that follows cannot interleave with another writer's.
    pub(super) async fn lock_writes<'a>(&self, handles: &'a Handles) -> Result<registry::WriteLock<'a>> {
        let lock = handles.locks.lock_writes().await?;
        self.look_for_new_commits(handles).await?;
        Ok(lock)
    }

    /// With a consistency interval the handle may not have looked for other processes' commits yet: look now.
    async fn look_for_new_commits(&self, handles: &Handles) -> Result<()> {
        if !self.config.read_consistency.is_zero()
            && let Some(dataset) = handles.table.dataset()
        {
            dataset.reload().await.map_err(StoreError::lance("reading the latest table version"))?;
        }
        Ok(())
    }

    /// Validates a batch and builds its record batches; nothing is written.
    pub(super) fn prepare(&self, handles: &Handles, items: &[Item]) -> Result<Vec<RecordBatch>> {
        let metadata = config::check_items(items, self.layout.dimension, self.layout.metric)?;
        schema::to_batches(&handles.schema, items, &metadata, &self.layout, self.config.batch_rows)
    }

    /// Bookkeeping after any commit through this store (`version`, the one it made): records it as the
    /// latest known (so the next read checks it with two `stat`s instead of listing every version), frees
    /// cache entries the new version made unservable, records the write, starts due background
    /// maintenance, and brings the resident copy to the new version (so the next search is answered from
    /// memory). Cannot fail: the commit stands, so nothing after it may turn the call into a rejection.
    pub(super) async fn committed(&self, handles: &Arc<Handles>, write: Write, version: u64, started: Instant) {
        if let Some(latest) = &self.latest {
            latest.record(version);
        }
        let rows_written = match write {
            Write::Add(rows) | Write::Upsert(rows) => rows,
            Write::Delete | Write::Update | Write::Restore => 0,
        };
        self.catch_up_resident(handles).await;
        // Entries computed before this commit can no longer be served (their version is older);
        // dropping them now just frees the memory early.
        lock(&self.cache).clear();
        let compaction_due =
            lock(&self.activity).record_commit(write, elapsed_ms(started), self.config.auto_optimize_commits);
        if compaction_due {
            self.spawn_optimize(Arc::clone(handles));
        }
        self.maybe_spawn_upkeep(handles);
        self.spawn_text_indexes(handles, rows_written);
        crate::memory::after_commit();
    }
}

impl Store {
    /// Fails with `DuplicateId` naming the first id of `items` already stored: looked up in the
    /// resident copy's id map when it holds the latest version, else queried from LanceDB.
    pub(super) async fn reject_stored_ids(&self, handles: &Handles, items: &[Item]) -> Result<()> {
        if let Some(resident) = &self.resident {
            let version = self.read_version(handles).await?;
            if let Some(stored) = resident.first_stored(version, items.iter().map(|item| item.id.as_str())) {
                return match stored {
                    Some(id) => Err(StoreError::DuplicateId { id, reason: "it is already in the store".into() }),
                    None => Ok(()),
                };
            }
        }
        reject_stored_ids(&handles.table, items).await
    }
}

/// What a `delete` removes: rows by id, or the rows a compiled filter matches.
enum Doomed<'a> {
    Ids(&'a [String]),
    Matching(String),
}

/// `batches` as a stream that reports the rows LanceDB has pulled so far (`write` events).
fn reporting(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    sink: ProgressSink,
    total: u64,
) -> lancedb::arrow::SendableRecordBatchStream {
    let stream = futures::stream::iter(pulled(batches, Some(sink), total).map(Ok));
    Box::pin(lancedb::arrow::SimpleRecordBatchStream::new(stream, Arc::clone(schema)))
}

/// `batches`, telling `sink` (a `write` event) how many rows have been taken each time one is taken.
pub(super) fn pulled(
    batches: Vec<RecordBatch>,
    sink: Option<ProgressSink>,
    total: u64,
) -> impl Iterator<Item = RecordBatch> + Send + 'static {
    let mut reporter = Reporter::new(sink);
    let mut rows = 0u64;
    reporter.always(Progress::rows("write", 0, Some(total)));
    batches.into_iter().inspect(move |batch| {
        rows += batch.num_rows() as u64;
        reporter.report(Progress::rows("write", rows, Some(total)));
    })
}

/// Fails with `DuplicateId` naming the first id of `items` already stored (queried from LanceDB).
async fn reject_stored_ids(table: &lancedb::Table, items: &[Item]) -> Result<()> {
    for chunk in items.chunks(filter::IDS_PER_PREDICATE) {
        let predicate = filter::id_in(chunk.iter().map(|item| item.id.as_str()));
        let stream = table
            .query()
            .only_if(predicate)
            .select(Select::columns(&[schema::ID]))
            .limit(1)
            .execute()
            .await
            .map_err(StoreError::lance("checking for stored ids"))?;
        let batches: Vec<RecordBatch> =
            stream.try_collect().await.map_err(StoreError::lance("checking for stored ids"))?;
        for batch in &batches {
            if let Some(id) = schema::read_ids(batch)?.into_iter().next() {
                return Err(StoreError::DuplicateId { id, reason: "it is already in the store".into() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, lance_store_with, options, path, store_with, with_fields};
    use crate::store::{SearchRequest, Store};

    #[tokio::test]
    async fn a_stored_id_rejects_the_whole_batch() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        store.add(vec![item("a", &[1.0, 0.0])]).await?;
        let version = store.version().await?;
        let err = store.add(vec![item("b", &[0.0, 1.0]), item("a", &[1.0, 1.0])]).await.unwrap_err();
        assert!(matches!(err, StoreError::DuplicateId { ref id, .. } if id == "a"));
        assert_eq!(store.count(None).await?, 1);
        assert_eq!(store.version().await?, version);
        Ok(())
    }

    #[tokio::test]
    async fn delete_by_ids_counts_each_stored_id_once_on_both_paths() -> Result<()> {
        for lance_only in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store =
                if lance_only { lance_store_with(&dir, 50, false).await? } else { store_with(&dir, 50, false).await? };
            let ids = |list: &[&str]| DeleteTarget::Ids(list.iter().map(|id| id.to_string()).collect());
            let version = store.version().await?;
            let outcome = store.delete(ids(&["nope", "also-missing"])).await?;
            assert_eq!((outcome.deleted, outcome.version), (0, version), "nothing stored: no commit");
            let outcome = store.delete(ids(&["3", "missing", "3", "7"])).await?;
            assert_eq!(outcome.deleted, 2, "lance_only {lance_only}");
            assert_eq!(store.count(None).await?, 48);
            let got = store.get(vec!["3".into(), "7".into(), "8".into()]).await?;
            assert!(got[0].is_none() && got[1].is_none() && got[2].is_some());
            // After optimize the id index answers the lookups; the results are the same.
            store.optimize(None, None).await?;
            let outcome = store.delete(ids(&["8", "8", "gone"])).await?;
            assert_eq!(outcome.deleted, 1);
            assert_eq!(store.count(None).await?, 47);
            assert!(store.get(vec!["8".into()]).await?[0].is_none());
            store.close().await?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn upsert_get_delete_and_filtered_search() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), with_fields()).await?;
        store
            .add(vec![
                doc("a", &[1.0, 0.0], "libs", 2019, &["x"]),
                doc("b", &[0.9, 0.1], "utils", 2021, &["x", "y"]),
                doc("c", &[0.0, 1.0], "utils", 2023, &[]),
            ])
            .await?;
        let search = |filter: serde_json::Value| SearchRequest { filter: Some(filter), ..Default::default() };
        let hits = store.search(&[1.0, 0.0], &search(serde_json::json!({ "section": "utils" }))).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        let hits = store.search(&[1.0, 0.0], &search(serde_json::json!({ "tags": "y" }))).await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(store.count(Some(&serde_json::json!({ "year": { "$gte": 2021 } }))).await?, 2);

        let outcome = store
            .upsert(vec![doc("a", &[0.0, 1.0], "games", 2024, &[]), doc("d", &[0.5, 0.5], "libs", 2020, &[])])
            .await?;
        assert_eq!((outcome.inserted, outcome.updated), (1, 1));
        let got = store.get(vec!["d".into(), "missing".into(), "a".into()]).await?;
        assert_eq!(got[0].as_ref().unwrap().id, "d");
        assert!(got[1].is_none());
        let a = got[2].as_ref().unwrap();
        assert_eq!(a.vector, vec![0.0, 1.0]);
        let metadata: serde_json::Value = serde_json::from_str(a.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(metadata["section"], "games");

        store.optimize(None, None).await?; // builds the declared fields' scalar indexes
        let indexed: Vec<String> =
            store.handles()?.table.list_indices().await.unwrap().into_iter().flat_map(|i| i.columns).collect();
        for field in ["id", "section", "year", "tags"] {
            assert!(indexed.iter().any(|c| c == field), "{field} has no index: {indexed:?}");
        }
        let hits = store
            .search(&[1.0, 0.0], &search(serde_json::json!({ "tags": { "$in": ["y"] }, "year": { "$gt": 2020 } })))
            .await?;
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b"]);
        let deleted = store.delete(DeleteTarget::Filter(serde_json::json!({ "section": "utils" }))).await?;
        assert_eq!(deleted.deleted, 2);
        let deleted = store.delete(DeleteTarget::Ids(vec!["d".into(), "nope".into()])).await?;
        assert_eq!(deleted.deleted, 1);
        assert_eq!(store.count(None).await?, 1);
        assert!(matches!(
            store.delete(DeleteTarget::Filter(serde_json::json!({}))).await,
            Err(StoreError::InvalidFilter { .. })
        ));
        Ok(())
    }

    fn doc(id: &str, vector: &[f32], section: &str, year: i64, tags: &[&str]) -> Item {
        let metadata = serde_json::json!({ "section": section, "year": year, "tags": tags, "note": "free text" });
        Item { id: id.into(), vector: vector.to_vec(), metadata: Some(metadata) }
    }

    /// Issue 12, defect 6: bookkeeping after a commit could turn a committed write into a rejection
    /// (a poisoned counter mutex became `Internal`). The commit stands, and so does the call.
    #[tokio::test]
    async fn a_committed_write_is_never_rejected_by_its_bookkeeping() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&path(&dir), options(2)).await?;
        let activity = std::sync::Arc::clone(&store.activity);
        let poisoner = std::thread::spawn(move || {
            let _held = activity.lock();
            panic!("poison the activity mutex");
        });
        assert!(poisoner.join().is_err());
        assert!(store.activity.is_poisoned());
        store.add(vec![item("a", &[1.0, 0.0])]).await?;
        store.upsert(vec![item("b", &[0.0, 1.0])]).await?;
        store.delete(DeleteTarget::Ids(vec!["a".into()])).await?;
        assert_eq!(store.count(None).await?, 1);
        assert_eq!(store.stats().await?.inserts, 1);
        Ok(())
    }
}
