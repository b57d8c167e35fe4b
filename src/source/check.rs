//! The checks of the configuration that only the sources can make, run with the
//! configuration's own (`check-config`, start): the channels each venue offers and
//! anything it cannot take together, the credentials it reads from the environment,
//! the push server's TLS files, and custom tables' `default` values (read as a producer
//! would send them, by the push `row` rules). Each venue is asked through its adapter.

use super::adapter_from_config;
use crate::config::{Config, ConfigError, SourceKind};

/// What the sources find wrong with `config`; `environment` is the one it was loaded
/// with (credentials are read from it, never from the file). A [`crate::config::Check`].
pub fn check_sources(config: &Config, environment: &[(String, String)]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut problem = |key: &str, message: String| errors.push(ConfigError { key: key.to_string(), message });
    for (index, source) in config.sources.iter().enumerate() {
        // A json feed names no channels: its description, which the configuration
        // checks, says what it receives.
        if source.kind == SourceKind::Json {
            continue;
        }
        let Ok(adapter) = adapter_from_config(source) else { continue };
        let key = |name: &str| format!("sources[{index}].{name}");
        // A channel the venue does not offer would be skipped by its adapter, silently.
        let offered = adapter.channels();
        for channel in source.channels.iter().filter(|channel| !offered.contains(channel)) {
            let names: Vec<&str> = offered.iter().map(|channel| channel.name()).collect();
            problem(
                &key("channels"),
                format!("{} offers no `{}`; expected some of {}", source.kind.name(), channel.name(), names.join(", ")),
            );
        }
        if let Some(depth) = source.book_depth {
            let depths = adapter.book_depths();
            if !depths.is_empty() && !depths.contains(&depth) {
                let choices: Vec<String> = depths.iter().map(u32::to_string).collect();
                problem(&key("book_depth"), format!("{} offers a book of {} levels, not {depth}", source.kind.name(), choices.join(", ")));
            }
        }
        if let Some(message) = adapter.channels_conflict(&source.channels) {
            problem(&key("channels"), message);
        }
        for variable in adapter.credential_variables() {
            if !environment.iter().any(|(name, value)| name == variable && !value.trim().is_empty()) {
                problem(&key("kind"), format!("{} reads its credentials from the environment; {variable} is not set", source.kind.name()));
            }
        }
    }
    if let Some(server) = &config.server {
        super::push::check_tls(server, &mut problem);
    }
    super::push::row_cells::check_defaults(config, &mut problem);
    errors
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::config::{load_str_with, Channel, Config, ConfigError};

    const MINIMAL: &str = "[database]\nurl = \"postgres://u@localhost/db\"\n";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The configuration's own checks and the sources'.
    fn load(text: &str, environment: Vec<(String, String)>) -> Result<Config, Vec<ConfigError>> {
        load_str_with(text, environment, &[super::check_sources]).map_err(|errors| errors.0)
    }

    fn errors(text: &str) -> Vec<(String, String)> {
        match load(text, Vec::new()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|error| (error.key, error.message)).collect(),
        }
    }

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        file
    }

    #[test]
    fn every_venue_offers_the_channels_its_adapter_subscribes() {
        use crate::config::SourceKind;
        let offered = |kind: &str| {
            let text = format!("{MINIMAL}[[sources]]\nkind = \"{kind}\"\nsymbols = [\"X\"]\nchannels = [\"trades\"]\n");
            let config = crate::config::load_str(&text, Vec::new()).unwrap();
            assert_ne!(config.sources[0].kind, SourceKind::Json);
            super::adapter_from_config(&config.sources[0]).unwrap().channels().to_vec()
        };
        use Channel::{AggTrades, Bars, Book, Options, Quotes, Tickers, Trades};
        assert_eq!(offered("binance"), [Trades, AggTrades, Quotes, Bars, Tickers, Book, Channel::Instruments]);
        assert_eq!(
            offered("binance_futures"),
            [
                Trades,
                AggTrades,
                Quotes,
                Bars,
                Tickers,
                Book,
                Channel::Instruments,
                Channel::MarkPrice,
                Channel::Funding,
                Channel::Liquidations,
                Channel::OpenInterest
            ]
        );
        assert_eq!(offered("coinbase"), [Trades, Quotes, Tickers, Book]);
        let derivatives = [Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Liquidations, Channel::Instruments];
        assert_eq!(offered("deribit"), [&[Trades, Quotes, Tickers, Options, Book][..], &derivatives].concat());
        assert_eq!(offered("okx"), [&[Trades, Quotes, Bars, Tickers, Options, Book][..], &derivatives].concat());
        assert_eq!(offered("bybit"), [Trades, Quotes, Bars, Tickers, Book]);
        assert_eq!(offered("kraken"), [Trades, Quotes, Bars, Tickers, Book]);
        assert_eq!(offered("alpaca"), [Trades, Quotes, Bars]);
        assert_eq!(offered("polygon"), [Trades, Quotes, Bars]);
    }

    #[test]
    fn a_custom_column_default_that_does_not_fit_is_refused_by_key() {
        let text = format!(
            "{MINIMAL}[[custom_tables]]\nname = \"readings\"\ntime_column = \"at\"\ncolumns = [\n\
             {{ name = \"at\", type = \"timestamptz\", default = \"now\" }},\n\
             {{ name = \"n\", type = \"int4\", default = \"many\" }},\n\
             {{ name = \"m\", type = \"numeric(5,2)\", default = \"1234.5\" }},\n\
             {{ name = \"k\", type = \"uuid\", default = \"now\" }},\n\
             {{ name = \"fits\", type = \"numeric(5,2)\", default = 123.45 }},\n]\n"
        );
        let errors = errors(&text);
        let expected = [
            ("custom_tables[0].columns[1].default", "`n`"),
            ("custom_tables[0].columns[2].default", "at most 3 digit(s) before the point"),
            ("custom_tables[0].columns[3].default", "UUID"),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:?}");
        for (key, needle) in expected {
            assert!(errors.iter().any(|(at, message)| at == key && message.contains(needle)), "{key}: {needle} missing from {errors:?}");
        }
    }

    #[test]
    fn a_book_depth_the_venue_does_not_offer_is_refused_by_key() {
        let source = |depth: u32| {
            format!("{MINIMAL}[[sources]]\nkind = \"okx\"\nsymbols = [\"BTC-USDT\"]\nchannels = [\"book\"]\nbook_depth = {depth}\n")
        };
        assert!(load(&source(400), env(&[])).is_ok());
        let errors = load(&source(50), env(&[])).expect_err("not offered");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "sources[0].book_depth");
        assert_eq!(errors[0].message, "okx offers a book of 400 levels, not 50");
    }

    #[test]
    fn book_depths_are_the_venues() {
        let source = |kind: &str, symbol: &str, depth: u32| {
            format!("{MINIMAL}[[sources]]\nkind = \"{kind}\"\nsymbols = [\"{symbol}\"]\nchannels = [\"book\"]\nbook_depth = {depth}\n")
        };
        for depth in [10, 25, 100, 500, 1000] {
            load(&source("kraken", "BTC/USD", depth), env(&[])).expect("a Kraken depth");
        }
        let errors = load(&source("kraken", "BTC/USD", 20), env(&[])).expect_err("not a Kraken depth");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "sources[0].book_depth");
        assert_eq!(errors[0].message, "kraken offers a book of 10, 25, 100, 500, 1000 levels, not 20");
    }

    #[test]
    fn a_polygon_source_needs_its_api_key_in_the_environment() {
        let text = format!("{MINIMAL}[[sources]]\nkind = \"polygon\"\nsymbols = [\"AAPL\"]\nchannels = [\"trades\"]\n");
        let errors = load(&text, env(&[])).expect_err("no key");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "sources[0].kind");
        assert!(errors[0].message.contains("POLYGON_API_KEY"), "{}", errors[0].message);
        assert!(load(&text, env(&[("POLYGON_API_KEY", " ")])).is_err(), "an empty key is no key");
        let config = load(&text, env(&[("POLYGON_API_KEY", "unit-test-key")])).expect("valid with the key");
        assert!(!format!("{config:?}").contains("unit-test-key"), "the key is not kept in the configuration");
    }

    #[test]
    fn sources_may_only_name_channels_their_venue_offers() {
        let source =
            |channels: &str| format!("{MINIMAL}[[sources]]\nkind = \"coinbase\"\nsymbols = [\"BTC-USD\"]\nchannels = {channels}\n");
        let config = load(&source(r#"["trades", "quotes"]"#), env(&[])).expect("valid");
        assert_eq!((config.sources[0].kind, config.sources[0].name()), (crate::config::SourceKind::Coinbase, "coinbase".to_string()));
        let errors = load(&source(r#"["trades", "agg_trades", "bars"]"#), env(&[])).expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|error| error.key == "sources[0].channels"));
        assert!(errors[0].message.contains("coinbase offers no `agg_trades`"), "{}", errors[0].message);
        assert!(crate::config::load_str(&source(r#"["trades", "agg_trades", "bars"]"#), env(&[])).is_ok(), "the venue's to say");
    }

    #[test]
    fn options_are_offered_by_deribit_and_okx_and_stand_alone_on_okx() {
        let source = |kind: &str, symbols: &str, channels: &str| {
            format!("{MINIMAL}[[sources]]\nkind = \"{kind}\"\nsymbols = {symbols}\nchannels = {channels}\n")
        };
        let deribit =
            load(&source("deribit", r#"["BTC-PERPETUAL", "BTC-27DEC26-100000-C"]"#, r#"["trades", "quotes", "options"]"#), env(&[]))
                .expect("deribit mixes option names and other instruments");
        assert_eq!(deribit.sources[0].channels, [Channel::Trades, Channel::Quotes, Channel::Options]);
        assert!(load(&source("okx", r#"["BTC-USD", "ETH-USD"]"#, r#"["options"]"#), env(&[])).is_ok());
        let errors = load(&source("okx", r#"["BTC-USD"]"#, r#"["trades", "options"]"#), env(&[])).expect_err("invalid");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "sources[0].channels");
        assert!(errors[0].message.contains("instrument families"), "{}", errors[0].message);
        let errors = load(&source("binance", r#"["BTCUSDT"]"#, r#"["options"]"#), env(&[])).expect_err("invalid");
        assert!(errors[0].message.contains("binance offers no `options`"), "{}", errors[0].message);
    }

    #[test]
    fn tickers_only_where_the_venue_publishes_24_hour_statistics() {
        let source =
            |kind: &str| format!("{MINIMAL}[[sources]]\nkind = \"{kind}\"\nsymbols = [\"X\"]\nchannels = [\"trades\", \"tickers\"]\n");
        for kind in ["binance", "binance_futures", "coinbase", "bybit", "kraken", "okx", "deribit"] {
            assert!(load(&source(kind), env(&[])).is_ok(), "{kind} offers tickers");
        }
        let credentials = env(&[("APCA_API_KEY_ID", "k"), ("APCA_API_SECRET_KEY", "s"), ("POLYGON_API_KEY", "p")]);
        for kind in ["alpaca", "polygon"] {
            let errors = load(&source(kind), credentials.clone()).expect_err("invalid");
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, "sources[0].channels");
            assert_eq!(errors[0].message, format!("{kind} offers no `tickers`; expected some of trades, quotes, bars"));
        }
    }

    #[test]
    fn alpaca_sources_need_credentials_in_the_environment() {
        let text =
            format!("{MINIMAL}[[sources]]\nkind = \"alpaca\"\nsymbols = [\"AAPL\"]\nchannels = [\"trades\", \"quotes\", \"bars\"]\n");
        let errors = load(&text, env(&[("APCA_API_KEY_ID", "key-id")])).expect_err("invalid");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "sources[0].kind");
        assert!(errors[0].message.contains("APCA_API_SECRET_KEY"), "{}", errors[0].message);
        let errors = load(&text, env(&[("APCA_API_SECRET_KEY", "")])).expect_err("invalid");
        assert_eq!(errors.len(), 2, "an empty value counts as missing: {errors:?}");
        assert!(errors[0].message.contains("APCA_API_KEY_ID"), "{}", errors[0].message);
        let config = load(&text, env(&[("APCA_API_KEY_ID", "key-id"), ("APCA_API_SECRET_KEY", "very-secret")])).expect("valid");
        assert_eq!(config.sources[0].kind, crate::config::SourceKind::Alpaca);
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn problems_the_configuration_finds_and_the_sources_find_come_together() {
        let text = format!(
            "{MINIMAL}[pipeline]\nchannel_max_bytes = 1\n[[sources]]\nkind = \"coinbase\"\nsymbols = [\"BTC-USD\"]\nchannels = [\"bars\"]\nbogus = 1\n"
        );
        let keys: Vec<String> = errors(&text).into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["sources[0].bogus", "pipeline.channel_max_bytes", "sources[0].channels"]);
    }
    #[test]
    fn push_tls_files_are_checked_and_errors_name_the_key_and_the_file() {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = file(&generated.cert.pem());
        let key = file(&generated.signing_key.serialize_pem());
        let garbage = file("not a pem file\n");
        let server = |cert: &std::path::Path, key: &std::path::Path| {
            format!("{MINIMAL}[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n", cert.display(), key.display())
        };
        assert_eq!(errors(&server(cert.path(), key.path())), Vec::new());

        let found = errors(&server(garbage.path(), garbage.path()));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "server.tls_cert");
        assert!(found[0].1.contains(&garbage.path().display().to_string()) && found[0].1.contains("no PEM certificate"), "{found:?}");
        assert_eq!(found[1].0, "server.tls_key");
        assert!(found[1].1.contains(&garbage.path().display().to_string()) && found[1].1.contains("no PEM private key"), "{found:?}");

        let missing = std::path::Path::new("/nonexistent/push.key");
        let found = errors(&server(cert.path(), missing));
        assert_eq!(
            found,
            vec![("server.tls_key".to_string(), format!("cannot read {}: No such file or directory (os error 2)", missing.display()))]
        );

        let found = errors(&format!("{MINIMAL}[server]\ntls_cert = \"{}\"\n", cert.path().display()));
        assert_eq!(found[0].0, "server.tls_key", "{found:?}");
    }

    #[test]
    fn a_push_tls_key_must_match_its_certificate_and_be_of_pem_size() {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = file(&generated.cert.pem());
        let stranger_key = file(&other.signing_key.serialize_pem());
        let server = |key: &std::path::Path| {
            format!("{MINIMAL}[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n", cert.path().display(), key.display())
        };

        let found = errors(&server(stranger_key.path()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "server.tls_key");
        assert!(found[0].1.contains("does not match the certificate"), "{found:?}");
        assert!(!found[0].1.contains("PRIVATE KEY"), "no key material in the message: {found:?}");

        let found = errors(&server(std::path::Path::new("/dev/zero")));
        assert_eq!(
            found,
            vec![("server.tls_key".to_string(), "/dev/zero is larger than 1048576 bytes; expected a PEM file of a few KiB".to_string())]
        );
    }
}
