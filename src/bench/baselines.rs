//! The baselines the daemon is measured against, into the same `ticks` table with the
//! same indexes, on the same rows:
//!
//! - raw `COPY … FROM STDIN (FORMAT binary)` of pre-encoded 10 000-row batches, one
//!   transaction each, on 1 and on N connections: what the database itself can take;
//! - multi-row `INSERT … VALUES (…),(…)` of 1 000 rows as literal SQL text, one
//!   transaction each, the way Python feed handlers batch (`execute_values`);
//! - one prepared `INSERT` per row, each its own transaction (autocommit).
//!
//! Each runs `connections` tasks for a warm-up, then counts the rows committed over the
//! measured window. The work the client does before sending (encoding, building SQL)
//! is done up front, so these are the database's figures, not a client's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use tokio_util::sync::CancellationToken;

use super::dataset::{sql_values, Market};
use crate::record::{Table, Tick, Timestamp};
use crate::sink::{copy_statement, encode_rows, EncodeRow};

/// Rows per COPY batch (the daemon's default `batch_max_rows`).
pub const COPY_BATCH_ROWS: usize = 10_000;
/// Rows per multi-row INSERT statement.
pub const INSERT_BATCH_ROWS: usize = 1_000;

/// The rows the baselines write, prepared in each method's form.
pub struct Prepared {
    /// The table the rows go to (`ticks`; `book_deltas` for the book part, COPY only).
    pub table: Table,
    pub ticks: Arc<Vec<Tick>>,
    pub copy_batches: Arc<Vec<Bytes>>,
    pub insert_statements: Arc<Vec<String>>,
}

const COLUMNS: &str = "time, received_at, venue, symbol, price, size, side, trade_id";

/// `rows` ticks of a `symbols`-symbol market, timed over the last minute.
pub fn prepare(rows: usize, symbols: usize) -> Prepared {
    let mut market = Market::new(symbols, 99);
    let now = Timestamp::now().micros();
    let ticks: Vec<Tick> = (0..rows)
        .map(|index| {
            let time = Timestamp(now - 60_000_000 + (index as i64 * 60_000_000) / rows.max(1) as i64);
            market.tick(time)
        })
        .collect();
    let copy_batches = copy_batches(&ticks);
    let insert_statements = ticks
        .chunks(INSERT_BATCH_ROWS)
        .map(|chunk| {
            let mut sql = format!("INSERT INTO ticks ({COLUMNS}) VALUES ");
            for (index, tick) in chunk.iter().enumerate() {
                if index > 0 {
                    sql.push(',');
                }
                sql_values(tick, &mut sql);
            }
            sql
        })
        .collect();
    Prepared {
        table: Table::Ticks,
        ticks: Arc::new(ticks),
        copy_batches: Arc::new(copy_batches),
        insert_statements: Arc::new(insert_statements),
    }
}

/// `rows` book level changes over `symbols` symbols, for raw COPY into `book_deltas` only.
pub fn prepare_books(rows: usize, symbols: usize) -> Prepared {
    let names: Vec<String> = (0..symbols.max(1)).map(|index| format!("SYM{index:03}-USDT")).collect();
    let deltas = super::book_market::BookMarket::new(&names, 99).deltas(rows, Timestamp::now(), 60_000_000);
    let copy_batches = copy_batches(&deltas);
    Prepared {
        table: Table::BookDeltas,
        ticks: Arc::new(Vec::new()),
        copy_batches: Arc::new(copy_batches),
        insert_statements: Arc::new(Vec::new()),
    }
}

impl Prepared {
    /// The same ticks for COPY in batches of `rows` (the other forms are shared); with
    /// `key_order`, each batch's rows ordered as hypertick sends a high-rate table's
    /// batch: by symbol, then newest first.
    pub fn with_copy_batches_of(&self, rows: usize, key_order: bool) -> Prepared {
        let batches = match key_order {
            false => copy_batches_of(&self.ticks, rows),
            true => self
                .ticks
                .chunks(rows.max(1))
                .flat_map(|chunk| {
                    let mut chunk = chunk.to_vec();
                    chunk.sort_by(|left, right| left.symbol.cmp(&right.symbol).then(right.time.cmp(&left.time)));
                    copy_batches_of(&chunk, rows)
                })
                .collect(),
        };
        Prepared {
            table: self.table,
            ticks: self.ticks.clone(),
            copy_batches: Arc::new(batches),
            insert_statements: self.insert_statements.clone(),
        }
    }
}

