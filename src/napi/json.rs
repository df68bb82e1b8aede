//! Metadata leaves Rust as the JSON text it is stored as and becomes a JS value through V8's own
//! `JSON.parse`: numbers round-trip bit-exactly (serde_json's fast float parser can be 1 ULP off),
//! and one parse call is cheaper than building the object property by property through N-API.

use napi::bindgen_prelude::{Function, JsObjectValue, Null, Object, ToNapiValue, TypeName, Unknown};
use napi::{Env, JsValue, ValueType, sys};

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
