//! The resident vectors, slot after slot: the first slots may be read in place from the mapped vector file
//! (`vector_file.rs`, shared by every process serving the table), the rest are in this process's memory.
//! A slot's vector never changes once pushed (an upsert takes a new slot), so a prefix of slots taken
//! from the file stays valid until the slots are renumbered (`repacked`, which copies them into memory).

use std::ops::Range;
use std::sync::Arc;

use super::vector_file::VectorFile;

/// The vectors of every slot.
#[derive(Debug)]
pub struct Vectors {
    dimension: usize,
    /// The file slots `0..shared` are read from (file row = slot).
    file: Option<Arc<VectorFile>>,
    shared: usize,
    /// The vectors of slots `shared..`, back to back.
    own: Vec<f32>,
}

/// The Euclidean norm of `vector` (summed in f64): what the copy keeps per slot and the vector file records.
pub fn norm(vector: &[f32]) -> f32 {
    let squared: f64 = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    squared.sqrt() as f32
}

/// Whether two vectors are the same floats, bit for bit.
pub fn same(a: &[f32], b: &[f32]) -> bool {
    bytemuck::cast_slice::<f32, u32>(a) == bytemuck::cast_slice::<f32, u32>(b)
}

impl Vectors {
    /// No slots, no file.
    pub fn new(dimension: usize) -> Self {
        Self { dimension, file: None, shared: 0, own: Vec::new() }
    }

    /// Lets the next pushes take their vectors from `file` where it holds the same row at the same slot.
    /// Only while there are no slots (a first load).
    pub fn attach(&mut self, file: Arc<VectorFile>) {
        if self.slots() == 0 {
            self.file = Some(file);
        }
    }

    /// Slots held.
    pub fn slots(&self) -> usize {
        self.shared + self.own.len() / self.dimension.max(1)
    }

    /// Slots read in place from the file.
    pub fn shared(&self) -> usize {
        self.shared
    }

    /// The attached file.
    pub fn file(&self) -> Option<&Arc<VectorFile>> {
        self.file.as_ref()
    }

    /// Rows of the attached file (what a load may read in place at most), or 0.
    pub fn file_rows(&self) -> usize {
        self.file.as_ref().map_or(0, |file| file.rows())
    }

    /// The vector of `slot` (empty for a slot not held).
    pub fn get(&self, slot: usize) -> &[f32] {
        if slot < self.shared {
            return self.file.as_ref().map_or(&[][..], |file| file.vectors(slot..slot + 1));
        }
        let start = (slot - self.shared) * self.dimension;
        self.own.get(start..start + self.dimension).unwrap_or(&[])
    }

    /// The vectors of `slots` as at most two runs of consecutive slots: (first slot, its vectors back to back).
    pub fn runs(&self, slots: Range<usize>) -> impl Iterator<Item = (usize, &[f32])> {
        let shared_end = slots.end.min(self.shared);
        let in_file = (slots.start < shared_end)
            .then(|| (slots.start, self.file.as_ref().map_or(&[][..], |file| file.vectors(slots.start..shared_end))));
        let own_start = slots.start.max(self.shared);
        let in_memory = (own_start < slots.end).then(|| {
            let (from, to) = ((own_start - self.shared) * self.dimension, (slots.end - self.shared) * self.dimension);
            (own_start, self.own.get(from..to).unwrap_or(&[]))
        });
        in_file.into_iter().chain(in_memory)
    }

    /// Appends the vector of a new slot holding the row at `address`: read in place from the file when the
    /// file's row at this slot is that row with the very same floats, else copied into memory.
    pub fn push(&mut self, address: u64, vector: &[f32]) {
        if self.own.is_empty()
            && let Some(file) = &self.file
        {
            let row = self.shared;
            if row < file.rows() && file.address(row) == Some(address) && same(file.vectors(row..row + 1), vector) {
                self.shared += 1;
                return;
            }
        }
        self.own.extend_from_slice(vector);
    }

    /// Appends a new slot holding the row at `address` whose vector was not read: the file's row at this
    /// slot, which must be that row (the caller trusts the file for it: `vector_file.rs`). Its norm, or
    /// `None` — nothing appended — when the file does not hold that row there.
    pub fn push_in_place(&mut self, address: u64) -> Option<f32> {
        let file = self.file.as_ref().filter(|_| self.own.is_empty())?;
        let row = self.shared;
        let norm = file.norm(row).filter(|_| file.address(row) == Some(address))?;
        self.shared += 1;
        Some(norm)
    }

