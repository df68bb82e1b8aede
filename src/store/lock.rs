//! Short-held std mutexes (no `.await` inside). A panic while one was held leaves plain counters or
//! caches behind, never a broken invariant, so a poisoned mutex is recovered rather than turned
//! into an error that would leave flags such as "an index job is running" stuck on.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering it if a panic poisoned it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
}
