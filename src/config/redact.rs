//! Making text from the configuration safe to log: a URL's password and the values
//! of query parameters whose names say they are credentials are replaced by `***`.

/// Query parameter names (case-insensitive substrings) taken for credentials.
const SECRET_PARAMETER_HINTS: [&str; 8] = ["key", "token", "secret", "password", "passwd", "signature", "auth", "credential"];

/// `url` with the password of its user info and the values of credential-looking
/// query parameters replaced by `***`; everything else as it was.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut redacted = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_string(),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _value)) if is_secret_name(name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMETER_HINTS.iter().any(|hint| lower.contains(hint))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_and_credential_parameters_are_hidden_and_the_rest_is_kept() {
        let cases = [
            ("wss://stream.binance.com:9443/ws", "wss://stream.binance.com:9443/ws"),
            ("wss://feed.example/ws?streams=btcusdt@trade&apiKey=abc123", "wss://feed.example/ws?streams=btcusdt@trade&apiKey=***"),
            ("wss://user:hunter2@feed.example/ws", "wss://user:***@feed.example/ws"),
            ("wss://user@feed.example/ws?token=t&access_token=u&x=1", "wss://user@feed.example/ws?token=***&access_token=***&x=1"),
            ("postgres://u:p@h/db?sslmode=require&password=p", "postgres://u:***@h/db?sslmode=require&password=***"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected);
        }
    }
}
