//! Bounded retries of a step that another writer's commit conflicted with (`StoreError::Conflict`):
//! used for appends, whose failed attempt wrote nothing visible, and for maintenance steps, so a
//! conflict is retried there rather than surfacing on a user's write.

use std::future::Future;
use std::time::Duration;

use super::error::Result;

/// Attempts of one step in all.
pub const ATTEMPTS: u32 = 4;

/// Runs `step`, again after 20, 40, 80 ms while it fails with a conflict, at most `ATTEMPTS` times.
pub async fn on_conflict<T, F: Future<Output = Result<T>>>(mut step: impl FnMut() -> F) -> Result<T> {
    let mut attempt = 1;
    loop {
        match step().await {
            Err(err) if err.is_conflict() && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
