//! The resident columns: one slot per loaded row, holding its vector (`vectors.rs`: slot after slot,
//! the first ones possibly read in place from the shared vector file), norm, id, metadata text and declared field values, with a live flag, the id → slot map of
//! live rows, and which LanceDB fragment row each slot came from (so a new table version can be
//! applied as a difference). Plain data and the mutations `sync.rs` applies; no I/O.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, UInt64Array};

use super::rewrite::Group;
use super::vector_file::RecordedFragment;
use super::vectors::Vectors;
use super::words::WordIndex;
use crate::store::error::{Result, StoreError};
use crate::store::fields::{FieldType, Fields};
use crate::store::schema;

/// The hash of the copy's maps, which a load fills with one entry per row: aHash, keyed at random per
/// process (so ids chosen to collide cannot slow it down), several times faster than the standard SipHash
/// that took 40 % of a million-row load.
type Hashing = ahash::RandomState;

/// How an error begins when a row read without its vector is not the vector file's row at its slot.
pub const VECTOR_FILE_DISAGREES: &str = "the vector file does not hold the table's row";

/// One declared field's values, one per slot (`None`: absent).
#[derive(Debug)]
pub enum FieldColumn {
    /// `string` values.
    String(Vec<Option<Box<str>>>),
    /// `int` values.
    Int(Vec<Option<i64>>),
    /// `float` values.
    Float(Vec<Option<f64>>),
    /// `bool` values.
    Bool(Vec<Option<bool>>),
    /// `string[]` values.
    StringList(Vec<Option<Box<[Box<str>]>>>),
}

impl FieldColumn {
    fn new(kind: FieldType) -> Self {
        match kind.stored_as() {
            FieldType::String | FieldType::Text(_) => Self::String(Vec::new()),
            FieldType::Int => Self::Int(Vec::new()),
            FieldType::Float => Self::Float(Vec::new()),
            FieldType::Bool => Self::Bool(Vec::new()),
            FieldType::StringList => Self::StringList(Vec::new()),
        }
    }

    /// Appends `rows` empty slots.
    fn grow(&mut self, rows: usize) {
        match self {
            Self::String(v) => v.resize(v.len() + rows, None),
            Self::Int(v) => v.resize(v.len() + rows, None),
            Self::Float(v) => v.resize(v.len() + rows, None),
            Self::Bool(v) => v.resize(v.len() + rows, None),
            Self::StringList(v) => v.resize(v.len() + rows, None),
        }
    }

    /// Sets `slot` from row `row` of `array` (the field's Arrow column).
    fn set(&mut self, slot: usize, array: &dyn Array, row: usize) -> Result<()> {
        let wrong = || StoreError::Internal("a declared field column has an unexpected Arrow type".into());
        let present = array.is_valid(row);
        macro_rules! put {
            ($values:expr, $array:ty, $read:expr) => {{
                let typed = array.as_any().downcast_ref::<$array>().ok_or_else(wrong)?;
                if let Some(cell) = $values.get_mut(slot) {
                    *cell = if present { Some($read(typed)) } else { None };
                }
            }};
        }
        match self {
            Self::String(v) => put!(v, StringArray, |a: &StringArray| a.value(row).into()),
            Self::Int(v) => put!(v, Int64Array, |a: &Int64Array| a.value(row)),
            Self::Float(v) => put!(v, Float64Array, |a: &Float64Array| a.value(row)),
            Self::Bool(v) => put!(v, BooleanArray, |a: &BooleanArray| a.value(row)),
            Self::StringList(v) => {
                let lists = array.as_any().downcast_ref::<ListArray>().ok_or_else(wrong)?;
                let cell = if present {
                    let values = lists.value(row);
                    let strings = values.as_any().downcast_ref::<StringArray>().ok_or_else(wrong)?;
                    Some(strings.iter().map(|s| s.unwrap_or_default().into()).collect())
                } else {
                    None
                };
                if let Some(slot) = v.get_mut(slot) {
                    *slot = cell;
                }
            }
        }
        Ok(())
    }

