//! Integration tests. Each test starts its own throwaway PostgreSQL (see
//! `support`), and talks to the daemon over real websockets on loopback.

// Tests: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

mod acks_in_flight;
mod aggregates;
mod book_feed;
mod books;
mod books_coinbase;
mod books_deribit;
mod books_okx;
mod bus;
mod bus_claims;
mod bus_harness;
mod bus_rows;
mod cell_roundtrip;
mod cli;
mod crash;
mod custom_tables;
mod dashboard;
mod db_tls;
mod deploy;
mod direct_compress;
mod encoder_roundtrip;
mod exact_numbers;
mod fake_venue;
mod faults;
mod feeds;
mod feeds_alpaca;
mod feeds_bybit;
mod feeds_coinbase;
mod feeds_deribit;
mod feeds_json;
mod feeds_kraken;
mod feeds_okx;
mod feeds_polygon;
mod generated_docs;
mod health;
mod hostile;
mod import;
mod indicators;
mod instruments;
mod keyed_custom;
mod lifecycle;
mod logs;
mod observed;
mod pipeline;
mod pki;
mod profiles;
mod prometheus;
mod push;
mod push_security;
mod python_client;
mod redaction;
mod registry;
mod relational;
mod relational_schema;
mod replay;
mod schema;
mod seed_examples;
mod seed_shapes;
mod spool;
mod sql_names;
mod support;
mod timescaledb;
mod upgrade;
