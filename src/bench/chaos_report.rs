//! The chaos soak's reckoning and report: the producers' ledgers compared with the
//! `ticks` table (present, duplicated, lost), dead letters by reason, the daemon's peak
//! RSS against the configuration's worst case, the faults; written as `chaos.json` and
//! `chaos.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use futures_util::{pin_mut, TryStreamExt};
use serde::Serialize;

use super::chaos_faults::FaultCounts;
use super::chaos_hostile::HostileOutcome;
use super::chaos_producer::Ledger;
use super::figures::{megabytes, Machine};

/// Every acked id of every producer against the table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Distinct ids sent.
    pub sent: u64,
    /// Sends of ids sent before (after reconnects and refusals).
    pub resent: u64,
    pub acked: u64,
    /// Distinct ids in `ticks`.
    pub present: u64,
    /// Ids in `ticks` more than once.
    pub duplicated: u64,
    /// Acked and not in `ticks`.
    pub lost: u64,
    /// In `ticks` though never acked (sent before a kill, stored, ack lost, not resent).
    pub present_unacked: u64,
    /// Resent records the daemon recognized by id as stored already.
    pub daemon_recognized_resends: u64,
    /// Refusals of valid producers' records in acks, by reason.
    pub producer_refusals: BTreeMap<String, u64>,
    /// Up to 20 lost or duplicated ids: (producer, id, first sent at s, acked at s, copies).
    pub samples: Vec<(String, u64, f32, f32, u8)>,
}

/// Reads every trade id of each producer's symbol and compares it with the ledger.
pub async fn reckon(client: &tokio_postgres::Client, ledgers: &[Ledger]) -> anyhow::Result<Counts> {
    let mut counts = Counts::default();
    for ledger in ledgers {
        let mut copies = vec![0u8; ledger.next as usize];
        let rows = client
            .query_raw("SELECT trade_id FROM ticks WHERE symbol = $1", [ledger.symbol.as_str()])
            .await
            .context("reading the producers' ids back")?;
        pin_mut!(rows);
        while let Some(row) = rows.try_next().await? {
            let id: Option<String> = row.get(0);
            if let Some(slot) = id.and_then(|id| id.parse::<usize>().ok()).and_then(|id| copies.get_mut(id)) {
                *slot = slot.saturating_add(1);
            }
        }
        for (id, copies) in copies.iter().enumerate() {
            let acked = ledger.is_acked(id as u64);
            counts.present += u64::from(*copies > 0);
            counts.duplicated += u64::from(*copies > 1);
            counts.present_unacked += u64::from(*copies > 0 && !acked);
            let lost = acked && *copies == 0;
            counts.lost += u64::from(lost);
            if (lost || *copies > 1) && counts.samples.len() < 20 {
                counts.samples.push((ledger.symbol.clone(), id as u64, ledger.first_sent_at[id], ledger.acked_at[id], *copies));
            }
        }
        counts.sent += ledger.next;
        counts.resent += ledger.resent;
        counts.acked += ledger.acked;
        counts.daemon_recognized_resends += ledger.daemon_duplicates;
        for (reason, count) in &ledger.refused {
            *counts.producer_refusals.entry(reason.clone()).or_default() += count;
        }
    }
    Ok(counts)
}

