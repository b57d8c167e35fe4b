//! The libpq parameters of a database connection string that tokio-postgres does not
//! read itself: `sslmode` (it knows `disable`, `prefer` and `require`, not
//! `verify-ca` or `verify-full`) and `sslrootcert`. They are read here and cut out of
//! the string, in both of libpq's forms (`postgres://…?sslmode=verify-full` and
//! `host=… sslmode=verify-full`); what remains goes to tokio-postgres unchanged.
//!
//! Nothing here puts a value of the string into an error message: a connection
//! string may hold a password.

use std::fmt;
use std::path::PathBuf;

/// libpq's `sslmode`, as far as this daemon implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, without verifying its certificate (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is not verified.
    Require,
    /// TLS, the certificate chain verified against the root certificates.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against root certificates.
    pub fn verifies_certificate(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the root certificates for `verify-ca` and `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCertificates {
    /// A PEM file of one or more certificates.
    File(PathBuf),
    /// The Mozilla root program's certificates built into the daemon (`sslrootcert=system`).
    System,
}

/// A connection string taken apart.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The string without the parameters read here, for tokio-postgres.
    pub base: String,
    /// The mode in effect, after libpq's rules (see [`ConnInfo::parse`]).
    pub ssl_mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_certificates: Option<RootCertificates>,
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `base` may hold a password.
        f.debug_struct("ConnInfo")
            .field("ssl_mode", &self.ssl_mode)
            .field("root_certificates", &self.root_certificates)
            .finish_non_exhaustive()
    }
}

/// A parameter that cannot be used, named without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfoError {
    pub parameter: &'static str,
    pub message: String,
}

impl fmt::Display for ConnInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parameter, self.message)
    }
}

impl std::error::Error for ConnInfoError {}

/// libpq parameters about client certificates and revocation lists, which this
/// daemon does not implement; refused by name rather than ignored.
const UNSUPPORTED: [&str; 6] = ["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir", "sslcertmode"];

impl ConnInfo {
    /// Reads `sslmode` and `sslrootcert` out of a connection string, following libpq:
    /// no `sslmode` means `prefer`, or `verify-full` with `sslrootcert=system`;
    /// `require` with an `sslrootcert` file verifies the chain as `verify-ca` does;
    /// `sslrootcert=system` with a mode weaker than `verify-full` is refused; the last
    /// of repeated parameters wins. `allow` (plain first, then TLS) is refused.
    pub fn parse(text: &str) -> Result<ConnInfo, ConnInfoError> {
        let parameters = split_parameters(text)?;
        let mut mode_text: Option<String> = None;
        let mut root_text: Option<String> = None;
        let mut cut = Vec::new();
        for parameter in &parameters {
            match parameter.key.as_str() {
                "sslmode" => mode_text = Some(parameter.value.clone()),
                "sslrootcert" => root_text = Some(parameter.value.clone()),
                key => {
                    if let Some(unsupported) = UNSUPPORTED.iter().find(|name| **name == key) {
                        return Err(ConnInfoError {
                            parameter: unsupported,
                            message: "client certificates and revocation lists are not supported".into(),
                        });
                    }
                    continue;
                }
            }
            cut.push(parameter.span.clone());
        }
        let root_certificates = match root_text.as_deref() {
            None => None,
            Some("") => return Err(ConnInfoError { parameter: "sslrootcert", message: "expected a file path or `system`".into() }),
            Some("system") => Some(RootCertificates::System),
            Some(path) => Some(RootCertificates::File(PathBuf::from(path))),
        };
        let given = match mode_text.as_deref() {
            None => None,
            Some("disable") => Some(SslMode::Disable),
            Some("prefer") => Some(SslMode::Prefer),
            Some("require") => Some(SslMode::Require),
            Some("verify-ca") => Some(SslMode::VerifyCa),
            Some("verify-full") => Some(SslMode::VerifyFull),
            Some("allow") => {
                return Err(ConnInfoError {
                    parameter: "sslmode",
                    message: "`allow` is not supported; expected disable, prefer, require, verify-ca or verify-full".into(),
                })
            }
            Some(_) => {
                return Err(ConnInfoError {
                    parameter: "sslmode",
                    message: "expected disable, prefer, require, verify-ca or verify-full".into(),
                })
            }
        };
        let ssl_mode = match (given, &root_certificates) {
            (None, Some(RootCertificates::System)) => SslMode::VerifyFull,
            (Some(mode), Some(RootCertificates::System)) if mode != SslMode::VerifyFull => {
                return Err(ConnInfoError {
                    parameter: "sslrootcert",
                    message: format!("`system` needs sslmode=verify-full, not {}", mode.name()),
                })
            }
            (Some(SslMode::Require), Some(RootCertificates::File(_))) => SslMode::VerifyCa,
            (given, _) => given.unwrap_or(SslMode::Prefer),
        };
        Ok(ConnInfo { base: cut_spans(text, &cut, is_url(text)), ssl_mode, root_certificates })
    }
}

/// Adds `key=value` to a connection string in its own form (percent-encoded in a URL,
/// quoted in key/value form). Later parameters win, so this also overrides.
pub fn with_parameter(text: &str, key: &str, value: &str) -> String {
    if is_url(text) {
        let separator = match url_query_start(text) {
            Some(start) if start + 1 < text.len() => "&",
            Some(_) => "",
            None => "?",
        };
        format!("{text}{separator}{key}={}", percent_encode(value))
    } else {
        let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
        let separator = if text.trim().is_empty() { "" } else { " " };
        format!("{text}{separator}{key}='{escaped}'")
    }
}

/// Whether the connection string sets `key` (in the query of a URL, or as a key).
pub fn has_parameter(text: &str, key: &str) -> bool {
    split_parameters(text).map(|parameters| parameters.iter().any(|parameter| parameter.key == key)).unwrap_or(false)
}

fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

struct Parameter {
    key: String,
    value: String,
    /// Byte range of the parameter in the text, for cutting it out.
    span: std::ops::Range<usize>,
}

fn split_parameters(text: &str) -> Result<Vec<Parameter>, ConnInfoError> {
    if is_url(text) {
        url_parameters(text)
    } else {
        key_value_parameters(text)
    }
}

/// Where the query of a URL starts (its `?`), found as tokio-postgres finds it: after
/// the credentials (up to the first `@`), at the first `?`.
fn url_query_start(text: &str) -> Option<usize> {
    let after_credentials = text.find('@').map(|at| at + 1).unwrap_or(0);
    text[after_credentials..].find('?').map(|position| after_credentials + position)
}

fn url_parameters(text: &str) -> Result<Vec<Parameter>, ConnInfoError> {
    let Some(query_start) = url_query_start(text) else { return Ok(Vec::new()) };
    let mut parameters = Vec::new();
    let mut position = query_start + 1;
    for pair in text[query_start + 1..].split('&') {
        let span = position..position + pair.len();
        position += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |part: &str| {
            percent_decode(part).ok_or(ConnInfoError { parameter: "database.url", message: "invalid percent-encoding in the query".into() })
        };
        parameters.push(Parameter { key: decoded(key)?, value: decoded(value)?, span });
    }
    Ok(parameters)
}

/// libpq's key/value form: `key = value` pairs separated by white space; a value may
/// be single-quoted; a backslash escapes the next character.
fn key_value_parameters(text: &str) -> Result<Vec<Parameter>, ConnInfoError> {
    let malformed = || ConnInfoError { parameter: "database.url", message: "malformed key=value connection string".into() };
    let mut parameters = Vec::new();
    let mut characters = text.char_indices().peekable();
    loop {
        while characters.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = characters.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = characters.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while characters.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if characters.next().map(|(_, c)| c) != Some('=') {
            return Err(malformed());
        }
        while characters.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if characters.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match characters.next() {
                    None => return Err(malformed()),
                    Some((_, '\'')) => break,
                    Some((_, '\\')) => value.extend(characters.next().map(|(_, c)| c)),
                    Some((_, c)) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = characters.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(characters.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        let end = characters.peek().map(|(index, _)| *index).unwrap_or(text.len());
        parameters.push(Parameter { key, value, span: start..end });
    }
    Ok(parameters)
}

/// The text without the given parameter spans (and, in a URL, without the `&` or
/// `?` that would be left dangling).
fn cut_spans(text: &str, spans: &[std::ops::Range<usize>], url: bool) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    if !url {
        let mut kept = String::with_capacity(text.len());
        let mut position = 0;
        for span in spans {
            kept.push_str(&text[position..span.start]);
            position = span.end;
        }
        kept.push_str(&text[position..]);
        return kept;
    }
    let Some(query_start) = url_query_start(text) else { return text.to_string() };
    let mut pairs = Vec::new();
    let mut position = query_start + 1;
    for pair in text[query_start + 1..].split('&') {
        let span = position..position + pair.len();
        position += pair.len() + 1;
        if !pair.is_empty() && !spans.contains(&span) {
            pairs.push(pair);
        }
    }
    let head = &text[..query_start];
    if pairs.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", pairs.join("&"))
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_read_and_cut_out_of_urls() {
        let cases = [
            ("postgres://u@h/db", "postgres://u@h/db", SslMode::Prefer, None),
            ("postgres://u@h/db?sslmode=disable", "postgres://u@h/db", SslMode::Disable, None),
            ("postgres://u@h/db?sslmode=require&application_name=x", "postgres://u@h/db?application_name=x", SslMode::Require, None),
            (
                "postgresql://u:p%40ss@h:5433/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
                "postgresql://u:p%40ss@h:5433/db?connect_timeout=3",
                SslMode::VerifyFull,
                Some(RootCertificates::File("/etc/ca.pem".into())),
            ),
            ("postgres://u@h/db?sslmode=verify-ca&sslmode=disable", "postgres://u@h/db", SslMode::Disable, None),
            // libpq: require with a root certificate file verifies the chain.
            (
                "postgres://h/db?sslrootcert=/ca.pem&sslmode=require",
                "postgres://h/db",
                SslMode::VerifyCa,
                Some(RootCertificates::File("/ca.pem".into())),
            ),
            ("postgres://h/db?sslrootcert=system", "postgres://h/db", SslMode::VerifyFull, Some(RootCertificates::System)),
        ];
        for (text, base, mode, root) in cases {
            let info = ConnInfo::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!((info.base.as_str(), info.ssl_mode, info.root_certificates), (base, mode, root), "{text}");
            base.parse::<tokio_postgres::Config>().unwrap_or_else(|error| panic!("{base}: {error}"));
        }
    }

    #[test]
    fn libpq_parameters_are_read_and_cut_out_of_key_value_strings() {
        let text = r"host=h  sslmode = verify-full user=u sslrootcert='/tmp/my ca\'s.pem' password=p\ w dbname=db";
        let info = ConnInfo::parse(text).unwrap();
        assert_eq!(info.ssl_mode, SslMode::VerifyFull);
        assert_eq!(info.root_certificates, Some(RootCertificates::File("/tmp/my ca's.pem".into())));
        let config: tokio_postgres::Config = info.base.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p w"[..]));
        assert_eq!(config.get_dbname(), Some("db"));
    }

    #[test]
    fn bad_parameters_are_named_without_their_values() {
        for (text, parameter) in [
            ("postgres://u:hunter2@h/db?sslmode=verify-everything", "sslmode"),
            ("postgres://u:hunter2@h/db?sslmode=allow", "sslmode"),
            ("postgres://u:hunter2@h/db?sslmode=require&sslrootcert=system", "sslrootcert"),
            ("postgres://u:hunter2@h/db?sslcert=/c.pem", "sslcert"),
            ("postgres://u:hunter2@h/db?sslrootcert=%ZZ", "database.url"),
            ("host=h password='hunter2", "database.url"),
        ] {
            let error = ConnInfo::parse(text).expect_err(text);
            assert_eq!(error.parameter, parameter, "{text}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn parameters_are_added_in_the_string_own_form() {
        let url = with_parameter("postgres://u@h/db", "sslrootcert", "/etc/my ca&.pem");
        assert_eq!(url, "postgres://u@h/db?sslrootcert=/etc/my%20ca%26.pem");
        let url = with_parameter(&url, "password", "p@ss'w");
        let config: tokio_postgres::Config = ConnInfo::parse(&url).unwrap().base.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p@ss'w"[..]));
        assert_eq!(ConnInfo::parse(&url).unwrap().root_certificates, Some(RootCertificates::File("/etc/my ca&.pem".into())));
        assert_eq!(with_parameter("postgres://h/db?", "a", "b"), "postgres://h/db?a=b");

        let key_value = with_parameter("host=h dbname=db", "password", r"it's\here");
        let config: tokio_postgres::Config = key_value.parse().unwrap();
        assert_eq!(config.get_password(), Some(&br"it's\here"[..]));
        assert!(has_parameter(&key_value, "password") && !has_parameter(&key_value, "sslmode"));
        assert!(has_parameter("postgres://h/db?sslrootcert=x", "sslrootcert"));
    }
}
