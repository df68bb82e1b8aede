//! Latency summaries for `stats()`. A fixed window of recent samples keeps
//! memory constant; percentiles are computed over that window, counts and maxima over the lifetime.

use std::collections::VecDeque;
use std::time::Instant;

/// Milliseconds since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

/// Latency samples kept per operation for percentiles.
const WINDOW: usize = 2_048;

/// Latency of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencySummary {
    /// Operations measured since the store opened.
    pub count: u64,
    /// Median over the last 2048 operations, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile over the last 2048 operations, in milliseconds.
    pub p95_ms: f64,
    /// Slowest since the store opened, in milliseconds.
    pub max_ms: f64,
}

/// Records latencies and summarises them.
#[derive(Debug, Default)]
pub struct LatencyRecorder {
    count: u64,
    max_ms: f64,
    recent: VecDeque<f64>,
}

impl LatencyRecorder {
    /// Adds one measurement.
    pub fn record(&mut self, ms: f64) {
        self.count += 1;
        self.max_ms = self.max_ms.max(ms);
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    /// Count, p50, p95 and max.
    pub fn summary(&self) -> LatencySummary {
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        LatencySummary {
            count: self.count,
            p50_ms: percentile(&sorted, 0.50),
            p95_ms: percentile(&sorted, 0.95),
            max_ms: self.max_ms,
        }
    }
}

/// Nearest-rank percentile of sorted samples (0 when there are none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_count_percentiles_and_max() {
        let mut recorder = LatencyRecorder::default();
        assert_eq!(recorder.summary(), LatencySummary::default());
        for ms in 1..=100 {
            recorder.record(f64::from(ms));
        }
        let s = recorder.summary();
        assert_eq!((s.count, s.p50_ms, s.p95_ms, s.max_ms), (100, 50.0, 95.0, 100.0));
    }

    #[test]
    fn the_window_is_bounded_but_count_and_max_are_lifetime() {
        let mut recorder = LatencyRecorder::default();
        recorder.record(1_000.0);
        for _ in 0..WINDOW {
            recorder.record(1.0);
        }
        let s = recorder.summary();
        assert_eq!((s.count, s.p95_ms, s.max_ms), (WINDOW as u64 + 1, 1.0, 1_000.0));
    }
}
