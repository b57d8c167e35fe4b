//! The checks of a custom table's keys, foreign keys, index methods, partitioning and
//! per-row retention: every problem reported, keyed like
//! `custom_tables[2].foreign_keys[0].references`.

use super::custom_keys::IndexMethod;
use super::custom_tables::CustomTableConfig;
use super::model::Config;
use super::tables::WriteMode;
use crate::record::PgType;

pub(super) fn check(config: &Config, problem: &mut impl FnMut(&str, String)) {
    for (index, table) in config.custom_tables.iter().enumerate() {
        let key = |name: &str| format!("custom_tables[{index}].{name}");
        check_keys(table, &key, problem);
        check_foreign_keys(config, table, &key, problem);
        check_index_methods(table, &key, problem);
        check_partitioning_and_retention(table, &key, problem);
    }
    if let Some(cycle) = custom_reference_cycle(config) {
        problem(
            "custom_tables",
            format!(
                "the foreign keys between custom tables run in a circle ({cycle}); expected parents that do not reference their children"
            ),
        );
    }
}

fn column_type(table: &CustomTableConfig, name: &str) -> Option<Option<PgType>> {
    table.columns.iter().find(|column| column.name == name).map(|column| column.pg_type())
}

/// `columns` name columns of `table`, each once, at least one.
fn check_column_list(table: &CustomTableConfig, columns: &[String], key: &str, problem: &mut impl FnMut(&str, String)) -> bool {
    if columns.is_empty() {
        problem(key, "expected at least one column".into());
        return false;
    }
    let mut fine = true;
    for (position, column) in columns.iter().enumerate() {
        if column_type(table, column).is_none() {
            problem(key, format!("`{column}` is not a column of {}", table.name));
            fine = false;
        } else if columns[..position].contains(column) {
            problem(key, format!("`{column}` is listed twice"));
            fine = false;
        }
    }
    fine
}

fn check_keys(table: &CustomTableConfig, key: &impl Fn(&str) -> String, problem: &mut impl FnMut(&str, String)) {
    let mut keys: Vec<(String, &Vec<String>)> = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push((key("primary_key"), &table.primary_key));
    }
    for (index, columns) in table.unique.iter().enumerate() {
        keys.push((key(&format!("unique[{index}]")), columns));
    }
    for (key, columns) in keys {
        if !check_column_list(table, columns, &key, problem) {
            continue;
        }
        if columns == &table.primary_key {
            if let Some(column) = table.columns.iter().find(|column| column.nullable == Some(true) && columns.contains(&column.name)) {
                problem(&key, format!("`{}` is declared nullable = true; a primary key's columns are NOT NULL", column.name));
            }
        }
        if let Some(column) = columns.iter().find(|column| column_type(table, column).flatten().is_some_and(PgType::is_array)) {
            problem(&key, format!("`{column}` is an array column; a key takes scalar columns"));
        }
        if table.is_partitioned() && !columns.contains(&table.time_column) {
            problem(
                &key,
                format!(
                    "[{}] does not hold the time column: on a partitioned table PostgreSQL and TimescaleDB need every primary and \
                     unique key to include it; include the time column `{}` or set partitioned = false",
                    columns.join(", "),
                    table.time_column
                ),
            );
        }
    }
    if table.is_keyed() && table.write_mode.is_some_and(|mode| mode != WriteMode::Copy) {
        problem(
            &key("write_mode"),
            format!(
                "{} is keyed (a primary, unique or foreign key): its rows go through the relational writer; leave write_mode out",
                table.name
            ),
        );
    }
}

