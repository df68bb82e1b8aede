//! Bringing the resident columns to a table version, as a difference of LanceDB fragments: a
//! fragment the version no longer has (deleted whole, or rewritten by compaction) is dropped; a new
//! one (an append, the new rows of an upsert, compaction's output) is read with its row addresses;
//! one whose deletion file changed gets its deletion vector applied. So an append or a delete costs
//! what it changed, and only compaction re-reads what it rewrote. The plan is made under the columns'
//! read lock; new rows are then streamed in batch by batch (`Resident::apply`, the write lock taken per
//! batch), with the columns tagged with no version until `finish` applies the deletions and tags them.
//! New fragments the vector file holds as they are (`held_by_file`, checked by `sample_matches`) are
//! read without their vectors.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use lance::Dataset;
use lance::dataset::fragment::FileFragment;
use lance::dataset::scanner::DatasetRecordBatchStream;
use lance::table::format::Fragment;
use lance_core::utils::deletion::DeletionVector;

use super::columns::{Columns, FragmentIdentity};
use super::vector_file::{RecordedFragment, VectorFile};
use super::vectors;
use crate::store::error::{Result, StoreError};
use crate::store::schema;

/// Bytes LanceDB may read ahead while the copy loads.
const READ_AHEAD_BYTES: u64 = 64 << 20;

/// What differs between the columns and a table version.
#[derive(Debug)]
pub struct Plan {
    /// The version planned for.
    pub version: u64,
    drop: Vec<u64>,
    load: Vec<Fragment>,
    deletions: Vec<Fragment>,
    /// Live rows the new fragments hold (what reading them costs).
    pub load_rows: usize,
    /// Live rows the columns hold in fragments the version dropped or rewrote (freed by applying it).
    pub freed_rows: usize,
}

impl Plan {
    /// Whether the columns already hold the version's rows (only the version number differs, as
    /// after an index build or a compaction that rewrote nothing).
    pub fn is_empty(&self) -> bool {
        self.drop.is_empty() && self.load.is_empty() && self.deletions.is_empty()
    }

    /// Whether fragments the columns hold are gone: what a compaction (or deleting a fragment's every row) does.
    pub fn drops_fragments(&self) -> bool {
        !self.drop.is_empty()
    }
}

/// What was read for a plan, ready to apply.
pub struct Delta {
    version: u64,
    drop: Vec<u64>,
    loaded: Vec<(u64, FragmentIdentity, usize)>,
    load_rows: usize,
    rows: Rows,
    deletions: Vec<(u64, FragmentIdentity, Option<Arc<DeletionVector>>)>,
}

/// The new fragments' rows: already in memory (this process's own append), or still to be read from
/// LanceDB batch by batch, so a large load never holds the table twice.
pub enum Rows {
    /// Batches in hand.
    Held(Vec<RecordBatch>),
    /// Scans yet to be read, one after the other: the fragments the vector file holds (read without their
    /// vectors), then the rest.
    Streamed(Vec<DatasetRecordBatchStream>),
}

/// What the copy records of `fragment`, to tell later whether it changed.
pub fn identity(fragment: &Fragment) -> FragmentIdentity {
    FragmentIdentity {
        files: fragment.files.iter().map(|file| file.path.clone()).collect(),
        deletion: fragment.deletion_file.as_ref().map(|d| (d.id, d.read_version)),
    }
}

