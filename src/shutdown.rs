//! Stop signals. The daemon's stop order lives in `app`: a signal cancels the
//! sources only; when they have returned, the lanes close, batchers flush their last
//! batch, writers drain and commit, and a deadline bounds the whole sequence.

/// Waits for SIGINT (Ctrl-C) or SIGTERM and returns which arrived.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
