//! StoreError: every way a store call can fail, each with the stable `code` it carries into JS.
//! The messages say what was wrong and what was expected; `code()` is the contract.

/// Result of every fallible core operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store call failed. Variants carry the facts; `code()` gives the stable JS code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An option or argument is out of range, of the wrong kind, or missing.
    #[error("invalid `{option}`: {reason}")]
    InvalidArgument {
        /// Where the bad value sits, e.g. `limit` or `items[3].id`.
        option: String,
        /// What was wrong and what is expected.
        reason: String,
    },
    /// A vector's length differs from the store's dimension.
    #[error("{what} has {got} dimensions but the store holds {expected}-dimensional vectors")]
    DimensionMismatch {
        /// Which vector, e.g. `query` or `items[0].vector`.
        what: String,
        /// The store's dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A vector holds NaN/Infinity, or is all zeros where the metric cannot use it.
    #[error("invalid vector in `{what}`: {reason}")]
    InvalidVector {
        /// Which vector, e.g. `query` or `items[0].vector`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An id is repeated within a batch or already stored.
    #[error("duplicate id {id:?}: {reason}; nothing was written")]
    DuplicateId {
        /// The offending id.
        id: String,
        /// Whether it repeats within the batch or is already stored.
        reason: &'static str,
    },
    /// A metadata filter uses an unknown operator, an undeclared field or a value of the wrong type.
    #[error("invalid filter: {reason}")]
    InvalidFilter {
        /// What is wrong with the filter.
        reason: String,
    },
    /// Building (or dropping) the vector index failed; the store keeps answering with exact search.
    #[error("building the vector index failed: {reason}")]
    IndexFailed {
        /// LanceDB's reason, or why the build could not start.
        reason: String,
    },
    /// The store was closed with `close()`.
    #[error("the store is closed; open a new EmbeddingStore")]
    Closed,
    /// The file system refused: path not a directory, not writable, …
    #[error("I/O error while {action}: {reason}")]
    Io {
        /// What the store was doing.
        action: String,
        /// The operating system's or object store's reason.
        reason: String,
    },
    /// Anything else LanceDB reported.
    #[error("LanceDB failed while {action}: {source}")]
    Lance {
        /// What the store was doing.
        action: &'static str,
        /// LanceDB's error.
        #[source]
        source: lancedb::Error,
    },
    /// A broken invariant inside lancestore (a bug: please report it).
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// The stable code JS sees as `error.code`. Documented in the README: changing one is a breaking change.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Self::DimensionMismatch { .. } => "DIMENSION_MISMATCH",
            Self::InvalidVector { .. } => "INVALID_VECTOR",
            Self::DuplicateId { .. } => "DUPLICATE_ID",
            Self::InvalidFilter { .. } => "INVALID_FILTER",
            Self::IndexFailed { .. } => "INDEX_FAILED",
            Self::Closed => "STORE_CLOSED",
            Self::Io { .. } => "IO",
            Self::Lance { source, .. } if is_io(source) => "IO",
            Self::Lance { .. } | Self::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand for an `InvalidArgument` about `option`.
    pub fn invalid(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { option: option.into(), reason: reason.into() }
    }

    /// Wraps a LanceDB error with what the store was doing (for `map_err`).
    pub fn lance(action: &'static str) -> impl FnOnce(lancedb::Error) -> Self {
        move |source| Self::Lance { action, source }
    }
}

/// LanceDB errors that come from the file system rather than from LanceDB itself.
fn is_io(err: &lancedb::Error) -> bool {
    matches!(err, lancedb::Error::CreateDir { .. } | lancedb::Error::ObjectStore { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(StoreError::invalid("limit", "x").code(), "INVALID_ARGUMENT");
        assert_eq!(StoreError::Closed.code(), "STORE_CLOSED");
        assert_eq!(StoreError::IndexFailed { reason: "x".into() }.code(), "INDEX_FAILED");
        let dup = StoreError::DuplicateId { id: "a".into(), reason: "already stored" };
        assert_eq!(dup.code(), "DUPLICATE_ID");
        assert!(dup.to_string().contains("\"a\""));
        let dim = StoreError::DimensionMismatch { what: "query".into(), expected: 3, got: 2 };
        assert_eq!(dim.code(), "DIMENSION_MISMATCH");
        assert!(dim.to_string().contains("2 dimensions") && dim.to_string().contains("3-dimensional"));
    }
}
