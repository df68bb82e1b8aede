//! Metadata filters → LanceDB (DataFusion SQL) predicates, and the only place user values are quoted
//! into them. A filter is a JSON object over declared fields (`store/fields.rs`):
//! `{ section: 'utils', year: { $gte: 2020 }, tags: { $in: ['a', 'b'] }, $or: [ … ] }`.
//! Field names are checked against the declaration (whose alphabet needs no quoting); every value
//! goes through `quote_str` or is printed as a checked number or boolean. Nothing is concatenated raw.

use serde_json::{Map, Value};

use super::error::{Result, StoreError};
use super::fields::{self, FieldType, Fields};
use super::schema::ID;

/// Deepest nesting of `$and`/`$or`/`$not` accepted.
const MAX_DEPTH: usize = 32;
/// Most values in one `$in`/`$nin` list.
const MAX_LIST: usize = 10_000;

/// A SQL string literal for `value`: wrapped in single quotes, inner quotes doubled.
/// DataFusion treats backslashes literally, so only `'` needs escaping; `%` and `_` are only
/// special inside LIKE, which is never generated.
pub fn quote_str(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push('\'');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// `id IN ('a', 'b', …)` for a non-empty list of ids.
pub fn id_in<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = ids.into_iter().map(quote_str).collect();
    format!("{ID} IN ({})", list.join(", "))
}

/// Compiles a filter object to a predicate over the declared `fields`.
/// An empty object matches everything and compiles to `None`.
pub fn compile(filter: &Value, fields: &Fields) -> Result<Option<String>> {
    let object = filter.as_object().ok_or_else(|| invalid(format!("a filter must be an object, got {filter}")))?;
    let predicate = and_of(object, fields, 0)?;
    Ok((predicate != "TRUE").then_some(predicate))
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidFilter { reason: reason.into() }
}

