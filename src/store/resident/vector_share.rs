//! Sharing the resident vectors between the processes of a host through the vector file
//! (`vector_file.rs`): a whole load first maps the file, if there is one, so the rows it holds are read in
//! place instead of copied (`attach_vector_file`) — and the fragments it records whole, which the table
//! still has unchanged, are read without their vectors at all (`held_by_vector_file`); a whole load that
//! still had to copy many vectors into memory writes them out as a new file and then reads them from it
//! (`publish_vectors`), so the next process — or this one after a restart — shares them. A table that fits
//! the memory budget only with its vectors in place gets the file written straight from the table before
//! its load (`fits_budget`). Wherever the graph file lives (beside a local table, in the host's cache
//! directory for `s3://`), and not on Windows (`crate::mapped::SHARES_PAGES`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::columns::VECTOR_FILE_DISAGREES;
use super::sync::{self, Plan};
use super::vector_file::{self, StreamedWriter, VectorFile};
use super::vectors;
use super::{Resident, blocking};
use crate::store::error::{Result, StoreError};
use crate::store::lock::lock;

/// Least vectors a whole load must have copied into memory for a new vector file to be written.
pub const PUBLISH_MIN_ROWS: usize = 10_000;

impl Resident {
    /// The vector file's path: local stores on systems that share mapped pages only.
    fn vector_file_path(&self) -> Option<std::path::PathBuf> {
        self.sidecar.as_deref().filter(|_| crate::mapped::SHARES_PAGES).map(vector_file::path_beside)
    }

    /// Before a whole load of table version `version`: lets the load take its vectors from the vector file
    /// where it holds the same rows (a missing or unusable file, or one written at a newer version — a
    /// table dropped and made again —, just leaves them to be copied).
    fn attach_vector_file(&self, version: u64) {
        let Some(path) = self.vector_file_path() else { return };
        let dimension = self.read().dimension;
        if let Ok(file) = VectorFile::open(&path, dimension)
            && file.table_version <= version
        {
            self.write().vectors.attach(Arc::new(file));
        }
    }

    /// How many of the fragments a whole load of `plan` reads first — and how many rows they hold — the
    /// attached vector file holds as the table has them now, so they are read without their vectors
    /// (`sync::held_by_file`). None when no file is attached, after a load found this file wrong, or when
    /// a sample of its rows differs from the table's: its rows are then compared one by one, as for any file.
    pub(super) async fn held_by_vector_file(
        &self,
        dataset: &Arc<lance::Dataset>,
        plan: &Plan,
    ) -> Result<(usize, usize)> {
        let Some(file) = self.read().vectors.file().cloned() else { return Ok((0, 0)) };
        if !self.trust_vector_file.load(Ordering::Acquire) {
            return Ok((0, 0));
        }
        let held = sync::held_by_file(plan, &file.fragments);
        if held == 0 || sync::sample_matches(dataset, plan, held, &file).await? {
            return Ok((held, file.fragments.iter().take(held).map(|f| f.rows).sum()));
        }
        self.trust_vector_file.store(false, Ordering::Release);
        Ok((0, 0))
    }

    /// After a failed load: when it failed because the vector file did not hold a row it records
    /// (`VECTOR_FILE_DISAGREES`), the file is no longer trusted by this copy, so the next load compares
    /// its rows instead of failing again.
    pub(super) fn distrust_vector_file(&self, err: &StoreError) {
        if err.to_string().contains(VECTOR_FILE_DISAGREES) {
            self.trust_vector_file.store(false, Ordering::Release);
        }
    }

    /// Whether loading `plan` stays within the budget. Before a whole load the vector file is attached
    /// first (the rows it holds cost no memory here); a whole load in the background (`background`) that
    /// fits only with every vector in place gets the file written from the table first.
    pub(super) async fn fits_budget(
        &self,
        dataset: &lance::Dataset,
        plan: &Plan,
        whole: bool,
        background: bool,
    ) -> bool {
        let version = dataset.version().version;
        if whole {
            self.attach_vector_file(version);
        }
        let in_file = if whole { self.read().vectors.file_rows().min(plan.load_rows) } else { 0 };
        if !self.would_exceed_budget(plan.load_rows, plan.freed_rows, in_file) {
            return true;
        }
        if !(whole && background && !self.would_exceed_budget(plan.load_rows, plan.freed_rows, plan.load_rows)) {
            return false;
        }
        self.set_load_phase(super::LoadPhase::Slow); // the whole table is read first: searches use LanceDB
        match self.stream_vector_file(dataset, plan).await {
            Ok(written) => {
                self.attach_vector_file(version);
                written
            }
            Err(err) => {
                // The table stays over budget, as it was: the reason is kept for stats().
                *lock(&self.last_error) = Some(err.to_string());
                false
            }
        }
    }

