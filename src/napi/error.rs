//! The one place a `StoreError` becomes a JS `Error`: `settle` runs core work on napi's tokio
//! runtime and, back on the JS thread, resolves the Promise or rejects it with `{ code, message }`.
//! `ErrorCode` mirrors the core's `store::ErrorCode` (one exhaustive `From`, and a test that the
//! generated names match), so index.d.ts lists exactly the codes the core can produce.

use std::future::Future;

use napi::bindgen_prelude::{JsObjectValue, Object, PromiseRaw, ToNapiValue, Unknown};
use napi::{Env, JsError, JsValue};
use napi_derive::napi;

use crate::store::{self, StoreError};

/// The stable `code` of every error lancestore rejects with.
#[napi(string_enum = "UPPER_SNAKE")]
#[derive(Debug)]
pub enum ErrorCode {
    /// An argument or option is missing, of the wrong type, or out of range.
    InvalidArgument,
    /// A vector's length differs from the store's dimension (or `dimension` differs from the table's).
    DimensionMismatch,
    /// A vector holds NaN or ±Infinity, or is all zeros under the cosine metric.
    InvalidVector,
    /// An id is repeated in a batch or is already stored.
    DuplicateId,
    /// A filter uses an unknown operator, an undeclared field, or a value of the wrong type.
    InvalidFilter,
    /// Building the vector index failed (LanceDB's reason in the message); searches stay exact meanwhile.
    IndexFailed,
    /// Another writer (usually another process) committed a conflicting change at the same time; nothing was written. Retry the call.
    Conflict,
    /// The store was closed.
    StoreClosed,
    /// The file system refused (path is a file, not writable, …).
    Io,
    /// Anything else LanceDB reported, with its message.
    Internal,
}

impl From<store::ErrorCode> for ErrorCode {
    fn from(code: store::ErrorCode) -> Self {
        match code {
            store::ErrorCode::InvalidArgument => Self::InvalidArgument,
            store::ErrorCode::DimensionMismatch => Self::DimensionMismatch,
            store::ErrorCode::InvalidVector => Self::InvalidVector,
            store::ErrorCode::DuplicateId => Self::DuplicateId,
            store::ErrorCode::InvalidFilter => Self::InvalidFilter,
            store::ErrorCode::IndexFailed => Self::IndexFailed,
            store::ErrorCode::Conflict => Self::Conflict,
            store::ErrorCode::StoreClosed => Self::StoreClosed,
            store::ErrorCode::Io => Self::Io,
            store::ErrorCode::Internal => Self::Internal,
        }
    }
}

struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Runs `work` off the JS thread and returns its Promise: `Ok` goes through `to_js`,
/// `Err` rejects with a JS `Error` whose `code` is `StoreError::code()`.
pub fn settle<'env, T, V>(
    env: &'env Env,
    work: impl Future<Output = store::Result<T>> + Send + 'static,
    to_js: impl FnOnce(T) -> V + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, outcome| {
        outcome.map(to_js).map_err(|err| js_error(env, &err))
    })
}

/// An argument that failed to convert on the JS thread: the error to reject with, and the exception
/// user code threw while the argument was read (a getter, a Proxy trap, `JSON.stringify` on a BigInt),
/// which becomes the rejection's `cause`.
pub struct BadArgument<'env> {
    /// What is wrong, with its code (boxed: a `StoreError` is large, and this travels in every `Result`).
    pub error: Box<StoreError>,
    /// The JS exception behind it, if user code threw one.
    pub cause: Option<Unknown<'env>>,
}

impl From<StoreError> for BadArgument<'_> {
    fn from(error: StoreError) -> Self {
        Self { error: Box::new(error), cause: None }
    }
}

