//! The keys, foreign keys and indexes of a `[[custom_tables]]` entry, and which of them
//! make a table *keyed*: a custom table with a primary key, a unique key or a foreign
//! key is written by the relational writer (insert, upsert, update, foreign-key order),
//! not by COPY.

use schemars::JsonSchema;
use serde::Deserialize;

/// An index of a custom table: a list of columns (btree) or a table naming the method.
/// (Read by hand rather than as an untagged enum, so that a wrong method is named.)
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum CustomIndexConfig {
    /// `["deal_id", "tracked_at"]`: a btree index on these columns.
    Columns(Vec<String>),
    /// `{ columns = ["tags"], method = "gin" }`.
    WithMethod(CustomIndexWithMethod),
}

/// An index with its method.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomIndexWithMethod {
    pub columns: Vec<String>,
    /// `btree` (default), `gin` (jsonb and array columns only) or `brin`.
    #[serde(default)]
    pub method: IndexMethod,
}

/// How an index is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndexMethod {
    #[default]
    Btree,
    /// Containment and membership in jsonb and array columns (`tags @> '{"a":1}'`).
    Gin,
    /// Block ranges: tiny, for columns that grow with the table (times, serials).
    Brin,
}

impl IndexMethod {
    pub fn sql_name(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Gin => "gin",
            IndexMethod::Brin => "brin",
        }
    }
}

impl<'de> Deserialize<'de> for CustomIndexConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IndexVisitor;
        impl<'de> serde::de::Visitor<'de> for IndexVisitor {
            type Value = CustomIndexConfig;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a list of columns or a table { columns = [...], method = \"btree\" | \"gin\" | \"brin\" }")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<String>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(CustomIndexConfig::Columns)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                CustomIndexWithMethod::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(CustomIndexConfig::WithMethod)
            }
        }
        deserializer.deserialize_any(IndexVisitor)
    }
}

impl CustomIndexConfig {
    pub fn columns(&self) -> &[String] {
        match self {
            CustomIndexConfig::Columns(columns) => columns,
            CustomIndexConfig::WithMethod(index) => &index.columns,
        }
    }

    pub fn method(&self) -> IndexMethod {
        match self {
            CustomIndexConfig::Columns(_) => IndexMethod::Btree,
            CustomIndexConfig::WithMethod(index) => index.method,
        }
    }
}

/// A foreign key of a custom table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeyConfig {
    /// The referencing columns of this table.
    pub columns: Vec<String>,
    /// The referenced table: one of `[relational] tables` or another custom table.
    pub references: String,
    /// The referenced columns; default the referenced table's primary key.
    #[serde(default)]
    pub referenced_columns: Vec<String>,
    /// `no_action` (default), `cascade`, `set_null` or `restrict`.
    #[serde(default)]
    pub on_delete: OnDelete,
}

/// What deleting a referenced row does to the rows referencing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// The delete is refused while rows reference it (checked at the end of the statement).
    #[default]
    NoAction,
    /// The referencing rows are deleted too.
    Cascade,
    /// The referencing columns are set to NULL.
    SetNull,
    /// The delete is refused at once while rows reference it.
    Restrict,
}

impl OnDelete {
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::Restrict => "RESTRICT",
        }
    }
}

/// The default expressions a column may take from the database (`default_sql`).
pub const DEFAULT_SQL_EXPRESSIONS: &str = "\"now()\" (timestamptz), \"current_date\" (date) or \"gen_random_uuid()\" (uuid)";
