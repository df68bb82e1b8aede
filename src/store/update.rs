//! `updateMetadata`: changes stored rows' metadata without their vectors. Each row is read (from the
//! resident copy when it is current), its metadata patched by a JSON merge patch (RFC 7396), checked
//! like any item's (declared field types), and the rows are written back in one merge-insert commit,
//! under the table's write lock, so no other writer of this machine interleaves between read and write.

use std::time::Instant;

use super::Store;
use super::activity::Write;
use super::config::check_id_list;
use super::error::{Result, StoreError};
use super::model::{Item, UpdateOutcome};

/// Patches at most this many bytes of JSON (the same bound as one item's metadata).
const MAX_PATCH_BYTES: usize = 1 << 20;

impl Store {
    /// Applies `patch` (a JSON object, RFC 7396 merge patch) to the metadata of each stored id of `ids`
    /// in one atomic commit; ids not stored are ignored. A row without metadata is patched from `{}`.
    pub async fn update_metadata(&self, ids: Vec<String>, patch: serde_json::Value) -> Result<UpdateOutcome> {
        let handles = self.handles()?;
        check_id_list(&ids)?;
        if !patch.is_object() {
            return Err(StoreError::invalid("patch", "it must be an object (a JSON merge patch)"));
        }
        if serde_json::to_string(&patch).map_or(0, |text| text.len()) > MAX_PATCH_BYTES {
            return Err(StoreError::invalid("patch", "it is larger than 1 MiB as JSON"));
        }
        let started = Instant::now();
        let writing = self.lock_writes(&handles).await?;
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<String> = ids.into_iter().filter(|id| seen.insert(id.clone())).collect();
        let mut items = Vec::new();
        for stored in self.get(unique).await?.into_iter().flatten() {
            let current = match stored.metadata.as_deref() {
                Some(text) => serde_json::from_str(text).map_err(|e| {
                    StoreError::Internal(format!("stored metadata of {:?} is not JSON: {e}", stored.id))
                })?,
                None => serde_json::Value::Object(Default::default()),
            };
            items.push(Item { id: stored.id, vector: stored.vector, metadata: Some(merge_patch(current, &patch)) });
        }
        if items.is_empty() {
            return Ok(UpdateOutcome { updated: 0, version: handles.version().await? });
        }
        let batches = self.prepare(&handles, &items)?;
        let outcome = self.merge_locked(&handles, batches).await?;
        drop(writing);
        self.committed(&handles, Write::Update, outcome.version, started).await;
        Ok(UpdateOutcome { updated: items.len(), version: outcome.version })
    }
}

/// RFC 7396: each key of `patch` replaces the target's, `null` removes it, and an object patches an
/// object recursively; a patch that is not an object replaces the target whole.
fn merge_patch(target: serde_json::Value, patch: &serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(changes) = patch else { return patch.clone() };
    let mut object = match target {
        serde_json::Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    for (key, change) in changes {
        if change.is_null() {
            object.remove(key);
        } else {
            let current = object.remove(key).unwrap_or(serde_json::Value::Null);
            object.insert(key.clone(), merge_patch(current, change));
        }
    }
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testing::{path, with_fields};

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let target = json!({ "a": "b", "c": { "d": "e", "f": "g" }, "list": [1, 2] });
        let patch = json!({ "a": "z", "c": { "f": null, "h": 1 }, "list": [3], "new": { "x": null, "y": 2 } });
        assert_eq!(
            merge_patch(target, &patch),
            json!({ "a": "z", "c": { "d": "e", "h": 1 }, "list": [3], "new": { "y": 2 } })
        );
        assert_eq!(merge_patch(json!(null), &json!({ "a": 1 })), json!({ "a": 1 }));
    }

    #[tokio::test]
    async fn patches_metadata_and_fields_in_one_commit_and_keeps_vectors() -> Result<()> {
        for resident_memory_mb in [None, Some(0.0)] {
            let dir = tempfile::tempdir().unwrap();
            let store =
                Store::open(&path(&dir), crate::store::OpenOptions { resident_memory_mb, ..with_fields() }).await?;
            let doc = |id: &str, v: [f32; 2], section: &str| Item {
                id: id.into(),
                vector: v.to_vec(),
                metadata: Some(json!({ "section": section, "year": 2020, "note": "keep" })),
            };
            store
                .add(vec![doc("a", [1.0, 0.0], "libs"), doc("b", [0.0, 1.0], "libs"), doc("c", [0.5, 0.5], "games")])
                .await?;
            let before = store.version().await?;
            let outcome = store
                .update_metadata(
                    vec!["a".into(), "b".into(), "a".into(), "missing".into()],
                    json!({ "section": "utils", "year": null }),
                )
                .await?;
            assert_eq!((outcome.updated, outcome.version), (2, before + 1));
            assert_eq!(store.count(Some(&json!({ "section": "utils" }))).await?, 2, "the declared field follows");
            assert_eq!(store.count(Some(&json!({ "year": { "$exists": false } }))).await?, 2);
            let got = store.get(vec!["a".into(), "c".into()]).await?;
            let a = got[0].as_ref().unwrap();
            assert_eq!(a.vector, vec![1.0, 0.0]);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(a.metadata.as_deref().unwrap()).unwrap(),
                json!({ "section": "utils", "note": "keep" })
            );
            assert!(got[1].as_ref().unwrap().metadata.as_deref().unwrap().contains("games"), "others untouched");
            // A wrong field type rejects the whole call and commits nothing.
            let err = store.update_metadata(vec!["a".into()], json!({ "year": "soon" })).await.unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT");
            assert_eq!(store.version().await?, before + 1);
            assert!(store.update_metadata(vec!["a".into()], json!([1])).await.is_err(), "a patch is an object");
            let nothing = store.update_metadata(vec!["nope".into()], json!({ "x": 1 })).await?;
            assert_eq!((nothing.updated, nothing.version), (0, before + 1), "nothing stored: no commit");
            // The search after the update answers from the new metadata.
            let hits = store
                .search(
                    &[1.0, 0.0],
                    &crate::store::SearchRequest { filter: Some(json!({ "section": "utils" })), ..Default::default() },
                )
                .await?;
            assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
            store.close().await?;
        }
        Ok(())
    }
}
