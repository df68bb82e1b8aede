//! Where a store lives: a local directory, an `s3://bucket/prefix` URL on S3 or an S3-compatible
//! server, or `memory://name` (this process's memory only). Owns parsing and checking the path, turning the user's `storage` settings into LanceDB's
//! storage options (with bounded timeouts) and the read-consistency default each kind of location gets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cache_dir::{self, CacheEntry};
use super::config::{StorageOptions, integer_in};
use super::error::{Result, StoreError};
use super::secrets;

/// How far reads may lag other processes' commits on object storage, by default. A version check there
/// is a request to the server (a LIST of the table's versions): checking before every call would add a
/// round trip to each search, so a store looks at most once a second. Local directories check every call
/// (~10 µs). Writes always look first, so this never makes a write lose another process's commit.
pub const OBJECT_STORE_READ_CONSISTENCY: Duration = Duration::from_millis(1_000);
/// Longest wait for a TCP connection to the object store, by default.
const DEFAULT_CONNECT_TIMEOUT_MS: f64 = 5_000.0;
/// Longest a single object-store request may take, by default.
const DEFAULT_REQUEST_TIMEOUT_MS: f64 = 30_000.0;
/// Retries of a failed request (network error, 5xx, throttling), by default.
const DEFAULT_MAX_RETRIES: f64 = 3.0;
/// Longest a request and its retries may take together, by default (LanceDB's own default is 3 minutes).
const DEFAULT_RETRY_TIMEOUT_MS: f64 = 30_000.0;

/// A store's location.
#[derive(Clone)]
pub enum Location {
    /// A local directory (canonicalised once it exists).
    Local(PathBuf),
    /// A prefix on an S3 bucket, with the storage options LanceDB gets for it.
    ObjectStore {
        /// `s3://bucket/prefix`, as given (without a trailing `/`).
        uri: String,
        /// LanceDB storage options (`aws_endpoint`, `timeout`, …), defaults filled in.
        options: HashMap<String, String>,
        /// Where this host keeps the store's graph and vector files (`cache_dir.rs`); `None`: nowhere.
        cache: Option<CacheEntry>,
        /// Its credentials and secret options, masked in every message while the store lives.
        #[allow(dead_code, reason = "held, never read: holding it keeps these secrets masked")]
        secrets: secrets::Held,
    },
    /// `memory://name`: LanceDB's in-memory object store, held by this process's one connection to the
    /// name (`registry::connect`), so stores on one name share it and it is freed with the last of them.
    Memory(String),
}

impl Location {
    /// Parses `path` (a directory or an `s3://` URL) with its `storage` settings. Nothing is touched yet.
    pub fn parse(path: &str, storage: Option<&StorageOptions>) -> Result<Self> {
        if path.is_empty() {
            return Err(StoreError::invalid("path", "expected a directory path or an s3:// URL, got an empty string"));
        }
        if let Some(c) = path.chars().find(|c| c.is_control()) {
            return Err(StoreError::invalid(
                "path",
                format!("the path holds the control character {c:?}; use a plain directory path or an s3:// URL"),
            ));
        }
        let Some(scheme) = url_scheme(path) else {
            if storage.is_some() {
                return Err(StoreError::invalid(
                    "storage",
                    "storage options apply to s3:// stores; this path is a local directory",
                ));
            }
            return Ok(Self::Local(PathBuf::from(path)));
        };
        if scheme.eq_ignore_ascii_case("memory") {
            if storage.is_some() {
                return Err(StoreError::invalid("storage", "storage options apply to s3:// stores, not memory://"));
            }
            return Ok(Self::Memory(check_memory_name(path)?));
        }
        if !scheme.eq_ignore_ascii_case("s3") {
            return Err(StoreError::invalid(
                "path",
                format!(
                    "{path:?}: the {scheme}:// scheme is not supported; give a local directory, an s3://bucket/prefix URL \
                     (S3 and S3-compatible servers) or memory://name"
                ),
            ));
        }
        let uri = check_s3_url(path)?;
        let storage = storage.cloned().unwrap_or_default();
        let options = lance_options(&storage)?;
        let credentials = [&storage.secret_access_key, &storage.session_token, &storage.access_key_id];
        let secret_options = storage.extra.iter().filter(|(key, _)| secrets::is_secret_option(key)).map(|(_, v)| v);
        let secrets = secrets::remember(credentials.into_iter().flatten().chain(secret_options).map(String::as_str));
        if matches!(&storage.cache_dir, cache_dir::CacheDir::At(dir) if dir.is_empty()) {
            return Err(StoreError::invalid(
                "storage.cacheDir",
                "expected a directory path or false, got an empty string",
            ));
        }
        // The server the store is on, as the object store will resolve it (the option, else the environment).
        let endpoint = options.get("aws_endpoint").cloned().or_else(|| {
            ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT", "AWS_ENDPOINT_URL"]
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        });
        let cache = cache_dir::entry(&storage.cache_dir, endpoint.as_deref(), &uri);
        Ok(Self::ObjectStore { uri, options, cache, secrets })
    }