/// Dead letters by reason.
pub async fn dead_letters(client: &tokio_postgres::Client) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows = client.query("SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason", &[]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The worst case of the configuration, by term, in MB.
#[derive(Debug, Clone, Serialize)]
pub struct WorstCaseMb {
    pub base: f64,
    pub tables: f64,
    pub connections: f64,
    pub spool: f64,
    pub total: f64,
}

impl From<crate::config::WorstCase> for WorstCaseMb {
    fn from(worst: crate::config::WorstCase) -> Self {
        WorstCaseMb {
            base: megabytes(worst.base),
            tables: megabytes(worst.tables),
            connections: megabytes(worst.connections),
            spool: megabytes(worst.spool),
            total: megabytes(worst.total()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ChaosReport {
    pub command: String,
    /// `release` or `debug`: how the binary was built.
    pub build: String,
    pub machine: Machine,
    pub settings: BTreeMap<String, String>,
    pub config_toml: String,
    pub seconds_under_faults: f64,
    pub drain_seconds: f64,
    pub daemon_clean_stop: String,
    pub counts: Counts,
    pub dead_letters: BTreeMap<String, i64>,
    pub peak_rss_mb: f64,
    /// The largest VmHWM a daemon process reported (peaks between the samples too).
    pub peak_hwm_mb: f64,
    pub worst_case_mb: WorstCaseMb,
    pub faults: FaultCounts,
    pub hostile: BTreeMap<String, HostileOutcome>,
    pub timeline: Vec<(f64, String)>,
    pub verdict: String,
}

impl ChaosReport {
    pub fn passed(&self) -> bool {
        self.counts.lost == 0 && self.counts.duplicated == 0
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let counts = &self.counts;
        let _ = writeln!(out, "# hypertick bench: chaos soak\n");
        let _ = writeln!(out, "**{}**\n", self.verdict);
        let _ = writeln!(out, "Command: `{}` ({} build)\n", self.command, self.build);
        let _ = writeln!(
            out,
            "Machine: {} cores ({}), {:.0} GiB, {}, Linux {}; {} (a throwaway cluster, fsync on).\n",
            machine.cores, machine.cpu, machine.memory_gib, machine.os, machine.kernel, machine.postgres
        );
        let settings: Vec<String> = self.settings.iter().map(|(key, value)| format!("{key} = {value}")).collect();
        let _ = writeln!(out, "Settings: {}.\n", settings.join(", "));
        let _ = writeln!(
            out,
            "{:.0} s under faults, then the faults stopped and the producers resent what was unacked; \
             the table held every acked id {:.1} s later; the daemon's clean stop: {}.\n",
            self.seconds_under_faults, self.drain_seconds, self.daemon_clean_stop
        );
        let _ = writeln!(out, "## Counts (valid producers, table `ticks`)\n");
        let _ = writeln!(out, "| sent | acked | present | duplicated | lost | resent | recognized resends | present, never acked |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            counts.sent,
            counts.acked,
            counts.present,
            counts.duplicated,
            counts.lost,
            counts.resent,
            counts.daemon_recognized_resends,
            counts.present_unacked
        );
        if !counts.producer_refusals.is_empty() {
            let refusals: Vec<String> = counts.producer_refusals.iter().map(|(reason, count)| format!("{reason} × {count}")).collect();
            let _ = writeln!(out, "Valid records refused in acks (then resent): {}.\n", refusals.join(", "));
        }
        if !counts.samples.is_empty() {
            let _ = writeln!(out, "Lost or duplicated ids (producer, id, first sent at s, acked at s, copies):\n");
            for (symbol, id, sent_at, acked_at, copies) in &counts.samples {
                let _ = writeln!(out, "- {symbol} {id}: sent {sent_at:.1}, acked {acked_at:.1}, {copies} in the table");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "## Memory\n");
        let worst = &self.worst_case_mb;
        let _ = writeln!(
            out,
            "Peak RSS of the daemon (VmRSS sampled each second, every process): {:.0} MB; largest VmHWM: {:.0} MB. \
             Worst case of the configuration (`worst_case_bytes`): {:.0} MB = base {:.0} + tables {:.0} + connections {:.0} + spool {:.0}. \
             Peak / worst case: {:.1}%.\n",
            self.peak_rss_mb,
            self.peak_hwm_mb,
            worst.total,
            worst.base,
            worst.tables,
            worst.connections,
            worst.spool,
            100.0 * self.peak_hwm_mb.max(self.peak_rss_mb) / worst.total.max(1.0)
        );
        let faults = &self.faults;
        let _ = writeln!(out, "## Faults\n");
        let _ = writeln!(out, "| PostgreSQL killed | PostgreSQL restarted | daemon SIGKILLed | daemon restarted | failed daemon starts |\n|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |\n",
            faults.postgres_kills, faults.postgres_restarts, faults.daemon_kills, faults.daemon_restarts, faults.daemon_failed_starts
        );
        let _ = writeln!(out, "## Dead letters by reason\n\n| reason | rows |\n|---|---|");
        for (reason, count) in &self.dead_letters {
            let _ = writeln!(out, "| {reason} | {count} |");
        }
        let _ = writeln!(out, "\n## Hostile inputs\n\n| input | sent | as expected | unexpected | daemon unreachable | last answer |\n|---|---|---|---|---|---|");
        for (input, outcome) in &self.hostile {
            let answer = outcome.last_answer.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {input} | {} | {} | {} | {} | `{answer}` |",
                outcome.sent, outcome.as_expected, outcome.unexpected, outcome.unreachable
            );
        }
        let _ = writeln!(out, "\n## Timeline\n");
        for (at, what) in &self.timeline {
            let _ = writeln!(out, "- {at:7.1} s {what}");
        }
        let _ = writeln!(out, "\n## Daemon configuration\n\n```toml\n{}```", self.config_toml);
        out
    }
}

/// Rows of the valid producers in the table (progress and the drain wait; the exact
/// comparison is `reckon`'s).
pub async fn producer_rows(client: &tokio_postgres::Client) -> anyhow::Result<i64> {
    let query = client.query_one("SELECT count(*) FROM ticks WHERE symbol LIKE 'CHAOS-P%'", &[]);
    Ok(tokio::time::timeout(Duration::from_secs(20), query).await.context("counting took over 20 s")??.get(0))
}
