//! Every LanceDB call about the vector index: finding the one that exists (its kind, shape and how
//! many rows it covers), building a planned one, dropping it, and folding new rows into it. What to
//! build is decided in `plan.rs`; when, in `upkeep.rs` and `store/maintenance.rs`.

use lancedb::index::IndexType;
use lancedb::table::OptimizeAction;

use lancedb::index::Index;
use lancedb::index::vector::{IvfFlatIndexBuilder, IvfHnswSqIndexBuilder, IvfPqIndexBuilder};

use super::plan::{self, IndexPlan};
use super::{IndexKind, IndexShape};
use crate::store::error::{Result, StoreError};
use crate::store::metric::Metric;
use crate::store::schema::VECTOR;

/// A vector index found on the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its name in the table.
    pub name: String,
    /// Its kind as LanceDB names it, lower case (`"ivf_pq"`, …; other tools may build other kinds).
    pub kind: String,
    /// Kind and partitions used for search defaults: read from the name for indexes lancestore built,
    /// estimated (√ rule over the covered rows) for indexes built by other tools.
    pub shape: IndexShape,
    /// Whether lancestore built it (so its shape is known, not estimated).
    pub ours: bool,
    /// Rows the index covers.
    pub indexed_rows: usize,
    /// Rows added since, which searches scan exactly until they are folded in.
    pub unindexed_rows: usize,
}

fn is_vector_index(kind: &IndexType) -> bool {
    matches!(
        kind,
        IndexType::IvfFlat
            | IndexType::IvfSq
            | IndexType::IvfPq
            | IndexType::IvfRq
            | IndexType::IvfHnswPq
            | IndexType::IvfHnswSq
            | IndexType::IvfHnswFlat
    )
}

/// The kind whose search defaults suit a LanceDB index type.
fn closest_kind(kind: &IndexType) -> IndexKind {
    match kind {
        IndexType::IvfPq => IndexKind::IvfPq,
        IndexType::IvfHnswPq | IndexType::IvfHnswSq | IndexType::IvfHnswFlat => IndexKind::IvfHnswSq,
        _ => IndexKind::IvfFlat,
    }
}

async fn find_config(table: &lancedb::Table) -> Result<Option<lancedb::index::IndexConfig>> {
    let listed = table.list_indices().await.map_err(StoreError::lance("listing indexes"))?;
    Ok(listed.into_iter().find(|i| is_vector_index(&i.index_type) && i.columns.iter().any(|c| c == VECTOR)))
}

/// The vector index's shape without reading its statistics (what every search needs).
pub async fn find_shape(table: &lancedb::Table) -> Result<Option<IndexShape>> {
    Ok(match find_config(table).await? {
        None => None,
        Some(config) => match IndexShape::from_name(&config.name) {
            Some(shape) => Some(shape),
            None => find(table).await?.map(|found| found.shape),
        },
    })
}

/// The vector index on the table, if any, with its coverage.
pub async fn find(table: &lancedb::Table) -> Result<Option<Found>> {
    let Some(config) = find_config(table).await? else {
        return Ok(None);
    };
    let stats = table.index_stats(&config.name).await.map_err(StoreError::lance("reading index statistics"))?;
    let (indexed_rows, unindexed_rows) = stats.map_or((0, 0), |s| (s.num_indexed_rows, s.num_unindexed_rows));
    let ours = IndexShape::from_name(&config.name);
    let shape = ours.unwrap_or(IndexShape {
        kind: closest_kind(&config.index_type),
        num_partitions: plan::ivf_partitions(indexed_rows),
    });
    Ok(Some(Found {
        kind: config.index_type.to_string().to_lowercase(),
        name: config.name,
        shape,
        ours: ours.is_some(),
        indexed_rows,
        unindexed_rows,
    }))
}

