//! The table's vector index in LanceDB: finding the one that exists (its kind, shape and how many
//! rows it covers), building a planned one, dropping it, and folding new rows into it. What to
//! build is decided in `index.rs`; when to build it, in `store.rs`.

use lancedb::index::IndexType;
use lancedb::table::OptimizeAction;

use super::config::Metric;
use super::error::{Result, StoreError};
use super::index::{self, IndexKind, IndexPlan, IndexShape};
use super::schema::VECTOR;

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
        num_partitions: index::partitions_for(indexed_rows),
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
    let failed = |e: lancedb::Error| StoreError::IndexFailed { reason: e.to_string() };
    let create = || table.create_index(&[VECTOR], index::to_lance(plan, metric)).name(name.clone()).replace(true).execute();
    match create().await {
        Ok(()) => {}
        // LanceDB keeps one vector index per column: when the old one is in the way, drop it first.
        Err(first) if previous.as_ref().is_some_and(|p| p.name != name) => {
            let old = previous.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
            table.drop_index(old).await.map_err(|e| StoreError::IndexFailed {
                reason: format!("{first}; dropping the old index {old:?} to make room also failed: {e}"),
            })?;
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
        return Err(StoreError::IndexFailed { reason: format!("LanceDB reported success but the table has no index {name:?}") });
    };
    if found.indexed_rows == 0 && found.unindexed_rows > 0 {
        table.drop_index(name).await.map_err(StoreError::lance("dropping an empty index"))?;
        return Err(StoreError::IndexFailed {
            reason: format!(
                "LanceDB could not train the index on {} rows and built one covering none of them (8-bit PQ codes need at least 256 rows; try numBits: 4 or fewer partitions); the store searches exactly",
                found.unindexed_rows
            ),
        });
    }
    Ok(())
}

/// Drops the vector index; `false` when there was none.
pub async fn drop(table: &lancedb::Table) -> Result<bool> {
    let Some(found) = find(table).await? else {
        return Ok(false);
    };
    table
        .drop_index(&found.name)
        .await
        .map_err(|e| StoreError::IndexFailed { reason: format!("dropping {:?}: {e}", found.name) })?;
    Ok(true)
}

