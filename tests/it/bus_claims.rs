//! The writers' bus path against a real database, without a NATS server: batches of
//! bus messages handed to a real writer as the consumer hands them. A message delivered
//! twice (in two batches) is written once; a row whose id was stored before (a
//! producer's resend through another edge) is left out; both batches are reported
//! committed so their messages get acked.

use std::sync::Arc;
use std::time::Duration;

use hypertick::db::{self, Partitions, Profile};
use hypertick::metrics::Stats;
use hypertick::record::{Side, Table, Tick, Timestamp};
use hypertick::sink::{
    batch_queue, encode_batch, run_writer, BatchProgress, BusClaim, KnownInstruments, TableWriteSettings, WriterSettings,
};

use crate::support;

fn tick(trade: u64) -> Tick {
    let now = Timestamp::now();
    Tick {
        time: now,
        received_at: now,
        venue: "binance".into(),
        symbol: "BTC-USDT".into(),
        price: 100.0 + trade as f64,
        size: 1.0,
        side: Side::Buy,
        trade_id: Some(trade.to_string().into()),
    }
}

/// A batch of messages: each (stream sequence, [(trade, id key)]).
fn batch(
    partitions: &Partitions,
    messages: &[(u64, Vec<(u64, u128)>)],
    committed: tokio::sync::mpsc::UnboundedSender<Vec<u64>>,
) -> hypertick::sink::EncodedBatch<Tick> {
    let mut rows = Vec::new();
    let mut sequences = Vec::new();
    let mut ids = Vec::new();
    for (sequence, trades) in messages {
        for (trade, id) in trades {
            rows.push(tick(*trade));
            sequences.push(*sequence);
            ids.push(*id);
        }
    }
    let claim = BusClaim { stream_key: "TEST@1".into(), messages: messages.iter().map(|(sequence, _)| *sequence).collect(), committed };
    let progress = BatchProgress { bus: Some(claim), ..BatchProgress::default() };
    let mut encoded = encode_batch(Table::Ticks, partitions, rows, progress, &KnownInstruments::default(), true);
    encoded.sequences = sequences;
    encoded.ids = ids;
    encoded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_messages_and_resent_ids_are_written_once() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    hypertick::app::migrate(&config).await.expect("migrate");
    let settings = Arc::new(WriterSettings {
        url: config.database_url().unwrap().to_string(),
        connect_timeout: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        spool: None,
    });
    let partitions = Arc::new(Partitions::new(db::partition_plans(&config, Profile::Vanilla)));
    let (sender, queue) = batch_queue::<Tick>(1);
    let writer =
        tokio::spawn(run_writer(Table::Ticks, 0, queue, settings, TableWriteSettings::default(), partitions.clone(), Stats::new()));
    let (committed, mut reports) = tokio::sync::mpsc::unbounded_channel();

    // Messages 1 and 2; trade 3 carries id key 77.
    let first = batch(&partitions, &[(1, vec![(1, 0), (2, 0)]), (2, vec![(3, 77)])], committed.clone());
    // Message 2 delivered again (its ack was lost), message 3 new; in message 3, trade 30
    // repeats id 77 (a resend of trade 3 pushed to another edge) and trade 4 is new.
    let second = batch(&partitions, &[(2, vec![(3, 77)]), (3, vec![(30, 77), (4, 0)])], committed.clone());
    // Everything again, and message 4 whose only row is a resend.
    let third = batch(&partitions, &[(1, vec![(1, 0), (2, 0)]), (4, vec![(31, 77)])], committed);
    for encoded in [first, second, third] {
        sender.send(encoded).await.expect("the writer takes the batch");
    }
    drop(sender);
    writer.await.unwrap().expect("the writer committed every batch");

    let mut acked = Vec::new();
    while let Ok(messages) = reports.try_recv() {
        acked.push(messages);
    }
    assert_eq!(acked, vec![vec![1, 2], vec![2, 3], vec![1, 4]], "every batch is reported committed, so its messages are acked");

    let client = support::sql(&cluster).await;
    let trades: Vec<String> =
        client.query("SELECT trade_id FROM ticks ORDER BY trade_id::int", &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    assert_eq!(trades, vec!["1", "2", "3", "4"], "each message's rows once, each id once");
    let claims = support::count(&client, "SELECT count(*) FROM ingest_bus_messages WHERE stream = 'TEST@1'").await;
    assert_eq!(claims, 4, "messages 1 to 4 claimed once each");
}
