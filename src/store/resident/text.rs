//! Searches with words answered from the resident copy: the words side of `searchText` and hybrid
//! `search` from the copy's in-memory word index (`words.rs`) when the copy holds the version searched,
//! and that index's build: from a snapshot of the field's values, tokenized off the locks, installed
//! if the slots were not renumbered meanwhile (the rows filled since are indexed then).

use std::sync::Arc;

use super::words::WordIndex;
use super::{Resident, hit};
use crate::store::error::{Result, StoreError};
use crate::store::filter::Filter;
use crate::store::lock::lock;
use crate::store::model::{Hit, Sides};

/// Attempts at building a word index before leaving it to the next search (each is undone only by a
/// repack or a reload in between).
const BUILD_ATTEMPTS: usize = 3;

impl Resident {
    /// The `limit` rows whose `field` best matches `text` (BM25), best first, among those `filter` keeps,
    /// from memory; `None` when the copy does not hold `version` or has no word index for `field` yet
    /// (the caller asks LanceDB, and may build the index: `build_words`).
    pub fn search_words(
        &self,
        version: u64,
        field: &str,
        text: &str,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Option<Vec<Hit>> {
        let columns = self.read();
        if columns.version != Some(version) {
            return None;
        }
        let words = columns.words(field)?;
        let selected = filter.map(|filter| self.selection(&columns, version, filter));
        let found = words.search(text, &columns.live, selected.as_ref().map(|(flags, _)| flags.as_slice()), limit);
        let hits = found
            .into_iter()
            .enumerate()
            .map(|(rank, (slot, score))| {
                let score = f64::from(score);
                let text_rank = Some(u32::try_from(rank + 1).unwrap_or(u32::MAX));
                let sides = Sides { vector_rank: None, text_rank, text_score: Some(score) };
                hit(&columns, slot as usize, score, 0.0, Some(sides))
            })
            .collect();
        self.searches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(hits)
    }

    /// Whether `field`'s word index is built (for `stats().text`).
    pub fn has_words(&self, field: &str) -> bool {
        self.read().words(field).is_some()
    }

    /// Whether the copy holds `version` but no word index for `field` (a build would help).
    pub fn lacks_words(&self, version: u64, field: &str) -> bool {
        let columns = self.read();
        columns.version == Some(version) && columns.words(field).is_none()
    }

    /// Builds `field`'s word index from the copy as it is now, tokenizing on a blocking thread, and
    /// installs it. `Ok(false)` when the copy kept being renumbered (the next search tries again). A
    /// failure is also kept for `stats().resident.lastError`.
    pub async fn build_words(self: &Arc<Self>, field: &str) -> Result<bool> {
        let outcome = self.build_words_once(field).await;
        if let Err(err) = &outcome {
            *lock(&self.last_error) = Some(format!("building the word index of `{field}`: {err}"));
        }
        outcome
    }

    async fn build_words_once(self: &Arc<Self>, field: &str) -> Result<bool> {
        let kind = *self
            .fields
            .get(field)
            .filter(|kind| kind.is_text())
            .ok_or_else(|| StoreError::Internal(format!("`{field}` is not a text field")))?;
        for _ in 0..BUILD_ATTEMPTS {
            let Some((generation, texts)) = ({
                let columns = self.read();
                columns.text_values(field).map(|texts| (columns.generation, texts))
            }) else {
                return Ok(false);
            };
            let index = tokio::task::spawn_blocking(move || WordIndex::build(kind, &texts))
                .await
                .map_err(|e| StoreError::Internal(format!("building the word index stopped: {e}")))??;
            let mut columns = self.write();
            if columns.generation == generation {
                columns.install_words(field, index);
                self.measure(&columns);
                return Ok(true);
            }
        }
        Ok(false)
    }
}