fn check_foreign_keys(config: &Config, table: &CustomTableConfig, key: &impl Fn(&str) -> String, problem: &mut impl FnMut(&str, String)) {
    for (index, foreign_key) in table.foreign_keys.iter().enumerate() {
        let fk_key = |name: &str| key(&format!("foreign_keys[{index}].{name}"));
        let columns_fine = check_column_list(table, &foreign_key.columns, &fk_key("columns"), problem);
        let target = foreign_key.references.as_str();
        let relational = config.relational.tables.iter().any(|name| name == target);
        let custom = config.custom_table(target);
        if !relational && custom.is_none() {
            let mut known: Vec<&str> = config.relational.tables.iter().map(String::as_str).collect();
            known.extend(config.custom_tables.iter().map(|custom| custom.name.as_str()));
            problem(
                &fk_key("references"),
                format!(
                    "`{target}` is neither a relational table (relational.tables) nor a custom table; expected one of {}",
                    known.join(", ")
                ),
            );
            continue;
        }
        if foreign_key.on_delete == super::OnDelete::SetNull {
            let not_null: Vec<&str> = foreign_key
                .columns
                .iter()
                .filter(|column| {
                    table.columns.iter().any(|c| {
                        &c.name == *column
                            && (c.nullable == Some(false) || c.name == table.time_column || table.primary_key.contains(&c.name))
                    })
                })
                .map(String::as_str)
                .collect();
            if !not_null.is_empty() {
                problem(&fk_key("on_delete"), format!("\"set_null\" needs nullable columns; {} NOT NULL", not_null.join(", ")));
            }
        }
        let Some(parent) = custom else {
            if !foreign_key.referenced_columns.is_empty() && foreign_key.referenced_columns.len() != foreign_key.columns.len() {
                problem(
                    &fk_key("referenced_columns"),
                    format!("{} column(s) for {} in `columns`", foreign_key.referenced_columns.len(), foreign_key.columns.len()),
                );
            }
            continue;
        };
        let referenced: &[String] =
            if foreign_key.referenced_columns.is_empty() { &parent.primary_key } else { &foreign_key.referenced_columns };
        if referenced.is_empty() {
            problem(
                &fk_key("referenced_columns"),
                format!("custom table {target} has no primary_key to default to; name the referenced columns"),
            );
            continue;
        }
        if !check_column_list(parent, referenced, &fk_key("referenced_columns"), problem) || !columns_fine {
            continue;
        }
        if referenced.len() != foreign_key.columns.len() {
            problem(
                &fk_key("referenced_columns"),
                format!("{} column(s) of {target} for {} in `columns`", referenced.len(), foreign_key.columns.len()),
            );
            continue;
        }
        let is_a_key = |columns: &[String]| {
            let mut sorted = columns.to_vec();
            sorted.sort();
            let same = |key: &[String]| {
                let mut key = key.to_vec();
                key.sort();
                key == sorted
            };
            (!parent.primary_key.is_empty() && same(&parent.primary_key)) || parent.unique.iter().any(|key| same(key))
        };
        if !is_a_key(referenced) {
            problem(
                &fk_key("referenced_columns"),
                format!("[{}] is not the primary key or a unique key of {target}; a foreign key references one", referenced.join(", ")),
            );
        }
        for (child, parent_column) in foreign_key.columns.iter().zip(referenced) {
            let child_type = column_type(table, child).flatten();
            let parent_type = column_type(parent, parent_column).flatten();
            if let (Some(child_type), Some(parent_type)) = (child_type, parent_type) {
                if child_type.sql_name() != parent_type.sql_name() {
                    problem(
                        &fk_key("columns"),
                        format!(
                            "`{child}` is {} but {target}.{parent_column} is {}; expected the same type",
                            child_type.sql_name(),
                            parent_type.sql_name()
                        ),
                    );
                }
            }
        }
    }
}

fn check_index_methods(table: &CustomTableConfig, key: &impl Fn(&str) -> String, problem: &mut impl FnMut(&str, String)) {
    for (index, declared) in table.indexes.iter().enumerate() {
        if declared.method() != IndexMethod::Gin {
            continue;
        }
        for column in declared.columns() {
            if let Some(Some(pg_type)) = column_type(table, column) {
                if pg_type != PgType::Jsonb && !pg_type.is_array() {
                    problem(
                        &key(&format!("indexes[{index}]")),
                        format!("a gin index takes jsonb and array columns; `{column}` is {} (use btree or brin)", pg_type.sql_name()),
                    );
                }
            }
        }
    }
}