/// The difference between `columns` and `dataset`'s version.
pub fn plan(columns: &Columns, dataset: &Dataset) -> Plan {
    let fragments = dataset.fragments();
    let current: HashMap<u64, &Fragment> = fragments.iter().map(|f| (f.id, f)).collect();
    let drop: Vec<u64> = columns.fragments.keys().filter(|id| !current.contains_key(id)).copied().collect();
    let (mut load, mut deletions) = (Vec::new(), Vec::new());
    for fragment in fragments.iter() {
        let now = identity(fragment);
        match columns.fragments.get(&fragment.id) {
            None => load.push(fragment.clone()),
            Some(loaded) if loaded.identity.files != now.files => load.push(fragment.clone()),
            Some(loaded) if loaded.identity.deletion != now.deletion => deletions.push(fragment.clone()),
            Some(_) => {}
        }
    }
    let load_rows = load
        .iter()
        .map(|f| {
            let deleted = f.deletion_file.as_ref().and_then(|d| d.num_deleted_rows).unwrap_or(0);
            f.physical_rows.unwrap_or(0).saturating_sub(deleted)
        })
        .sum();
    let live_in = |id: &u64| {
        columns.fragments.get(id).map_or(0, |f| {
            f.slots.iter().flatten().filter(|&&slot| columns.live.get(slot as usize).copied().unwrap_or(false)).count()
        })
    };
    let freed_rows = drop.iter().chain(load.iter().map(|f| &f.id)).map(live_in).sum();
    Plan { version: dataset.version().version, drop, load, deletions, load_rows, freed_rows }
}

/// How many of the fragments `plan` loads, from the first, the vector file holds as they are now
/// (`recorded`: its fragment records): the same fragment with the same data files and deletion file.
pub fn held_by_file(plan: &Plan, recorded: &[RecordedFragment]) -> usize {
    plan.load
        .iter()
        .zip(recorded)
        .take_while(|(fragment, record)| {
            fragment.id == record.id
                && identity(fragment) == record.identity
                && live_rows(fragment) == Some(record.rows)
        })
        .count()
}

/// The fragments `plan` loads, as a vector file streamed from them records them (`vector_file.rs`): each
/// with its live rows, up to the first whose count its metadata does not give.
pub fn records(plan: &Plan) -> Vec<RecordedFragment> {
    plan.load
        .iter()
        .map_while(|f| Some(RecordedFragment { id: f.id, identity: identity(f), rows: live_rows(f)? }))
        .collect()
}

/// A fragment's live rows, from its metadata alone (`None` when it does not say).
fn live_rows(fragment: &Fragment) -> Option<usize> {
    let deleted = match &fragment.deletion_file {
        Some(file) => file.num_deleted_rows?,
        None => 0,
    };
    fragment.physical_rows?.checked_sub(deleted)
}