    /// Keeps only the slots `keep` lists, in that order.
    fn repack(&mut self, keep: &[usize]) {
        fn pick<T: Clone>(values: &mut Vec<T>, keep: &[usize]) {
            *values = keep.iter().filter_map(|&slot| values.get(slot).cloned()).collect();
        }
        match self {
            Self::String(v) => pick(v, keep),
            Self::Int(v) => pick(v, keep),
            Self::Float(v) => pick(v, keep),
            Self::Bool(v) => pick(v, keep),
            Self::StringList(v) => pick(v, keep),
        }
    }

    /// `slot`'s value when the column holds strings (`'text'` fields do).
    fn text(&self, slot: usize) -> Option<&str> {
        match self {
            Self::String(v) => v.get(slot)?.as_deref(),
            _ => None,
        }
    }

    /// Bytes every slot costs whatever it holds.
    fn bytes_per_slot(&self) -> usize {
        match self {
            Self::Bool(_) => 2,
            _ => 16,
        }
    }

    /// Bytes `slot`'s value holds beyond `bytes_per_slot` (its text).
    fn payload(&self, slot: usize) -> usize {
        match self {
            Self::String(v) => v.get(slot).and_then(Option::as_ref).map_or(0, |s| s.len()),
            Self::StringList(v) => {
                v.get(slot).and_then(Option::as_ref).map_or(0, |l| l.iter().map(|s| 16 + s.len()).sum())
            }
            Self::Int(_) | Self::Float(_) | Self::Bool(_) => 0,
        }
    }
}

/// The slots one LanceDB fragment's rows occupy.
#[derive(Debug, Clone)]
pub struct FragmentSlots {
    /// Slot of each row offset in the fragment (`None`: deleted when the fragment was loaded).
    pub slots: Vec<Option<u32>>,
    /// What the fragment's data files and deletion file were when it was last applied.
    pub identity: FragmentIdentity,
}

/// What makes a fragment's content change: its data files (a rewrite gives new ones) and its
/// deletion file (a delete writes a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentIdentity {
    /// Paths of its data files.
    pub files: Vec<String>,
    /// `(id, read_version)` of its deletion file, if rows were deleted.
    pub deletion: Option<(u64, u64)>,
}

/// The resident rows of one table at one version.
#[derive(Debug)]
pub struct Columns {
    /// Vector length.
    pub dimension: usize,
    /// The table version these columns reflect (`None`: nothing loaded yet).
    pub version: Option<u64>,
    /// `dimension` floats per slot, slot after slot.
    pub vectors: Vectors,
    /// Euclidean length of each slot's vector.
    pub norms: Vec<f32>,
    /// Each slot's id (empty for a slot never filled).
    pub ids: Vec<Box<str>>,
    /// Each slot's metadata JSON text.
    pub metadata: Vec<Option<Box<str>>>,
    /// Whether each slot holds a row of the current version.
    pub live: Vec<bool>,
    /// Each slot's LanceDB row address (fragment id << 32 | offset): the graph's key.
    pub addresses: Vec<u64>,
    /// Whether each slot's row is in the current HNSW graph (`hnsw.rs` keeps this).
    pub graphed: Vec<bool>,
    /// Declared field columns, by name.
    pub fields: Vec<(String, FieldColumn)>,
    /// The word indexes built so far, by position in `fields` (`'text'` fields, once a search asked).
    words: Vec<(usize, WordIndex)>,
    /// Changes whenever slots are renumbered or the columns replaced: a word index built from a snapshot
    /// of the slots is installed only if this has not changed meanwhile.
    pub generation: u64,
    /// Slot of each live id.
    slot_of: HashMap<Box<str>, u32, Hashing>,
    /// Loaded fragments by id.
    pub fragments: HashMap<u64, FragmentSlots, Hashing>,
    live_rows: usize,
    /// Bytes of the ids, metadata and field values held (kept as slots are filled, so measuring the copy
    /// after a write does not walk every row).
    text_bytes: usize,
    /// Live slots whose row is in the graph.
    graphed_live: usize,
    /// No live slot below this is missing from the graph (new rows come last, so the rows still to add
    /// are found without walking every slot).
    ungraphed_from: usize,
}

