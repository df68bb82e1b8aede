//! Predicates handed to LanceDB, and the only place user values are quoted into them.
//! Every string goes through `quote_str`; nothing else builds predicate text from user input.

use super::schema::ID;

/// A SQL string literal for `value`: wrapped in single quotes, inner quotes doubled.
/// LanceDB's SQL dialect (DataFusion) treats backslashes literally, so only `'` needs escaping;
/// NUL is not representable and is rejected by id validation before it gets here.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_and_nothing_else_changes() {
        assert_eq!(quote_str("plain"), "'plain'");
        assert_eq!(quote_str("it's"), "'it''s'");
        assert_eq!(quote_str(r"back\slash % _ ü 🚀"), r"'back\slash % _ ü 🚀'");
        assert_eq!(quote_str("'; DROP TABLE x; --"), "'''; DROP TABLE x; --'");
    }

    #[test]
    fn id_lists_quote_every_id() {
        assert_eq!(id_in(["a", "b'c"]), "id IN ('a', 'b''c')");
    }
}