fn check_partitioning_and_retention(table: &CustomTableConfig, key: &impl Fn(&str) -> String, problem: &mut impl FnMut(&str, String)) {
    if !table.is_partitioned() && table.write_mode == Some(WriteMode::DirectCompress) {
        problem(
            &key("write_mode"),
            "\"direct_compress\" writes into a hypertable's columnstore; this table has partitioned = false".into(),
        );
    }
    let Some(column) = &table.retention_column else { return };
    match column_type(table, column) {
        None => problem(&key("retention_column"), format!("`{column}` is not a column of {}", table.name)),
        Some(Some(PgType::Int2 | PgType::Int4 | PgType::Int8)) => {}
        Some(Some(other)) => {
            problem(&key("retention_column"), format!("`{column}` is {}; expected an integer column (days)", other.sql_name()))
        }
        Some(None) => {}
    }
}

/// A circle of foreign keys between custom tables (other than a table referencing
/// itself), as `a → b → a`: the tables could not be created one after the other.
fn custom_reference_cycle(config: &Config) -> Option<String> {
    fn visit<'a>(config: &'a Config, name: &'a str, path: &mut Vec<&'a str>) -> Option<String> {
        if let Some(start) = path.iter().position(|seen| *seen == name) {
            let mut cycle: Vec<&str> = path[start..].to_vec();
            cycle.push(name);
            return Some(cycle.join(" → "));
        }
        let table = config.custom_table(name)?;
        path.push(name);
        for foreign_key in &table.foreign_keys {
            if foreign_key.references != name {
                if let Some(cycle) = visit(config, &foreign_key.references, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        None
    }
    config.custom_tables.iter().find_map(|table| visit(config, &table.name, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const HEAD: &str = "[database]\nurl = \"postgres://u@localhost/db\"\n[relational]\ntables = [\"orders\", \"deals\"]\n";

    #[test]
    fn keyed_tables_declare_keys_foreign_keys_methods_defaults_and_retention() {
        let text = format!(
            r#"{HEAD}
            [[custom_tables]]
            name = "price_tracking"
            time_column = "tracked_at"
            primary_key = ["id", "tracked_at"]
            foreign_keys = [{{ columns = ["deal_id"], references = "deals", on_delete = "cascade" }}]
            indexes = [["deal_id"], {{ columns = ["tags"], method = "gin" }}, {{ columns = ["tracked_at"], method = "brin" }}]
            columns = [
              {{ name = "id", type = "uuid", nullable = false, default_sql = "gen_random_uuid()" }},
              {{ name = "deal_id", type = "uuid", nullable = false }},
              {{ name = "tags", type = "text[]" }},
              {{ name = "day", type = "date", default_sql = "current_date" }},
              {{ name = "tracked_at", type = "timestamptz", default_sql = "now()" }},
            ]

            [[custom_tables]]
            name = "decisions"
            time_column = "at"
            partitioned = false
            unique = [["decision_id"]]
            retention_days = 30
            retention_column = "keep_days"
            foreign_keys = [{{ columns = ["price_id", "price_at"], references = "price_tracking", referenced_columns = ["id", "tracked_at"] }}]
            columns = [
              {{ name = "decision_id", type = "text", nullable = false }},
              {{ name = "price_id", type = "uuid" }},
              {{ name = "price_at", type = "timestamptz" }},
              {{ name = "keep_days", type = "integer" }},
              {{ name = "at", type = "timestamptz" }},
            ]
        "#
        );
        let config = load_str(&text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
        let (prices, decisions) = (&config.custom_tables[0], &config.custom_tables[1]);
        assert!(prices.is_keyed() && prices.is_partitioned());
        assert_eq!(prices.conflict_key(), Some(&["id".to_string(), "tracked_at".to_string()][..]));
        assert!(decisions.is_keyed() && !decisions.is_partitioned());
        assert_eq!(decisions.conflict_key(), Some(&["decision_id".to_string()][..]), "without a primary key: the first unique key");
        assert_eq!(config.relational_catalog_names(), ["orders", "deals", "price_tracking", "decisions"]);
        let settings = config.table(config.custom_tables[1].shape().unwrap().table);
        assert_eq!(
            (settings.drop_retention_days(), settings.deletes_rows_by_interval()),
            (0, true),
            "rows are deleted, pieces never dropped"
        );
    }

    #[test]
    fn every_key_problem_is_reported_with_its_key() {
        let text = format!(
            r#"{HEAD}
            [[custom_tables]]
            name = "metrics"
            time_column = "at"
            primary_key = ["id"]
            unique = [["name", "nope"]]
            retention_column = "note"
            write_mode = "insert"
            indexes = [{{ columns = ["value"], method = "gin" }}, {{ columns = ["tags"], method = "hash" }}]
            foreign_keys = [
              {{ columns = ["deal_id"], references = "dealz" }},
              {{ columns = ["parent"], references = "other", on_delete = "set_null" }},
              {{ columns = ["id"], references = "other", referenced_columns = ["at"] }},
            ]
            columns = [
              {{ name = "id", type = "uuid", nullable = true, default_sql = "uuid_generate_v4()" }},
              {{ name = "name", type = "text" }},
              {{ name = "value", type = "numeric(15,6)" }},
              {{ name = "tags", type = "jsonb" }},
              {{ name = "deal_id", type = "uuid" }},
              {{ name = "parent", type = "text", nullable = false }},
              {{ name = "note", type = "text", default = "x", default_sql = "now()" }},
              {{ name = "day", type = "text", default_sql = "current_date" }},
              {{ name = "at", type = "timestamptz" }},
            ]

            [[custom_tables]]
            name = "other"
            time_column = "at"
            partitioned = false
            primary_key = ["id"]
            columns = [{{ name = "id", type = "bigint" }}, {{ name = "at", type = "timestamptz" }}]
        "#
        );
        let errors = load_str(&text, Vec::new()).expect_err("invalid").0;
        let has = |key: &str, needle: &str| errors.iter().any(|error| error.key == key && error.message.contains(needle));
        for (key, needle) in [
            ("custom_tables[0].primary_key", "include the time column `at` or set partitioned = false"),
            ("custom_tables[0].primary_key", "`id` is declared nullable = true; a primary key's columns are NOT NULL"),
            ("custom_tables[0].unique[0]", "`nope` is not a column of metrics"),
            ("custom_tables[0].retention_column", "expected an integer column"),
            ("custom_tables[0].write_mode", "relational writer"),
            ("custom_tables[0].indexes[0]", "a gin index takes jsonb and array columns; `value` is numeric(15,6)"),
            ("custom_tables[0].indexes[1].method", "unknown variant `hash`, expected one of `btree`, `gin`, `brin`"),
            ("custom_tables[0].foreign_keys[0].references", "`dealz` is neither a relational table"),
            ("custom_tables[0].foreign_keys[1].on_delete", "nullable"),
            ("custom_tables[0].foreign_keys[1].columns", "`parent` is text but other.id is bigint"),
            ("custom_tables[0].foreign_keys[2].referenced_columns", "not the primary key or a unique key of other"),
            (
                "custom_tables[0].columns[0].default_sql",
                "expected \"now()\" (timestamptz), \"current_date\" (date) or \"gen_random_uuid()\" (uuid)",
            ),
            ("custom_tables[0].columns[6].default_sql", "not both"),
            ("custom_tables[0].columns[7].default_sql", "makes a date; the column is text"),
        ] {
            assert!(has(key, needle), "{key}: {needle} missing from\n{}", crate::config::ConfigErrors(errors.clone()));
        }
    }
}
