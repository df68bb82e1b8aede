//! Metadata filters → LanceDB (DataFusion SQL) predicates, and the only place user values are quoted
//! into them. A filter is a JSON object over declared fields (`store/fields.rs`):
//! `{ section: 'utils', year: { $gte: 2020 }, tags: { $in: ['a', 'b'] }, $or: [ … ] }`.
//! Field names are checked against the declaration and always quoted as identifiers (`quote_ident`),
//! so a field named `order` or `select` is a column, not a keyword; every value goes through
//! `quote_str` or is printed as a checked number or boolean. Nothing is concatenated raw.

use std::cell::Cell;

use serde_json::{Map, Value};

use super::error::{Result, StoreError};
use super::fields::{self, FieldType, Fields};
use super::schema::ID;

/// Deepest nesting of `$and`/`$or`/`$not` accepted.
const MAX_DEPTH: usize = 32;
/// Most values in one `$in`/`$nin` list.
pub const MAX_LIST: usize = 10_000;
/// Most conditions (one per field operator) in one filter. With the grouping below, a filter at this
/// limit compiles to a predicate tree about 40 levels deep, however its `$or`s and `$and`s are shaped.
pub const MAX_CONDITIONS: usize = 10_000;
/// Operands per parenthesised group when joining many: `a OR b OR …` is parsed into a tree as deep
/// as it is long (a 50,000-way `$or` overflowed the stack), so long joins are nested in groups.
const GROUP: usize = 8;

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

/// A column name as a quoted identifier: wrapped in backticks (LanceDB's identifier quote), inner
/// backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Most ids put in one `id_in` predicate by lookups (`get`, the duplicate-id check): longer lists are looked
/// up in chunks of this size. `delete` is one commit, so its whole list (at most 100,000 ids) is one predicate.
pub const IDS_PER_PREDICATE: usize = 2_048;

/// `` `id` IN ('a', 'b', …) `` for a non-empty list of ids.
pub fn id_in<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = ids.into_iter().map(quote_str).collect();
    format!("{} IN ({})", quote_ident(ID), list.join(", "))
}

/// A parsed, checked filter: what both backends evaluate. LanceDB gets it as SQL (`to_sql`); the
/// resident copy evaluates it row by row (`store/resident/select.rs`). Its depth is bounded by
/// `MAX_DEPTH` and its size by `MAX_CONDITIONS`, so walking it recursively is safe.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every part holds (an empty list holds).
    All(Vec<Condition>),
    /// Some part holds (an empty list does not).
    Any(Vec<Condition>),
    /// The inner condition does not hold (an unknown inner counts as not holding).
    Not(Box<Condition>),
    /// A test of one declared field.
    Field {
        /// The field's name.
        name: String,
        /// Its declared type.
        kind: FieldType,
        /// What is tested.
        test: Test,
    },
}

/// A test of one field's value. Absent (null) values never satisfy `Equals`, `Compare` or `In`;
/// the negated forms (`$ne`, `$nin`) do match them, as users of document filters expect.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `IS NULL` (`present: false`) or `IS NOT NULL` (`present: true`).
    Exists {
        /// Whether the field must be present.
        present: bool,
    },
    /// Equal to the value (on a `string[]` field: contains it); `negate` for `$ne`.
    Equals {
        /// The value.
        value: Scalar,
        /// `$ne`: absent, or not equal.
        negate: bool,
    },
    /// An order comparison (not on `bool` or `string[]` fields).
    Compare {
        /// The operator.
        op: Order,
        /// The value compared with.
        value: Scalar,
    },
    /// One of the values (on a `string[]` field: contains any of them); `negate` for `$nin`.
    In {
        /// The values (may be empty: then nothing is in it).
        values: Vec<Scalar>,
        /// `$nin`: absent, or none of them.
        negate: bool,
    },
}

/// An order comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
}

impl Order {
    fn sql(self) -> &'static str {
        match self {
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
            Self::Less => "<",
            Self::LessOrEqual => "<=",
        }
    }

    /// Whether `ordering` (the stored value compared with the filter's) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match self {
            Self::Greater => ordering == Greater,
            Self::GreaterOrEqual => ordering != Less,
            Self::Less => ordering == Less,
            Self::LessOrEqual => ordering != Greater,
        }
    }
}

/// A checked value of a field's (element) type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Text.
    String(String),
    /// An integer (`int` fields).
    Int(i64),
    /// A finite float (`float` fields).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A checked filter in both forms: the tree (for the resident copy) and its SQL (for LanceDB, and