    /// Whether the store is on object storage.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::ObjectStore { .. })
    }

    /// The path users see: the canonical directory, the `s3://` URL or `memory://name`.
    pub fn display(&self) -> String {
        match self {
            Self::Local(dir) => dir.to_string_lossy().into_owned(),
            Self::ObjectStore { uri, .. } => uri.clone(),
            Self::Memory(name) => format!("memory://{name}"),
        }
    }

    /// The default of `readConsistencyIntervalMs` here (see `OBJECT_STORE_READ_CONSISTENCY`).
    pub fn default_read_consistency(&self) -> Duration {
        if self.is_remote() { OBJECT_STORE_READ_CONSISTENCY } else { Duration::ZERO }
    }

    /// The directory lancestore keeps a table's graph and vector files in: the store directory itself, the
    /// host's cache directory for an `s3://` store (`None` when turned off or unusable), none for `memory://`.
    pub fn files_dir(&self) -> Option<&Path> {
        match self {
            Self::Local(dir) => Some(dir),
            Self::ObjectStore { cache, .. } => cache.as_ref().map(|entry| entry.dir.as_path()),
            Self::Memory(_) => None,
        }
    }

    /// Creates the cache directory of an `s3://` store; a default one that cannot be created is dropped
    /// (the store then keeps no files), one the user named is an `IO` error.
    pub fn prepare_cache(self) -> Result<Self> {
        match self {
            Self::ObjectStore { uri, options, cache: Some(entry), secrets } => {
                let shown = entry.dir.clone();
                let cache = cache_dir::prepare(entry)
                    .map_err(|e| StoreError::io(format!("creating the cache directory {shown:?}"), &e))?;
                Ok(Self::ObjectStore { uri, options, cache, secrets })
            }
            other => Ok(other),
        }
    }

    /// Whether the store lives in this process's memory (`memory://name`).
    pub fn is_memory(&self) -> bool {
        matches!(self, Self::Memory(_))
    }
}

/// The scheme of a URL-like path (`s3` in `s3://b/p`), if it is one.
fn url_scheme(path: &str) -> Option<&str> {
    let (scheme, _) = path.split_once("://")?;
    let url_like = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic());
    url_like.then_some(scheme)
}

/// The name of `memory://name`: 1–128 characters from A–Z, a–z, 0–9, '_', '-', '.'.
fn check_memory_name(path: &str) -> Result<String> {
    let name = path.split_once("://").map_or("", |(_, name)| name);
    let ok = (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(StoreError::invalid(
            "path",
            format!("{path:?}: expected memory://name, the name 1–128 characters from A–Z, a–z, 0–9, '_', '-', '.'"),
        ));
    }
    Ok(name.to_owned())
}

