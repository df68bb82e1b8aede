//! Short-held std mutexes (no `.await` inside), and the guard that lowers a "job running" flag. A
//! panic while a mutex was held leaves plain counters or caches behind, never a broken invariant, so
//! a poisoned mutex is recovered rather than turned into an error that would leave flags such as "an
//! index job is running" stuck on; such a flag is lowered by `LowerOnDrop`, which also runs when
//! `close()` drops the job's future at any await.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it if a panic poisoned it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lowers a "job running" flag (held by reference or by `Arc`) when dropped: when the job ends, fails,
/// or is cancelled.
pub struct LowerOnDrop<F: Deref<Target = AtomicBool>>(pub F);

impl<F: Deref<Target = AtomicBool>> Drop for LowerOnDrop<F> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_is_recovered_with_its_value() {
        let mutex = std::sync::Arc::new(Mutex::new(1));
        let inner = std::sync::Arc::clone(&mutex);
        let _ = std::thread::spawn(move || {
            let _guard = inner.lock();
            panic!("poison it");
        })
        .join();
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*lock(&mutex), 2);
    }

    #[tokio::test]
    async fn a_job_cancelled_at_an_await_lowers_its_flag() {
        let flag = std::sync::Arc::new(AtomicBool::new(true));
        let running = LowerOnDrop(std::sync::Arc::clone(&flag));
        let job = tokio::spawn(async move {
            let _running = running;
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        assert!(flag.load(Ordering::Acquire), "raised while the job runs");
        job.abort();
        assert!(job.await.is_err_and(|e| e.is_cancelled()));
        assert!(!flag.load(Ordering::Acquire), "lowered by the cancellation");
        let borrowed = AtomicBool::new(true);
        drop(LowerOnDrop(&borrowed));
        assert!(!borrowed.load(Ordering::Acquire));
    }
}
