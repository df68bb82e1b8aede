//! Helpers shared by the core's tests: temp-dir stores, items and seeded vectors.

use super::{Item, OpenOptions, Result, Store};

/// Options for a new store of `dimension`.
pub fn options(dimension: usize) -> OpenOptions {
    OpenOptions { dimension: Some(dimension as f64), ..Default::default() }
}

/// An item whose metadata records its id.
pub fn item(id: &str, vector: &[f32]) -> Item {
    Item { id: id.into(), vector: vector.to_vec(), metadata: Some(serde_json::json!({ "id": id })) }
}

/// The store path inside a temp dir.
pub fn path(dir: &tempfile::TempDir) -> String {
    dir.path().join("store").to_string_lossy().into_owned()
}

/// `n` seeded pseudo-random vectors (a small LCG: the tests need spread, not quality).
pub fn vectors(n: usize, dimension: usize, seed: u64) -> Vec<Vec<f32>> {
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

/// A 16-dimensional store holding `rows` seeded vectors with ids `"0"`, `"1"`, …
pub async fn store_with(dir: &tempfile::TempDir, rows: usize, auto_index: bool) -> Result<Store> {
    fill(dir, rows, OpenOptions { auto_index: Some(auto_index), ..options(16) }).await
}

/// `store_with` with the resident copy off, so searches and automatic indexes are LanceDB's.
pub async fn lance_store_with(dir: &tempfile::TempDir, rows: usize, auto_index: bool) -> Result<Store> {
    fill(dir, rows, OpenOptions { auto_index: Some(auto_index), resident_memory_mb: Some(0.0), ..options(16) }).await
}

async fn fill(dir: &tempfile::TempDir, rows: usize, options: OpenOptions) -> Result<Store> {
    let store = Store::open(&path(dir), options).await?;
    let items = vectors(rows, 16, 7).into_iter().enumerate().map(|(i, vector)| Item {
        id: i.to_string(),
        vector,
        metadata: None,
    });
    if rows > 0 {
        store.add(items.collect()).await?;
    }
    Ok(store)
}

/// Options for a 2-dimensional store declaring `section`, `year` and `tags`.
pub fn with_fields() -> OpenOptions {
    let fields = [("section", "string"), ("year", "int"), ("tags", "string[]")];
    OpenOptions { fields: Some(fields.map(|(a, b)| (a.to_owned(), b.to_owned())).into()), ..options(2) }
}