impl Columns {
    /// Empty columns for `dimension`-long vectors and the declared `fields`.
    pub fn new(dimension: usize, fields: &Fields) -> Self {
        Self {
            dimension,
            version: None,
            vectors: Vectors::new(dimension),
            norms: Vec::new(),
            ids: Vec::new(),
            metadata: Vec::new(),
            live: Vec::new(),
            addresses: Vec::new(),
            graphed: Vec::new(),
            fields: fields.iter().map(|(name, &kind)| (name.clone(), FieldColumn::new(kind))).collect(),
            words: Vec::new(),
            generation: next_generation(),
            slot_of: HashMap::default(),
            fragments: HashMap::default(),
            live_rows: 0,
            text_bytes: 0,
            graphed_live: 0,
            ungraphed_from: 0,
        }
    }

    /// Slots allocated (live or not).
    pub fn slots(&self) -> usize {
        self.live.len()
    }

    /// Rows of the current version.
    pub fn live_rows(&self) -> usize {
        self.live_rows
    }

    /// The vector in `slot`.
    pub fn vector(&self, slot: usize) -> &[f32] {
        self.vectors.get(slot)
    }

    /// The live slot holding the row at LanceDB row `address`, if any.
    pub fn slot_at(&self, address: u64) -> Option<usize> {
        let offset = usize::try_from(address & 0xffff_ffff).ok()?;
        let slot = (*self.fragments.get(&(address >> 32))?.slots.get(offset)?)? as usize;
        self.live.get(slot).copied().unwrap_or(false).then_some(slot)
    }

    /// Whether `id` is a live row.
    pub fn contains(&self, id: &str) -> bool {
        self.slot_of.contains_key(id)
    }

    /// The live slot holding `id`, if it is stored.
    pub fn slot_of(&self, id: &str) -> Option<usize> {
        let slot = *self.slot_of.get(id)? as usize;
        self.live.get(slot).copied().unwrap_or(false).then_some(slot)
    }

    /// Approximate bytes held in this process's memory (vectors read in place from the vector file are
    /// not: see `vectors.mapped_bytes()`). Constant time in the rows held: the text is counted as it arrives.
    pub fn bytes(&self) -> usize {
        let per_slot = 4 + 1 + 8 + 1 + 16 + 16;
        let fields: usize = self.fields.iter().map(|(_, c)| c.bytes_per_slot()).sum();
        let map = self.slot_of.len() * 48;
        let fragments: usize = self.fragments.values().map(|f| f.slots.len() * 8).sum();
        let words: usize = self.words.iter().map(|(_, w)| w.bytes()).sum();
        (per_slot + fields) * self.slots() + self.vectors.private_bytes() + self.text_bytes + map + fragments + words
    }

