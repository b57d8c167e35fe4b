//! Integration tests. Each test starts its own throwaway PostgreSQL (see
//! `support`), and talks to the daemon over real websockets on loopback.

mod encoder_roundtrip;
mod support;
