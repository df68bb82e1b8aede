//! The one place a `StoreError` becomes a JS `Error`: `settle` runs core work on napi's tokio
//! runtime and, back on the JS thread, resolves the Promise or rejects it with `{ code, message }`.
//! `ErrorCode` mirrors the core's `store::ErrorCode` (one exhaustive `From`, and a test that the
//! generated names match), so index.d.ts lists exactly the codes the core can produce.

use std::future::Future;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue, Unknown};
use napi::{Env, JsError};
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

/// `settle` for a method whose arguments were converted on the JS thread: `Ok` runs `work` on them,
/// a conversion error rejects the Promise with `INVALID_ARGUMENT` (never a synchronous throw).
pub fn settle_args<'env, A, T, V, F>(
    env: &'env Env,
    args: Result<A, StoreError>,
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
        Err(err) => reject(env, err),
    }
}

/// A Promise that rejects with `err` (for arguments that fail to convert on the JS thread).
pub fn reject<'env, V: ToNapiValue + Send + 'static>(
    env: &'env Env,
    err: StoreError,
) -> napi::Result<PromiseRaw<'env, V>> {
    settle(env, async move { Err::<V, _>(err) }, |never| never)
}

fn js_error(env: &Env, err: &StoreError) -> napi::Error {
    let error = JsError::from(napi::Error::new(Code(err.code()), err.to_string()));
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