    /// Makes room in memory for `rows` more slots, less those the file may still provide.
    pub fn reserve_exact(&mut self, rows: usize) {
        let from_file = match &self.file {
            Some(file) if self.own.is_empty() => file.rows().saturating_sub(self.shared),
            _ => 0,
        };
        self.own.reserve_exact(rows.saturating_sub(from_file) * self.dimension);
    }

    /// The vectors of the slots `keep` lists, in that order, all in memory.
    pub fn repacked(&self, keep: &[usize]) -> Self {
        let mut own = Vec::with_capacity(keep.len() * self.dimension);
        for &slot in keep {
            own.extend_from_slice(self.get(slot));
        }
        Self { dimension: self.dimension, file: None, shared: 0, own }
    }

    /// Releases spare room in memory.
    pub fn shrink_to_fit(&mut self) {
        self.own.shrink_to_fit();
    }

    /// Bytes held in this process's memory.
    pub fn private_bytes(&self) -> usize {
        4 * self.own.len()
    }

    /// Bytes of the file mapped (shared), or 0 when no slot reads from it.
    pub fn mapped_bytes(&self) -> usize {
        match &self.file {
            Some(file) if self.shared > 0 => file.bytes(),
            _ => 0,
        }
    }

    /// Takes the first `slots` from `file`, which holds exactly these slots' rows and vectors (this
    /// process just wrote it from them, and no slot was renumbered since); the rest stay in memory.
    pub fn share_prefix(&mut self, file: Arc<VectorFile>, slots: usize) {
        if slots < self.shared || slots > self.slots() || file.rows() < slots {
            return;
        }
        let own_from = (slots - self.shared) * self.dimension;
        self.own = self.own.get(own_from..).unwrap_or_default().to_vec();
        self.shared = slots;
        self.file = Some(file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::resident::vector_file;
    use crate::store::testing::vectors;

    #[test]
    fn rows_equal_to_the_file_are_read_in_place_and_the_first_difference_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = vectors(100, 4, 2);
        let path = vector_file::path_beside(&crate::store::resident::sidecar::path(dir.path(), "t"));
        let addresses: Vec<u64> = (0..100).collect();
        vector_file::write(&path, 4, 1, &[], &addresses, |rows| Some(data[rows].concat())).unwrap();
        let file = Arc::new(VectorFile::open(&path, 4).unwrap());

        let mut held = Vectors::new(4);
        held.attach(Arc::clone(&file));
        for (i, vector) in data.iter().enumerate().take(50) {
            held.push(i as u64, vector);
        }
        // Rows taken on trust: the file's norm, as long as the file holds that address at that slot.
        for i in 50..60 {
            assert_eq!(held.push_in_place(i), Some(norm(&data[i as usize])));
        }
        assert_eq!(held.push_in_place(61), None, "slot 60 holds row 60, not 61");
        assert_eq!((held.shared(), held.private_bytes()), (60, 0));
        let mut changed = data[60].clone();
        changed[3] += 1.0;
        held.push(60, &changed); // another vector at this address: from here on in memory
        held.push(61, &data[61]);
        assert_eq!((held.shared(), held.slots(), held.private_bytes()), (60, 62, 2 * 16));
        assert_eq!(held.push_in_place(62), None, "nothing is read in place once a slot is in memory");
        assert_eq!(held.get(59), data[59].as_slice());
        assert_eq!(held.get(60), changed.as_slice());
        let runs: Vec<(usize, Vec<f32>)> = held.runs(58..62).map(|(s, v)| (s, v.to_vec())).collect();
        assert_eq!(runs, vec![(58, data[58..60].concat()), (60, [changed.clone(), data[61].clone()].concat())]);

        let repacked = held.repacked(&[61, 2]);
        assert_eq!((repacked.shared(), repacked.mapped_bytes()), (0, 0));
        assert_eq!(repacked.get(0), data[61].as_slice());

        // A file written from the slots held: they are then read from it, the later ones stay in memory.
        let mut own = Vectors::new(4);
        for (i, vector) in data.iter().enumerate().take(30) {
            own.push(i as u64, vector);
        }
        own.share_prefix(Arc::clone(&file), 20);
        assert_eq!((own.shared(), own.slots(), own.private_bytes()), (20, 30, 10 * 16));
        assert_eq!(own.get(25), data[25].as_slice());
        assert_eq!(own.get(5), data[5].as_slice());
    }
}