    /// Position in `fields` of the field named `name`.
    fn field_position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| n == name)
    }

    /// Every slot's value of the string field `name` (a snapshot a word index is built from off the lock).
    pub fn text_values(&self, name: &str) -> Option<Vec<Option<Box<str>>>> {
        match &self.fields.get(self.field_position(name)?)?.1 {
            FieldColumn::String(values) => Some(values.clone()),
            _ => None,
        }
    }

    /// `name`'s word index, if built.
    pub fn words(&self, name: &str) -> Option<&WordIndex> {
        let position = self.field_position(name)?;
        self.words.iter().find(|(p, _)| *p == position).map(|(_, w)| w)
    }

    /// Installs `index`, built from a snapshot of `name`'s values at this generation: the slots filled
    /// since are indexed now, and BM25's counts are taken over the live slots. From then on every slot
    /// filled, retired or renumbered is followed.
    pub fn install_words(&mut self, name: &str, mut index: WordIndex) {
        let Some(position) = self.field_position(name) else { return };
        if let Some((_, column)) = self.fields.get(position) {
            for slot in index.slots()..self.slots() {
                index.add(slot, column.text(slot));
            }
        }
        index.recount(&self.live);
        self.words.retain(|(p, _)| *p != position);
        self.words.push((position, index));
    }

    /// `bytes()` with the text counted afresh from every slot (tests check the running count with it).
    #[cfg(test)]
    pub fn bytes_counted_afresh(&self) -> usize {
        self.bytes() - self.text_bytes + self.count_text_bytes()
    }

    /// The bytes of every id, metadata and field value, counted slot by slot.
    fn count_text_bytes(&self) -> usize {
        let ids: usize = self.ids.iter().map(|s| s.len()).sum();
        let metadata: usize = self.metadata.iter().map(|m| m.as_ref().map_or(0, |m| m.len())).sum();
        let fields: usize =
            self.fields.iter().map(|(_, column)| (0..self.slots()).map(|s| column.payload(s)).sum::<usize>()).sum();
        ids + metadata + fields
    }

    /// Registers new fragments (`(id, identity, physical rows)`) whose rows `load_batch` then fills,
    /// making room for `incoming` rows: a load that is large next to what is held gets exactly its
    /// room (a first load of 300 MB of vectors must not double to 512 MB); small appends grow the
    /// usual amortised way.
    pub fn add_fragments(&mut self, fragments: Vec<(u64, FragmentIdentity, usize)>, incoming: usize) {
        for (id, identity, physical_rows) in fragments {
            self.drop_fragment(id);
            self.fragments.insert(id, FragmentSlots { slots: vec![None; physical_rows], identity });
        }
        if incoming >= self.slots() / 4 {
            self.vectors.reserve_exact(incoming);
            self.norms.reserve_exact(incoming);
            self.ids.reserve_exact(incoming);
            self.slot_of.reserve(incoming);
            self.metadata.reserve_exact(incoming);
            self.live.reserve_exact(incoming);
            self.addresses.reserve_exact(incoming);
            self.graphed.reserve_exact(incoming);
        }
    }

    /// Copies the rows of `batch` (read with their row addresses) into slots of the fragments
    /// registered by `add_fragments`; a row never seen was deleted and gets no slot.
    pub fn load_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let addresses = column::<UInt64Array>(batch, lance_core::ROW_ADDR)?;
        let ids = column::<StringArray>(batch, schema::ID)?;
        let metadata = column::<StringArray>(batch, schema::METADATA)?;
        // Rows of fragments the vector file holds are read without their vectors (`vector_file.rs`).
        let vectors = batch.column_by_name(schema::VECTOR).map(|_| schema::vector_values(batch)).transpose()?;
        if vectors.is_some_and(|(_, width)| width != self.dimension) {
            return Err(StoreError::Internal("stored vectors are not of the table's dimension".into()));
        }
        let field_arrays = self
            .fields
            .iter()
            .map(|(name, _)| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| StoreError::Internal(format!("the resident load lacks field `{name}`")))
            })
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            let address = addresses.value(row);
            let (fragment, offset) = (address >> 32, usize::try_from(address & 0xffff_ffff).unwrap_or(usize::MAX));
            let vector = match vectors {
                Some((values, width)) => Some(
                    values
                        .get(row * width..(row + 1) * width)
                        .ok_or_else(|| StoreError::Internal("a stored vector is missing from its batch".into()))?,
                ),
                None => None,
            };
            let slot =
                self.push(ids.value(row), address, vector, (!metadata.is_null(row)).then(|| metadata.value(row)))?;
            for ((_, field), array) in self.fields.iter_mut().zip(&field_arrays) {
                let before = field.payload(slot);
                field.set(slot, array.as_ref(), row)?;
                self.text_bytes = self.text_bytes - before + field.payload(slot);
            }
            for (position, words) in &mut self.words {
                words.add(slot, self.fields.get(*position).and_then(|(_, column)| column.text(slot)));
            }
            let cell = self.fragments.get_mut(&fragment).and_then(|f| f.slots.get_mut(offset)).ok_or_else(|| {
                StoreError::Internal(format!("row address {address} is outside the loaded fragments"))
            })?;
            *cell = Some(u32::try_from(slot).map_err(|_| StoreError::Internal("too many resident rows".into()))?);
        }
        Ok(())
    }

    /// Appends one live slot; an id already live elsewhere is an inconsistency LanceDB never produces
    /// (ids are unique), so the older slot is retired rather than shadowed.
    /// `vector`: `None` for a row read without it, whose vector the vector file holds at this slot (an
    /// `Internal` error, nothing changed, when it does not: see `VECTOR_FILE_DISAGREES`).
    fn push(&mut self, id: &str, address: u64, vector: Option<&[f32]>, metadata: Option<&str>) -> Result<usize> {
        let slot = self.slots();
        let slot_number = u32::try_from(slot).map_err(|_| StoreError::Internal("too many resident rows".into()))?;
        let norm = match vector {
            Some(vector) => {
                self.vectors.push(address, vector);
                super::vectors::norm(vector)
            }
            None => self
                .vectors
                .push_in_place(address)
                .ok_or_else(|| StoreError::Internal(format!("{VECTOR_FILE_DISAGREES} at row address {address}")))?,
        };
        if let Some(previous) = self.slot_of.insert(id.into(), slot_number) {
            self.retire(previous as usize);
        }
        self.norms.push(norm);
        self.text_bytes += id.len() + metadata.map_or(0, str::len);
        self.ids.push(id.into());
        self.metadata.push(metadata.map(Into::into));
        self.live.push(true);
        self.addresses.push(address);
        self.graphed.push(false);
        for (_, field) in &mut self.fields {
            field.grow(1);
        }
        self.live_rows += 1;
        Ok(slot)
    }

    /// The fragments whose live rows the first slots hold whole, each in one run of slots and in order
    /// (what a vector file written from these slots records: `vector_file.rs`), up to the first that is
    /// not so held (a deleted row, a row moved by compaction, a fragment met twice).
    pub fn whole_fragments(&self) -> Vec<RecordedFragment> {
        let mut whole: Vec<RecordedFragment> = Vec::new();
        let mut slot = 0;
        while let Some(rest) = self.addresses.get(slot..).filter(|rest| !rest.is_empty()) {
            let id = rest.first().map_or(0, |address| address >> 32);
            let run = rest.iter().take_while(|&&address| address >> 32 == id).count();
            let Some(fragment) = self.fragments.get(&id) else { break };
            let held = rest.iter().take(run).enumerate().all(|(i, &address)| {
                let offset = usize::try_from(address & 0xffff_ffff).unwrap_or(usize::MAX);
                self.live.get(slot + i) == Some(&true)
                    && fragment.slots.get(offset) == Some(&u32::try_from(slot + i).ok())
            });
            let live = fragment.slots.iter().flatten().filter(|&&s| self.live.get(s as usize) == Some(&true)).count();
            if !held || live != run || whole.iter().any(|f| f.id == id) {
                break;
            }
            whole.push(RecordedFragment { id, identity: fragment.identity.clone(), rows: run });
            slot += run;
        }
        whole
    }

    /// Appends a live row with no metadata or fields, as row `slot` of fragment 0 (tests).
    #[cfg(test)]
    pub fn push_for_test(&mut self, id: &str, vector: &[f32]) {
        let address = self.slots() as u64;
        if let Ok(slot) = self.push(id, address, Some(vector), None) {
            let identity = FragmentIdentity { files: Vec::new(), deletion: None };
            let fragment = self.fragments.entry(0).or_insert(FragmentSlots { slots: Vec::new(), identity });
            fragment.slots.push(u32::try_from(slot).ok());
        }
    }

    /// Marks `slot` as no longer part of the table.
    fn retire(&mut self, slot: usize) {
        if let Some(live) = self.live.get_mut(slot)
            && *live
        {
            *live = false;
            self.live_rows -= 1;
            for (_, words) in &mut self.words {
                words.retire(slot);
            }
            if self.graphed.get(slot).copied().unwrap_or(false) {
                self.graphed_live -= 1;
            }
            if let Some(id) = self.ids.get(slot)
                && self.slot_of.get(id).is_some_and(|&s| s as usize == slot)
            {
                self.slot_of.remove(id);
            }
        }
    }

    /// Retires every row of fragment `id` (it was removed or rewritten).
    pub fn drop_fragment(&mut self, id: u64) {
        if let Some(fragment) = self.fragments.remove(&id) {
            for slot in fragment.slots.into_iter().flatten() {
                self.retire(slot as usize);
            }
        }
    }

    /// Applies fragment `id`'s new deletion state: rows at `deleted` offsets are retired. Returns
    /// `false` (changing nothing) when a row the copy holds as deleted is live again (a restore), which
    /// only a full reload of the fragment can show.
    pub fn apply_deletions(&mut self, id: u64, identity: FragmentIdentity, deleted: &dyn Fn(u32) -> bool) -> bool {
        let Some(fragment) = self.fragments.get(&id) else { return false };
        // A row the copy does not hold live (never loaded, or retired by an earlier deletion) that the
        // new deletion file no longer deletes was brought back (a restore): the fragment is reloaded.
        let live = |slot: &Option<u32>| slot.is_some_and(|s| self.live.get(s as usize).copied().unwrap_or(false));
        let revived = fragment
            .slots
            .iter()
            .enumerate()
            .any(|(offset, slot)| !live(slot) && !deleted(u32::try_from(offset).unwrap_or(u32::MAX)));
        if revived {
            return false;
        }
        let retired: Vec<usize> = fragment
            .slots
            .iter()
            .enumerate()
            .filter_map(|(offset, slot)| {
                let slot = (*slot)? as usize;
                deleted(u32::try_from(offset).unwrap_or(u32::MAX)).then_some(slot)
            })
            .collect();
        for slot in retired {
            self.retire(slot);
        }
        if let Some(fragment) = self.fragments.get_mut(&id) {
            fragment.identity = identity;
        }
        true
    }

    /// Live rows that are in the graph.
    pub fn graphed_live(&self) -> usize {
        self.graphed_live
    }

    /// Live slots whose row is not in the graph yet.
    pub fn ungraphed_slots(&self) -> impl Iterator<Item = usize> + '_ {
        let from = self.ungraphed_from.min(self.slots());
        self.live
            .iter()
            .zip(&self.graphed)
            .enumerate()
            .skip(from)
            .filter(|(_, (live, graphed))| **live && !**graphed)
            .map(|(s, _)| s)
    }

    /// The lowest slot that may hold a live row missing from the graph.
    pub fn first_ungraphed(&self) -> usize {
        self.ungraphed_from
    }

    /// Moves `ungraphed_from` past the slots that are dead or in the graph.
    fn advance_ungraphed(&mut self) {
        while self.ungraphed_from < self.slots()
            && (!self.live.get(self.ungraphed_from).copied().unwrap_or(false)
                || self.graphed.get(self.ungraphed_from).copied().unwrap_or(false))
        {
            self.ungraphed_from += 1;
        }
    }

    /// Marks each live slot as in the graph or not, by whether `holds` its row address.
    pub fn mark_graphed(&mut self, holds: impl Fn(u64) -> bool) {
        let mut count = 0;
        for ((graphed, live), &address) in self.graphed.iter_mut().zip(&self.live).zip(&self.addresses) {
            *graphed = *live && holds(address);
            count += usize::from(*graphed);
        }
        self.graphed_live = count;
        self.ungraphed_from = 0;
        self.advance_ungraphed();
    }

    /// Marks the live rows at `addresses` as added to the graph.
    pub fn mark_added(&mut self, addresses: &[u64]) {
        for &address in addresses {
            if let Some(slot) = self.slot_at(address)
                && let Some(graphed) = self.graphed.get_mut(slot)
                && !*graphed
            {
                *graphed = true;
                self.graphed_live += 1;
            }
        }
        self.advance_ungraphed();
    }

    /// Up to `max` live rows from slot `from` on (only those not in the graph when `ungraphed_only`),
    /// as (row address, vector) copies, and the slot after the last one looked at.
    pub fn batch_for_graph(&self, from: usize, max: usize, ungraphed_only: bool) -> (Vec<(u64, Vec<f32>)>, usize) {
        let mut rows = Vec::with_capacity(max.min(self.slots().saturating_sub(from)));
        let mut slot = from;
        while slot < self.slots() && rows.len() < max {
            let live = self.live.get(slot).copied().unwrap_or(false);
            let graphed = self.graphed.get(slot).copied().unwrap_or(false);
            if live && !(ungraphed_only && graphed) {
                rows.push((self.addresses.get(slot).copied().unwrap_or_default(), self.vector(slot).to_vec()));
            }
            slot += 1;
        }
        (rows, slot)
    }

    /// Up to `n` live rows, spread over the slots, whose address `holds` accepts: (address, slot).
    pub fn sample_addresses(&self, n: usize, holds: impl Fn(u64) -> bool) -> Vec<(u64, usize)> {
        let step = (self.slots() / n.max(1)).max(1);
        (0..self.slots())
            .step_by(step)
            .filter(|&slot| self.live.get(slot).copied().unwrap_or(false))
            .filter_map(|slot| Some((*self.addresses.get(slot)?, slot)))
            .filter(|&(address, _)| holds(address))
            .take(n)
            .collect()
    }

    /// Slots that hold no current row.
    /// Re-points the rows of rewritten fragments to their new addresses (see `rewrite.rs`): for each
    /// group, the live rows of the old fragments, in order, are the rows of the new ones, in order.
    /// Returns the (old, new) address of every row moved, or `None`, changing nothing, when a group
    /// does not match what the columns hold.
    pub fn follow_rewrite(&mut self, groups: &[Group]) -> Option<Vec<(u64, u64)>> {
        let mut moves: Vec<(usize, u64)> = Vec::new();
        let mut created: Vec<(u64, FragmentSlots)> = Vec::new();
        for group in groups {
            let mut kept: Vec<usize> = Vec::new();
            for (id, identity) in &group.old {
                let fragment = self.fragments.get(id).filter(|f| f.identity == *identity)?;
                let live = fragment.slots.iter().flatten().map(|&s| s as usize);
                kept.extend(live.filter(|&slot| self.live.get(slot).copied().unwrap_or(false)));
            }
            let written: usize = group.new.iter().map(|(_, _, rows)| rows).sum();
            if written != kept.len() {
                return None;
            }
            let mut rows = kept.into_iter();
            for (id, identity, count) in &group.new {
                let replaced = group.old.iter().any(|(old, _)| old == id);
                if self.fragments.contains_key(id) && !replaced {
                    return None;
                }
                let mut slots = Vec::with_capacity(*count);
                for offset in 0..*count as u64 {
                    let slot = rows.next()?;
                    moves.push((slot, id << 32 | offset));
                    slots.push(Some(u32::try_from(slot).ok()?));
                }
                created.push((*id, FragmentSlots { slots, identity: identity.clone() }));
            }
        }
        for group in groups {
            for (id, _) in &group.old {
                self.fragments.remove(id);
            }
        }
        self.fragments.extend(created);
        let mut moved = Vec::with_capacity(moves.len());
        for (slot, address) in moves {
            if let Some(held) = self.addresses.get_mut(slot) {
                moved.push((*held, address));
                *held = address;
            }
        }
        Some(moved)
    }

    pub fn dead_slots(&self) -> usize {
        self.slots() - self.live_rows
    }

    /// Drops the dead slots, renumbering the live ones (in order).
    pub fn repack(&mut self) {
        let keep: Vec<usize> = (0..self.slots()).filter(|&s| self.live.get(s).copied().unwrap_or(false)).collect();
        let mut renumber = vec![None; self.slots()];
        for (new, &old) in keep.iter().enumerate() {
            if let Some(cell) = renumber.get_mut(old) {
                *cell = u32::try_from(new).ok();
            }
        }
        self.vectors = self.vectors.repacked(&keep);
        self.norms = keep.iter().filter_map(|&s| self.norms.get(s).copied()).collect();
        self.ids = keep.iter().filter_map(|&s| self.ids.get(s).cloned()).collect();
        self.metadata = keep.iter().filter_map(|&s| self.metadata.get(s).cloned()).collect();
        self.live = vec![true; keep.len()];
        self.addresses = keep.iter().filter_map(|&s| self.addresses.get(s).copied()).collect();
        self.graphed = keep.iter().filter_map(|&s| self.graphed.get(s).copied()).collect();
        for (_, field) in &mut self.fields {
            field.repack(&keep);
        }
        for (_, words) in &mut self.words {
            words.repack(&renumber);
        }
        self.generation = next_generation();
        for fragment in self.fragments.values_mut() {
            for slot in &mut fragment.slots {
                *slot = slot.and_then(|s| renumber.get(s as usize).copied().flatten());
            }
        }
        for slot in self.slot_of.values_mut() {
            *slot = renumber.get(*slot as usize).copied().flatten().unwrap_or(u32::MAX);
        }
        self.vectors.shrink_to_fit();
        self.text_bytes = self.count_text_bytes();
        self.ungraphed_from = 0;
        self.advance_ungraphed();
    }
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::Internal(format!("the resident load lacks a readable `{name}` column")))
}

/// A number no columns had before (see `Columns::generation`).
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
