//! StoreError: every way a store call can fail, and `ErrorCode`, the one list of stable codes they
//! carry into JS (the bindings mirror it; a test ties the two lists). Messages say what was wrong
//! and what was expected; the code is the contract.

/// Result of every fallible core operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The stable codes users see as `error.code`. Documented in the README: changing one is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An argument or option is missing, of the wrong type, or out of range.
    InvalidArgument,
    /// A vector's length differs from the store's dimension.
    DimensionMismatch,
    /// A vector holds NaN/Infinity, or cannot be used under the metric.
    InvalidVector,
    /// An id is repeated in a batch or already stored.
    DuplicateId,
    /// A filter is malformed or names an undeclared field.
    InvalidFilter,
    /// Building, refreshing or dropping the vector index failed.
    IndexFailed,
    /// Another writer committed a change this call could not be reconciled with.
    Conflict,
    /// The store was closed.
    StoreClosed,
    /// The file system refused.
    Io,
    /// Anything else (a LanceDB failure or a bug).
    Internal,
}

impl ErrorCode {
    /// Every code, in the order the README lists them.
    pub const ALL: [Self; 10] = [
        Self::InvalidArgument,
        Self::DimensionMismatch,
        Self::InvalidVector,
        Self::DuplicateId,
        Self::InvalidFilter,
        Self::IndexFailed,
        Self::Conflict,
        Self::StoreClosed,
        Self::Io,
        Self::Internal,
    ];

    /// The code as JS sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::DimensionMismatch => "DIMENSION_MISMATCH",
            Self::InvalidVector => "INVALID_VECTOR",
            Self::DuplicateId => "DUPLICATE_ID",
            Self::InvalidFilter => "INVALID_FILTER",
            Self::IndexFailed => "INDEX_FAILED",
            Self::Conflict => "CONFLICT",
            Self::StoreClosed => "STORE_CLOSED",
            Self::Io => "IO",
            Self::Internal => "INTERNAL",
        }
    }
}

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
        reason: std::borrow::Cow<'static, str>,
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
        /// What failed, with LanceDB's reason.
        reason: String,
        /// LanceDB's error, when it came from LanceDB.
        #[source]
        source: Option<lancedb::Error>,
    },
    /// A writer in another process committed a change this call conflicts with, and retrying
    /// would not be safe (or did not help).
    #[error(
        "commit conflict while {action}: another writer changed the table at the same time; nothing was written, retry the call ({source})"
    )]
    Conflict {
        /// What the store was doing.
        action: &'static str,
        /// LanceDB's conflict error.
        #[source]
        source: lancedb::Error,
    },
    /// The store was closed with `close()`.
    #[error("the store is closed; open a new EmbeddingStore")]
    Closed,
    /// The file system refused: path not a directory, not writable, …
    #[error("I/O error while {action}: {reason} ({kind:?})")]
    Io {
        /// What the store was doing.
        action: String,
        /// The operating system's error kind (`NotFound`, `PermissionDenied`, …).
        kind: std::io::ErrorKind,
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
    /// The stable code of this error.
    pub fn kind(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::DimensionMismatch { .. } => ErrorCode::DimensionMismatch,
            Self::InvalidVector { .. } => ErrorCode::InvalidVector,
            Self::DuplicateId { .. } => ErrorCode::DuplicateId,
            Self::InvalidFilter { .. } => ErrorCode::InvalidFilter,
            Self::IndexFailed { .. } => ErrorCode::IndexFailed,
            Self::Conflict { .. } => ErrorCode::Conflict,
            Self::Closed => ErrorCode::StoreClosed,
            Self::Io { .. } => ErrorCode::Io,
            Self::Lance { source, .. } if is_io(source) => ErrorCode::Io,
            Self::Lance { .. } | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message users see: the error's text with every secret this process was given (object-store
    /// credentials) replaced by `***`.
    pub fn message(&self) -> String {
        super::secrets::redact(&self.to_string())
    }

    /// The stable code JS sees as `error.code`.
    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Shorthand for an `InvalidArgument` about `option`.
    pub fn invalid(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument { option: option.into(), reason: reason.into() }
    }

    /// Shorthand for an `IndexFailed` that did not come from LanceDB.
    pub fn index_failed(reason: impl Into<String>) -> Self {
        Self::IndexFailed { reason: reason.into(), source: None }
    }

    /// Wraps a LanceDB index error with what was being done (for `map_err`); the error stays the source.
    pub fn index_lance(action: impl Into<String>) -> impl FnOnce(lancedb::Error) -> Self {
        move |source| Self::IndexFailed { reason: format!("{}: {source}", action.into()), source: Some(source) }
    }

    /// Wraps a LanceDB error with what the store was doing (for `map_err`); commit conflicts
    /// become `Conflict`.
    pub fn lance(action: &'static str) -> impl FnOnce(lancedb::Error) -> Self {
        move |source| {
            if is_conflict(&source) { Self::Conflict { action, source } } else { Self::Lance { action, source } }
        }
    }

    /// An `Io` error from the operating system.
    pub fn io(action: impl Into<String>, err: &std::io::Error) -> Self {
        Self::Io { action: action.into(), kind: err.kind(), reason: err.to_string() }
    }

    /// Whether this is a commit conflict LanceDB could not resolve by itself.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

/// LanceDB errors that come from the file system rather than from LanceDB itself.
fn is_io(err: &lancedb::Error) -> bool {
    matches!(
        err,
        lancedb::Error::CreateDir { .. }
            | lancedb::Error::ObjectStore { .. }
            | lancedb::Error::Lance { source: lance_core::Error::IO { .. } }
    )
}

/// Commit conflicts: another writer committed first and LanceDB's own rebase could not merge the two.
fn is_conflict(err: &lancedb::Error) -> bool {
    matches!(
        err,
        lancedb::Error::Lance {
            source: lance_core::Error::CommitConflict { .. }
                | lance_core::Error::RetryableCommitConflict { .. }
                | lance_core::Error::IncompatibleTransaction { .. }
                | lance_core::Error::TooMuchWriteContention { .. }
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(StoreError::invalid("limit", "x").code(), "INVALID_ARGUMENT");
        assert_eq!(StoreError::Closed.code(), "STORE_CLOSED");
        assert_eq!(StoreError::index_failed("x").code(), "INDEX_FAILED");
        let dup = StoreError::DuplicateId { id: "a".into(), reason: "already stored".into() };
        assert_eq!(dup.code(), "DUPLICATE_ID");
        assert!(dup.to_string().contains("\"a\""));
        let dim = StoreError::DimensionMismatch { what: "query".into(), expected: 3, got: 2 };
        assert_eq!(dim.code(), "DIMENSION_MISMATCH");
        assert!(dim.to_string().contains("2 dimensions") && dim.to_string().contains("3-dimensional"));
        let codes: std::collections::HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len(), "codes are distinct");
    }

    #[test]
    fn io_errors_keep_the_os_error_kind() {
        let err = StoreError::io("writing", &std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(err.code(), "IO");
        assert!(matches!(err, StoreError::Io { kind: std::io::ErrorKind::PermissionDenied, .. }));
        assert!(err.to_string().contains("PermissionDenied"), "{err}");
    }
}