/// as the query cache's key: equal SQL means an equal filter).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The parsed condition.
    pub condition: Condition,
    /// `to_sql(&condition)`.
    pub sql: String,
}

/// Compiles a filter object to a predicate over the declared `fields`.
/// An empty object matches everything and compiles to `None`.
pub fn compile(filter: &Value, fields: &Fields) -> Result<Option<String>> {
    Ok(parse(filter, fields)?.map(|filter| filter.sql))
}

/// Parses and checks a filter object over the declared `fields`. An empty object (or one that is
/// trivially true) is `None`: it matches everything.
pub fn parse(filter: &Value, fields: &Fields) -> Result<Option<Filter>> {
    let object = filter.as_object().ok_or_else(|| invalid(format!("a filter must be an object, got {filter}")))?;
    let budget = Cell::new(MAX_CONDITIONS);
    let condition = and_of(object, fields, 0, &budget)?;
    let sql = to_sql(&condition);
    Ok((sql != "TRUE").then_some(Filter { condition, sql }))
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidFilter { reason: reason.into() }
}

/// Every entry of an object must hold: the conjunction of its entries.
fn and_of(object: &Map<String, Value>, fields: &Fields, depth: usize, budget: &Cell<usize>) -> Result<Condition> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("the filter nests deeper than {MAX_DEPTH} levels")));
    }
    let parts = object
        .iter()
        .map(|(key, value)| match key.as_str() {
            "$and" => combine(value, fields, depth, "$and", budget).map(Condition::All),
            "$or" => combine(value, fields, depth, "$or", budget).map(Condition::Any),
            "$not" => {
                let inner = value.as_object().ok_or_else(|| invalid("`$not` takes a filter object"))?;
                Ok(Condition::Not(Box::new(and_of(inner, fields, depth + 1, budget)?)))
            }
            op if op.starts_with('$') => Err(invalid(format!("unknown operator {op:?} at the top level"))),
            field => field_condition(field, value, fields, budget),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Condition::All(parts))
}

fn combine(value: &Value, fields: &Fields, depth: usize, op: &str, budget: &Cell<usize>) -> Result<Vec<Condition>> {
    let list = value.as_array().ok_or_else(|| invalid(format!("`{op}` takes an array of filter objects")))?;
    list.iter()
        .map(|item| {
            let object = item.as_object().ok_or_else(|| invalid(format!("`{op}` takes an array of filter objects")))?;
            and_of(object, fields, depth + 1, budget)
        })
        .collect()
}

/// `field: value` (equality) or `field: { $op: value, … }` (all must hold).
fn field_condition(name: &str, condition: &Value, fields: &Fields, budget: &Cell<usize>) -> Result<Condition> {
    let Some(kind) = fields.get(name).map(|kind| kind.stored_as()) else {
        let declared: Vec<&str> = fields.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "{name:?} is not a declared field; declare it in `fields` when the store is created (declared: {})",
            if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
        )));
    };
    let used = match condition {
        Value::Object(ops) => ops.len(),
        _ => 1,
    };
    budget.set(budget.get().checked_sub(used).ok_or_else(|| {
        invalid(format!("the filter has more than {MAX_CONDITIONS} conditions; use `$in` with a list of values instead of many `$or` branches"))
    })?);
    let field = |test: Test| Condition::Field { name: name.to_owned(), kind, test };
    let operators = match condition {
        Value::Object(ops) => ops,
        other => return equals(name, kind, other, false).map(field),
    };
    let parts = operators
        .iter()
        .map(|(op, value)| {
            let order = |op: Order| compare(name, kind, op, value);
            match op.as_str() {
                "$eq" => equals(name, kind, value, false),
                "$ne" => equals(name, kind, value, true),
                "$gt" => order(Order::Greater),
                "$gte" => order(Order::GreaterOrEqual),
                "$lt" => order(Order::Less),
                "$lte" => order(Order::LessOrEqual),
                "$in" => membership(name, kind, value, false),
                "$nin" => membership(name, kind, value, true),
                "$exists" => match value {
                    Value::Bool(present) => Ok(Test::Exists { present: *present }),
                    _ => Err(invalid(format!("`$exists` on {name:?} takes true or false"))),
                },
                other => Err(invalid(format!(
                    "unknown operator {other:?} on {name:?}; use $eq $ne $gt $gte $lt $lte $in $nin $exists"
                ))),
            }
            .map(field)
        })
        .collect::<Result<Vec<_>>>()?;
    if parts.is_empty() {
        return Err(invalid(format!("{name:?} has an empty condition object")));
    }
    Ok(Condition::All(parts))
}

