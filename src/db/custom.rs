//! Custom tables in the database: `migrate` creates each one that is missing — range
//! partitioned on its time column (vanilla PostgreSQL), a hypertable on it
//! (TimescaleDB), or a plain table (`partitioned = false`) — with its primary, unique
//! and foreign keys (parents first: relational tables exist by then, and custom tables
//! are created in foreign-key order), column defaults, and configured indexes (btree,
//! gin, brin). A key the server refuses (a foreign key to a table without that key, a
//! type mismatch with a relational table) is an error naming the table and the key. A table that already exists is compared
//! with the configuration, column by column (name, type as `format_type` prints it,
//! NOT NULL) and by how it is partitioned; any difference is an error that lists every
//! one of them, and nothing is altered. Partitions, chunk intervals and policies are
//! then converged with the built-in tables' (`partitions`, `timescale`).

use tokio_postgres::Client;

use super::{DbError, Profile};
use crate::config::{CustomTableConfig, IndexMethod};
use crate::record::{format_uuid, CellValue, ColumnDefault, CustomSchema};

/// Longest identifier PostgreSQL keeps whole.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Creates what is missing of every custom table; returns one line per change.
pub async fn ensure_custom_tables(
    client: &Client,
    profile: Profile,
    tables: &[(&CustomTableConfig, CustomSchema)],
) -> Result<Vec<String>, DbError> {
    if profile == Profile::TimescaleDb {
        refuse_hypertable_references(tables)?;
    }
    let mut actions = Vec::new();
    for (config, schema) in parents_first(tables) {
        let name = schema.name();
        let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&quote(name)]).await?.get(0);
        if exists {
            let differences = differences(client, profile, config, schema).await?;
            if !differences.is_empty() {
                return Err(DbError::Schema(format!(
                    "custom table `{name}` differs from the configuration: {}; change the table or the configuration \
                     (migrate does not alter existing tables)",
                    differences.join("; ")
                )));
            }
        } else {
            client.batch_execute(&create_statement(profile, config, schema)).await.map_err(|error| refused(config, &error))?;
            actions.push(match profile {
                _ if !config.is_partitioned() => format!("{name}: created, not partitioned"),
                Profile::Vanilla => format!("{name}: created, range-partitioned on {}", schema.table.time_column()),
                Profile::TimescaleDb => format!("{name}: created as a hypertable on {}", schema.table.time_column()),
            });
        }
        actions.extend(ensure_indexes(client, config, schema).await?);
    }
    Ok(actions)
}

/// `"name"`: identifiers are checked lower-case names, quoted in case SQL reserves them.
fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

fn quote_list(columns: &[String]) -> String {
    columns.iter().map(|column| quote(column)).collect::<Vec<_>>().join(", ")
}

/// The tables in an order that creates every referenced custom table before the tables
/// referencing it (the configuration's checks refuse circles; a table that references
/// itself needs nothing first).
fn parents_first<'a, 'b>(tables: &'b [(&'a CustomTableConfig, CustomSchema)]) -> Vec<&'b (&'a CustomTableConfig, CustomSchema)> {
    let mut ordered: Vec<&(&CustomTableConfig, CustomSchema)> = Vec::with_capacity(tables.len());
    let mut remaining: Vec<&(&CustomTableConfig, CustomSchema)> = tables.iter().collect();
    while !remaining.is_empty() {
        let waits_for_a_parent = |entry: &&(&CustomTableConfig, CustomSchema)| {
            entry
                .0
                .foreign_keys
                .iter()
                .any(|key| key.references != entry.0.name && remaining.iter().any(|other| other.0.name == key.references))
        };
        let position = remaining.iter().position(|entry| !waits_for_a_parent(entry)).unwrap_or(0);
        ordered.push(remaining.remove(position));
    }
    ordered
}

