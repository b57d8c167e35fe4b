//! A temporary NATS server with JetStream, for the tests, the benchmark and the demo.
