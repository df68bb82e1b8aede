//! Filters over the resident field columns: a checked `filter::Condition` evaluated to one flag per
//! slot, with the same meaning as the SQL LanceDB runs (`filter::to_sql`): a test of an absent value
//! does not hold, except `$ne` / `$nin`, which hold for it; `$not` of a test that does not hold,
//! holds. The condition's depth is bounded by the filter parser, so the recursion here is too.

use std::cmp::Ordering;

use super::columns::{Columns, FieldColumn};
use crate::store::filter::{Condition, Scalar, Test};

/// One flag per slot: whether the slot's row satisfies `condition` (dead slots included; the scan
/// skips them anyway).
pub fn select(columns: &Columns, condition: &Condition) -> Vec<bool> {
    let slots = columns.slots();
    match condition {
        Condition::All(parts) => {
            let mut flags = vec![true; slots];
            for part in parts {
                for (flag, holds) in flags.iter_mut().zip(select(columns, part)) {
                    *flag &= holds;
                }
            }
            flags
        }
        Condition::Any(parts) => {
            let mut flags = vec![false; slots];
            for part in parts {
                for (flag, holds) in flags.iter_mut().zip(select(columns, part)) {
                    *flag |= holds;
                }
            }
            flags
        }
        Condition::Not(inner) => select(columns, inner).into_iter().map(|holds| !holds).collect(),
        Condition::Field { name, test, .. } => match columns.fields.iter().find(|(n, _)| n == name) {
            Some((_, column)) => field(column, test, slots),
            // Not resident (cannot happen: the columns are built from the declared fields).
            None => vec![false; slots],
        },
    }
}

/// `test` on every slot of `column`.
fn field(column: &FieldColumn, test: &Test, slots: usize) -> Vec<bool> {
    match column {
        FieldColumn::String(v) => each(v, test, |value, scalar| match scalar {
            Scalar::String(s) => Some((**value).cmp(s.as_str())),
            _ => None,
        }),
        FieldColumn::Int(v) => each(v, test, |value, scalar| match scalar {
            Scalar::Int(i) => Some(value.cmp(i)),
            _ => None,
        }),
        FieldColumn::Float(v) => each(v, test, |value, scalar| match scalar {
            Scalar::Float(f) => value.partial_cmp(f),
            _ => None,
        }),
        FieldColumn::Bool(v) => each(v, test, |value, scalar| match scalar {
            Scalar::Bool(b) => Some(value.cmp(b)),
            _ => None,
        }),
        FieldColumn::StringList(v) => lists(v, test, slots),
    }
}

/// A scalar test on each value; `compare` orders a stored value against a filter value (`None`
/// when they cannot be compared, which the parser's type check rules out).
fn each<T>(values: &[Option<T>], test: &Test, compare: impl Fn(&T, &Scalar) -> Option<Ordering>) -> Vec<bool> {
    let equal = |value: &T, scalar: &Scalar| compare(value, scalar) == Some(Ordering::Equal);
    values
        .iter()
        .map(|value| match (test, value) {
            (Test::Exists { present }, _) => value.is_some() == *present,
            (Test::In { values, negate }, _) if values.is_empty() => *negate,
            // Absent: only the negated tests hold.
            (Test::Equals { negate, .. } | Test::In { negate, .. }, None) => *negate,
            (Test::Compare { .. }, None) => false,
            (Test::Equals { value: scalar, negate }, Some(v)) => equal(v, scalar) != *negate,
            (Test::In { values, negate }, Some(v)) => values.iter().any(|s| equal(v, s)) != *negate,
            (Test::Compare { op, value: scalar }, Some(v)) => compare(v, scalar).is_some_and(|o| op.holds(o)),
        })
        .collect()
}

/// Tests on `string[]` values: `Equals` is "contains", `In` is "contains any".
fn lists(values: &[Option<Box<[Box<str>]>>], test: &Test, slots: usize) -> Vec<bool> {
    let contains = |list: &[Box<str>], scalar: &Scalar| match scalar {
        Scalar::String(s) => list.iter().any(|item| **item == **s),
        _ => false,
    };
    let flags: Vec<bool> = values
        .iter()
        .map(|value| match (test, value.as_deref()) {
            (Test::Exists { present }, _) => value.is_some() == *present,
            (Test::In { values, negate }, _) if values.is_empty() => *negate,
            (Test::Equals { negate, .. } | Test::In { negate, .. }, None) => *negate,
            (Test::Equals { value: scalar, negate }, Some(list)) => contains(list, scalar) != *negate,
            (Test::In { values, negate }, Some(list)) => values.iter().any(|s| contains(list, s)) != *negate,
            // The parser refuses order comparisons on lists.
            (Test::Compare { .. }, _) => false,
        })
        .collect();
    debug_assert_eq!(flags.len(), slots);
    flags
}
