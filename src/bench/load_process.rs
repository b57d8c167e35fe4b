//! The load generator (`hypertick bench-load`) as a child process of the benchmark, and
//! the counts it reports on its stdout (one JSON line a second).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncBufReadExt;

use super::measure::signal_all;

/// The load generator child process and what it last reported.
pub struct LoadGenerator {
    child: tokio::process::Child,
    pub pid: u32,
    pub listening: Option<String>,
    counts: Arc<Mutex<(u64, u64, bool)>>,
    reader: tokio::task::JoinHandle<()>,
    /// Kills the generator if the bench exits on a signal (`kill_on_drop` needs a drop).
    _abort: crate::shutdown::AbortGuard,
}

impl LoadGenerator {
    pub async fn spawn(
        mode: Vec<String>,
        rate: u64,
        connections: usize,
        frame_rows: usize,
        symbols: usize,
    ) -> anyhow::Result<LoadGenerator> {
        let executable = std::env::current_exe().context("locating the hypertick executable")?;
        let mut child = tokio::process::Command::new(executable)
            .arg("bench-load")
            .args(&mode)
            .args(["--rate", &rate.to_string(), "--connections", &connections.to_string()])
            .args(["--frame-rows", &frame_rows.to_string(), "--symbols", &symbols.to_string()])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the load generator")?;
        let pid = child.id().context("the load generator exited at once")?;
        let abort = crate::shutdown::kill_on_abort(pid);
        let mut lines = tokio::io::BufReader::new(child.stdout.take().context("the load generator's stdout")?).lines();
        let mut listening = None;
        if mode[0] != "push" {
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .context("the load generator did not start listening")??
                .context("the load generator exited before listening")?;
            let value: serde_json::Value = serde_json::from_str(&line).context("the load generator's first line")?;
            listening = value["listening"].as_str().map(str::to_string);
        }
        let counts = Arc::new(Mutex::new((0, 0, false)));
        let shared = counts.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    let mut counts = shared.lock().unwrap_or_else(|poison| poison.into_inner());
                    *counts = (
                        value["sent"].as_u64().unwrap_or(counts.0),
                        value["acked"].as_u64().unwrap_or(counts.1),
                        value["final"].as_bool().unwrap_or(false),
                    );
                }
            }
        });
        Ok(LoadGenerator { child, pid, listening, counts, reader, _abort: abort })
    }

    pub fn sent(&self) -> u64 {
        self.counts.lock().unwrap_or_else(|poison| poison.into_inner()).0
    }

    pub fn acked(&self) -> u64 {
        self.counts.lock().unwrap_or_else(|poison| poison.into_inner()).1
    }

    /// Asks it to stop (SIGTERM), waits for its final counts: (sent, acked).
    pub async fn stop(&mut self) -> (u64, u64) {
        signal_all(&[self.pid], libc::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.reader).await;
        let counts = *self.counts.lock().unwrap_or_else(|poison| poison.into_inner());
        (counts.0, counts.1)
    }
}