/// TimescaleDB (2.28 as tested) lets a hypertable reference a plain table and a plain
/// table reference a hypertable, but not a hypertable reference another hypertable:
/// refused before anything is created, naming the key.
fn refuse_hypertable_references(tables: &[(&CustomTableConfig, CustomSchema)]) -> Result<(), DbError> {
    let hypertable = |name: &str| tables.iter().any(|(config, _)| config.name == name && config.is_partitioned());
    for (config, _) in tables.iter().filter(|(config, _)| config.is_partitioned()) {
        for (index, key) in config.foreign_keys.iter().enumerate() {
            if hypertable(&key.references) {
                return Err(DbError::Schema(format!(
                    "custom table `{}` foreign_keys[{index}]: TimescaleDB does not let a hypertable reference another \
                     hypertable (`{}`); set partitioned = false on one of the two tables or leave the foreign key out",
                    config.name, key.references
                )));
            }
        }
    }
    Ok(())
}

/// A creation the server refused, said with the table and its keys.
fn refused(config: &CustomTableConfig, error: &tokio_postgres::Error) -> DbError {
    let server = error.as_db_error().map_or_else(
        || error.to_string(),
        |db| format!("{}{}", db.message(), db.detail().map(|detail| format!(" ({detail})")).unwrap_or_default()),
    );
    let hint = if config.foreign_keys.is_empty() {
        String::new()
    } else {
        let references: Vec<String> =
            config.foreign_keys.iter().map(|key| format!("[{}] → {}", key.columns.join(", "), key.references)).collect();
        format!("; its foreign keys ({}) must name an existing table's primary or unique key, of the same types", references.join(", "))
    };
    DbError::Schema(format!("custom table `{}` could not be created: {server}{hint}", config.name))
}

fn create_statement(profile: Profile, config: &CustomTableConfig, schema: &CustomSchema) -> String {
    let name = quote(schema.name());
    let time_column = schema.table.time_column();
    let columns: Vec<String> = schema
        .columns
        .iter()
        .map(|rule| {
            let mut definition = format!("    {} {}", quote(&rule.name), rule.pg_type.sql_name());
            if !rule.nullable {
                definition.push_str(" NOT NULL");
            }
            if let Some(default) = &rule.default {
                definition.push_str(&format!(" DEFAULT {}", default_expression(default, &rule.pg_type.sql_name())));
            }
            definition
        })
        .collect();
    let mut lines = columns;
    lines.extend(constraints(config));
    let body = lines.join(",\n");
    match profile {
        _ if !config.is_partitioned() => format!("CREATE TABLE {name} (\n{body}\n);"),
        Profile::Vanilla => format!("CREATE TABLE {name} (\n{body}\n) PARTITION BY RANGE ({});", quote(time_column)),
        Profile::TimescaleDb => {
            let chunk_hours = config.partition_hours.unwrap_or(crate::config::DEFAULT_CUSTOM_PARTITION_HOURS);
            format!(
                "CREATE TABLE {name} (\n{body}\n);\nSELECT create_hypertable('{name}', by_range('{time_column}', INTERVAL '{chunk_hours} hours'));"
            )
        }
    }
}

/// The table's primary key, unique keys and foreign keys as table constraints.
fn constraints(config: &CustomTableConfig) -> Vec<String> {
    let mut lines = Vec::new();
    if !config.primary_key.is_empty() {
        lines.push(format!("    PRIMARY KEY ({})", quote_list(&config.primary_key)));
    }
    for columns in &config.unique {
        lines.push(format!("    UNIQUE ({})", quote_list(columns)));
    }
    for key in &config.foreign_keys {
        // Without referenced columns, a relational table's primary key is meant (the
        // configuration's checks fill in a custom table's).
        let referenced =
            if key.referenced_columns.is_empty() { String::new() } else { format!(" ({})", quote_list(&key.referenced_columns)) };
        lines.push(format!(
            "    FOREIGN KEY ({}) REFERENCES {}{referenced} ON DELETE {}",
            quote_list(&key.columns),
            quote(&key.references),
            key.on_delete.sql()
        ));
    }
    lines
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The column default as SQL: the same value the daemon fills in.
fn default_expression(default: &ColumnDefault, sql_type: &str) -> String {
    let value = match default {
        ColumnDefault::RandomUuid => return "gen_random_uuid()".into(),
        ColumnDefault::ReceivedAt => return "now()".into(),
        ColumnDefault::CurrentDate => return "current_date".into(),
        ColumnDefault::Value(value) => value,
    };
    let float = |number: f64| {
        if number.is_nan() {
            "NaN".to_string()
        } else if number.is_infinite() {
            if number > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }
        } else {
            number.to_string()
        }
    };
    let text = match value {
        CellValue::Null => return "NULL".into(),
        CellValue::Bool(flag) => flag.to_string(),
        CellValue::Int2(number) => number.to_string(),
        CellValue::Int4(number) => number.to_string(),
        CellValue::Int8(number) => number.to_string(),
        CellValue::Float4(number) => float(f64::from(*number)),
        CellValue::Float8(number) => float(*number),
        CellValue::Numeric(decimal) => decimal.to_string(),
        CellValue::Text(text) | CellValue::Jsonb(text) => text.clone(),
        CellValue::TimestampTz(time) => time.to_string(),
        CellValue::Date(date) => date.format("%Y-%m-%d").to_string(),
        CellValue::Uuid(bytes) => format_uuid(bytes),
        CellValue::TextArray(items) => {
            let elements: Vec<String> = items.iter().map(|item| literal(item)).collect();
            return format!("ARRAY[{}]::{sql_type}", elements.join(", "));
        }
        CellValue::Float8Array(items) => {
            let elements: Vec<String> = items.iter().map(|item| literal(&float(*item))).collect();
            return format!("ARRAY[{}]::{sql_type}", elements.join(", "));
        }
    };
    format!("{}::{sql_type}", literal(&text))
}

