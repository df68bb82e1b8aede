//! The secrets this process was given (object-store credentials in `storage` options, AWS_* variables)
//! and `redact`, which takes them out of any text users see: error messages and the error strings in
//! `stats()`. Bounded: a secret is kept while a store opened with it lives (`Held`), then among the
//! `RECENTLY_RELEASED` last released ones (an error can be read after its store is gone), then forgotten,
//! so rotating credentials do not pile up. Only values that are secret are kept: credentials, and
//! `storage.options` entries whose key names a secret (a region or an encryption mode is not masked).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use super::lock::lock;

/// Shorter values are not scrubbed (they would mangle ordinary words); real keys are 16+ characters.
const MIN_SECRET_LEN: usize = 6;
/// Released secrets still scrubbed, newest last.
const RECENTLY_RELEASED: usize = 64;
/// The AWS_* variables holding credentials; read at each `redact`, so they are never stored here.
const FROM_ENV: [&str; 3] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"];
/// Words in an option key that mark its value as a secret (`aws_sse_customer_key_base64`, `…_token`).
const SECRET_KEY_WORDS: [&str; 6] = ["secret", "token", "password", "credential", "key", "signature"];

#[derive(Default)]
struct Registry {
    /// Secrets held by live stores, with how many `Held`s hold each.
    live: HashMap<String, usize>,
    /// Secrets no store holds any more, newest last, at most `RECENTLY_RELEASED`.
    released: VecDeque<String>,
}

static SECRETS: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

/// Whether a storage option named `key` holds a secret.
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_WORDS.iter().any(|word| key.contains(word))
}

/// Secrets kept for `redact` while this (or a clone of it) lives.
#[derive(Clone, Default)]
pub struct Held(
    #[expect(dead_code, reason = "held, never read: dropping the last clone releases them")] Arc<HeldValues>,
);

#[derive(Default)]
struct HeldValues(Vec<String>);

impl Drop for HeldValues {
    fn drop(&mut self) {
        lock(&SECRETS).release(std::mem::take(&mut self.0));
    }
}

impl Registry {
    fn hold(&mut self, values: &[String]) {
        for value in values {
            self.released.retain(|v| v != value);
            *self.live.entry(value.clone()).or_default() += 1;
        }
    }

    fn release(&mut self, values: Vec<String>) {
        for value in values {
            match self.live.get_mut(&value) {
                Some(count) if *count > 1 => *count -= 1,
                _ => {
                    self.live.remove(&value);
                    self.released.retain(|v| *v != value);
                    self.released.push_back(value);
                    if self.released.len() > RECENTLY_RELEASED {
                        self.released.pop_front();
                    }
                }
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.live.keys().chain(self.released.iter())
    }
}

/// Keeps `given` (credentials) for `redact` until the returned `Held` and its clones are dropped.
pub fn remember<'a>(given: impl IntoIterator<Item = &'a str>) -> Held {
    let mut values: Vec<String> = given.into_iter().filter(|v| v.len() >= MIN_SECRET_LEN).map(str::to_owned).collect();
    values.sort();
    values.dedup();
    lock(&SECRETS).hold(&values);
    Held(Arc::new(HeldValues(values)))
}

/// `text` with every secret this process holds, recently held, or finds in AWS_* variables replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut secrets: Vec<String> = lock(&SECRETS).all().cloned().collect();
    secrets.extend(FROM_ENV.iter().filter_map(|name| std::env::var(name).ok()).filter(|v| v.len() >= MIN_SECRET_LEN));
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in &secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_masked_while_held_and_for_a_while_after() {
        let held = remember(["held-secret-value-1"]);
        let clone = held.clone();
        assert_eq!(redact("key held-secret-value-1 here"), "key *** here");
        drop(held);
        assert_eq!(redact("key held-secret-value-1 here"), "key *** here");
        drop(clone);
        // Released, but an error made just before may still be read: still masked.
        let registry = lock(&SECRETS);
        assert!(registry.all().any(|v| v == "held-secret-value-1"));
    }

    #[test]
    fn rotating_credentials_do_not_pile_up() {
        let mut registry = Registry::default();
        let shared = vec!["a-long-lived-key".to_owned()];
        registry.hold(&shared);
        for i in 0..10 * RECENTLY_RELEASED {
            let token = vec![format!("rotating-session-token-{i:05}")];
            registry.hold(&token);
            registry.release(token);
        }
        assert_eq!(registry.live.len(), 1, "only the key still held is live");
        assert_eq!(registry.released.len(), RECENTLY_RELEASED);
        let kept: Vec<&String> = registry.all().collect();
        assert!(kept.iter().any(|v| *v == "a-long-lived-key"));
        assert!(!kept.iter().any(|v| *v == "rotating-session-token-00000"), "the oldest is forgotten");
        let newest = format!("rotating-session-token-{:05}", 10 * RECENTLY_RELEASED - 1);
        assert!(kept.iter().any(|v| **v == newest), "the newest is still masked");
        // Held twice, released once: still live.
        registry.hold(&shared);
        registry.release(shared.clone());
        assert!(registry.live.contains_key("a-long-lived-key"));
    }

    #[test]
    fn only_options_that_name_a_secret_are_secret() {
        for key in ["aws_secret_access_key", "aws_session_token", "aws_sse_customer_key_base64", "AWS_PASSWORD"] {
            assert!(is_secret_option(key), "{key}");
        }
        for key in ["aws_region", "aws_server_side_encryption", "aws_endpoint", "allow_http", "aws_s3_express"] {
            assert!(!is_secret_option(key), "{key}");
        }
    }
}