    /// For a whole load of a table whose rows fit the budget only with their vectors read in place: writes
    /// the vector file straight from the table (batch by batch, never holding the vectors). Whether it did
    /// (`false`: no vector file here — object storage, Windows).
    async fn stream_vector_file(&self, dataset: &lance::Dataset, plan: &Plan) -> Result<bool> {
        let Some(path) = self.vector_file_path() else { return Ok(false) };
        let dimension = self.read().dimension;
        let failed = |e: std::io::Error| StoreError::Internal(format!("writing the vector file: {e}"));
        let version = dataset.version().version;
        let mut writer =
            StreamedWriter::create(&path, dimension, plan.load_rows, version, sync::records(plan)).map_err(failed)?;
        sync::stream_vectors(dataset, plan, |addresses, vectors| writer.push(addresses, vectors).map_err(failed))
            .await?;
        blocking(|| writer.finish()).map_err(failed)?;
        self.trust_vector_file.store(true, Ordering::Release);
        Ok(true)
    }

    /// After a whole background load of `load_rows` rows: publishes the vectors it had to copy
    /// (`write_and_share`); a failure leaves them in memory, where they already are, and is kept for stats().
    pub(super) fn publish_vectors(&self, load_rows: usize) {
        if load_rows >= PUBLISH_MIN_ROWS
            && let Err(err) = blocking(|| self.write_and_share())
        {
            *lock(&self.last_error) = Some(err.to_string());
        }
    }

    /// When at least `PUBLISH_MIN_ROWS` vectors (and a tenth of the copy) had to be copied into memory,
    /// writes every slot's vector to a new vector file, checks that the file now in place holds exactly
    /// these vectors (another process may have renamed its own file over it), and reads them from it from
    /// then on. Blocks (it writes the copy's vectors): the caller runs it with `blocking`.
    fn write_and_share(&self) -> Result<()> {
        let Some(path) = self.vector_file_path() else { return Ok(()) };
        let (generation, version, addresses, dimension, fragments) = {
            let columns = self.read();
            let copied = columns.slots() - columns.vectors.shared();
            if copied < PUBLISH_MIN_ROWS || copied * 10 < columns.slots() {
                return Ok(());
            }
            let Some(version) = columns.version else { return Ok(()) };
            (columns.generation, version, columns.addresses.clone(), columns.dimension, columns.whole_fragments())
        };
        let slots = addresses.len();
        // The vectors are read a chunk at a time under the read lock; a repack meanwhile (a new
        // generation) abandons the file.
        let chunk = |rows: std::ops::Range<usize>| {
            let columns = self.read();
            (columns.generation == generation).then(|| {
                let mut vectors = Vec::with_capacity(rows.len() * dimension);
                rows.for_each(|slot| vectors.extend_from_slice(columns.vector(slot)));
                vectors
            })
        };
        let failed = |e: std::io::Error| StoreError::Internal(format!("writing the vector file: {e}"));
        vector_file::write(&path, dimension, version, &fragments, &addresses, chunk).map_err(failed)?;
        let file = Arc::new(VectorFile::open(&path, dimension).map_err(StoreError::Internal)?);
        for start in (0..slots).step_by(vector_file::WRITE_CHUNK_ROWS) {
            let rows = start..(start + vector_file::WRITE_CHUNK_ROWS).min(slots);
            let columns = self.read();
            let same = columns.generation == generation
                && rows.clone().all(|slot| vectors::same(columns.vector(slot), file.vectors(slot..slot + 1)));
            if !same {
                return Ok(()); // another file, or renumbered slots: keep the vectors in memory
            }
        }
        let mut columns = self.write();
        if columns.generation == generation {
            columns.vectors.share_prefix(file, slots);
            self.measure(&columns);
            self.trust_vector_file.store(true, Ordering::Release);
        }
        Ok(())
    }
}
