//! The exact scan over the resident vectors: every live (and, with a filter, selected) slot's
//! distance to the query with lance-linalg's SIMD kernels (chosen at run time for the CPU:
//! AVX-512, AVX2+FMA, AVX, NEON, or portable code), a bounded top-k heap per thread, and large
//! tables split over the cores. Distances are LanceDB's: cosine `1 − cos`, dot `1 − q·v`, l2 squared.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use lance_linalg::distance::dot::dot_f32;
use lance_linalg::distance::l2::l2_f32;

use super::columns::Columns;
use crate::store::metric::Metric;

/// Below this many floats (≈ 16 MB) one thread scans everything: splitting costs more than it saves.
const PARALLEL_MIN_FLOATS: usize = 4 << 20;
/// Most threads one scan uses.
const MAX_THREADS: usize = 8;

/// One scanned row: its slot and distance.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// LanceDB's distance (smaller is closer).
    pub distance: f32,
    /// The slot.
    pub slot: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// Closer first; equal distances in slot (insertion) order.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.slot.cmp(&other.slot))
    }
}

/// What one scan looks for.
pub struct Scan<'a> {
    /// The query vector.
    pub query: &'a [f32],
    /// The table's metric.
    pub metric: Metric,
    /// Most candidates returned.
    pub limit: usize,
    /// Candidates scoring below this are skipped.
    pub threshold: Option<f64>,
    /// Only these slots are considered (a filter's selection), if given.
    pub selected: Option<&'a [bool]>,
}

/// The `limit` live slots nearest to the query, closest first.
pub fn nearest(columns: &Columns, scan: &Scan<'_>) -> Vec<Candidate> {
    let threads = if columns.slots() * columns.dimension >= PARALLEL_MIN_FLOATS {
        std::thread::available_parallelism().map_or(1, usize::from).clamp(1, MAX_THREADS)
    } else {
        1
    };
    nearest_on(columns, scan, threads)
}

/// `nearest` split over `threads` threads.
fn nearest_on(columns: &Columns, scan: &Scan<'_>, threads: usize) -> Vec<Candidate> {
    let slots = columns.slots();
    let query_norm = norm(scan.query);
    let mut best = if threads <= 1 {
        scan_range(columns, scan, query_norm, 0..slots)
    } else {
        let per_thread = slots.div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * per_thread).min(slots)..((t + 1) * per_thread).min(slots);
                    scope.spawn(move || scan_range(columns, scan, query_norm, range))
                })
                .collect();
            let mut merged = Vec::with_capacity(threads * scan.limit);
            for worker in workers {
                // A worker only panics on a bug; its part is then missing rather than the process aborting.
                merged.extend(worker.join().unwrap_or_default());
            }
            merged
        })
    };
    best.sort_unstable();
    best.truncate(scan.limit);
    best
}

/// The exact order of the given `slots` (graph candidates and rows not yet in the graph): the
/// `limit` nearest, closest first. Slots that are dead or unselected are skipped, duplicates counted once.
pub fn rerank(columns: &Columns, scan: &Scan<'_>, slots: &mut Vec<u32>) -> Vec<Candidate> {
    slots.sort_unstable();
    slots.dedup();
    let query_norm = norm(scan.query);
    let mut heap = Top::new(scan);
    for &slot in slots.iter() {
        let slot = slot as usize;
        if columns.live.get(slot).copied().unwrap_or(false)
            && scan.selected.is_none_or(|selected| selected.get(slot).copied().unwrap_or(false))
        {
            heap.offer(slot, distance(columns, scan, query_norm, slot, columns.vector(slot)));
        }
    }
    let mut best = heap.0.into_vec();
    best.sort_unstable();
    best
}

fn norm(vector: &[f32]) -> f32 {
    let squared: f64 = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    squared.sqrt() as f32
}

/// LanceDB's distance from the query to `vector` (the vector in `slot`).
fn distance(columns: &Columns, scan: &Scan<'_>, query_norm: f32, slot: usize, vector: &[f32]) -> f32 {
    match scan.metric {
        Metric::Cosine => {
            let norm = columns.norms.get(slot).copied().unwrap_or(0.0);
            1.0 - dot_f32(scan.query, vector) / (query_norm * norm)
        }
        Metric::Dot => 1.0 - dot_f32(scan.query, vector),
        Metric::L2 => l2_f32(scan.query, vector),
    }
}