/// Whether the vector file `file` holds the same vectors as the table for a sample of the first `held`
/// fragments `plan` loads (`held_by_file`): up to three rows of up to eight fragments, read from LanceDB.
/// Guards against a file written wrong, which the fragments' identity alone would not show.
pub async fn sample_matches(dataset: &Arc<Dataset>, plan: &Plan, held: usize, file: &VectorFile) -> Result<bool> {
    let failed = |e: lance::Error| StoreError::lance("checking the vector file")(lancedb::Error::from(e));
    let projection = dataset.schema().project(&[schema::VECTOR]).map_err(failed)?;
    let starts: Vec<usize> = file.fragments.iter().scan(0, |at, f| Some(std::mem::replace(at, *at + f.rows))).collect();
    let picked: std::collections::BTreeSet<usize> = (0..8).map(|i| i * held / 8).filter(|&i| i < held).collect();
    for i in picked {
        let (Some(fragment), Some(recorded), Some(&start)) = (plan.load.get(i), file.fragments.get(i), starts.get(i))
        else {
            return Ok(false);
        };
        let rows = recorded.rows;
        let mut offsets: Vec<u32> = [0, rows / 2, rows.saturating_sub(1)]
            .into_iter()
            .filter(|&r| r < rows)
            .filter_map(|r| u32::try_from(r).ok())
            .collect();
        offsets.dedup();
        let batch = FileFragment::new(Arc::clone(dataset), fragment.clone())
            .take(&offsets, &projection)
            .await
            .map_err(failed)?;
        let (table, dimension) = schema::vector_values(&batch)?;
        for (k, &offset) in offsets.iter().enumerate() {
            let row = start + offset as usize;
            let from_table = table.get(k * dimension..(k + 1) * dimension).unwrap_or_default();
            if from_table.is_empty() || !vectors::same(from_table, file.vectors(row..row + 1)) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Reads what `plan` needs from `dataset`: the new fragments' rows (`columns`: the table's columns
/// the resident copy keeps) and the changed fragments' deletion vectors. The first `held` fragments
/// it loads are read without their vectors: the vector file holds them (`held_by_file`).
pub async fn read(dataset: &Arc<Dataset>, plan: Plan, columns: &[String], held: usize) -> Result<Delta> {
    let failed = |action: &'static str| move |e: lance::Error| StoreError::lance(action)(lancedb::Error::from(e));
    let mut loaded = Vec::with_capacity(plan.load.len());
    for fragment in &plan.load {
        let rows = match fragment.physical_rows {
            Some(rows) => rows,
            None => FileFragment::new(Arc::clone(dataset), fragment.clone())
                .physical_rows()
                .await
                .map_err(failed("counting a fragment's rows"))?,
        };
        loaded.push((fragment.id, identity(fragment), rows));
    }
    let (in_file, rest) = plan.load.split_at(held.min(plan.load.len()));
    let without_vectors: Vec<String> = columns.iter().filter(|c| *c != schema::VECTOR).cloned().collect();
    let mut streams = Vec::new();
    for (fragments, columns) in [(in_file, without_vectors.as_slice()), (rest, columns)] {
        if fragments.is_empty() {
            continue;
        }
        let mut scanner = dataset.scan();
        scanner.with_fragments(fragments.to_vec());
        scanner.project(columns).map_err(failed("choosing the columns to load"))?;
        scanner.with_row_address();
        // LanceDB reads up to 2 GiB ahead by default; the copy consumes batches as they come.
        scanner.io_buffer_size(READ_AHEAD_BYTES);
        streams.push(scanner.try_into_stream().await.map_err(failed("loading rows into memory"))?);
    }
    let rows = Rows::Streamed(streams);
    let mut deletions = Vec::with_capacity(plan.deletions.len());
    for fragment in plan.deletions {
        let vector = FileFragment::new(Arc::clone(dataset), fragment.clone())
            .get_deletion_vector()
            .await
            .map_err(failed("reading a deletion file"))?;
        deletions.push((fragment.id, identity(&fragment), vector));
    }
    Ok(Delta { version: plan.version, drop: plan.drop, loaded, load_rows: plan.load_rows, rows, deletions })
}

/// Streams the vectors of the rows `plan` loads, in the order a load takes them, to `each` (their
/// addresses, and their vectors back to back) without holding more than a batch.
pub async fn stream_vectors(
    dataset: &Dataset,
    plan: &Plan,
    mut each: impl FnMut(&[u64], &[f32]) -> Result<()>,
) -> Result<()> {
    let failed = |action: &'static str| move |e: lance::Error| StoreError::lance(action)(lancedb::Error::from(e));
    let mut scanner = dataset.scan();
    scanner.with_fragments(plan.load.clone());
    scanner.project(&[schema::VECTOR]).map_err(failed("choosing the columns to load"))?;
    scanner.with_row_address();
    scanner.io_buffer_size(READ_AHEAD_BYTES);
    let mut stream = scanner.try_into_stream().await.map_err(failed("reading the vectors"))?;
    while let Some(batch) = stream.try_next().await.map_err(failed("reading the vectors"))? {
        let addresses = batch
            .column_by_name(lance_core::ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| StoreError::Internal("the vector scan lacks `_rowaddr`".into()))?;
        each(addresses.values(), schema::vector_values(&batch)?.0)?;
    }
    Ok(())
}

/// What `plan` needs when its only change is an append whose rows the caller still holds (`batches`,
/// as written): only the new fragments' `id` column is read, to learn each row's address, and the
/// vectors, metadata and fields come from `batches`. `None` when the plan is anything else (another
/// writer committed meanwhile) or the ids do not match; the caller then reads the plan in full.
pub async fn read_own_append(dataset: &Arc<Dataset>, plan: Plan, batches: &[RecordBatch]) -> Result<Option<Delta>> {
    let written: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if !plan.drop.is_empty() || !plan.deletions.is_empty() || plan.load_rows != written {
        return Ok(None);
    }
    let failed = |action: &'static str| move |e: lance::Error| StoreError::lance(action)(lancedb::Error::from(e));
    let mut scanner = dataset.scan();
    scanner.with_fragments(plan.load.clone());
    scanner.project(&[schema::ID]).map_err(failed("choosing the columns to load"))?;
    scanner.with_row_address();
    let stream = scanner.try_into_stream().await.map_err(failed("reading the new rows' addresses"))?;
    let located: Vec<RecordBatch> = stream.try_collect().await.map_err(failed("reading the new rows' addresses"))?;
    let mut address_of: HashMap<String, u64> = HashMap::with_capacity(written);
    for batch in &located {
        let addresses = batch
            .column_by_name(lance_core::ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| StoreError::Internal("the address scan lacks `_rowaddr`".into()))?;
        for (id, address) in schema::read_ids(batch)?.into_iter().zip(addresses.values().iter()) {
            address_of.insert(id, *address);
        }
    }
    let mut addressed = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut addresses = Vec::with_capacity(batch.num_rows());
        for id in schema::read_ids(batch)? {
            match address_of.get(&id) {
                Some(&address) => addresses.push(address),
                None => return Ok(None),
            }
        }
        let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(lance_core::ROW_ADDR, DataType::UInt64, false)));
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(addresses)));
        addressed.push(
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                .map_err(|e| StoreError::Internal(format!("addressing the written rows: {e}")))?,
        );
    }
    let mut loaded = Vec::with_capacity(plan.load.len());
    for fragment in &plan.load {
        let Some(rows) = fragment.physical_rows else { return Ok(None) };
        loaded.push((fragment.id, identity(fragment), rows));
    }
    Ok(Some(Delta {
        version: plan.version,
        drop: Vec::new(),
        loaded,
        load_rows: written,
        rows: Rows::Held(addressed),
        deletions: Vec::new(),
    }))
}

