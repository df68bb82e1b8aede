//! Activity: what one store has done and is doing — latency recorders, write and compaction
//! counters, and the state of index jobs — behind one short-held mutex. The only place these
//! counters change; `stats()` reads them through `summary()`.

use super::latency::{LatencyRecorder, LatencySummary};

/// Counters and recorders of one store.
#[derive(Debug, Default)]
pub struct Activity {
    search: LatencyRecorder,
    insert: LatencyRecorder,
    upsert: LatencyRecorder,
    rows_inserted: u64,
    rows_upserted: u64,
    commits_since_optimize: u64,
    optimize_runs: u64,
    optimizing: bool,
    last_optimize_error: Option<String>,
    index_jobs: u32,
    /// A write committed while an upkeep round ran: run another round when it ends.
    upkeep_wanted: bool,
    index_builds: u64,
    index_error: Option<String>,
    /// Set by `createIndex({ kind: 'none' })`: background upkeep builds no index until asked again.
    index_declined: bool,
}

/// A copy of the counters, for `stats()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySummary {
    /// Latency of `search`.
    pub search: LatencySummary,
    /// Latency of `add`.
    pub insert: LatencySummary,
    /// Latency of `upsert`.
    pub upsert: LatencySummary,
    /// Rows stored by `add`.
    pub rows_inserted: u64,
    /// Rows written by `upsert`.
    pub rows_upserted: u64,
    /// Commits since the last compaction.
    pub commits_since_optimize: u64,
    /// Compactions run.
    pub optimize_runs: u64,
    /// The last automatic compaction's error.
    pub last_optimize_error: Option<String>,
    /// Whether an index job is running.
    pub index_building: bool,
    /// Index builds and refreshes completed.
    pub index_builds: u64,
    /// The last failed index job's error.
    pub index_error: Option<String>,
    /// Whether `createIndex({ kind: 'none' })` paused background upkeep.
    pub index_declined: bool,
}

/// Which write a commit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `add` of this many rows.
    Add(usize),
    /// `upsert` of this many rows.
    Upsert(usize),
    /// `delete`.
    Delete,
    /// `update_metadata`.
    Update,
    /// `restore`.
    Restore,
}

impl Activity {
    /// Records one search's latency.
    pub fn record_search(&mut self, ms: f64) {
        self.search.record(ms);
    }

    /// Records a commit through this store and whether an automatic compaction is now due (every
    /// `every` commits, 0 never, not while one runs); when due, marks one as running.
    pub fn record_commit(&mut self, write: Write, ms: f64, every: usize) -> bool {
        match write {
            Write::Add(rows) => {
                self.insert.record(ms);
                self.rows_inserted += rows as u64;
            }
            Write::Upsert(rows) => {
                self.upsert.record(ms);
                self.rows_upserted += rows as u64;
            }
            Write::Delete | Write::Update | Write::Restore => {}
        }
        self.commits_since_optimize += 1;
        let due = every > 0 && self.commits_since_optimize >= every as u64 && !self.optimizing;
        self.optimizing |= due;
        due
    }

    /// Records the end of a compaction (`automatic`: started by `record_commit`).
    pub fn finish_optimize(&mut self, automatic: bool, outcome: Result<(), String>) {
        if automatic {
            self.optimizing = false;
        }
        match outcome {
            Ok(()) => {
                self.optimize_runs += 1;
                self.commits_since_optimize = 0;
                self.last_optimize_error = None;
            }
            Err(err) if automatic => self.last_optimize_error = Some(err),
            Err(_) => {}
        }
    }

    /// Starts a background upkeep job unless the user chose exact search or one runs (that one is
    /// then asked for another round, so a write made during a round is never left unexamined);
    /// `true` when started.
    pub fn start_upkeep(&mut self) -> bool {
        if self.index_declined {
            return false;
        }
        if self.index_jobs > 0 {
            self.upkeep_wanted = true;
            return false;
        }
        self.index_jobs += 1;
        true
    }

    /// Records the end of one upkeep round (as `finish_index_job`); `true` when another round is
    /// wanted, in which case the job stays counted as running.
    pub fn finish_upkeep_round(&mut self, outcome: Result<bool, String>) -> bool {
        let again = std::mem::take(&mut self.upkeep_wanted) && !self.index_declined;
        self.finish_index_job(outcome);
        if again {
            self.index_jobs += 1;
        }
        again
    }

    /// Counts an index job the user asked for.
    pub fn start_index_job(&mut self) {
        self.index_jobs += 1;
    }

    /// Records the end of an index job: `Ok(true)` (the index changed) counts a build and clears the
    /// last error, `Ok(false)` (nothing was due) changes nothing, `Err` becomes the last error.
    pub fn finish_index_job(&mut self, outcome: Result<bool, String>) {
        self.index_jobs = self.index_jobs.saturating_sub(1);
        match outcome {
            Ok(false) => {}
            Ok(true) => {
                self.index_builds += 1;
                self.index_error = None;
            }
            Err(err) => self.index_error = Some(err),
        }
    }

    /// Pauses (`true`) or resumes background index upkeep for this store.
    pub fn set_index_declined(&mut self, declined: bool) {
        self.index_declined = declined;
    }

    /// A copy of the counters.
    pub fn summary(&self) -> ActivitySummary {
        ActivitySummary {
            search: self.search.summary(),
            insert: self.insert.summary(),
            upsert: self.upsert.summary(),
            rows_inserted: self.rows_inserted,
            rows_upserted: self.rows_upserted,
            commits_since_optimize: self.commits_since_optimize,
            optimize_runs: self.optimize_runs,
            last_optimize_error: self.last_optimize_error.clone(),
            index_building: self.index_jobs > 0,
            index_builds: self.index_builds,
            index_error: self.index_error.clone(),
            index_declined: self.index_declined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_is_due_every_n_commits_and_never_twice_at_once() {
        let mut activity = Activity::default();
        assert!(!activity.record_commit(Write::Add(3), 1.0, 2));
        assert!(activity.record_commit(Write::Delete, 1.0, 2));
        assert!(!activity.record_commit(Write::Upsert(1), 1.0, 2), "one is already running");
        activity.finish_optimize(true, Ok(()));
        let summary = activity.summary();
        assert_eq!((summary.optimize_runs, summary.commits_since_optimize), (1, 0));
        assert_eq!(
            (summary.rows_inserted, summary.rows_upserted, summary.insert.count, summary.upsert.count),
            (3, 1, 1, 1)
        );
        assert!(!activity.record_commit(Write::Delete, 1.0, 0), "0 never compacts");
    }

    #[test]
    fn index_jobs_never_underflow_and_one_upkeep_runs_at_a_time() {
        let mut activity = Activity::default();
        activity.finish_index_job(Ok(false));
        assert!(!activity.summary().index_building);
        assert!(activity.start_upkeep());
        assert!(!activity.start_upkeep());
        activity.finish_index_job(Err("boom".into()));
        assert_eq!(activity.summary().index_error.as_deref(), Some("boom"));
        activity.set_index_declined(true);
        assert!(!activity.start_upkeep());
    }

    #[test]
    fn a_write_during_an_upkeep_round_asks_for_another() {
        let mut activity = Activity::default();
        assert!(activity.start_upkeep());
        assert!(!activity.start_upkeep(), "a round runs: the write is noted instead");
        assert!(activity.finish_upkeep_round(Ok(false)), "so one more round runs");
        assert!(activity.summary().index_building);
        assert!(!activity.finish_upkeep_round(Ok(true)));
        assert!(!activity.summary().index_building);
        assert_eq!(activity.summary().index_builds, 1);
    }
}