/// A bounded heap of the best candidates under the scan's limit and threshold.
struct Top<'s, 'q>(BinaryHeap<Candidate>, &'s Scan<'q>);

impl<'s, 'q> Top<'s, 'q> {
    fn new(scan: &'s Scan<'q>) -> Self {
        Self(BinaryHeap::with_capacity(scan.limit + 1), scan)
    }

    fn offer(&mut self, slot: usize, distance: f32) {
        let candidate = Candidate { distance, slot: u32::try_from(slot).unwrap_or(u32::MAX) };
        let Self(heap, scan) = self;
        if heap.len() == scan.limit && heap.peek().is_some_and(|worst| candidate >= *worst) {
            return;
        }
        if scan.threshold.is_some_and(|t| scan.metric.score(f64::from(distance)) < t) {
            return;
        }
        heap.push(candidate);
        if heap.len() > scan.limit {
            heap.pop();
        }
    }
}

fn scan_range(columns: &Columns, scan: &Scan<'_>, query_norm: f32, range: std::ops::Range<usize>) -> Vec<Candidate> {
    let mut heap = Top::new(scan);
    let dimension = columns.dimension;
    for (first, vectors) in columns.vectors.runs(range) {
        for (offset, vector) in vectors.chunks_exact(dimension.max(1)).enumerate() {
            let slot = first + offset;
            if !columns.live.get(slot).copied().unwrap_or(false)
                || scan.selected.is_some_and(|selected| !selected.get(slot).copied().unwrap_or(false))
            {
                continue;
            }
            heap.offer(slot, distance(columns, scan, query_norm, slot, vector));
        }
    }
    heap.0.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fields::Fields;
    use crate::store::resident::columns::Columns;
    use crate::store::testing::vectors;

    fn columns(rows: usize, dimension: usize) -> Columns {
        let mut columns = Columns::new(dimension, &Fields::new());
        for (i, vector) in vectors(rows, dimension, 3).iter().enumerate() {
            columns.push_for_test(&i.to_string(), vector);
        }
        columns
    }

    #[test]
    fn top_k_is_the_exact_order_under_every_metric_and_threads_agree() {
        let data = columns(3_000, 1_500); // 4.5M floats: scanned by several threads
        let query = &vectors(1, 1_500, 9)[0];
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            let scan = Scan { query, metric, limit: 7, threshold: None, selected: None };
            let got: Vec<u32> = nearest(&data, &scan).iter().map(|c| c.slot).collect();
            let mut all: Vec<(f64, u32)> = (0..3_000)
                .map(|slot| {
                    let v = data.vector(slot);
                    let dot: f64 = v.iter().zip(query).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                    let norm = |x: &[f32]| x.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
                    let l2: f64 = v.iter().zip(query).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum();
                    let d = match metric {
                        Metric::Cosine => 1.0 - dot / (norm(v) * norm(query)),
                        Metric::Dot => 1.0 - dot,
                        Metric::L2 => l2,
                    };
                    (d, slot as u32)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(got, all.iter().take(7).map(|x| x.1).collect::<Vec<_>>(), "{metric:?}");
        }
    }

    /// `cargo test --release -- --ignored --nocapture scan_speed`: the scan alone, median of 50.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn scan_speed() {
        for (rows, dimension) in [(10_000, 768), (20_000, 384), (100_000, 768)] {
            let data = columns(rows, dimension);
            let query = &vectors(1, dimension, 9)[0];
            let scan = Scan { query, metric: Metric::Cosine, limit: 10, threshold: None, selected: None };
            for threads in [1, 2] {
                let mut times: Vec<f64> = (0..50)
                    .map(|_| {
                        let started = std::time::Instant::now();
                        std::hint::black_box(nearest_on(&data, &scan, threads));
                        started.elapsed().as_secs_f64() * 1e3
                    })
                    .collect();
                times.sort_by(f64::total_cmp);
                println!("{rows} × {dimension}, {threads} thread(s): median {:.3} ms", times[25]);
            }
        }
    }
}
