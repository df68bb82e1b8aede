//! The tables of a store directory (or `s3://` prefix): list them, and drop one with the files
//! lancestore keeps for it (the write-lock file, the saved graph, the graph choice and the vector file —
//! beside the table, or in the host's cache directory for an `s3://` store).

use std::time::Duration;

use super::config::StorageOptions;
use super::error::{Result, StoreError};
use super::location::Location;
use super::{registry, resident};

/// The table names at `path`, sorted. A local directory that does not exist has none (it is not created).
pub async fn list(path: &str, storage: Option<&StorageOptions>) -> Result<Vec<String>> {
    let Some(location) = existing(path, storage)? else { return Ok(Vec::new()) };
    let shared = registry::connect(&location, Duration::ZERO).await?;
    let mut names = shared.connection.table_names().execute().await.map_err(StoreError::lance("listing tables"))?;
    names.sort();
    Ok(names)
}

/// Drops `table` at `path` and removes its lancestore files; resolves whether it existed. Refused
/// (`INVALID_ARGUMENT`) while a store of this process has the table open: close it first.
pub async fn drop(path: &str, table: &str, storage: Option<&StorageOptions>) -> Result<bool> {
    let table = super::config::check_table_name(table.to_owned())?;
    let Some(location) = existing(path, storage)? else { return Ok(false) };
    if registry::table_in_use(&location, &table) {
        return Err(StoreError::invalid(
            "table",
            format!("table {table:?} is open in this process: close its stores before dropping it"),
        ));
    }
    let shared = registry::connect(&location, Duration::ZERO).await?;
    let names = shared.connection.table_names().execute().await.map_err(StoreError::lance("listing tables"))?;
    let existed = names.contains(&table);
    if existed {
        shared.connection.drop_table(&table, &[]).await.map_err(StoreError::lance("dropping the table"))?;
    }
    if let Some(dir) = location.files_dir() {
        let graph = resident::sidecar::path(dir, &table);
        let beside = [resident::sidecar::choice_path(&graph), resident::vector_file_path(&graph), graph];
        let lock = match &location {
            Location::Local(dir) => Some(registry::lock_file_path(dir, &table)),
            Location::ObjectStore { .. } | Location::Memory(_) => None,
        };
        for file in beside.into_iter().chain(lock) {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::io(format!("removing {file:?}"), &e));
                }
                _ => {}
            }
        }
    }
    Ok(existed)
}

/// The canonical location of `path`, or `None` for a local directory that does not exist.
fn existing(path: &str, storage: Option<&StorageOptions>) -> Result<Option<Location>> {
    match Location::parse(path, storage)? {
        Location::Local(dir) => match std::fs::canonicalize(&dir) {
            Ok(dir) => Ok(Some(Location::Local(dir))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("resolving the store directory {dir:?}"), &e)),
        },
        other => Ok(Some(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{item, options, path};
    use crate::store::{OpenOptions, Store};

    #[tokio::test]
    async fn lists_and_drops_tables_with_their_files() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let root = path(&dir);
        assert_eq!(list(&root, None).await?, Vec::<String>::new(), "no directory: no tables, nothing created");
        assert!(!std::path::Path::new(&root).exists());
        for name in ["b_table", "a_table"] {
            let store = Store::open(&root, OpenOptions { table: Some(name.into()), ..options(2) }).await?;
            store.add(vec![item("x", &[1.0, 0.0])]).await?;
            store
                .create_index(crate::store::IndexRequest { kind: Some("hnsw".into()), ..Default::default() }, None)
                .await?;
            if name == "a_table" {
                assert!(drop(&root, name, None).await.unwrap_err().to_string().contains("close"), "open here: refused");
            }
            store.close().await?;
        }
        assert_eq!(list(&root, None).await?, ["a_table", "b_table"]);
        let files = |name: &str| {
            std::fs::read_dir(&root)
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|f| f.contains(name))
                .count()
        };
        assert!(files("a_table") >= 3, "table directory, lock file, graph file");
        // A vector file (written for tables of 10,000+ rows): stood in for by any bytes, it goes too.
        let graph = resident::sidecar::path(std::path::Path::new(&root), "a_table");
        std::fs::write(resident::vector_file_path(&graph), b"vectors").unwrap();
        assert!(drop(&root, "a_table", None).await?);
        assert_eq!(files("a_table"), 0, "nothing of it is left");
        assert_eq!(list(&root, None).await?, ["b_table"]);
        assert!(!drop(&root, "a_table", None).await?, "dropping again: it did not exist");
        assert!(drop(&root, "../x", None).await.is_err(), "table names are checked");
        let reopened = Store::open(&root, OpenOptions { table: Some("b_table".into()), ..Default::default() }).await?;
        assert_eq!(reopened.count(None).await?, 1);
        reopened.close().await?;
        Ok(())
    }
}