/// Folds rows added since the index was built into it (a delta LanceDB merges later).
pub async fn fold_new_rows(table: &lancedb::Table, name: &str) -> Result<()> {
    let options = lancedb::table::OptimizeOptions::default().index_names(vec![name.to_owned()]);
    table
        .optimize(OptimizeAction::Index(options))
        .await
        .map(|_| ())
        .map_err(|e| StoreError::IndexFailed { reason: format!("adding new rows to the index: {e}") })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::index::{IndexKind, IndexRequest};
    use crate::store::{Item, OpenOptions, Result, SearchRequest, Store, StoreError};

    /// `n` seeded pseudo-random vectors (a small LCG: the tests need spread, not quality).
    fn vectors(n: usize, dimension: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n)
            .map(|_| {
                (0..dimension)
                    .map(|_| {
                        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                    })
                    .collect()
            })
            .collect()
    }

    async fn store_with(dir: &tempfile::TempDir, rows: usize, auto_index: bool) -> Result<Store> {
        let path = dir.path().join("store").to_string_lossy().into_owned();
        let options = OpenOptions { dimension: Some(16.0), auto_index: Some(auto_index), ..Default::default() };
        let store = Store::open(&path, options).await?;
        let items = vectors(rows, 16, 7).into_iter().enumerate().map(|(i, vector)| Item { id: i.to_string(), vector, metadata: None });
        if rows > 0 {
            store.add(items.collect()).await?;
        }
        Ok(store)
    }

    fn kind(name: &str) -> IndexRequest {
        IndexRequest { kind: Some(name.into()), ..Default::default() }
    }

    #[tokio::test]
    async fn every_kind_builds_on_small_tables_and_finds_stored_vectors() -> Result<()> {
        for rows in [100, 1_000] {
            let dir = tempfile::tempdir().unwrap();
            let store = store_with(&dir, rows, false).await?;
            let probe = vectors(rows, 16, 7)[rows / 2].clone();
            for name in ["ivf_pq", "ivf_hnsw_sq", "ivf_flat", "auto", "none"] {
                let report = store.create_index(kind(name)).await?;
                assert_eq!(report.rows, rows);
                let built = report.kind.map(IndexKind::as_str).unwrap_or("none");
                assert_eq!(built == "none", matches!(name, "auto" | "none"), "{rows} rows, {name}: {report:?}");
                let stats = store.stats().await?.index;
                assert_eq!(stats.kind.as_deref(), report.kind.map(IndexKind::as_str), "{rows} rows, {name}");
                let hits = store.search(&probe, &SearchRequest::default()).await?;
                assert_eq!(hits.len(), 10, "{rows} rows, {name}");
                assert_eq!(hits[0].id, (rows / 2).to_string(), "{rows} rows, {name}: a stored vector finds itself");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_empty_table_cannot_be_indexed_and_bad_options_are_refused_first() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 0, false).await?;
        assert!(matches!(store.create_index(kind("ivf_flat")).await, Err(StoreError::IndexFailed { .. })));
        let stats = store.stats().await?.index;
        assert!(stats.last_error.as_deref().is_some_and(|e| e.contains("empty")), "{stats:?}");
        let bad = IndexRequest { num_sub_vectors: Some(5.0), ..kind("ivf_pq") };
        assert!(matches!(store.create_index(bad).await, Err(StoreError::InvalidArgument { .. })));
        assert!(store.create_index(kind("auto")).await?.kind.is_none());
        assert_eq!(store.stats().await?.index.last_error, None, "a success clears the last error");
        Ok(())
    }

    #[tokio::test]
    async fn an_index_lancedb_could_not_train_is_a_failure_not_a_silent_empty_index() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 100, false).await?;
        let eight_bits = IndexRequest { num_bits: Some(8.0), ..kind("ivf_pq") };
        let err = store.create_index(eight_bits).await.unwrap_err();
        assert!(matches!(err, StoreError::IndexFailed { ref reason } if reason.contains("covering none")), "{err}");
        let stats = store.stats().await?.index;
        assert_eq!((stats.kind, stats.unindexed_rows), (None, 100));
        assert!(stats.last_error.is_some());
        assert_eq!(store.search(&vectors(100, 16, 7)[3], &SearchRequest::default()).await?[0].id, "3");
        Ok(())
    }

    #[tokio::test]
    async fn rows_added_after_the_build_are_searched_and_counted_as_unindexed() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        store.create_index(kind("ivf_flat")).await?;
        let late = vec![1.0_f32; 16];
        store.add(vec![Item { id: "late".into(), vector: late.clone(), metadata: None }]).await?;
        let stats = store.stats().await?.index;
        assert_eq!((stats.indexed_rows, stats.unindexed_rows), (1_000, 1));
        let hits = store.search(&late, &SearchRequest::default()).await?;
        assert_eq!(hits[0].id, "late");
        Ok(())
    }

    #[tokio::test]
    async fn writes_are_not_blocked_by_a_build_and_land_beside_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(store_with(&dir, 3_000, false).await?);
        let building = tokio::spawn({
            let store = std::sync::Arc::clone(&store);
            async move { store.create_index(kind("ivf_hnsw_sq")).await }
        });
        let extra = vectors(50, 16, 123);
        for (i, vector) in extra.iter().enumerate() {
            store.add(vec![Item { id: format!("w{i}"), vector: vector.clone(), metadata: None }]).await?;
        }
        building.await.expect("the build task panicked")?;
        assert_eq!(store.count(None).await?, 3_050);
        let stats = store.stats().await?.index;
        assert_eq!(stats.indexed_rows + stats.unindexed_rows, 3_050, "{stats:?}");
        for (i, vector) in extra.iter().enumerate().step_by(7) {
            assert_eq!(store.search(vector, &SearchRequest::default()).await?[0].id, format!("w{i}"));
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_reopened_store_reads_the_index_shape_from_its_name() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        let report = store.create_index(kind("ivf_flat")).await?;
        store.close()?;
        let path = dir.path().join("store").to_string_lossy().into_owned();
        let again = Store::open(&path, OpenOptions { auto_index: Some(false), ..Default::default() }).await?;
        let handles = again.handles()?;
        let shape = super::find_shape(&handles.table).await?.expect("an index");
        assert_eq!((shape.kind, Some(shape.num_partitions)), (IndexKind::IvfFlat, report.plan.map(|p| p.num_partitions)));
        let found = super::find(&handles.table).await?.expect("an index");
        assert!(found.ours && found.kind == "ivf_flat" && found.indexed_rows == 1_000, "{found:?}");
        Ok(())
    }

    #[tokio::test]
    async fn an_index_change_is_a_new_version_for_the_cache() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, 1_000, false).await?;
        let query = vectors(1, 16, 99).remove(0);
        store.search(&query, &SearchRequest::default()).await?;
        store.search(&query, &SearchRequest::default()).await?;
        assert_eq!(store.stats().await?.cache.hits, 1);
        let before = store.version().await?;
        let report = store.create_index(kind("ivf_hnsw_sq")).await?;
        assert!(report.version > before);
        store.search(&query, &SearchRequest::default()).await?;
        let cache = store.stats().await?.cache;
        assert_eq!((cache.hits, cache.misses), (1, 2), "{cache:?}");
        let exact = SearchRequest { exact: Some(true), ..Default::default() };
        store.search(&query, &exact).await?;
        assert_eq!(store.stats().await?.cache.misses, 3, "exact and indexed searches are cached apart");
        Ok(())
    }

    #[tokio::test]
    async fn auto_index_builds_in_the_background_once_the_table_is_large_enough() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, crate::store::index::AUTO_INDEX_MIN_ROWS - 1, true).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.stats().await?.index.kind, None, "below the crossover: exact search");
        let extra = vectors(1, 16, 5).remove(0);
        store.add(vec![Item { id: "one-more".into(), vector: extra, metadata: None }]).await?;
        for _ in 0..600 {
            let stats = store.stats().await?.index;
            if stats.kind.is_some() && !stats.building {
                assert_eq!(stats.kind.as_deref(), Some(crate::store::index::AUTO_KIND.as_str()));
                assert_eq!(stats.last_error, None);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no index after 60 s: {:?}", store.stats().await?.index);
    }
}
