//! Every secret this process was given (object-store credentials in `storage` options or AWS_*
//! variables), and `redact`, which takes them out of any text users see: error messages and the error
//! strings in `stats()`.

use std::sync::{LazyLock, Mutex};

use super::lock::lock;

/// Secrets this process was given (storage options, AWS_* variables), scrubbed from every message.
static SECRETS: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Mutex::default);

/// Shorter values are not scrubbed (they would mangle ordinary words); real keys are 16+ characters.
const MIN_SECRET_LEN: usize = 6;

/// Remembers `given` and the credentials in the AWS_* variables, so `redact` removes them.
pub fn remember<'a>(given: impl IntoIterator<Item = &'a str>) {
    let from_env = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"].map(std::env::var);
    let values = given.into_iter().map(str::to_owned).chain(from_env.into_iter().flatten());
    let mut secrets = lock(&SECRETS);
    for value in values {
        if value.len() >= MIN_SECRET_LEN && !secrets.contains(&value) {
            secrets.push(value);
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every secret this process was given replaced by `***`.
pub fn redact(text: &str) -> String {
    let secrets = lock(&SECRETS);
    let mut out = text.to_owned();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}