/// Every entry of an object must hold: the conjunction of its entries.
fn and_of(object: &Map<String, Value>, fields: &Fields, depth: usize) -> Result<String> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("the filter nests deeper than {MAX_DEPTH} levels")));
    }
    let parts = object
        .iter()
        .map(|(key, value)| match key.as_str() {
            "$and" => combine(value, fields, depth, " AND ", "$and"),
            "$or" => combine(value, fields, depth, " OR ", "$or"),
            "$not" => {
                let inner = value.as_object().ok_or_else(|| invalid("`$not` takes a filter object"))?;
                // SQL's NOT of an unknown (NULL, e.g. a comparison on an absent field) is unknown, which
                // would drop the row; document filters treat "absent" as "does not match", so negate that.
                Ok(format!("NOT coalesce(({}), false)", and_of(inner, fields, depth + 1)?))
            }
            op if op.starts_with('$') => Err(invalid(format!("unknown operator {op:?} at the top level"))),
            field => field_condition(field, value, fields),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(join(parts, " AND ", "TRUE"))
}

fn combine(value: &Value, fields: &Fields, depth: usize, glue: &str, op: &str) -> Result<String> {
    let list = value.as_array().ok_or_else(|| invalid(format!("`{op}` takes an array of filter objects")))?;
    let parts = list
        .iter()
        .map(|item| {
            let object = item.as_object().ok_or_else(|| invalid(format!("`{op}` takes an array of filter objects")))?;
            and_of(object, fields, depth + 1)
        })
        .collect::<Result<Vec<_>>>()?;
    // An empty $and is true; an empty $or is false (no alternative holds).
    Ok(join(parts, glue, if glue == " OR " { "FALSE" } else { "TRUE" }))
}

fn join(parts: Vec<String>, glue: &str, empty: &str) -> String {
    match parts.len() {
        0 => empty.to_owned(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(glue),
    }
}

/// `field: value` (equality) or `field: { $op: value, … }` (all must hold).
fn field_condition(name: &str, condition: &Value, fields: &Fields) -> Result<String> {
    let Some(&kind) = fields.get(name) else {
        let declared: Vec<&str> = fields.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "{name:?} is not a declared field; declare it in `fields` when the store is created (declared: {})",
            if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
        )));
    };
    let operators = match condition {
        Value::Object(ops) => ops,
        other => return equals(name, kind, other, false),
    };
    let parts = operators
        .iter()
        .map(|(op, value)| match op.as_str() {
            "$eq" => equals(name, kind, value, false),
            "$ne" => equals(name, kind, value, true),
            "$gt" => compare(name, kind, ">", value),
            "$gte" => compare(name, kind, ">=", value),
            "$lt" => compare(name, kind, "<", value),
            "$lte" => compare(name, kind, "<=", value),
            "$in" => membership(name, kind, value, false),
            "$nin" => membership(name, kind, value, true),
            "$exists" => match value {
                Value::Bool(true) => Ok(format!("{name} IS NOT NULL")),
                Value::Bool(false) => Ok(format!("{name} IS NULL")),
                _ => Err(invalid(format!("`$exists` on {name:?} takes true or false"))),
            },
            other => Err(invalid(format!(
                "unknown operator {other:?} on {name:?}; use $eq $ne $gt $gte $lt $lte $in $nin $exists"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    if parts.is_empty() {
        return Err(invalid(format!("{name:?} has an empty condition object")));
    }
    Ok(join(parts, " AND ", "TRUE"))
}

/// `= value` / `<> value`; on a `string[]` field, "contains value". Null compares as IS [NOT] NULL.
fn equals(name: &str, kind: FieldType, value: &Value, negate: bool) -> Result<String> {
    if value.is_null() {
        return Ok(format!("{name} IS {}NULL", if negate { "NOT " } else { "" }));
    }
    let positive = if kind == FieldType::StringList {
        format!("array_has({name}, {})", literal(name, FieldType::String, value)?)
    } else {
        format!("{name} = {}", literal(name, kind, value)?)
    };
    // `$ne` also matches rows where the field is absent, as users of document filters expect.
    Ok(if negate { format!("({name} IS NULL OR NOT ({positive}))") } else { positive })
}

fn compare(name: &str, kind: FieldType, op: &str, value: &Value) -> Result<String> {
    if matches!(kind, FieldType::Bool | FieldType::StringList) {
        return Err(invalid(format!("{name:?} is a '{}' field and has no order for {op}", kind.as_str())));
    }
    Ok(format!("{name} {op} {}", literal(name, kind, value)?))
}

/// `IN (…)` / `NOT IN (…)`; on a `string[]` field, "contains any of" / "contains none of".
fn membership(name: &str, kind: FieldType, value: &Value, negate: bool) -> Result<String> {
    let op = if negate { "$nin" } else { "$in" };
    let list = value.as_array().ok_or_else(|| invalid(format!("`{op}` on {name:?} takes an array")))?;
    if list.len() > MAX_LIST {
        return Err(invalid(format!("`{op}` on {name:?} has {} values; at most {MAX_LIST}", list.len())));
    }
    if list.is_empty() {
        return Ok((if negate { "TRUE" } else { "FALSE" }).to_owned());
    }
    let element = if kind == FieldType::StringList { FieldType::String } else { kind };
    let literals = list.iter().map(|v| literal(name, element, v)).collect::<Result<Vec<_>>>()?.join(", ");
    let positive = if kind == FieldType::StringList {
        format!("array_has_any({name}, make_array({literals}))")
    } else {
        format!("{name} IN ({literals})")
    };
    Ok(if negate { format!("({name} IS NULL OR NOT ({positive}))") } else { positive })
}

/// A checked literal of the field's type: strings quoted, numbers finite, ints integral.
fn literal(name: &str, kind: FieldType, value: &Value) -> Result<String> {
    let wrong = || invalid(format!("{name:?} is a '{}' field; {value} is not a value of that type", kind.as_str()));
    match (kind, value) {
        (FieldType::String, Value::String(s)) => Ok(quote_str(s)),
        (FieldType::Int, Value::Number(n)) => fields::integer(n).map(|i| i.to_string()).ok_or_else(wrong),
        (FieldType::Float, Value::Number(n)) => {
            let f = n.as_f64().filter(|f| f.is_finite()).ok_or_else(wrong)?;
            // `{:?}` always prints a decimal point or exponent, so DataFusion reads a float.
            Ok(format!("{f:?}"))
        }
        (FieldType::Bool, Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Fields {
        [
            ("section", FieldType::String),
            ("year", FieldType::Int),
            ("score", FieldType::Float),
            ("published", FieldType::Bool),
            ("tags", FieldType::StringList),
        ]
        .map(|(n, t)| (n.to_owned(), t))
        .into()
    }

    fn sql(filter: Value) -> String {
        compile(&filter, &fields()).unwrap().unwrap_or_default()
    }

    #[test]
    fn quotes_are_doubled_and_nothing_else_changes() {
        assert_eq!(quote_str("plain"), "'plain'");
        assert_eq!(quote_str("it's"), "'it''s'");
        assert_eq!(quote_str(r"back\slash % _ ü 🚀"), r"'back\slash % _ ü 🚀'");
        assert_eq!(quote_str("'; DROP TABLE x; --"), "'''; DROP TABLE x; --'");
        assert_eq!(id_in(["a", "b'c"]), "id IN ('a', 'b''c')");
    }

    #[test]
    fn compiles_every_operator() {
        assert_eq!(sql(json!({ "section": "utils" })), "section = 'utils'");
        assert_eq!(sql(json!({ "year": { "$gte": 2020, "$lt": 2024 } })), "(year >= 2020) AND (year < 2024)");
        assert_eq!(sql(json!({ "score": { "$gt": 1 } })), "score > 1.0");
        assert_eq!(sql(json!({ "published": true })), "published = true");
        assert_eq!(sql(json!({ "section": { "$in": ["a", "b"] } })), "section IN ('a', 'b')");
        assert_eq!(sql(json!({ "section": { "$nin": ["a"] } })), "(section IS NULL OR NOT (section IN ('a')))");
        assert_eq!(sql(json!({ "section": { "$ne": "a" } })), "(section IS NULL OR NOT (section = 'a'))");
        assert_eq!(sql(json!({ "tags": "x" })), "array_has(tags, 'x')");
        assert_eq!(sql(json!({ "tags": { "$in": ["x", "y"] } })), "array_has_any(tags, make_array('x', 'y'))");
        assert_eq!(sql(json!({ "year": { "$exists": false } })), "year IS NULL");
        assert_eq!(sql(json!({ "year": null })), "year IS NULL");
        assert_eq!(
            sql(json!({ "$or": [{ "section": "a" }, { "$not": { "year": 1 } }] })),
            "(section = 'a') OR (NOT coalesce((year = 1), false))"
        );
        assert_eq!(sql(json!({ "$and": [] })), "");
        assert_eq!(sql(json!({ "$or": [] })), "FALSE");
        assert_eq!(sql(json!({ "section": { "$in": [] } })), "FALSE");
        assert_eq!(compile(&json!({}), &fields()).unwrap(), None);
    }

    #[test]
    fn values_with_quotes_and_sql_stay_inside_their_literal() {
        let nasty = "it's \\ 100% _x_ ü' OR '1'='1; DROP TABLE embeddings; --";
        let predicate = sql(json!({ "section": nasty }));
        assert_eq!(predicate, format!("section = {}", quote_str(nasty)));
        assert!(predicate.ends_with("--'"));
    }

    #[test]
    fn rejects_unknown_operators_undeclared_fields_and_wrong_types() {
        for bad in [
            json!({ "section": { "$regex": "a" } }),
            json!({ "$nor": [] }),
            json!({ "undeclared": 1 }),
            json!({ "year": "2020" }),
            json!({ "year": 1.5 }),
            json!({ "year": { "$in": "2020" } }),
            json!({ "published": { "$gt": true } }),
            json!({ "section": {} }),
            json!({ "$not": [1] }),
            json!({ "$or": {} }),
            json!({ "section) OR (1=1": 1 }),
            json!([1, 2]),
            json!("section = 'a'"),
        ] {
            let err = compile(&bad, &fields()).unwrap_err();
            assert!(matches!(err, StoreError::InvalidFilter { .. }), "{bad}");
            assert_eq!(err.code(), "INVALID_FILTER");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut filter = json!({ "section": "a" });
        for _ in 0..40 {
            filter = json!({ "$not": filter });
        }
        assert!(matches!(compile(&filter, &fields()), Err(StoreError::InvalidFilter { .. })));
    }
}
