//! Progress reports for long calls (`importFile`, large `addEmbeddings`, `createIndex`, `optimize`):
//! the event, the sink the bindings hand in, and the throttle that keeps reports to a few per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// One progress event. `rows`/`bytes` count what is done so far; the totals are known for some sources only.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is happening: see each call's documentation (`"read"`, `"commit"`, `"index"`, `"done"`, …).
    pub phase: &'static str,
    /// Rows done so far in this call.
    pub rows: u64,
    /// Rows the call will handle, when known.
    pub total_rows: Option<u64>,
    /// Bytes of the input read so far (imports only).
    pub bytes: Option<u64>,
    /// Size of the input (imports only).
    pub total_bytes: Option<u64>,
}

impl Progress {
    /// An event with rows only.
    pub fn rows(phase: &'static str, rows: u64, total_rows: Option<u64>) -> Self {
        Self { phase, rows, total_rows, bytes: None, total_bytes: None }
    }
}

/// Where events go. Called from worker threads; it must not block (the bindings queue the event for JS).
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// Shortest time between two reports of the same phase.
pub const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Forwards events to a sink: every change of phase, and within a phase at most one event per
/// `REPORT_EVERY`. A `None` sink makes every call a no-op.
pub struct Reporter {
    sink: Option<ProgressSink>,
    last: Option<(&'static str, Instant)>,
}

impl Reporter {
    /// A reporter to `sink` (or to nowhere).
    pub fn new(sink: Option<ProgressSink>) -> Self {
        Self { sink, last: None }
    }

    /// Whether events go anywhere.
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Reports `event` unless one of the same phase went out less than `REPORT_EVERY` ago.
    pub fn report(&mut self, event: Progress) {
        let Some(sink) = &self.sink else { return };
        let now = Instant::now();
        let due = match self.last {
            Some((phase, at)) => phase != event.phase || now.duration_since(at) >= REPORT_EVERY,
            None => true,
        };
        if due {
            self.last = Some((event.phase, now));
            sink(event);
        }
    }

    /// Reports `event` whatever the time (phase ends and the final event).
    pub fn always(&mut self, event: Progress) {
        if let Some(sink) = &self.sink {
            self.last = Some((event.phase, Instant::now()));
            sink(event);
        }
    }
}

/// Runs `work`, reporting `sample()` every `REPORT_EVERY` until it finishes (for calls whose
/// progress is read from a counter rather than reported by the work itself).
pub async fn ticking<F: std::future::Future>(
    work: F,
    reporter: &mut Reporter,
    sample: impl Fn() -> Progress,
) -> F::Output {
    if reporter.sink.is_none() {
        return work.await;
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => reporter.report(sample()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_phase_changes_and_throttles_within_a_phase() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let sink: ProgressSink = Arc::new(move |p: Progress| sink_seen.lock().unwrap().push((p.phase, p.rows)));
        let mut reporter = Reporter::new(Some(sink));
        for rows in 0..1_000 {
            reporter.report(Progress::rows("read", rows, None));
        }
        reporter.report(Progress::rows("commit", 1_000, None));
        reporter.always(Progress::rows("done", 1_000, Some(1_000)));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.first(), Some(&("read", 0)));
        assert!(seen.len() < 10, "throttled: {seen:?}");
        assert_eq!(&seen[seen.len() - 2..], &[("commit", 1_000), ("done", 1_000)]);
    }

    #[test]
    fn without_a_sink_nothing_is_recorded_or_sent() {
        let mut reporter = Reporter::new(None);
        assert!(!reporter.is_on());
        reporter.report(Progress::rows("read", 1, None));
        reporter.always(Progress::rows("done", 1, None));
        assert!(reporter.last.is_none(), "no event went out, so none is remembered for throttling");
        // With a sink, the same calls are sent and remembered.
        let sent = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&sent);
        let mut reporter = Reporter::new(Some(Arc::new(move |_: Progress| *counter.lock().unwrap() += 1)));
        reporter.report(Progress::rows("read", 1, None));
        reporter.always(Progress::rows("done", 1, None));
        assert_eq!(*sent.lock().unwrap(), 2);
        assert_eq!(reporter.last.map(|(phase, _)| phase), Some("done"));
    }
}
