//! JSON pointers (RFC 6901) split into reference tokens once, when the adapter is
//! built, so that resolving one on a message is a walk of map and list lookups. They
//! resolve exactly as `serde_json::Value::pointer` does.

use serde_json::Value;

/// One reference token; an array index is parsed once, where the token is one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    key: String,
    index: Option<usize>,
}

/// A compiled JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<Token>,
}

impl Pointer {
    pub fn parse(text: &str) -> Result<Pointer, String> {
        let tokens = crate::config::json_pointer_tokens(text)?
            .into_iter()
            .map(|key| {
                // RFC 6901: an index is `0` or digits without a leading zero.
                let index = (!key.is_empty() && key.bytes().all(|byte| byte.is_ascii_digit()) && (key == "0" || !key.starts_with('0')))
                    .then(|| key.parse().ok())
                    .flatten();
                Token { key, index }
            })
            .collect();
        Ok(Pointer { text: text.to_string(), tokens })
    }

    /// The value this pointer refers to in `value`, if any.
    pub fn resolve<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        let mut current = value;
        for token in &self.tokens {
            current = match current {
                Value::Object(map) => map.get(&token.key)?,
                Value::Array(list) => list.get(token.index?)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.text.is_empty() {
            f.write_str("\"\" (the whole element)")
        } else {
            f.write_str(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_as_serde_json_does() {
        let document: Value = serde_json::from_str(
            r#"{"e":"trade","data":[{"px":"1.5"},{"px":2}],"a/b":{"c~d":true},"":{"":0},"01":"leading zero key","k":{"0":"zero key"}}"#,
        )
        .unwrap();
        let pointers = [
            "",
            "/e",
            "/data",
            "/data/0/px",
            "/data/1/px",
            "/data/2/px",
            "/data/01",
            "/data/-",
            "/data/+1",
            "/a~1b/c~0d",
            "/",
            "//",
            "/01",
            "/k/0",
            "/e/0",
            "/missing",
            "/data/0/px/deeper",
        ];
        for text in pointers {
            let pointer = Pointer::parse(text).unwrap();
            assert_eq!(pointer.resolve(&document), document.pointer(text), "{text}");
        }
        assert!(Pointer::parse("e").is_err());
        assert_eq!(Pointer::parse("").unwrap().to_string(), "\"\" (the whole element)");
    }
}