/// `<table>_<columns>_idx`, as PostgreSQL names indexes; shortened with a hash when it
/// would pass 63 bytes, so two long names cannot truncate to the same one.
fn index_name(table: &str, columns: &[&str]) -> String {
    let name = format!("{table}_{}_idx", columns.join("_"));
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    format!("{}_{:08x}_idx", &name[..MAX_IDENTIFIER_BYTES - 13], hash as u32)
}

/// The index on the time column (newest first, as queries read) and the configured
/// ones, each created when missing.
async fn ensure_indexes(client: &Client, config: &CustomTableConfig, schema: &CustomSchema) -> Result<Vec<String>, DbError> {
    let name = schema.name();
    let time_column = schema.table.time_column();
    let mut wanted: Vec<(String, String)> = vec![(index_name(name, &[time_column]), format!("({} DESC)", quote(time_column)))];
    for declared in &config.indexes {
        let names: Vec<&str> = declared.columns().iter().map(String::as_str).collect();
        let list = quote_list(declared.columns());
        let index = match declared.method() {
            IndexMethod::Btree => index_name(name, &names),
            method => index_name(name, &[&names.join("_"), method.sql_name()]),
        };
        wanted.push(match declared.method() {
            IndexMethod::Btree => (index, format!("({list})")),
            method => (index, format!("USING {} ({list})", method.sql_name())),
        });
    }
    let mut actions = Vec::new();
    for (index, columns) in wanted {
        let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&quote(&index)]).await?.get(0);
        if exists {
            continue;
        }
        client.batch_execute(&format!("CREATE INDEX IF NOT EXISTS {} ON {} {columns}", quote(&index), quote(name))).await?;
        actions.push(format!("{name}: index {index} {columns}"));
    }
    Ok(actions)
}

/// The configured primary, unique and foreign keys the existing table lacks (keys of
/// its own beyond the configuration's are left alone).
async fn missing_keys(client: &Client, config: &CustomTableConfig) -> Result<Vec<String>, DbError> {
    let rows = client
        .query(
            "SELECT c.contype::text,
                    ARRAY(SELECT a.attname::text
                            FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
                            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                           ORDER BY k.position),
                    coalesce((SELECT relname::text FROM pg_class WHERE oid = c.confrelid), '')
               FROM pg_constraint c
              WHERE c.conrelid = to_regclass($1) AND c.contype IN ('p', 'u', 'f')",
            &[&quote(&config.name)],
        )
        .await?;
    let existing: Vec<(String, Vec<String>, String)> = rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect();
    let has = |kind: &str, columns: &[String], references: &str| {
        existing.iter().any(|(found_kind, found_columns, found_references)| {
            found_kind == kind && found_columns.as_slice() == columns && found_references == references
        })
    };
    let mut problems = Vec::new();
    if !config.primary_key.is_empty() && !has("p", &config.primary_key, "") {
        problems.push(format!("the primary key ({}) is missing", config.primary_key.join(", ")));
    }
    for columns in &config.unique {
        if !has("u", columns, "") && !has("p", columns, "") {
            problems.push(format!("the unique key ({}) is missing", columns.join(", ")));
        }
    }
    for key in &config.foreign_keys {
        if !has("f", &key.columns, &key.references) {
            problems.push(format!("the foreign key ({}) → {} is missing", key.columns.join(", "), key.references));
        }
    }
    Ok(problems)
}

