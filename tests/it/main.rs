//! Integration tests. Each test starts its own throwaway PostgreSQL (see
//! `support`), and talks to the daemon over real websockets on loopback.

mod cell_roundtrip;
mod cli;
mod crash;
mod db_tls;
mod custom_tables;
mod encoder_roundtrip;
mod fake_venue;
mod faults;
mod feeds;
mod import;
mod indicators;
mod feeds_coinbase;
mod feeds_deribit;
mod feeds_json;
mod feeds_bybit;
mod feeds_kraken;
mod feeds_alpaca;
mod feeds_okx;
mod feeds_polygon;
mod pipeline;
mod pki;
mod push;
mod push_security;
mod redaction;
mod relational;
mod replay;
mod relational_schema;
mod schema;
mod spool;
mod sql_names;
mod timescaledb;
mod support;
