//! The values that cross the store's API: items going in, hits and stored items coming out, and
//! what each write reports. Plain data; no behaviour beyond construction.

/// One embedding to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique, non-empty id.
    pub id: String,
    /// The embedding; its length must equal the store's dimension.
    pub vector: Vec<f32>,
    /// A JSON object, or `None`.
    pub metadata: Option<serde_json::Value>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The stored id.
    pub id: String,
    /// Larger is closer (see `Metric::score`).
    pub score: f64,
    /// LanceDB's distance: smaller is closer.
    pub distance: f64,
    /// The stored metadata object as JSON text, or `None`.
    pub metadata: Option<String>,
    /// Where a hybrid or words-only search found the row; `None` for a vector search.
    pub sides: Option<Sides>,
}

/// How a row ranked on each side of a search with words: 1-based ranks among each side's candidates
/// (`None`: not a candidate there) and its BM25 score when the words found it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sides {
    /// Rank among the vector side's candidates.
    pub vector_rank: Option<u32>,
    /// Rank among the words side's candidates.
    pub text_rank: Option<u32>,
    /// BM25 score of the words in the row's text field.
    pub text_score: Option<f64>,
}

/// One stored embedding, as `get` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// The id.
    pub id: String,
    /// The stored vector.
    pub vector: Vec<f32>,
    /// The stored metadata object as JSON text, or `None`.
    pub metadata: Option<String>,
}

/// What `delete` removes: rows by id, or rows matching a filter.
#[derive(Debug, Clone)]
pub enum DeleteTarget {
    /// These ids (missing ones are ignored).
    Ids(Vec<String>),
    /// Rows matching this filter (a non-empty filter object).
    Filter(serde_json::Value),
}

/// What one `delete` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Rows removed.
    pub deleted: usize,
    /// Table version after the commit (unchanged when nothing matched).
    pub version: u64,
}

/// What one `upsert` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// New ids stored.
    pub inserted: usize,
    /// Existing ids replaced.
    pub updated: usize,
    /// Table version after the commit.
    pub version: u64,
}

/// What one `optimize` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizeOutcome {
    /// Data fragments removed by compaction.
    pub fragments_removed: usize,
    /// Data fragments written by compaction.
    pub fragments_added: usize,
    /// Old versions pruned.
    pub versions_pruned: u64,
    /// Table version afterwards.
    pub version: u64,
}

/// What one `add` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOutcome {
    /// Rows written.
    pub added: usize,
    /// Table version after the commit.
    pub version: u64,
}

/// What one `update_metadata` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// Stored rows whose metadata was patched.
    pub updated: usize,
    /// Table version after the commit (unchanged when no id was stored).
    pub version: u64,
}
