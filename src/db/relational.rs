//! Reads what the relational writer needs to know about its tables from the catalog:
//! columns and types, primary keys, and the foreign keys between them, turned into a
//! foreign-key order (parents before children).

use std::collections::{HashMap, HashSet};

use tokio_postgres::Client;

use super::DbError;
use crate::record::{RelationalCatalog, RelationalTable};

/// Describes each of `names` that exists in the current schema; the names that do not
/// exist are returned apart, for a warning.
pub async fn load_relational_catalog(client: &Client, names: &[String]) -> Result<(RelationalCatalog, Vec<String>), DbError> {
    let columns = client
        .query(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE c.relname = ANY($1) AND c.relkind IN ('r', 'p')",
            &[&names],
        )
        .await?;
    let primary_keys = client
        .query(
            "SELECT c.relname::text, a.attname::text
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              WHERE i.indisprimary AND c.relname = ANY($1)
              ORDER BY c.relname, k.position",
            &[&names],
        )
        .await?;
    let foreign_keys = client
        .query(
            "SELECT child.relname::text, parent.relname::text
               FROM pg_constraint k
               JOIN pg_class child ON child.oid = k.conrelid
               JOIN pg_class parent ON parent.oid = k.confrelid
               JOIN pg_namespace n ON n.oid = child.relnamespace AND n.nspname = current_schema()
              WHERE k.contype = 'f' AND child.relname = ANY($1) AND parent.relname = ANY($1)",
            &[&names],
        )
        .await?;

    let mut tables: HashMap<String, RelationalTable> = HashMap::new();
    for row in &columns {
        let name: String = row.get(0);
        let table = tables.entry(name.clone()).or_insert_with(|| RelationalTable {
            name,
            columns: HashMap::new(),
            primary_key: Vec::new(),
            rank: 0,
        });
        table.columns.insert(row.get(1), row.get(2));
    }
    for row in &primary_keys {
        if let Some(table) = tables.get_mut(&row.get::<_, String>(0)) {
            table.primary_key.push(row.get(1));
        }
    }
    let edges: Vec<(String, String)> = foreign_keys.iter().map(|row| (row.get(0), row.get(1))).collect();
    for (name, rank) in foreign_key_ranks(tables.keys().cloned().collect(), &edges) {
        if let Some(table) = tables.get_mut(&name) {
            table.rank = rank;
        }
    }
    let missing = names.iter().filter(|name| !tables.contains_key(*name)).cloned().collect();
    Ok((RelationalCatalog { tables, refusal: None, edge_tables: None }, missing))
}

/// Each table's depth in the foreign-key graph (`edges` are child → parent): 0 for a
/// table without parents, else one more than its deepest parent. Self-references and
/// cycles do not raise a rank, so every table gets one.
fn foreign_key_ranks(names: Vec<String>, edges: &[(String, String)]) -> HashMap<String, usize> {
    let mut ranks: HashMap<String, usize> = HashMap::new();
    fn rank_of(name: &str, edges: &[(String, String)], ranks: &mut HashMap<String, usize>, visiting: &mut HashSet<String>) -> usize {
        if let Some(rank) = ranks.get(name) {
            return *rank;
        }
        if !visiting.insert(name.to_string()) {
            return 0;
        }
        let rank = edges
            .iter()
            .filter(|(child, parent)| child == name && parent != name)
            .map(|(_, parent)| rank_of(parent, edges, ranks, visiting) + 1)
            .max()
            .unwrap_or(0);
        visiting.remove(name);
        ranks.insert(name.to_string(), rank);
        rank
    }
    for name in &names {
        rank_of(name, edges, &mut ranks, &mut HashSet::new());
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_rank_before_children_and_cycles_end() {
        let edge = |child: &str, parent: &str| (child.to_string(), parent.to_string());
        let names = ["orders", "trades", "risk_alerts", "sessions", "deliberations", "a", "b"].map(String::from).to_vec();
        let edges = [
            edge("trades", "orders"),
            edge("risk_alerts", "orders"),
            edge("deliberations", "sessions"),
            edge("deliberations", "deliberations"),
            edge("a", "b"),
            edge("b", "a"),
        ];
        let ranks = foreign_key_ranks(names, &edges);
        assert_eq!(ranks["orders"], 0);
        assert_eq!(ranks["trades"], 1);
        assert_eq!(ranks["risk_alerts"], 1);
        assert_eq!(ranks["sessions"], 0);
        assert_eq!(ranks["deliberations"], 1, "a self-reference does not raise the rank");
        assert!(ranks.contains_key("a") && ranks.contains_key("b"), "a cycle still ranks both");
    }
}
