//! Declared metadata fields: the typed columns (`OpenOptions.fields`) stored beside the JSON metadata,
//! so filters run on real Arrow columns. Owns each field type's Arrow column and index (a scalar index,
//! or the full-text index of a `'text'` field), and pulling a field's value out of an item's metadata
//! (the declaration is checked in `config.rs`).

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
    /// UTF-8 text searched by words (BM25): stored like `String`, indexed for full-text search in a language.
    Text(TextLanguage),
}

/// The language a `'text'` field is tokenized in: its stemmer and stop words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextLanguage(&'static str);

impl TextLanguage {
    /// English: the language of `'text'` without a suffix.
    pub const ENGLISH: Self = Self("English");
    /// Every language LanceDB's tokenizer stems (the names its index parameters take).
    const ALL: [&'static str; 18] = [
        "Arabic",
        "Danish",
        "Dutch",
        "English",
        "Finnish",
        "French",
        "German",
        "Greek",
        "Hungarian",
        "Italian",
        "Norwegian",
        "Portuguese",
        "Romanian",
        "Russian",
        "Spanish",
        "Swedish",
        "Tamil",
        "Turkish",
    ];

    /// The language named `name` (any letter case), if the tokenizer knows it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|known| known.eq_ignore_ascii_case(name)).map(|known| Self(known))
    }

    /// The language's name as LanceDB spells it (`"English"`).
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl FieldType {
    /// The allowed spellings, for messages and docs.
    pub const NAMES: &'static str =
        "'string', 'int', 'float', 'bool', 'string[]' or 'text' (also 'text:<language>', e.g. 'text:french')";

    /// Parses a declared type name.
    pub fn parse(option: &str, name: &str) -> Result<Self> {
        let unknown = || StoreError::invalid(option, format!("got {name:?}, expected {}", Self::NAMES));
        match name {
            "string" => Ok(Self::String),
            "int" => Ok(Self::Int),
            "float" => Ok(Self::Float),
            "bool" => Ok(Self::Bool),
            "string[]" => Ok(Self::StringList),
            "text" => Ok(Self::Text(TextLanguage::ENGLISH)),
            other => match other.strip_prefix("text:") {
                Some(language) => TextLanguage::parse(language).map(Self::Text).ok_or_else(|| {
                    StoreError::invalid(
                        option,
                        format!("{language:?} is not a language the tokenizer knows: {}", TextLanguage::ALL.join(", ")),
                    )
                }),
                None => Err(unknown()),
            },
        }
    }

    /// The kind whose values, column and filters this type shares: a `'text'` field is stored and
    /// filtered as a string; only its index differs.
    pub fn stored_as(self) -> Self {
        match self {
            Self::Text(_) => Self::String,
            other => other,
        }
    }

    /// The type as `fields` declares it: `as_str()`, with the language for text that is not English
    /// (`'text:french'`), so reopening with what the `fields` getter reports declares the same type.
    pub fn spelling(self) -> String {
        match self {
            Self::Text(language) if language != TextLanguage::ENGLISH => {
                format!("text:{}", language.name().to_ascii_lowercase())
            }
            other => other.as_str().to_owned(),
        }
    }

    /// Whether the field is searched by words (`searchText`, hybrid `search`).
    pub fn is_text(self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// The name users write.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::StringList => "string[]",
            Self::Text(_) => "text",
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::String | Self::Text(_) => DataType::Utf8,
            Self::Int => DataType::Int64,
            Self::Float => DataType::Float64,
            Self::Bool => DataType::Boolean,
            Self::StringList => DataType::List(std::sync::Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    /// The LanceDB index this type gets: BTREE for ordered values (equality, ranges, `IN`), BITMAP for
    /// booleans, LABEL_LIST for string lists, and for text the full-text (inverted, BM25) index with
    /// LanceDB's defaults: the simple tokenizer (splits on anything not a letter or digit), lower-casing,
    /// ASCII folding, tokens over 40 bytes dropped, stop words removed and words stemmed in the language.
    pub fn index(self) -> Result<lancedb::index::Index> {
        use lancedb::index::scalar::{BTreeIndexBuilder, BitmapIndexBuilder, LabelListIndexBuilder};
        Ok(match self {
            Self::String | Self::Int | Self::Float => lancedb::index::Index::BTree(BTreeIndexBuilder::default()),
            Self::Bool => lancedb::index::Index::Bitmap(BitmapIndexBuilder::default()),
            Self::StringList => lancedb::index::Index::LabelList(LabelListIndexBuilder::default()),
            Self::Text(_) => lancedb::index::Index::FTS(self.text_params().ok_or_else(|| {
                StoreError::Internal("the text index's language is not one the tokenizer knows".into())
            })?),
        })
    }

    /// How a `'text'` field is tokenized and indexed: LanceDB's full-text defaults in its language (the
    /// in-memory word index tokenizes with the same). `None` for other types.
    pub fn text_params(self) -> Option<lancedb::index::scalar::FtsIndexBuilder> {
        match self {
            Self::Text(language) => lancedb::index::scalar::FtsIndexBuilder::default().language(language.name()).ok(),
            _ => None,
        }
    }

    /// The field type stored as `data_type`, if lancestore writes such columns (a `'text'` field is told
    /// from a string by its column's metadata, see `schema.rs`).
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
    Ok(match (kind.stored_as(), value) {
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
        let text = FieldType::Text(TextLanguage::ENGLISH);
        assert_eq!(get("s", text).unwrap(), FieldValue::String("x".into()), "text is stored as a string");
        assert!(get("i", text).is_err());
    }

    #[test]
    fn text_types_name_a_language_the_tokenizer_knows() {
        assert_eq!(FieldType::parse("f", "text").unwrap(), FieldType::Text(TextLanguage::ENGLISH));
        let french = FieldType::parse("f", "text:FRENCH").unwrap();
        assert_eq!(french, FieldType::Text(TextLanguage::parse("french").unwrap()));
        assert!(matches!(french, FieldType::Text(l) if l.name() == "French"));
        for bad in ["text:klingon", "text:", "texts", "Text"] {
            assert!(matches!(FieldType::parse("f", bad), Err(StoreError::InvalidArgument { .. })), "{bad}");
        }
        assert!(french.index().is_ok());
        assert_eq!(french.stored_as(), FieldType::String);
        assert_eq!(french.spelling(), "text:french");
        assert_eq!(FieldType::parse("f", &french.spelling()).unwrap(), french);
        assert_eq!(FieldType::Text(TextLanguage::ENGLISH).spelling(), "text");
        assert!(french.is_text() && !FieldType::String.is_text());
    }
}