/// `$eq` / `$ne`; null compares as "absent" / "present".
fn equals(name: &str, kind: FieldType, value: &Value, negate: bool) -> Result<Test> {
    if value.is_null() {
        return Ok(Test::Exists { present: negate });
    }
    let element = if kind == FieldType::StringList { FieldType::String } else { kind };
    Ok(Test::Equals { value: literal(name, element, value)?, negate })
}

fn compare(name: &str, kind: FieldType, op: Order, value: &Value) -> Result<Test> {
    if matches!(kind, FieldType::Bool | FieldType::StringList) {
        return Err(invalid(format!("{name:?} is a '{}' field and has no order for {}", kind.as_str(), op.sql())));
    }
    Ok(Test::Compare { op, value: literal(name, kind, value)? })
}

fn membership(name: &str, kind: FieldType, value: &Value, negate: bool) -> Result<Test> {
    let op = if negate { "$nin" } else { "$in" };
    let list = value.as_array().ok_or_else(|| invalid(format!("`{op}` on {name:?} takes an array")))?;
    if list.len() > MAX_LIST {
        return Err(invalid(format!("`{op}` on {name:?} has {} values; at most {MAX_LIST}", list.len())));
    }
    let element = if kind == FieldType::StringList { FieldType::String } else { kind };
    let values = list.iter().map(|v| literal(name, element, v)).collect::<Result<Vec<_>>>()?;
    Ok(Test::In { values, negate })
}

/// A checked value of the field's type: numbers finite, ints integral.
fn literal(name: &str, kind: FieldType, value: &Value) -> Result<Scalar> {
    let wrong = || invalid(format!("{name:?} is a '{}' field; {value} is not a value of that type", kind.as_str()));
    match (kind, value) {
        (FieldType::String, Value::String(s)) => Ok(Scalar::String(s.clone())),
        (FieldType::Int, Value::Number(n)) => fields::integer(n).map(Scalar::Int).ok_or_else(wrong),
        (FieldType::Float, Value::Number(n)) => {
            n.as_f64().filter(|f| f.is_finite()).map(Scalar::Float).ok_or_else(wrong)
        }
        (FieldType::Bool, Value::Bool(b)) => Ok(Scalar::Bool(*b)),
        _ => Err(wrong()),
    }
}

/// The condition as a LanceDB (DataFusion SQL) predicate: identifiers quoted, values escaped,
/// long joins grouped so the parsed tree stays shallow.
pub fn to_sql(condition: &Condition) -> String {
    match condition {
        Condition::All(parts) => join(parts.iter().map(to_sql).collect(), " AND ", "TRUE"),
        Condition::Any(parts) => join(parts.iter().map(to_sql).collect(), " OR ", "FALSE"),
        // SQL's NOT of an unknown (NULL, e.g. a comparison on an absent field) is unknown, which
        // would drop the row; document filters treat "absent" as "does not match", so negate that.
        Condition::Not(inner) => format!("NOT coalesce(({}), false)", to_sql(inner)),
        Condition::Field { name, kind, test } => test_sql(&quote_ident(name), *kind, test),
    }
}

fn test_sql(sql: &str, kind: FieldType, test: &Test) -> String {
    let list = kind == FieldType::StringList;
    // `$ne` / `$nin` also match rows where the field is absent.
    let negated = |positive: String| format!("({sql} IS NULL OR NOT ({positive}))");
    match test {
        Test::Exists { present: true } => format!("{sql} IS NOT NULL"),
        Test::Exists { present: false } => format!("{sql} IS NULL"),
        Test::Equals { value, negate } => {
            let positive = if list {
                format!("array_has({sql}, {})", scalar_sql(value))
            } else {
                format!("{sql} = {}", scalar_sql(value))
            };
            if *negate { negated(positive) } else { positive }
        }
        Test::Compare { op, value } => format!("{sql} {} {}", op.sql(), scalar_sql(value)),
        Test::In { values, negate } if values.is_empty() => (if *negate { "TRUE" } else { "FALSE" }).to_owned(),
        Test::In { values, negate } => {
            let literals = values.iter().map(scalar_sql).collect::<Vec<_>>().join(", ");
            let positive = if list {
                format!("array_has_any({sql}, make_array({literals}))")
            } else {
                format!("{sql} IN ({literals})")
            };
            if *negate { negated(positive) } else { positive }
        }
    }
}

