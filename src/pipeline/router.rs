//! The router takes normalized records from sources, checks their event time against
//! the table's retention and our clock, and queues them on their table's lane. It also
//! carries dead letters and feed events, so a source needs nothing else.
//!
//! A `row` record naming a custom table is converted here into that table's typed
//! values (a value that does not fit its column is a rejection naming the column) and
//! queued on the table's own COPY lane; other rows go to the relational writer.

use std::collections::HashMap;
use std::sync::Arc;

use crate::metrics::events;
use crate::record::{
    Bar, CustomRow, CustomSchema, DeadLetter, FeedEvent, IndicatorValue, OptionQuote, Quote, Record, Rejection,
    RelationalCatalog, RowRecord, Signal, Table, TechnicalIndicators, Tick, Ticker, Timestamp,
};

use super::indicators::IndicatorStage;
use super::lane::{LaneSender, SendError};

/// Time bounds a record must fall within to be accepted.
#[derive(Debug, Clone)]
pub struct RouterLimits {
    /// Per built-in table (indexed like `Table::ALL`): rows older than this many µs are
    /// refused. A custom table's retention is in its [`CustomLane`].
    pub retention_micros: [Option<i64>; Table::ALL.len()],
    /// Rows further than this many µs ahead of our clock are refused.
    pub max_future_micros: i64,
}

/// A custom table's lane: how its rows are converted, where they are queued, and how
/// long its data is kept.
#[derive(Debug)]
pub struct CustomLane {
    pub schema: CustomSchema,
    pub sender: LaneSender<CustomRow>,
    /// Rows whose time column is older than this many µs are refused.
    pub retention_micros: Option<i64>,
}

/// The senders of every lane plus the admission checks; clone it per source task.
#[derive(Debug, Clone)]
pub struct Router {
    pub ticks: LaneSender<Tick>,
    pub quotes: LaneSender<Quote>,
    pub bars: LaneSender<Bar>,
    pub tickers: LaneSender<Ticker>,
    pub options_quotes: LaneSender<OptionQuote>,
    pub technical_indicators: LaneSender<TechnicalIndicators>,
    pub indicator_values: LaneSender<IndicatorValue>,
    pub signals: LaneSender<Signal>,
    pub rows: LaneSender<RowRecord>,
    /// The relational tables rows may go to, read from the database at start.
    pub catalog: Arc<RelationalCatalog>,
    /// The custom tables by name; `row` records naming one go to its lane.
    pub custom_tables: Arc<HashMap<String, CustomLane>>,
    /// The streaming indicator engine, when `[indicators]` names symbols.
    pub indicators: Option<Arc<IndicatorStage>>,
    pub feed_events: LaneSender<FeedEvent>,
    pub dead_letters: LaneSender<DeadLetter>,
    pub limits: RouterLimits,
}

impl Router {
    /// Checks a record's event time: not before 1970, not too far ahead, inside retention.
    pub fn check_time(&self, table: Table, time: Timestamp, now: Timestamp) -> Result<(), Rejection> {
        let retention = match table.index() {
            Some(index) => self.limits.retention_micros[index],
            None => self.custom_tables.get(table.name()).and_then(|lane| lane.retention_micros),
        };
        self.check_time_within(table, retention, time, now)
    }

    fn check_time_within(&self, table: Table, retention: Option<i64>, time: Timestamp, now: Timestamp) -> Result<(), Rejection> {
        if time.micros() < 0 {
            return Err(Rejection::new("time_out_of_range", format!("time {time} is before 1970-01-01")));
        }
        if time.micros() > now.micros().saturating_add(self.limits.max_future_micros) {
            return Err(Rejection::new(
                "time_out_of_range",
                format!(
                    "time {time} is more than {}s ahead of the daemon's clock ({now})",
                    self.limits.max_future_micros / Timestamp::MICROS_PER_SECOND
                ),
            ));
        }
        if let Some(retention) = retention {
            let cutoff = now.saturating_sub_micros(retention);
            if time < cutoff {
                return Err(Rejection::new(
                    "older_than_retention",
                    format!("time {time} is older than {table}'s retention (cutoff {cutoff})"),
                ));
            }
        }
        Ok(())
    }