/// Everything in which the existing table differs from the configuration.
async fn differences(client: &Client, profile: Profile, config: &CustomTableConfig, schema: &CustomSchema) -> Result<Vec<String>, DbError> {
    let name = schema.name();
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull
               FROM pg_attribute
              WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[&quote(name)],
        )
        .await?;
    let existing: Vec<(String, String, bool)> = rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect();
    let mut problems = Vec::new();
    for rule in &schema.columns {
        let wanted_type = rule.pg_type.sql_name();
        match existing.iter().find(|(column, _, _)| *column == rule.name) {
            None => problems.push(format!("column `{}` ({wanted_type}) is missing", rule.name)),
            Some((_, actual_type, not_null)) => {
                if *actual_type != wanted_type {
                    problems.push(format!("column `{}` is {actual_type}; configured {wanted_type}", rule.name));
                }
                if *not_null == rule.nullable {
                    let (table_says, config_says) = if *not_null { ("NOT NULL", "nullable") } else { ("nullable", "NOT NULL") };
                    problems.push(format!("column `{}` is {table_says}; configured {config_says}", rule.name));
                }
            }
        }
    }
    for (column, actual_type, _) in &existing {
        if !schema.columns.iter().any(|rule| rule.name == *column) {
            problems.push(format!("column `{column}` ({actual_type}) is not in the configuration"));
        }
    }
    problems.extend(missing_keys(client, config).await?);
    let time_column = schema.table.time_column();
    if !config.is_partitioned() {
        return Ok(problems);
    }
    let partitioned_on_time: bool = match profile {
        Profile::Vanilla => client
            .query_one(
                "SELECT coalesce(bool_and(p.partstrat = 'r' AND p.partnatts = 1 AND a.attname = $2), false)
                   FROM pg_partitioned_table p
                   JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
                  WHERE p.partrelid = to_regclass($1)",
                &[&quote(name), &time_column],
            )
            .await?
            .get(0),
        Profile::TimescaleDb => client
            .query_one(
                "SELECT count(*) = 1 FROM timescaledb_information.dimensions
                  WHERE hypertable_name = $1 AND column_name = $2 AND dimension_type = 'Time'",
                &[&name, &time_column],
            )
            .await?
            .get(0),
    };
    if !partitioned_on_time {
        problems.push(match profile {
            Profile::Vanilla => format!("it is not range-partitioned on `{time_column}` alone"),
            Profile::TimescaleDb => format!("it is not a hypertable partitioned on `{time_column}` alone"),
        });
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_index_names_stay_distinct_and_within_the_limit() {
        assert_eq!(index_name("price_tracking", &["deal_id"]), "price_tracking_deal_id_idx");
        let long_table = "a".repeat(48);
        let first = index_name(&long_table, &["column_one", "column_two"]);
        let second = index_name(&long_table, &["column_one", "column_three"]);
        assert!(first.len() <= MAX_IDENTIFIER_BYTES && second.len() <= MAX_IDENTIFIER_BYTES);
        assert_ne!(first, second);
    }

    #[test]
    fn defaults_become_typed_sql_literals() {
        let value = |cell| ColumnDefault::Value(cell);
        assert_eq!(default_expression(&ColumnDefault::RandomUuid, "uuid"), "gen_random_uuid()");
        assert_eq!(default_expression(&value(CellValue::Text("it's".into())), "character varying(3)"), "'it''s'::character varying(3)");
        assert_eq!(default_expression(&value(CellValue::Jsonb("{}".into())), "jsonb"), "'{}'::jsonb");
        assert_eq!(default_expression(&value(CellValue::TextArray(Vec::new())), "text[]"), "ARRAY[]::text[]");
        assert_eq!(
            default_expression(&value(CellValue::Numeric(crate::record::Decimal::parse("0.50").unwrap())), "numeric(10,2)"),
            "'0.50'::numeric(10,2)"
        );
    }
}
