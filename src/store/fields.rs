//! Declared metadata fields: the typed columns (`OpenOptions.fields`) stored beside the JSON metadata,
//! so filters run on real Arrow columns. Owns each field type's Arrow column and scalar index, and
//! pulling a field's value out of an item's metadata (the declaration is checked in `config.rs`).

use arrow_schema::{DataType, Field};

use super::error::{Result, StoreError};

/// The type of a declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// 64-bit signed integer (JS numbers that are integers within ±2^53).
    Int,
    /// 64-bit float.
    Float,
    /// `true` / `false`.
    Bool,
    /// A list of strings (tags).
    StringList,
}

impl FieldType {
    /// The allowed spellings, for messages and docs.
    pub const NAMES: &'static str = "'string', 'int', 'float', 'bool' or 'string[]'";

    /// Parses a declared type name.
    pub fn parse(option: &str, name: &str) -> Result<Self> {
        match name {
            "string" => Ok(Self::String),
            "int" => Ok(Self::Int),
            "float" => Ok(Self::Float),
            "bool" => Ok(Self::Bool),
            "string[]" => Ok(Self::StringList),
            other => Err(StoreError::invalid(option, format!("got {other:?}, expected {}", Self::NAMES))),
        }
    }

    /// The name users write.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::StringList => "string[]",
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::String => DataType::Utf8,
            Self::Int => DataType::Int64,
            Self::Float => DataType::Float64,
            Self::Bool => DataType::Boolean,
            Self::StringList => DataType::List(std::sync::Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    /// The LanceDB scalar index that serves filters on this type: BTREE for ordered values
    /// (equality, ranges, `IN`), BITMAP for booleans, LABEL_LIST for string lists.
    pub fn scalar_index(self) -> lancedb::index::Index {
        use lancedb::index::scalar::{BTreeIndexBuilder, BitmapIndexBuilder, LabelListIndexBuilder};
        match self {
            Self::String | Self::Int | Self::Float => lancedb::index::Index::BTree(BTreeIndexBuilder::default()),
            Self::Bool => lancedb::index::Index::Bitmap(BitmapIndexBuilder::default()),
            Self::StringList => lancedb::index::Index::LabelList(LabelListIndexBuilder::default()),
        }
    }

    /// The field type stored as `data_type`, if lancestore writes such columns.
    pub fn from_data_type(data_type: &DataType) -> Option<Self> {
        [Self::String, Self::Int, Self::Float, Self::Bool, Self::StringList]
            .into_iter()
            .find(|t| &t.data_type() == data_type)
    }
}

/// Declared fields by name, in a stable order.
pub type Fields = std::collections::BTreeMap<String, FieldType>;

/// A declared field's value taken from an item's metadata, checked against its type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Absent or `null`.
    Null,
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    StringList(Vec<String>),
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE_INT: f64 = 9_007_199_254_740_991.0;

/// Reads field `name` of type `kind` from `metadata` (an object, or `None`).
pub fn value_of(item: usize, name: &str, kind: FieldType, metadata: Option<&serde_json::Value>) -> Result<FieldValue> {
    use serde_json::Value;
    let value = metadata.and_then(|m| m.get(name)).unwrap_or(&Value::Null);
    let wrong = || {
        StoreError::invalid(
            format!("items[{item}].metadata.{name}"),
            format!("the field is declared '{}' but the value is {value}", kind.as_str()),
        )
    };
    Ok(match (kind, value) {
        (_, Value::Null) => FieldValue::Null,
        (FieldType::String, Value::String(s)) => FieldValue::String(s.clone()),
        (FieldType::Int, Value::Number(n)) => FieldValue::Int(integer(n).ok_or_else(wrong)?),
        (FieldType::Float, Value::Number(n)) => FieldValue::Float(n.as_f64().ok_or_else(wrong)?),
        (FieldType::Bool, Value::Bool(b)) => FieldValue::Bool(*b),
        (FieldType::StringList, Value::Array(values)) => FieldValue::StringList(
            values.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong)).collect::<Result<_>>()?,
        ),
        _ => return Err(wrong()),
    })
}

/// A JSON number that is an integer a JS number can hold exactly.
pub fn integer(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return (i.unsigned_abs() <= MAX_SAFE_INT as u64).then_some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= MAX_SAFE_INT).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_and_type_checked() {
        let m = json!({ "s": "x", "i": 3, "f": 2.5, "b": true, "t": ["a", "b"], "n": null });
        let get = |name, kind| value_of(0, name, kind, Some(&m));
        assert_eq!(get("s", FieldType::String).unwrap(), FieldValue::String("x".into()));
        assert_eq!(get("i", FieldType::Int).unwrap(), FieldValue::Int(3));
        assert_eq!(get("i", FieldType::Float).unwrap(), FieldValue::Float(3.0));
        assert_eq!(get("b", FieldType::Bool).unwrap(), FieldValue::Bool(true));
        assert_eq!(get("t", FieldType::StringList).unwrap(), FieldValue::StringList(vec!["a".into(), "b".into()]));
        assert_eq!(get("n", FieldType::Int).unwrap(), FieldValue::Null);
        assert_eq!(get("missing", FieldType::Int).unwrap(), FieldValue::Null);
        assert!(get("f", FieldType::Int).is_err());
        assert!(get("s", FieldType::Int).is_err());
        assert!(get("t", FieldType::String).is_err());
        assert_eq!(value_of(0, "x", FieldType::Int, None).unwrap(), FieldValue::Null);
    }
}