impl<'env> BadArgument<'env> {
    /// An `INVALID_ARGUMENT` about `what` after a failed conversion. A JS exception left pending by
    /// that conversion is cleared here (were it left, N-API would throw it synchronously on return)
    /// and kept as the cause.
    pub fn new(env: &'env Env, what: &str, reason: &str) -> Self {
        let cause = take_pending_exception(env);
        let reason = match cause.as_ref().and_then(|c| describe(env, c)) {
            Some(thrown) => format!("reading it threw {thrown}"),
            None => reason.to_owned(),
        };
        Self { error: Box::new(StoreError::invalid(what, reason)), cause }
    }
}

/// Clears and returns the pending JS exception, if any.
fn take_pending_exception(env: &Env) -> Option<Unknown<'_>> {
    let mut pending = false;
    // SAFETY: `env` is the live env of the current call, on the JS thread.
    let checked = unsafe { napi::sys::napi_is_exception_pending(env.raw(), &mut pending) };
    if checked != napi::sys::Status::napi_ok || !pending {
        return None;
    }
    let mut exception = std::ptr::null_mut();
    // SAFETY: as above; an exception is pending, so N-API hands it over and clears it.
    let taken = unsafe { napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut exception) };
    // SAFETY: N-API just returned this value for this env.
    (taken == napi::sys::Status::napi_ok).then(|| unsafe { Unknown::from_raw_unchecked(env.raw(), exception) })
}

/// `String(exception)`, e.g. `Error: boom`; `None` when even that throws (it is then cleared too).
fn describe(env: &Env, exception: &Unknown<'_>) -> Option<String> {
    let text = exception.coerce_to_string().and_then(|s| s.into_utf8()).and_then(|s| s.as_str().map(str::to_owned));
    if text.is_err() {
        take_pending_exception(env);
    }
    text.ok()
}

/// `settle` for a method whose arguments were converted on the JS thread: `Ok` runs `work` on them,
/// a conversion error rejects the Promise at once (never a synchronous throw).
pub fn settle_args<'env, A, T, V, F>(
    env: &'env Env,
    args: Result<A, BadArgument<'env>>,
    work: impl FnOnce(A) -> F,
    to_js: impl FnOnce(T) -> V + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
    F: Future<Output = store::Result<T>> + Send + 'static,
    T: Send + 'static,
    V: ToNapiValue + Send + 'static,
{
    match args {
        Ok(args) => settle(env, work(args), to_js),
        Err(bad) => reject_now(env, bad),
    }
}

/// A Promise already rejected with `bad.error` (its `code` and message) and `bad.cause`.
fn reject_now<'env, V: ToNapiValue>(env: &'env Env, bad: BadArgument<'env>) -> napi::Result<PromiseRaw<'env, V>> {
    let error = JsError::from(napi::Error::new(Code(bad.error.code()), bad.error.message()));
    // SAFETY: on the JS thread that owns `env`, which `into_value` creates the Error object in.
    let raw = unsafe { error.into_value(env.raw()) };
    let mut object = Object::from_raw(env.raw(), raw);
    if let Some(cause) = bad.cause {
        object.set_named_property("cause", cause)?;
    }
    PromiseRaw::reject(env, object)
}

fn js_error(env: &Env, err: &StoreError) -> napi::Error {
    let error = JsError::from(napi::Error::new(Code(err.code()), err.message()));
    // SAFETY: called from settle's callback, on the JS thread that owns `env`; the value was just created there.
    let value = unsafe { Unknown::from_raw_unchecked(env.raw(), error.into_value(env.raw())) };
    napi::Error::from(value) // keeps this JS object: the promise rejects with it, `code` intact
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Io` → `IO`, `InvalidArgument` → `INVALID_ARGUMENT`: what `string_enum = "UPPER_SNAKE"` generates.
    fn upper_snake(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn every_core_code_has_a_js_code_of_the_same_name() {
        for code in store::ErrorCode::ALL {
            let js = ErrorCode::from(code);
            assert_eq!(upper_snake(&format!("{js:?}")), code.as_str(), "{code:?}");
        }
    }
}
