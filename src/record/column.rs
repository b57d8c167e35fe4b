//! The PostgreSQL column types the daemon writes, as the catalog names them and as the
//! configuration may write them.

use std::borrow::Cow;

/// Precision and scale of a `numeric(p, s)` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumericTypmod {
    /// Total significant digits, 1 to 1000.
    pub precision: u16,
    /// Digits after the decimal point, 0 to `precision`.
    pub scale: u16,
}

/// The PostgreSQL column types the daemon writes, named as `format_type()` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PgType {
    TimestampTz,
    Text,
    Float8,
    Int2,
    Int8,
    Jsonb,
    Date,
    Float8Array,
    Int4,
    Float4,
    Bool,
    Uuid,
    /// `numeric`, unconstrained or `numeric(p, s)`.
    Numeric(Option<NumericTypmod>),
    /// `character varying(n)`: text of at most n characters.
    Varchar(u32),
    TextArray,
}

/// Longest `numeric` precision PostgreSQL accepts in a type modifier.
pub const NUMERIC_MAX_PRECISION: u16 = 1000;
/// Longest `character varying(n)` PostgreSQL accepts.
pub const VARCHAR_MAX_LENGTH: u32 = 10_485_760;

impl PgType {
    /// The name `format_type(atttypid, atttypmod)` returns for this type.
    pub fn sql_name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            PgType::TimestampTz => "timestamp with time zone",
            PgType::Text => "text",
            PgType::Float8 => "double precision",
            PgType::Int2 => "smallint",
            PgType::Int8 => "bigint",
            PgType::Jsonb => "jsonb",
            PgType::Date => "date",
            PgType::Float8Array => "double precision[]",
            PgType::Int4 => "integer",
            PgType::Float4 => "real",
            PgType::Bool => "boolean",
            PgType::Uuid => "uuid",
            PgType::Numeric(None) => "numeric",
            PgType::Numeric(Some(typmod)) => return Cow::Owned(format!("numeric({},{})", typmod.precision, typmod.scale)),
            PgType::Varchar(length) => return Cow::Owned(format!("character varying({length})")),
            PgType::TextArray => "text[]",
        })
    }

    /// Reads a type as the configuration writes it: PostgreSQL's name or a common alias
    /// (`int4`, `integer`, `float8`, `double precision`, `numeric(10,2)`, `varchar(3)`,
    /// `timestamptz`, `text[]`, …), case and spacing aside. `None` for anything else.
    pub fn from_config_name(name: &str) -> Option<PgType> {
        let lower = name.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let normalized = words
            .join(" ")
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")")
            .replace(", ", ",")
            .replace(" ,", ",")
            .replace(" [", "[");
        let simple = match normalized.as_str() {
            "smallint" | "int2" => Some(PgType::Int2),
            "integer" | "int" | "int4" => Some(PgType::Int4),
            "bigint" | "int8" => Some(PgType::Int8),
            "real" | "float4" => Some(PgType::Float4),
            "double precision" | "float8" => Some(PgType::Float8),
            "numeric" | "decimal" => Some(PgType::Numeric(None)),
            "text" => Some(PgType::Text),
            "boolean" | "bool" => Some(PgType::Bool),
            "timestamp with time zone" | "timestamptz" => Some(PgType::TimestampTz),
            "date" => Some(PgType::Date),
            "jsonb" => Some(PgType::Jsonb),
            "uuid" => Some(PgType::Uuid),
            "text[]" => Some(PgType::TextArray),
            "double precision[]" | "float8[]" => Some(PgType::Float8Array),
            _ => None,
        };
        if simple.is_some() {
            return simple;
        }
        let (base, arguments) = normalized.strip_suffix(')')?.split_once('(')?;
        let arguments: Vec<&str> = arguments.split(',').collect();
        match (base, arguments.as_slice()) {
            ("numeric" | "decimal", [precision]) => numeric_typmod(precision, "0"),
            ("numeric" | "decimal", [precision, scale]) => numeric_typmod(precision, scale),
            ("varchar" | "character varying", [length]) => {
                let length: u32 = length.parse().ok()?;
                (1..=VARCHAR_MAX_LENGTH).contains(&length).then_some(PgType::Varchar(length))
            }
            _ => None,
        }
    }

    /// Whether values of this type are arrays (which insert mode cannot pass).
    pub fn is_array(self) -> bool {
        matches!(self, PgType::Float8Array | PgType::TextArray)
    }
}

fn numeric_typmod(precision: &str, scale: &str) -> Option<PgType> {
    let precision: u16 = precision.parse().ok()?;
    let scale: u16 = scale.parse().ok()?;
    let valid = (1..=NUMERIC_MAX_PRECISION).contains(&precision) && scale <= precision;
    valid.then_some(PgType::Numeric(Some(NumericTypmod { precision, scale })))
}

/// One column the daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Column {
    pub name: &'static str,
    pub pg_type: PgType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_type_names_read_as_the_catalog_prints_them() {
        let cases = [
            ("int2", "smallint"),
            ("INTEGER", "integer"),
            ("int8", "bigint"),
            ("float4", "real"),
            ("double   precision", "double precision"),
            ("numeric", "numeric"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("decimal(15,6)", "numeric(15,6)"),
            ("numeric(5)", "numeric(5,0)"),
            ("varchar(3)", "character varying(3)"),
            ("character varying(255)", "character varying(255)"),
            ("bool", "boolean"),
            ("timestamptz", "timestamp with time zone"),
            ("date", "date"),
            ("jsonb", "jsonb"),
            ("uuid", "uuid"),
            ("text[]", "text[]"),
            ("float8[]", "double precision[]"),
        ];
        for (written, catalog) in cases {
            let parsed = PgType::from_config_name(written).unwrap_or_else(|| panic!("{written}"));
            assert_eq!(parsed.sql_name(), catalog, "{written}");
            assert_eq!(PgType::from_config_name(catalog), Some(parsed), "{catalog} reads back");
        }
        for refused in ["timestamp", "json", "numeric(0)", "numeric(3,4)", "numeric(1001)", "varchar", "varchar(0)", "int[]", "money", ""] {
            assert_eq!(PgType::from_config_name(refused), None, "{refused}");
        }
    }
}
