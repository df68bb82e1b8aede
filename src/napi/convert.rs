//! Reading JS arguments on the JS thread: options objects (plain objects only, unknown keys refused),
//! items, query vectors and id lists. Every failure becomes a `BadArgument` (`INVALID_ARGUMENT`, with
//! the exception user code threw as its cause), never a pending exception that N-API would throw
//! synchronously.

use napi::bindgen_prelude::{FromNapiValue, Function, JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, ValueType};

use super::error::BadArgument;
use super::options::{self, EmbeddingItem};
use crate::store::{self, StoreError};

/// What a conversion yields: the value, or why the call rejects.
pub type Args<'env, T> = Result<T, BadArgument<'env>>;

/// Converts a JS argument; napi's conversion error becomes `INVALID_ARGUMENT` about `what`.
pub fn from_js<'env, T: FromNapiValue>(env: &'env Env, value: &Unknown<'env>, what: &str) -> Args<'env, T> {
    // SAFETY: every type converted here checks the JS type itself through N-API calls, which report
    // a mismatch (or a throwing getter) as a status, turned into an error, never as undefined behaviour.
    unsafe { value.cast::<T>() }.map_err(|e| BadArgument::new(env, what, &e.reason))
}

/// An optional options object: `undefined` and `null` mean "not given"; anything but a plain object
/// is refused (napi would read a string's or a number's missing properties as unset), and so is a
/// key not in `keys` (a typo such as `cachesize` would otherwise silently do nothing).
pub fn optional_from_js<'env, T: FromNapiValue>(
    env: &'env Env,
    value: Option<Unknown<'env>>,
    what: &str,
    keys: &[&str],
) -> Args<'env, Option<T>> {
    match value {
        Some(value) if given(env, &value, what)? => {
            check_keys(env, &value, what, keys)?;
            from_js::<T>(env, &value, what).map(Some)
        }
        _ => Ok(None),
    }
}

/// Whether an optional object is given: `false` for `undefined` / `null`, `true` for a plain object,
/// `INVALID_ARGUMENT` for anything else.
fn given<'env>(env: &'env Env, value: &Unknown<'env>, what: &str) -> Args<'env, bool> {
    let kind = value.get_type().map_err(|e| BadArgument::new(env, what, &e.reason))?;
    match kind {
        ValueType::Undefined | ValueType::Null => Ok(false),
        ValueType::Object if is_array(env, value).map_err(|e| BadArgument::new(env, what, &e.reason))? => {
            Err(StoreError::invalid(what, "expected an options object, got an array").into())
        }
        ValueType::Object => Ok(true),
        other => {
            let got = other.to_string().to_lowercase();
            Err(StoreError::invalid(what, format!("expected an options object, got a {got}")).into())
        }
    }
}

/// JS `Array.isArray(value)`: true for a Proxy of an array too (N-API's `napi_is_array` is not, and
/// napi would then read the Proxy's missing properties as unset options).
fn is_array<'env>(env: &'env Env, value: &Unknown<'env>) -> napi::Result<bool> {
    // `Array` is a function: read it unchecked as an object (napi's checked read wants typeof 'object').
    let array: Object<'env> = env.get_global()?.get_named_property_unchecked("Array")?;
    let is_array: Function<'env, Unknown<'env>, bool> = array.get_named_property("isArray")?;
    is_array.call(*value)
}

/// Refuses the enumerable keys of `value` (an object) that are not in `keys`.
pub fn check_keys<'env>(env: &'env Env, value: &Unknown<'env>, what: &str, keys: &[&str]) -> Args<'env, ()> {
    let object: Object<'env> = from_js(env, value, what)?;
    let names = object.get_property_names().map_err(|e| BadArgument::new(env, what, &e.reason))?;
    let names: Vec<String> = from_js(env, &names.to_unknown(), what)?;
    match names.iter().find(|name| !keys.contains(&name.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(StoreError::invalid(
            format!("{what}.{unknown}"),
            format!("unknown option; the options are {}", keys.join(", ")),
        )
        .into()),
    }
}

/// Open options: the top level and the nested `performance` and `storage` objects are checked for unknown keys.
pub fn open_options<'env>(env: &'env Env, value: Option<Unknown<'env>>) -> Args<'env, options::OpenOptions> {
    let Some(value) = value else {
        return Ok(options::OpenOptions::default());
    };
    if !given(env, &value, "options")? {
        return Ok(options::OpenOptions::default());
    }
    check_keys(env, &value, "options", options::OpenOptions::KEYS)?;
    let object: Object<'env> = from_js(env, &value, "options")?;
    let performance: Unknown<'env> = object
        .get_named_property("performance")
        .map_err(|e| BadArgument::new(env, "options.performance", &e.reason))?;
    if given(env, &performance, "options.performance")? {
        check_keys(env, &performance, "options.performance", options::PerformanceConfig::KEYS)?;
    }
    let storage: Unknown<'env> =
        object.get_named_property("storage").map_err(|e| BadArgument::new(env, "options.storage", &e.reason))?;
    if given(env, &storage, "options.storage")? {
        check_keys(env, &storage, "options.storage", options::StorageOptions::KEYS)?;
    }
    from_js(env, &value, "options")
}

/// The filter of a `{ filter? }` options object (`count`, `exportParquet`), parsed strictly (`FilterInput`).
pub fn filter_option<'env>(env: &'env Env, value: Option<Unknown<'env>>) -> Args<'env, Option<serde_json::Value>> {
    let options = optional_from_js::<options::CountOptions>(env, value, "options", &["filter"])?;
    Ok(options.and_then(|o| o.filter).map(|f| f.parse("options.filter")).transpose()?)
}

/// The storage settings of `tables` / `dropTable` options (`{ storage? }`), unknown keys refused at both levels.
pub fn tables_storage<'env>(env: &'env Env, value: Option<Unknown<'env>>) -> Args<'env, Option<store::StorageOptions>> {
    let Some(value) = value else { return Ok(None) };
    if !given(env, &value, "options")? {
        return Ok(None);
    }
    check_keys(env, &value, "options", options::TablesOptions::KEYS)?;
    let object: Object<'env> = from_js(env, &value, "options")?;
    let storage: Unknown<'env> =
        object.get_named_property("storage").map_err(|e| BadArgument::new(env, "options.storage", &e.reason))?;
    if given(env, &storage, "options.storage")? {
        check_keys(env, &storage, "options.storage", options::StorageOptions::KEYS)?;
    }
    let options: options::TablesOptions = from_js(env, &value, "options")?;
    Ok(options.storage.map(store::StorageOptions::from))
}

/// `addEmbeddings` / `upsertEmbeddings` items: an array of `{ id, vector, metadata? }` objects.
pub fn items_from_js<'env>(env: &'env Env, items: &Unknown<'env>) -> Args<'env, Vec<store::Item>> {
    let values: Vec<Unknown<'env>> = from_js(env, items, "items")?;
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let what = format!("items[{i}]");
            // Reading properties of a non-object would leave a pending JS exception: check first.
            if value.get_type().map_err(|e| BadArgument::new(env, &what, &e.reason))? != ValueType::Object {
                return Err(StoreError::invalid(&what, "each item must be an object { id, vector, metadata? }").into());
            }
            let item: EmbeddingItem = from_js(env, value, &what)?;
            Ok(item.into_item(&what)?)
        })
        .collect()
}

/// A query vector: a `Float32Array` or an array of numbers.
pub fn query_from_js<'env>(env: &'env Env, query: &Unknown<'env>) -> Args<'env, Vec<f32>> {
    from_js(env, query, "query").map(options::vector_from_js)
}
