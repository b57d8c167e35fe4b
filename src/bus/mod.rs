//! Scale-out over NATS JetStream: edges publish normalized records, writers consume them
//! with durable pull consumers and commit them to the database exactly once.

pub mod throwaway;
