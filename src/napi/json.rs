//! Metadata and filters cross the boundary as JSON text, through V8's own `JSON` object.
//! Out: `JsonText` becomes a JS value by `JSON.parse`: numbers round-trip bit-exactly (serde_json's
//! fast float parser can be 1 ULP off), and one parse call is cheaper than building the object
//! property by property through N-API. In: `JsonInput` is read by `JSON.stringify`, which walks the
//! value without native recursion (a deeply nested object throws a `RangeError` instead of
//! overflowing the stack), runs getters and Proxy traps once, and throws on BigInt and cycles (a
//! replacer also throws on NaN and ±Infinity, which JSON would turn into `null`); the text is then
//! parsed by serde_json, whose nesting limit (128) bounds every later recursion.

use napi::bindgen_prelude::{
    FromNapiValue, Function, FunctionRef, JsObjectValue, Null, Object, ToNapiValue, TypeName, Unknown,
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
        let env = Env::from_raw(raw_env);
        let json: Object<'_> = env.get_global()?.get_named_property("JSON")?;
        let parse: Function<'_, String, Unknown<'_>> = json.get_named_property("parse")?;
        Ok(parse.call(text)?.raw())
    }
}

/// A JS value given as metadata or a filter, as the JSON text `JSON.stringify` makes of it.
pub struct JsonInput(pub String);

impl TypeName for JsonInput {
    fn type_name() -> &'static str {
        "JsonInput"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// `JSON.stringify` with a replacer that throws on the numbers JSON cannot carry (it would write
/// `NaN` and `±Infinity` as `null`, silently changing the stored value).
const TO_JSON_SOURCE: &str = r#"
return function toJson(value) {
  return JSON.stringify(value, function (key, v) {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new RangeError((key === '' ? 'the value' : JSON.stringify(key)) + ' is ' + v + ', which JSON cannot represent')
    }
    return v
  })
}"#;

type ToJson = FunctionRef<Unknown<'static>, Unknown<'static>>;

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
        type Factory<'a> = Function<'a, (), Function<'a, Unknown<'static>, Unknown<'static>>>;
        let make: Function<'_, String, Factory<'_>> = env.get_global()?.get_named_property("Function")?;
        let to_json = make.call(TO_JSON_SOURCE.to_owned())?.call(())?;
        let compiled: &'static ToJson = Box::leak(Box::new(to_json.create_ref()?));
        Ok(*cell.get_or_init(|| compiled))
    })
}

impl FromNapiValue for JsonInput {
    unsafe fn from_napi_value(raw_env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let env = Env::from_raw(raw_env);
        let stringify = to_json(&env)?.borrow_back(&env)?;
        // SAFETY: `value` is the live JS value napi hands to this conversion, on the JS thread.
        let input = unsafe { Unknown::from_raw_unchecked(raw_env, value) };
        let text = stringify.call(input)?;
        if text.get_type()? != ValueType::String {
            return Err(napi::Error::new(
                Status::InvalidArg,
                "the value has no JSON form (a function, a symbol or undefined)",
            ));
        }
        // SAFETY: checked above to be a JS string, on the JS thread.
        unsafe { String::from_napi_value(raw_env, text.raw()) }.map(Self)
    }
}

impl JsonInput {
    /// The value as serde_json reads it; deeper than 128 levels (serde_json's limit) is refused.
    pub fn parse(&self, what: &str) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.0).map_err(|e| {
            let reason = if e.to_string().contains("recursion limit") {
                "it nests deeper than 128 levels".to_owned()
            } else {
                format!("it is not valid JSON: {e}")
            };
            StoreError::invalid(what, reason)
        })
    }
}