fn scalar_sql(value: &Scalar) -> String {
    match value {
        Scalar::String(s) => quote_str(s),
        Scalar::Int(i) => i.to_string(),
        // `{:?}` always prints a decimal point or exponent, so DataFusion reads a float.
        Scalar::Float(f) => format!("{f:?}"),
        Scalar::Bool(b) => b.to_string(),
    }
}

/// `(a) glue (b) glue …`, nested in groups of `GROUP` so the parsed tree stays shallow:
/// its depth grows with log(parts), not with parts. Iterative, so no recursion on user input here.
fn join(mut parts: Vec<String>, glue: &str, empty: &str) -> String {
    if parts.is_empty() {
        return empty.to_owned();
    }
    while parts.len() > GROUP {
        parts = parts.chunks(GROUP).map(|group| flat(group, glue)).collect();
    }
    if parts.len() == 1 { parts.pop().unwrap_or_default() } else { flat(&parts, glue) }
}

fn flat(parts: &[String], glue: &str) -> String {
    match parts {
        [one] => one.clone(),
        _ => parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(glue),
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
        assert_eq!(id_in(["a", "b'c"]), "`id` IN ('a', 'b''c')");
    }

    #[test]
    fn compiles_every_operator() {
        assert_eq!(sql(json!({ "section": "utils" })), "`section` = 'utils'");
        assert_eq!(sql(json!({ "year": { "$gte": 2020, "$lt": 2024 } })), "(`year` >= 2020) AND (`year` < 2024)");
        assert_eq!(sql(json!({ "score": { "$gt": 1 } })), "`score` > 1.0");
        assert_eq!(sql(json!({ "published": true })), "`published` = true");
        assert_eq!(sql(json!({ "section": { "$in": ["a", "b"] } })), "`section` IN ('a', 'b')");
        assert_eq!(sql(json!({ "section": { "$nin": ["a"] } })), "(`section` IS NULL OR NOT (`section` IN ('a')))");
        assert_eq!(sql(json!({ "section": { "$ne": "a" } })), "(`section` IS NULL OR NOT (`section` = 'a'))");
        assert_eq!(sql(json!({ "tags": "x" })), "array_has(`tags`, 'x')");
        assert_eq!(sql(json!({ "tags": { "$in": ["x", "y"] } })), "array_has_any(`tags`, make_array('x', 'y'))");
        assert_eq!(sql(json!({ "year": { "$exists": false } })), "`year` IS NULL");
        assert_eq!(sql(json!({ "year": null })), "`year` IS NULL");
        assert_eq!(
            sql(json!({ "$or": [{ "section": "a" }, { "$not": { "year": 1 } }] })),
            "(`section` = 'a') OR (NOT coalesce((`year` = 1), false))"
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
        assert_eq!(predicate, format!("`section` = {}", quote_str(nasty)));
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
    fn field_names_that_are_sql_keywords_are_quoted_identifiers() {
        let keywords: Fields =
            [("order", FieldType::Int), ("select", FieldType::String)].map(|(n, t)| (n.to_owned(), t)).into();
        let predicate = compile(&json!({ "order": { "$gt": 1 }, "select": "x" }), &keywords).unwrap().unwrap();
        assert_eq!(predicate, "(`order` > 1) AND (`select` = 'x')");
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }

    /// Issue 13, item 1: a 50,000-way `$or` crashed the process (the predicate parsed as a tree as
    /// deep as it was long). Long joins are grouped, and a filter has at most `MAX_CONDITIONS` conditions.
    #[test]
    fn wide_filters_compile_shallow_and_are_bounded() {
        let branches =
            |n: usize| json!({ "$or": (0..n).map(|i| json!({ "section": format!("s{i}") })).collect::<Vec<_>>() });
        let predicate = sql(branches(MAX_CONDITIONS));
        let mut depth = 0_usize;
        let mut deepest = 0_usize;
        for c in predicate.chars() {
            match c {
                '(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        assert!(deepest <= 6, "{MAX_CONDITIONS} branches nest {deepest} parentheses deep");
        assert_eq!(predicate.matches(" OR ").count(), MAX_CONDITIONS - 1);
        let err = compile(&branches(MAX_CONDITIONS + 1), &fields()).unwrap_err();
        assert!(matches!(err, StoreError::InvalidFilter { .. }));
        let many_ops = json!({ "$and": (0..MAX_CONDITIONS / 2 + 1).map(|_| json!({ "year": { "$gt": 1, "$lt": 5 } })).collect::<Vec<_>>() });
        assert!(matches!(compile(&many_ops, &fields()), Err(StoreError::InvalidFilter { .. })));
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