/// The first step of applying `delta`: drops the fragments the version no longer has and registers
/// the new ones. Returns their rows, which the caller copies in with `Columns::load_batch`.
pub fn begin(columns: &mut Columns, delta: &mut Delta) -> Rows {
    for id in std::mem::take(&mut delta.drop) {
        columns.drop_fragment(id);
    }
    columns.add_fragments(std::mem::take(&mut delta.loaded), delta.load_rows);
    std::mem::replace(&mut delta.rows, Rows::Held(Vec::new()))
}

/// The last step: applies the changed deletion files and tags the columns with the version. Returns
/// whether they now reflect it: `false` when a fragment had rows brought back (a restore), in which
/// case that fragment was dropped and the next plan reloads it.
pub fn finish(columns: &mut Columns, delta: Delta) -> bool {
    let mut complete = true;
    for (id, identity, vector) in delta.deletions {
        let deleted = |offset: u32| vector.as_ref().is_some_and(|v| v.contains(offset));
        if !columns.apply_deletions(id, identity, &deleted) {
            columns.drop_fragment(id);
            complete = false;
        }
    }
    // A partly applied version must not be taken for either version.
    columns.version = complete.then_some(delta.version);
    complete
}

/// The table columns the resident copy reads: id, vector, metadata and the declared fields.
pub fn projection(columns: &Columns) -> Vec<String> {
    let mut names = vec![schema::ID.to_owned(), schema::VECTOR.to_owned(), schema::METADATA.to_owned()];
    names.extend(columns.fields.iter().map(|(name, _)| name.clone()));
    names
}
