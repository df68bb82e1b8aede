//! Metadata and filters cross the boundary as JSON text, through V8's own `JSON` object.
//! A filter is read strictly (`FilterInput`): a value JSON would drop is reported, never dropped.
//! Out: `JsonText` becomes a JS value by `JSON.parse`: numbers round-trip bit-exactly (serde_json's
//! fast float parser can be 1 ULP off), and one parse call is cheaper than building the object
//! property by property through N-API. In: `JsonInput` is read by `JSON.stringify`, which walks the
//! value without native recursion (a deeply nested object throws a `RangeError` instead of
//! overflowing the stack), runs getters and Proxy traps once, and throws on BigInt and cycles (a
//! replacer also throws on NaN and ±Infinity, which JSON would turn into `null`); the text is then
//! parsed by serde_json, whose nesting limit (128) bounds every later recursion.

use napi::bindgen_prelude::{
    FnArgs, FromNapiValue, Function, FunctionRef, JsObjectValue, Null, Object, ToNapiValue, TypeName, Unknown,
};
use napi::{Env, JsValue, Status, ValueType, sys};

use crate::store::StoreError;

/// Stored metadata JSON text; `None` becomes `null`.
pub struct JsonText(pub Option<String>);

impl TypeName for JsonText {
    fn type_name() -> &'static str {
        "JsonText"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsonText {
    unsafe fn to_napi_value(raw_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let Some(text) = value.0 else {
            // SAFETY: `raw_env` is the live env napi handed to this conversion, on the JS thread.
            return unsafe { Null::to_napi_value(raw_env, Null) };
        };
        // SAFETY: as above.
        unsafe { parse_json(raw_env, text) }
    }
}

/// `JSON.parse(text)` in the JS env `raw_env`.
///
/// # Safety
/// `raw_env` must be the live env of the JS thread this runs on (as in a `to_napi_value`).
pub unsafe fn parse_json(raw_env: sys::napi_env, text: String) -> napi::Result<sys::napi_value> {
    let env = Env::from_raw(raw_env);
    let json: Object<'_> = env.get_global()?.get_named_property("JSON")?;
    let parse: Function<'_, String, Unknown<'_>> = json.get_named_property("parse")?;
    Ok(parse.call(text)?.raw())
}

/// A JS value given as metadata, as the JSON text `JSON.stringify` makes of it.
pub struct JsonInput(pub String);

impl TypeName for JsonInput {
    fn type_name() -> &'static str {
        "JsonInput"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// A filter as given: its JSON text, or the first value in it that JSON cannot hold. `JSON.stringify`
/// drops an `undefined`, a function or a symbol silently, and the condition with it:
/// `{ tenant: req.user?.tenantId }` with no tenant would become `{}` and match every row.
pub enum FilterInput {
    /// The filter's JSON text.
    Json(String),
    /// A value no filter can test, at `path` (e.g. `tenant` or `tags.$in[1]`).
    Unrepresentable {
        /// Where it is, in JS property-access notation.
        path: String,
        /// What it is, e.g. `undefined` or `a function`.
        what: String,
    },
}

impl TypeName for FilterInput {
    fn type_name() -> &'static str {
        "FilterInput"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// `toJson(value, strict)`: `JSON.stringify` with a replacer that tracks each value's path and refuses
/// what JSON cannot carry. Numbers it would write as `null` (`NaN`, `±Infinity`) always throw; with
/// `strict` (filters) every value JSON would drop or change, and objects it would empty (a `RegExp`, a
/// `Map`, symbol keys), are reported instead: the result is then `[path, what]` rather than the text.
/// Plain objects are told apart by `Object.prototype.toString`, which works across realms (jest's vm
/// contexts) and through Proxies.
const TO_JSON_SOURCE: &str = r#"
const toString = Object.prototype.toString
const isEnumerable = Object.prototype.propertyIsEnumerable
function problem(v, strict) {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  if (!strict) return null
  switch (typeof v) {
    case 'undefined': return 'undefined'
    case 'function': return 'a function'
    case 'symbol': return 'a symbol'
    case 'bigint': return 'a BigInt'
    case 'object': {
      if (v === null || Array.isArray(v)) return null
      const tag = toString.call(v)
      if (tag !== '[object Object]') return 'a ' + tag.slice(8, -1) + ', which JSON writes as {}'
      if (Object.getOwnPropertySymbols(v).some((s) => isEnumerable.call(v, s))) return 'an object with symbol keys'
      return null
    }
    default: return null
  }
}
return function toJson(value, strict) {
  const paths = new WeakMap()
  let bad = null
  const text = JSON.stringify(value, function (key, v) {
    const parent = paths.get(this)
    const path = parent === undefined || parent === '' ? key : Array.isArray(this) ? parent + '[' + key + ']' : parent + '.' + key
    const what = bad === null ? problem(v, strict) : null
    if (what !== null) {
      if (!strict) throw new RangeError((path === '' ? 'the value' : JSON.stringify(path)) + ' is ' + what + ', which JSON cannot represent')
      bad = [path === '' ? '(the filter)' : path, what]
      return null
    }
    if (typeof v === 'object' && v !== null) paths.set(v, path)
    return v
  })
  return bad === null ? text : bad
}"#;

type ToJson = FunctionRef<FnArgs<(Unknown<'static>, bool)>, Unknown<'static>>;

thread_local! {
    /// The compiled `toJson`, once per JS thread. Leaked on purpose: releasing a reference after its
    /// env is gone (at worker or process exit) would touch freed memory.
    static TO_JSON: std::cell::OnceCell<&'static ToJson> = const { std::cell::OnceCell::new() };
}

fn to_json(env: &Env) -> napi::Result<&'static ToJson> {
    TO_JSON.with(|cell| {
        if let Some(compiled) = cell.get() {
            return Ok(*compiled);
        }
        type Compiled<'a> = Function<'a, FnArgs<(Unknown<'static>, bool)>, Unknown<'static>>;
        type Factory<'a> = Function<'a, (), Compiled<'a>>;
        let make: Function<'_, String, Factory<'_>> = env.get_global()?.get_named_property("Function")?;
        let to_json = make.call(TO_JSON_SOURCE.to_owned())?.call(())?;
        let compiled: &'static ToJson = Box::leak(Box::new(to_json.create_ref()?));
        Ok(*cell.get_or_init(|| compiled))
    })
}

/// Runs `toJson(value, strict)` on a JS value napi hands to a conversion.
///
/// # Safety
/// `raw_env` and `value` must be the live env and value of a conversion on the JS thread.
unsafe fn stringify(raw_env: sys::napi_env, value: sys::napi_value, strict: bool) -> napi::Result<Unknown<'static>> {
    let env = Env::from_raw(raw_env);
    let stringify = to_json(&env)?.borrow_back(&env)?;
    // SAFETY: the caller passes the live value of this conversion, on the JS thread.
    let input = unsafe { Unknown::from_raw_unchecked(raw_env, value) };
    stringify.call(FnArgs::from((input, strict)))
}

fn no_json_form() -> napi::Error {
    napi::Error::new(Status::InvalidArg, "the value has no JSON form (a function, a symbol or undefined)")
}

impl FromNapiValue for JsonInput {
    unsafe fn from_napi_value(raw_env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: napi hands this conversion its live env and value, on the JS thread.
        let text = unsafe { stringify(raw_env, value, false) }?;
        if text.get_type()? != ValueType::String {
            return Err(no_json_form());
        }
        // SAFETY: checked above to be a JS string, on the JS thread.
        unsafe { String::from_napi_value(raw_env, text.raw()) }.map(Self)
    }
}

impl FromNapiValue for FilterInput {
    unsafe fn from_napi_value(raw_env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: napi hands this conversion its live env and value, on the JS thread.
        let result = unsafe { stringify(raw_env, value, true) }?;
        match result.get_type()? {
            // SAFETY: checked to be a JS string, on the JS thread.
            ValueType::String => unsafe { String::from_napi_value(raw_env, result.raw()) }.map(Self::Json),
            ValueType::Object => {
                // SAFETY: `toJson` returns `[path, what]`, two strings, when it is not a string.
                let (path, what) = unsafe { <(String, String)>::from_napi_value(raw_env, result.raw()) }?;
                Ok(Self::Unrepresentable { path, what })
            }
            _ => Err(no_json_form()),
        }
    }
}

impl FilterInput {
    /// The filter as serde_json reads it. A value JSON cannot hold is `INVALID_FILTER` naming where it
    /// is: the filter would otherwise match more rows than it says.
    pub fn parse(&self, what: &str) -> Result<serde_json::Value, StoreError> {
        match self {
            Self::Json(text) => JsonInput::parse_text(text, what),
            Self::Unrepresentable { path, what } => Err(StoreError::InvalidFilter {
                reason: format!(
                    "`{path}` is {what}, which a filter cannot test (it would be dropped and the filter would match \
                     more rows than it says); leave the field out to match any value, or test a missing one with \
                     null or {{ $exists: false }}"
                ),
            }),
        }
    }
}

impl JsonInput {
    /// The value as serde_json reads it; deeper than 128 levels (serde_json's limit) is refused.
    pub fn parse(&self, what: &str) -> Result<serde_json::Value, StoreError> {
        Self::parse_text(&self.0, what)
    }

    fn parse_text(text: &str, what: &str) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            let reason = if e.to_string().contains("recursion limit") {
                "it nests deeper than 128 levels".to_owned()
            } else {
                format!("it is not valid JSON: {e}")
            };
            StoreError::invalid(what, reason)
        })
    }
}
