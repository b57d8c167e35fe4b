//! The push run through the bus: a throwaway NATS server, a writer daemon (`bus.role =
//! "writer"`: consumes the stream, COPYs into the same `ticks` table) and an edge daemon
//! (`bus.role = "edge"`: the push server, publishing to the stream), both started in
//! this process from their own configurations, with the load generator pushing to the
//! edge. Rows committed per second and receipt → commit latency are the writer's.

use anyhow::Context;

use super::figures::{cores_text, DaemonRun};
use super::load_process::LoadGenerator;
use super::run::{ticks, BenchContext};
use crate::app::Daemon;
use crate::bus::throwaway::ThrowawayNats;
use crate::config::Config;

/// The source label of bus runs in the report.
pub const BUS_SOURCE: &str = "bus";

/// The stream's size limit in both roles' configurations. With the default (1 GiB) an
/// edge that is not backpressured takes rows several times faster than the writer
/// commits them, and the max-rate figure measures a growing backlog competing for the
/// same cores; a small stream refuses publishes once it holds 64 MiB, the edge's
/// publishers wait, and the push server slows the producer: the steady state.
const STREAM_LIMIT: &str = "max_bytes = 67108864\n";

impl BenchContext {
    /// The writer's configuration: the same writers per table as the single-process runs.
    fn writer_config_text(&self, nats_url: &str) -> String {
        format!(
            "[database]\nurl = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\nsummary_interval_secs = 0\n\n\
             [pipeline]\nwriters_per_table = {}\n\n[bus]\nrole = \"writer\"\nurl = \"{nats_url}\"\n{STREAM_LIMIT}",
            self.url, self.writers
        )
    }

    /// The edge's configuration: the push server as in the single-process push runs.
    fn edge_config_text(&self, nats_url: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nack = \"received\"\nmax_connections = 64\n\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\nsummary_interval_secs = 0\n\n\
             [bus]\nrole = \"edge\"\nurl = \"{nats_url}\"\nedge_id = \"bench-edge\"\n{STREAM_LIMIT}"
        )
    }

    /// Both configurations as the report quotes them (database and NATS addresses left out).
    pub fn bus_config_text_for_report(&self) -> String {
        let nats = "nats://…the throwaway server…";
        format!(
            "# writer\n{}\n# edge\n{}",
            self.writer_config_text(nats).replace(&self.url, "postgres://…the throwaway cluster…"),
            self.edge_config_text(nats)
        )
    }

    /// One run through the bus at `rate` rows/s offered (0: as fast as it takes them).
    pub async fn bus_run(&self, name: &str, rate: u64) -> anyhow::Result<DaemonRun> {
        self.reset().await?;
        // A fresh server per run: an empty stream, no consumer state from the run before.
        let nats = tokio::task::spawn_blocking(ThrowawayNats::start)
            .await?
            .context("starting a throwaway NATS server (install nats-server, e.g. `apt-get install nats-server`)")?;
        let parse = |text: String| -> anyhow::Result<Config> { Ok(crate::app::load_config_str(&text, std::iter::empty())?) };
        let writer = Daemon::start(&parse(self.writer_config_text(&nats.url()))?).await.context("starting the writer")?;
        let edge = match Daemon::start(&parse(self.edge_config_text(&nats.url()))?).await {
            Ok(edge) => edge,
            Err(error) => {
                let _ = writer.stop().await;
                return Err(error.context("starting the edge"));
            }
        };
        let address = edge.push_addr.context("the edge's push server did not start")?;
        let mode = vec!["push".to_string(), "--url".into(), format!("ws://{address}")];
        let mut load = LoadGenerator::spawn(mode, rate, self.push_connections, self.frame_rows, self.symbols).await?;
        let label = format!("{name:<28}");
        let nats_pid: Vec<u32> = nats.pid().into_iter().collect();
        let window = self.measure_window(&label, crate::record::Table::Ticks, &writer.stats, &load, &nats_pid).await;
        let mut result = window.run(name, BUS_SOURCE, rate);
        result.nats_cores = Some(window.other_cores);
        let (_, acked) = load.stop().await;
        edge.stop().await.context("stopping the edge")?;
        // What is still in the stream when the writer stops stays there: the next run
        // has its own server and a truncated table.
        let backlog = acked.saturating_sub(ticks(&writer.stats).rows_written);
        writer.stop().await.context("stopping the writer")?;
        drop(nats);
        println!(
            "\r{label}: {:.0} rows/s committed (sent {:.0}/s), p50 {:.1} p99 {:.1} p999 {:.1} ms, peak RSS {:.0} MB (edge + writer), \
             cores: edge + writer {:.2} NATS {:.2} load {:.2} postgres {}; {backlog} rows acked and not committed at the stop",
            result.committed_per_sec,
            result.sent_per_sec,
            result.latency_p50_ms,
            result.latency_p99_ms,
            result.latency_p999_ms,
            result.peak_rss_mb,
            result.daemon_cores,
            window.other_cores,
            result.load_generator_cores,
            cores_text(result.postgres_cores)
        );
        Ok(result)
    }
}