/// `rows` encoded for binary COPY, [`COPY_BATCH_ROWS`] to a batch.
pub fn copy_batches<R: EncodeRow>(rows: &[R]) -> Vec<Bytes> {
    copy_batches_of(rows, COPY_BATCH_ROWS)
}

/// `rows` encoded for binary COPY, `batch_rows` to a batch.
fn copy_batches_of<R: EncodeRow>(rows: &[R], batch_rows: usize) -> Vec<Bytes> {
    rows.chunks(batch_rows.max(1))
        .map(|chunk| {
            let mut buffer = BytesMut::new();
            encode_rows(chunk, &mut buffer);
            buffer.freeze()
        })
        .collect()
}

/// A baseline method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Copy,
    MultiRowInsert,
    RowInsert,
}

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Method::Copy => "raw COPY binary",
            Method::MultiRowInsert => "multi-row INSERT",
            Method::RowInsert => "INSERT per row",
        }
    }
}

/// Rows/s one method sustained on `connections` connections over `measure`, after
/// `warmup`; `session` is run first on each connection (settings, or empty).
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    url: &str,
    method: Method,
    connections: usize,
    prepared: &Prepared,
    warmup: Duration,
    measure: Duration,
    session: &str,
    progress: impl Fn(u64),
) -> anyhow::Result<f64> {
    anyhow::ensure!(method == Method::Copy || prepared.table == Table::Ticks, "only raw COPY is prepared for {}", prepared.table.name());
    let table = prepared.table;
    let committed = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for connection in 0..connections.max(1) {
        let client = crate::db::connect(url, Duration::from_secs(10)).await.context("a baseline connection")?;
        if !session.is_empty() {
            client.batch_execute(session).await.context("the baseline's session settings")?;
        }
        let (committed, stop) = (committed.clone(), stop.clone());
        let (ticks, copy_batches, statements) = (prepared.ticks.clone(), prepared.copy_batches.clone(), prepared.insert_statements.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = client;
            let row_insert = client
                .prepare(&format!("INSERT INTO ticks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                .await
                .context("preparing the per-row INSERT")?;
            // Each connection starts at a different place in the data.
            let mut next = connection * 7;
            while !stop.is_cancelled() {
                let rows = match method {
                    Method::Copy => {
                        let batch = &copy_batches[next % copy_batches.len()];
                        copy_batch(&mut client, table, batch.clone()).await?
                    }
                    Method::MultiRowInsert => {
                        let statement = &statements[next % statements.len()];
                        client.simple_query(statement).await.context("multi-row INSERT")?;
                        INSERT_BATCH_ROWS as u64
                    }
                    Method::RowInsert => insert_rows(&client, &row_insert, &ticks, next * 100, 100).await?,
                };
                next += 1;
                committed.fetch_add(rows, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(warmup).await;
    let start_rows = committed.load(Ordering::Relaxed);
    let started = Instant::now();
    while started.elapsed() < measure {
        tokio::time::sleep(Duration::from_millis(250).min(measure)).await;
        progress(committed.load(Ordering::Relaxed) - start_rows);
    }
    let rows = committed.load(Ordering::Relaxed) - start_rows;
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    for task in tasks {
        task.await.context("a baseline task")??;
    }
    Ok(rows as f64 / seconds)
}

async fn copy_batch(client: &mut tokio_postgres::Client, table: Table, batch: Bytes) -> anyhow::Result<u64> {
    let transaction = client.transaction().await?;
    let sink = transaction.copy_in::<_, Bytes>(&copy_statement(table)).await.context("COPY")?;
    futures_util::pin_mut!(sink);
    sink.send(batch).await.context("COPY data")?;
    let rows = sink.finish().await.context("COPY end")?;
    transaction.commit().await?;
    Ok(rows)
}

/// `count` rows from `start` (wrapping), one prepared INSERT each, autocommit.
async fn insert_rows(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    ticks: &[Tick],
    start: usize,
    count: usize,
) -> anyhow::Result<u64> {
    for offset in 0..count {
        let tick = &ticks[(start + offset) % ticks.len()];
        let time = chrono::DateTime::from_timestamp_micros(tick.time.micros()).unwrap_or_default();
        let received_at = chrono::DateTime::from_timestamp_micros(tick.received_at.micros()).unwrap_or_default();
        client
            .execute(
                statement,
                &[
                    &time,
                    &received_at,
                    &tick.venue.as_str(),
                    &tick.symbol.as_str(),
                    &tick.price,
                    &tick.size,
                    &(tick.side as i16),
                    &tick.trade_id.as_deref(),
                ],
            )
            .await
            .context("per-row INSERT")?;
    }
    Ok(count as u64)
}
