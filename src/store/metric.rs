//! Metric: how closeness between vectors is measured, and the maths between LanceDB's distances and
//! the larger-is-closer scores users see (and back, for a threshold pushed down as a distance bound).

use lancedb::DistanceType;

use super::error::{Result, StoreError};

/// How closeness between vectors is measured. Stored with the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity; `distance = 1 − cos`, `score = cos`.
    Cosine,
    /// Squared Euclidean distance; `score = 1 / (1 + distance)`.
    L2,
    /// Dot product; `distance = 1 − dot`, `score = dot`.
    Dot,
}

impl Metric {
    /// The allowed spellings, for error messages and docs.
    pub const NAMES: &'static str = "'cosine', 'l2' or 'dot'";

    /// Parses `"cosine" | "l2" | "dot"`.
    pub fn parse(option: &str, value: &str) -> Result<Self> {
        match value {
            "cosine" => Ok(Self::Cosine),
            "l2" => Ok(Self::L2),
            "dot" => Ok(Self::Dot),
            other => Err(StoreError::invalid(option, format!("got {other:?}, expected {}", Self::NAMES))),
        }
    }

    /// The name users write.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::L2 => "l2",
            Self::Dot => "dot",
        }
    }

    /// LanceDB's distance type for this metric.
    pub fn distance_type(self) -> DistanceType {
        match self {
            Self::Cosine => DistanceType::Cosine,
            Self::L2 => DistanceType::L2,
            Self::Dot => DistanceType::Dot,
        }
    }

    /// Larger-is-closer score for a LanceDB `_distance`.
    pub fn score(self, distance: f64) -> f64 {
        match self {
            Self::Cosine | Self::Dot => 1.0 - distance,
            Self::L2 => 1.0 / (1.0 + distance.max(0.0)),
        }
    }

    /// The largest distance whose score is still ≥ `threshold`; `None` when every distance qualifies.
    /// May be negative (then nothing qualifies).
    pub fn max_distance(self, threshold: f64) -> Option<f64> {
        match self {
            Self::Cosine | Self::Dot => Some(1.0 - threshold),
            Self::L2 if threshold <= 0.0 => None,
            Self::L2 => Some(1.0 / threshold - 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_distance_bounds_agree_per_metric() {
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            for threshold in [0.25, 0.5, 0.9] {
                let bound = metric.max_distance(threshold).unwrap();
                assert!((metric.score(bound) - threshold).abs() < 1e-12, "{metric:?} {threshold}");
            }
        }
        assert_eq!(Metric::L2.max_distance(0.0), None);
        assert_eq!(Metric::Cosine.score(0.0), 1.0);
        assert_eq!(Metric::L2.score(0.0), 1.0);
    }
}
