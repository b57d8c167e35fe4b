//! Names in SQL text. Values always travel as bind parameters; names cannot, so
//! every name put into a statement at run time — a table, a column from
//! `conflict_key`, a partition found in the catalog — is quoted here. Names from the
//! configuration are also checked as plain lower-case identifiers when it is loaded
//! (`config::is_plain_identifier`), so quoting never changes what they mean.

/// `name` as a quoted SQL identifier: in double quotes, inner double quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Each name quoted, comma-separated: a column list.
pub fn quote_identifiers<Name: AsRef<str>>(names: &[Name]) -> String {
    names.iter().map(|name| quote_identifier(name.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_quotes_inside_them_doubled() {
        assert_eq!(quote_identifier("ticks"), "\"ticks\"");
        assert_eq!(quote_identifier("time"), "\"time\"");
        assert_eq!(quote_identifier("x\"; DROP TABLE ticks; --"), "\"x\"\"; DROP TABLE ticks; --\"");
        assert_eq!(quote_identifiers(&["venue", "trade_id", "time"]), "\"venue\", \"trade_id\", \"time\"");
    }
}
