//! Where records come from. A source turns some input into normalized records and
//! hands them to the [`Router`](crate::pipeline::Router); it never knows about
//! batches or the database. Today: the push websocket server (`push`). Venue adapters
//! and file readers implement the same trait.

pub mod push;

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::pipeline::Router;

/// What every source gets to run with.
#[derive(Clone)]
pub struct SourceContext {
    pub router: Router,
    /// Cancelled when the daemon stops; a source then finishes what it is handling and returns.
    pub shutdown: CancellationToken,
}

pub type SourceFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A producer of records. `run` returns when `shutdown` is cancelled.
pub trait Source: Send {
    /// A short name for logs and metric labels.
    fn name(&self) -> &str;
    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture;
}