    /// Admits and queues one record.
    pub async fn route(&self, record: Record, now: Timestamp) -> Result<(), Rejection> {
        self.check_time(record.table(), record.time(), now)?;
        let sent = match record {
            Record::Tick(tick) => self.ticks.send(tick).await,
            Record::Quote(quote) => self.quotes.send(quote).await,
            Record::Bar(bar) => self.route_bar(bar, now).await,
            Record::Ticker(ticker) => self.tickers.send(ticker).await,
            Record::OptionQuote(quote) => self.options_quotes.send(quote).await,
            Record::TechnicalIndicators(indicators) => self.technical_indicators.send(indicators).await,
            Record::IndicatorValue(value) => self.indicator_values.send(value).await,
            Record::Signal(signal) => self.signals.send(signal).await,
            Record::Row(row) if self.custom_tables.contains_key(&row.table) => return self.route_custom_row(row, now).await,
            Record::Row(mut row) => {
                self.catalog.check(&mut row).map_err(|rejection| self.also_naming_custom_tables(rejection))?;
                self.rows.send(row).await
            }
        };
        sent.map_err(queue_rejection)
    }

    /// An unknown table's refusal lists the custom tables as well as the relational ones.
    fn also_naming_custom_tables(&self, mut rejection: Rejection) -> Rejection {
        if rejection.code == "unknown_table" && !self.custom_tables.is_empty() {
            let mut names: Vec<&str> = self.custom_tables.keys().map(String::as_str).collect();
            names.sort_unstable();
            rejection.detail.push_str(&format!(", or a custom table: {}", names.join(", ")));
        }
        rejection
    }

    /// Converts a row for a custom table, checks its time column like any record's time,
    /// and queues it on the table's lane.
    async fn route_custom_row(&self, row: RowRecord, now: Timestamp) -> Result<(), Rejection> {
        let Some(lane) = self.custom_tables.get(&row.table) else {
            return Err(Rejection::new("unknown_table", format!("`{}` is not a custom table", row.table)));
        };
        let converted = lane.schema.convert(&row)?;
        self.check_time_within(lane.schema.table, lane.retention_micros, converted.time, now)?;
        lane.sender.send(converted).await.map_err(queue_rejection)
    }

    /// Queues a bar and, when the indicator engine covers it, the indicators it yields.
    async fn route_bar(&self, bar: Bar, now: Timestamp) -> Result<(), SendError> {
        let Some(stage) = self.indicators.as_ref().filter(|stage| stage.covers(&bar)) else {
            return self.bars.send(bar).await;
        };
        let kept = bar.clone();
        self.bars.send(bar).await?;
        if let Some(indicators) = stage.on_bar(&kept) {
            let queued = match self.check_time(Table::TechnicalIndicators, indicators.time, now) {
                Ok(()) => self.technical_indicators.send(indicators).await.map_err(|error| error.to_string()),
                Err(rejection) => Err(rejection.to_string()),
            };
            if let Err(error) = queued {
                tracing::warn!(symbol = %kept.symbol, %error, "technical indicators of a bar not queued");
            }
        }
        Ok(())
    }

    /// Keeps a dead letter: counted and logged (sampled) here, written by its writer.
    pub async fn dead_letter(&self, letter: DeadLetter) {
        events::dead_lettered(&letter);
        if let Err(error) = self.dead_letters.send(letter.clone()).await {
            events::dead_letter_unqueued(&letter, &error);
        }
    }

    pub async fn feed_event(&self, event: FeedEvent) {
        if self.feed_events.send(event).await.is_err() {
            tracing::debug!("feed event dropped during shutdown");
        }
    }
}

fn queue_rejection(error: SendError) -> Rejection {
    match error {
        SendError::Full(_) => Rejection::new("queue_full", error.to_string()),
        SendError::Closed => Rejection::new("shutting_down", error.to_string()),
    }
}
