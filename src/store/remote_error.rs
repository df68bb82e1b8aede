//! Object-store failures as users should read them. LanceDB reports some (those met while connecting)
//! only as the text of a nested debug dump; this recognises an object-store failure in that text and
//! turns it into an `Io` error with a short reason — the server's error code and message, or what kept
//! the connection from being made — and the matching `ErrorKind`.

use std::io::ErrorKind;

use super::error::StoreError;

/// `err` as an `Io` error when it is an object-store failure; otherwise LanceDB's error as usual.
pub fn classify(action: &'static str) -> impl FnOnce(lancedb::Error) -> StoreError {
    move |err| {
        let text = err.to_string();
        match describe(&text) {
            Some((kind, reason)) => StoreError::Io { action: action.to_owned(), kind, reason },
            None => StoreError::lance(action)(err),
        }
    }
}

/// The kind and a readable reason of an object-store failure described in `text`, if it is one.
fn describe(text: &str) -> Option<(ErrorKind, String)> {
    let from_store =
        ["store: \"S3\"", "Generic { store:", "ObjectStore", "object_store"].iter().any(|m| text.contains(m));
    if !from_store {
        return None;
    }
    if let Some(code) = between(text, "<Code>", "</Code>") {
        let message = between(text, "<Message>", "</Message>").unwrap_or_default();
        let status = between(text, "status: ", ",").unwrap_or_default();
        let kind = match code {
            "NoSuchBucket" | "NoSuchKey" => ErrorKind::NotFound,
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken" => {
                ErrorKind::PermissionDenied
            }
            _ => ErrorKind::Other,
        };
        return Some((kind, format!("the object store answered {status} {code}: {message}").replace("  ", " ")));
    }
    let (kind, what) = if text.contains("Connection refused") || text.contains("ConnectionRefused") {
        (ErrorKind::ConnectionRefused, "could not connect to the object store (connection refused)")
    } else if text.contains("dns error") || text.contains("failed to lookup address") {
        (ErrorKind::NotFound, "could not resolve the object store's host name")
    } else if text.contains("timed out") || text.contains("TimedOut") || text.contains("Timeout") {
        (ErrorKind::TimedOut, "the object store did not answer in time (see storage.timeoutMs / connectTimeoutMs)")
    } else if text.contains("ConnectError") || text.contains("tcp connect error") || text.contains("kind: Connect") {
        (ErrorKind::ConnectionAborted, "could not connect to the object store")
    } else if text.contains("status: 403") || text.contains("Forbidden") {
        (ErrorKind::PermissionDenied, "the object store refused the request (403 Forbidden)")
    } else if text.contains("credential") || text.contains("Credential") {
        (ErrorKind::PermissionDenied, "no usable credentials for the object store")
    } else {
        return Some((ErrorKind::Other, format!("the object store failed: {}", shorten(text))));
    };
    let endpoint = between(text, "uri: Some(", ")").and_then(|uri| uri.split('?').next()).map(str::to_owned);
    Some((
        kind,
        match endpoint {
            Some(uri) => format!("{what}; request: {uri}"),
            None => what.to_owned(),
        },
    ))
}

/// The text between the first `start` and the `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = text.get(from..)?;
    rest.find(end).and_then(|to| rest.get(..to))
}

/// At most 400 characters of `text`, cut at a character boundary.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_the_code_and_message() {
        let text = r#"Invalid input, Failed to connect to namespace: IO { source: Generic { store: "S3", source: ListRequest { source: RetryError(RetryErrorImpl { method: GET, uri: Some(http://127.0.0.1:43937/no-such-bucket?list-type=2), retries: 0, inner: Status { status: 404, body: Some("<?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>") } }) } } }"#;
        let (kind, reason) = describe(text).unwrap();
        assert_eq!(kind, ErrorKind::NotFound);
        assert_eq!(reason, "the object store answered 404 NoSuchBucket: The specified bucket does not exist");
    }

    #[test]
    fn connection_failures_say_what_failed_and_where() {
        let text = r#"IO { source: Generic { store: "S3", source: ListRequest { source: RetryError(RetryErrorImpl { method: GET, uri: Some(http://127.0.0.1:1/b?list-type=2&prefix=x), inner: Http(HttpError { kind: Connect, source: reqwest::Error { kind: Request, source: hyper_util::client::legacy::Error(Connect, ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })) } }) }) } }"#;
        let (kind, reason) = describe(text).unwrap();
        assert_eq!(kind, ErrorKind::ConnectionRefused);
        assert_eq!(reason, "could not connect to the object store (connection refused); request: http://127.0.0.1:1/b");
    }

    #[test]
    fn other_errors_are_left_alone() {
        assert!(describe("Table 'x' was not found").is_none());
    }
}