/// Checks `s3://bucket[/prefix]`: a valid bucket name, no credentials, query or fragment in the URL.
fn check_s3_url(path: &str) -> Result<String> {
    let rest = path.get("s3://".len()..).unwrap_or_default();
    let bad = |why: &str| StoreError::invalid("path", format!("{why}; expected s3://bucket/prefix"));
    if rest.contains(['?', '#']) {
        return Err(bad("the URL has a query or fragment"));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') {
        return Err(bad(
            "the URL holds credentials (user@…); pass them in `storage` or the AWS_* environment variables",
        ));
    }
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(bad(&format!("{bucket:?} is not a valid bucket name (3–63 of a–z, 0–9, '-', '.')")));
    }
    if prefix.split('/').any(|part| part == "." || part == "..") {
        return Err(bad("the prefix holds '.' or '..'"));
    }
    let prefix = prefix.trim_end_matches('/');
    Ok(if prefix.is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") })
}

/// The storage options LanceDB gets: the user's settings under LanceDB's names, bounded timeouts by default.
fn lance_options(storage: &StorageOptions) -> Result<HashMap<String, String>> {
    let mut options: HashMap<String, String> = storage.extra.clone().into_iter().collect();
    let mut set = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            options.insert(key.to_owned(), value);
        }
    };
    let text = |value: &Option<String>, option: &str| -> Result<Option<String>> {
        match value {
            Some(v) if v.is_empty() => {
                Err(StoreError::invalid(format!("storage.{option}"), "expected a non-empty string"))
            }
            other => Ok(other.clone()),
        }
    };
    set("aws_endpoint", text(&storage.endpoint, "endpoint")?);
    set("aws_region", text(&storage.region, "region")?);
    set("aws_access_key_id", text(&storage.access_key_id, "accessKeyId")?);
    set("aws_secret_access_key", text(&storage.secret_access_key, "secretAccessKey")?);
    set("aws_session_token", text(&storage.session_token, "sessionToken")?);
    set("allow_http", storage.allow_http.map(|on| on.to_string()));
    set("aws_virtual_hosted_style_request", storage.virtual_hosted_style.map(|on| on.to_string()));
    let ms = |value: Option<f64>, default: f64, option: &str| -> Result<usize> {
        integer_in(&format!("storage.{option}"), value.unwrap_or(default), 1, 3_600_000)
    };
    let connect = ms(storage.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS, "connectTimeoutMs")?;
    let request = ms(storage.timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS, "timeoutMs")?;
    let retry = ms(storage.retry_timeout_ms, DEFAULT_RETRY_TIMEOUT_MS, "retryTimeoutMs")?;
    let retries = integer_in("storage.maxRetries", storage.max_retries.unwrap_or(DEFAULT_MAX_RETRIES), 0, 100)?;
    set("connect_timeout", Some(format!("{connect}ms")));
    set("timeout", Some(format!("{request}ms")));
    // LanceDB reads the retry budget in whole seconds.
    set("client_retry_timeout", Some(retry.div_ceil(1_000).to_string()));
    set("client_max_retries", Some(retries.to_string()));
    Ok(options)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn local_paths_and_s3_urls_are_told_apart() {
        for local in ["./data", "/tmp/a b/ü", "C:\\data", "relative/dir:with-colon", "1x://not-a-scheme"] {
            assert!(!Location::parse(local, None).unwrap().is_remote(), "{local}");
        }
        let s3 = Location::parse("s3://my-bucket/some/prefix/", None).unwrap();
        assert!(s3.is_remote());
        assert_eq!(s3.display(), "s3://my-bucket/some/prefix");
        assert_eq!(s3.default_read_consistency(), OBJECT_STORE_READ_CONSISTENCY);
        assert_eq!(Location::parse("s3://bkt", None).unwrap().display(), "s3://bkt");
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        for (bad, says) in [
            ("", "empty"),
            ("a\nb", "control character"),
            ("gs://b/p", "not supported"),
            ("memory://", "expected memory://name"),
            ("memory://a/b", "expected memory://name"),
            ("file:///tmp/x", "not supported"),
            ("s3://", "bucket name"),
            ("s3://Upper/p", "bucket name"),
            ("s3://key:secret@bucket/p", "credentials"),
            ("s3://bucket/p?x=1", "query"),
            ("s3://bucket/../p", "'..'"),
        ] {
            let err = Location::parse(bad, None).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(err.code(), "INVALID_ARGUMENT");
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
        }
        let storage = StorageOptions::default();
        let err = Location::parse("./dir", Some(&storage)).err().unwrap();
        assert!(err.to_string().contains("storage options apply to s3://"), "{err}");
        let err = Location::parse("memory://x", Some(&storage)).err().unwrap();
        assert!(err.to_string().contains("not memory://"), "{err}");
        assert_eq!(Location::parse("memory://tests.v1", None).unwrap().display(), "memory://tests.v1");
    }

    #[test]
    fn settings_become_lance_options_with_bounded_timeouts() {
        let storage = StorageOptions {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("eu-west-1".into()),
            allow_http: Some(true),
            timeout_ms: Some(2_500.0),
            extra: BTreeMap::from([("aws_s3_express".to_owned(), "false".to_owned())]),
            ..Default::default()
        };
        let Location::ObjectStore { options, .. } = Location::parse("s3://b12/p", Some(&storage)).unwrap() else {
            panic!("not remote");
        };
        assert_eq!(options["aws_endpoint"], "http://127.0.0.1:9000");
        assert_eq!(options["aws_region"], "eu-west-1");
        assert_eq!(options["allow_http"], "true");
        assert_eq!(options["timeout"], "2500ms");
        assert_eq!(options["connect_timeout"], "5000ms");
        assert_eq!(options["client_retry_timeout"], "30");
        assert_eq!(options["client_max_retries"], "3");
        assert_eq!(options["aws_s3_express"], "false");
        let bad = StorageOptions { timeout_ms: Some(0.0), ..Default::default() };
        assert!(Location::parse("s3://b12/p", Some(&bad)).err().unwrap().to_string().contains("storage.timeoutMs"));
        let empty = StorageOptions { region: Some(String::new()), ..Default::default() };
        assert!(Location::parse("s3://b12/p", Some(&empty)).err().unwrap().to_string().contains("storage.region"));
    }

    #[test]
    fn secrets_never_appear_in_redacted_text_or_debug_output() {
        let storage = StorageOptions {
            access_key_id: Some("AKIAEXAMPLEKEY123".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            ..Default::default()
        };
        let _location = Location::parse("s3://bucket-x/p", Some(&storage)).unwrap();
        let message = "request failed: key AKIAEXAMPLEKEY123 secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let clean = secrets::redact(message);
        assert!(!clean.contains("AKIAEXAMPLEKEY123") && !clean.contains("wJalrXUtnFEMI"), "{clean}");
        assert_eq!(clean, "request failed: key *** secret ***");
        let debug = format!("{storage:?}");
        assert!(!debug.contains("AKIA") && !debug.contains("wJalr"), "{debug}");
    }

    #[test]
    fn storage_options_are_masked_only_when_their_key_names_a_secret() {
        let storage = StorageOptions {
            extra: BTreeMap::from([
                ("aws_server_side_encryption".to_owned(), "aws:kms-mode".to_owned()),
                ("aws_sse_customer_key_base64".to_owned(), "c2VjcmV0LWN1c3RvbWVyLWtleQ==".to_owned()),
            ]),
            ..Default::default()
        };
        let _location = Location::parse("s3://bucket-y/p", Some(&storage)).unwrap();
        let clean = secrets::redact("mode aws:kms-mode key c2VjcmV0LWN1c3RvbWVyLWtleQ==");
        assert_eq!(clean, "mode aws:kms-mode key ***");
    }
}
