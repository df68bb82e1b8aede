//! The vector index: the kinds a store builds and the shape (kind, partitions) it records in the
//! index name. What to build is planned in `index/plan.rs`, search-time knobs in `index/knobs.rs`,
//! when background upkeep acts in `index/upkeep.rs`, and every LanceDB call in `index/lance.rs`.

pub mod knobs;
pub mod lance;
pub mod plan;
pub mod upkeep;

/// The vector index kinds a store builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[expect(clippy::enum_variant_names, reason = "every kind is an IVF index, named as LanceDB names it")]
pub enum IndexKind {
    /// IVF partitions of product-quantised vectors, re-ranked on the full vectors.
    IvfPq,
    /// IVF partitions, each an HNSW graph over 8-bit scalar-quantised vectors.
    IvfHnswSq,
    /// IVF partitions of the full vectors.
    IvfFlat,
}

impl IndexKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [Self; 3] = [Self::IvfPq, Self::IvfHnswSq, Self::IvfFlat];

    /// The name users write and reports carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IvfPq => "ivf_pq",
            Self::IvfHnswSq => "ivf_hnsw_sq",
            Self::IvfFlat => "ivf_flat",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The index as the table records it: kind and partitions are kept in the index name, so a store
/// reopened later (or in another process) knows the search defaults without guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexShape {
    /// The kind.
    pub kind: IndexKind,
    /// IVF partitions.
    pub num_partitions: u32,
}

const NAME_PREFIX: &str = "lancestore_vector";

impl IndexShape {
    /// The index name recording this shape, e.g. `lancestore_vector__ivf_pq__p128`.
    pub fn name(self) -> String {
        format!("{NAME_PREFIX}__{}__p{}", self.kind.as_str(), self.num_partitions)
    }

    /// Reads a name written by `name()`; `None` for indexes made by other tools.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut parts = name.split("__");
        if parts.next()? != NAME_PREFIX {
            return None;
        }
        let kind = IndexKind::parse(parts.next()?)?;
        let num_partitions = parts.next()?.strip_prefix('p')?.parse().ok()?;
        parts.next().is_none().then_some(Self { kind, num_partitions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_record_the_shape() {
        for kind in IndexKind::ALL {
            let shape = IndexShape { kind, num_partitions: 64 };
            assert_eq!(IndexShape::from_name(&shape.name()), Some(shape));
        }
        for foreign in
            ["vector_idx", "lancestore_vector__ivf_pq", "lancestore_vector__ivf_pq__pX", "lancestore_vector__x__p2"]
        {
            assert_eq!(IndexShape::from_name(foreign), None, "{foreign}");
        }
    }
}