/// Builds `plan` over every row, then drops any other vector index (searches use the old index
/// until the new one is committed). LanceDB's failure becomes `IndexFailed` with its reason.
pub async fn build(table: &lancedb::Table, plan: &IndexPlan, metric: Metric) -> Result<String> {
    let name = IndexShape::from(plan).name();
    let previous = find(table).await?;
    let failed = |e: lancedb::Error| StoreError::IndexFailed { reason: e.to_string(), source: Some(e) };
    let create = || table.create_index(&[VECTOR], to_lance(plan, metric)).name(name.clone()).replace(true).execute();
    match create().await {
        Ok(()) => {}
        // LanceDB keeps one vector index per column: when the old one is in the way, drop it first.
        Err(first) if previous.as_ref().is_some_and(|p| p.name != name) => {
            let old = previous.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
            table.drop_index(old).await.map_err(StoreError::index_lance(format!(
                "{first}; dropping the old index {old:?} to make room also failed"
            )))?;
            create().await.map_err(failed)?;
            check_coverage(table, &name).await?;
            return Ok(name);
        }
        Err(e) => return Err(failed(e)),
    }
    if let Some(old) = previous.filter(|p| p.name != name) {
        table.drop_index(&old.name).await.map_err(failed)?;
    }
    check_coverage(table, &name).await?;
    Ok(name)
}

/// LanceDB commits an empty index, without an error, when it cannot train one (e.g. 8-bit PQ codes
/// on fewer than 256 rows). Such an index is dropped and reported as the failure it is.
async fn check_coverage(table: &lancedb::Table, name: &str) -> Result<()> {
    let Some(found) = find(table).await? else {
        return Err(StoreError::index_failed(format!("LanceDB reported success but the table has no index {name:?}")));
    };
    if found.indexed_rows == 0 && found.unindexed_rows > 0 {
        table.drop_index(name).await.map_err(StoreError::lance("dropping an empty index"))?;
        return Err(StoreError::index_failed(format!(
            "LanceDB could not train the index on {} rows and built one covering none of them (8-bit PQ codes need at least 256 rows; try numBits: 4 or fewer partitions); the store searches exactly",
            found.unindexed_rows
        )));
    }
    Ok(())
}

/// Drops the vector index; `false` when there was none.
pub async fn drop(table: &lancedb::Table) -> Result<bool> {
    let Some(found) = find(table).await? else {
        return Ok(false);
    };
    table.drop_index(&found.name).await.map_err(StoreError::index_lance(format!("dropping {:?}", found.name)))?;
    Ok(true)
}

/// Folds rows added since the index was built into it (a delta LanceDB merges later).
pub async fn fold_new_rows(table: &lancedb::Table, name: &str) -> Result<()> {
    let options = lancedb::table::OptimizeOptions::default().index_names(vec![name.to_owned()]);
    table
        .optimize(OptimizeAction::Index(options))
        .await
        .map(|_| ())
        .map_err(StoreError::index_lance("adding new rows to the index"))
}

/// LanceDB's builder for `plan`, trained with `metric`.
fn to_lance(plan: &IndexPlan, metric: Metric) -> Index {
    let distance = metric.distance_type();
    match plan.kind {
        IndexKind::IvfPq => {
            let mut builder = IvfPqIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate);
            if let Some(n) = plan.num_sub_vectors {
                builder = builder.num_sub_vectors(n);
            }
            if let Some(bits) = plan.num_bits {
                builder = builder.num_bits(bits);
            }
            Index::IvfPq(builder)
        }
        IndexKind::IvfHnswSq => Index::IvfHnswSq(
            IvfHnswSqIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate)
                .num_edges(plan.num_edges.unwrap_or(plan::DEFAULT_NUM_EDGES))
                .ef_construction(plan.ef_construction.unwrap_or(plan::DEFAULT_EF_CONSTRUCTION)),
        ),
        IndexKind::IvfFlat => Index::IvfFlat(
            IvfFlatIndexBuilder::default()
                .distance_type(distance)
                .num_partitions(plan.num_partitions)
                .max_iterations(plan.max_iterations)
                .sample_rate(plan.sample_rate),
        ),
    }
}
