//! Which column (CSV) or key (NDJSON) of a file feeds each record field. By default a
//! field is read from the column or key of its own name (CSV headers compared
//! without regard to case); a mapping renames (`price = "px"`) and a constant fills a
//! field the file lacks (`venue = "binance"`).

use std::collections::BTreeMap;
use std::path::Path;

use super::FileError;

/// Where one field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    /// A CSV column, by position.
    Column(usize),
    /// An NDJSON object key.
    Key(String),
    /// The same text for every row.
    Constant(String),
    /// Nowhere: the field stays empty (only optional fields).
    Absent,
}

/// What a user asked for: field → column or key, and field → constant text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingSpec {
    pub columns: BTreeMap<String, String>,
    pub constants: BTreeMap<String, String>,
}

/// A resolved mapping: one source per field of the table, in field order.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub fields: &'static [&'static str],
    pub sources: Vec<FieldSource>,
}

impl MappingSpec {
    /// Problems with the names given for a table with these fields, each as text.
    pub fn problems(&self, table: &str, fields: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        for field in self.columns.keys().chain(self.constants.keys()) {
            if !fields.contains(&field.as_str()) {
                problems.push(format!("`{field}` is not a field of {table}; expected one of {}", fields.join(", ")));
            }
        }
        for (field, column) in &self.columns {
            if column.is_empty() {
                problems.push(format!("`{field}` is mapped to an empty column name"));
            }
            if self.constants.contains_key(field) {
                problems.push(format!("`{field}` is given both a column and a constant value"));
            }
        }
        problems
    }

    /// Resolves against a CSV header (`Some`) or for NDJSON keys (`None`).
    pub fn resolve(
        &self,
        table: &str,
        fields: &'static [&'static str],
        required: &[&str],
        header: Option<&[String]>,
        path: &Path,
    ) -> Result<Mapping, FileError> {
        if let Some(problem) = self.problems(table, fields).into_iter().next() {
            return Err(FileError::Mapping(problem));
        }
        let mut sources = Vec::with_capacity(fields.len());
        for field in fields {
            if let Some(constant) = self.constants.get(*field) {
                sources.push(FieldSource::Constant(constant.clone()));
                continue;
            }
            let explicit = self.columns.get(*field);
            let name = explicit.map_or(*field, String::as_str);
            let Some(header) = header else {
                sources.push(FieldSource::Key(name.to_string()));
                continue;
            };
            let position = header
                .iter()
                .position(|column| column == name)
                .or_else(|| header.iter().position(|column| column.eq_ignore_ascii_case(name)));
            match (position, explicit) {
                (Some(index), _) => sources.push(FieldSource::Column(index)),
                (None, Some(column)) => {
                    return Err(FileError::MissingColumn {
                        path: path.to_path_buf(),
                        detail: format!("`{field}` is mapped to column `{column}`, which the header does not have"),
                        columns: header.join(", "),
                    })
                }
                (None, None) if required.contains(field) => {
                    return Err(FileError::MissingColumn {
                        path: path.to_path_buf(),
                        detail: format!(
                            "no column for the required field `{field}`; map one (--mapping {field}=COLUMN) or give a value (--set {field}=VALUE)"
                        ),
                        columns: header.join(", "),
                    })
                }
                (None, None) => sources.push(FieldSource::Absent),
            }
        }
        Ok(Mapping { fields, sources })
    }
}

/// Parses `field=value` pairs (the `--mapping` and `--set` flags).
pub fn parse_pairs(pairs: &[String], flag: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        for item in pair.split(',').filter(|item| !item.is_empty()) {
            let Some((field, value)) = item.split_once('=') else {
                return Err(format!("{flag} `{item}`: expected FIELD=VALUE"));
            };
            map.insert(field.trim().to_string(), value.trim().to_string());
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Tick;
    use crate::source::file::records::FileRecord;

    fn header(columns: &[&str]) -> Vec<String> {
        columns.iter().map(|column| column.to_string()).collect()
    }

    #[test]
    fn names_match_renames_apply_and_constants_fill() {
        let mut spec = MappingSpec::default();
        spec.columns.insert("price".into(), "px".into());
        spec.constants.insert("venue".into(), "binance".into());
        let columns = header(&["TIME", "Symbol", "px", "size", "id"]);
        let mapping = spec.resolve("ticks", Tick::FIELDS, Tick::REQUIRED, Some(&columns), Path::new("f.csv")).unwrap();
        assert_eq!(
            mapping.sources,
            vec![
                FieldSource::Column(0),
                FieldSource::Constant("binance".into()),
                FieldSource::Column(1),
                FieldSource::Column(2),
                FieldSource::Column(3),
                FieldSource::Absent,
                FieldSource::Absent,
            ]
        );
    }

    #[test]
    fn missing_required_columns_and_unknown_fields_are_refused() {
        let spec = MappingSpec::default();
        let error = spec.resolve("ticks", Tick::FIELDS, Tick::REQUIRED, Some(&header(&["time", "symbol"])), Path::new("f.csv"));
        assert!(error.unwrap_err().to_string().contains("required field `venue`"));
        let mut spec = MappingSpec::default();
        spec.columns.insert("prize".into(), "px".into());
        assert!(spec.problems("ticks", Tick::FIELDS)[0].contains("`prize` is not a field of ticks"));
        assert_eq!(parse_pairs(&["a=b,c=d".into()], "--set").unwrap().len(), 2);
        assert!(parse_pairs(&["ab".into()], "--set").is_err());
    }
}
