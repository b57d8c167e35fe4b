//! Retention as the admission checks see it: a table's, and for `bars` one per interval
//! (`tables.bars.retention_by_interval`; intervals not listed use the table's).

use std::sync::Arc;

use crate::config::EffectiveTableConfig;
use crate::record::{RejectReason, Rejection, Table, Timestamp};

/// Checks a record's event time: not before 1970, at most `max_future_micros` ahead of
/// `now`, and not older than `retention` µs before it (when retention is limited).
pub fn check_event_time(
    table: Table,
    retention: Option<i64>,
    max_future_micros: i64,
    time: Timestamp,
    now: Timestamp,
) -> Result<(), Rejection> {
    if time.micros() < 0 {
        return Err(Rejection::new(RejectReason::TimeOutOfRange, format!("time {time} is before 1970-01-01")));
    }
    if time.micros() > now.micros().saturating_add(max_future_micros) {
        return Err(Rejection::new(
            RejectReason::TimeOutOfRange,
            format!("time {time} is more than {}s ahead of the daemon's clock ({now})", max_future_micros / Timestamp::MICROS_PER_SECOND),
        ));
    }
    if let Some(retention) = retention {
        let cutoff = now.saturating_sub_micros(retention);
        if time < cutoff {
            return Err(Rejection::new(
                RejectReason::OlderThanRetention,
                format!("time {time} is older than {table}'s retention (cutoff {cutoff})"),
            ));
        }
    }
    Ok(())
}

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// `days` of retention as µs; `None` (keep all) for 0.
pub fn retention_micros_of_days(days: u32) -> Option<i64> {
    (days > 0).then(|| i64::from(days).saturating_mul(MICROS_PER_DAY))
}

/// The retention of each listed interval, µs (`None`: kept for good).
#[derive(Debug, Clone, Default)]
pub struct IntervalRetention(Arc<[(String, Option<i64>)]>);

impl IntervalRetention {
    pub fn from_settings(settings: &EffectiveTableConfig) -> IntervalRetention {
        IntervalRetention(
            settings.retention_by_interval.iter().map(|(interval, days)| (interval.clone(), retention_micros_of_days(*days))).collect(),
        )
    }

    /// The retention of `interval` when it is listed; `None` when it is not.
    pub fn get(&self, interval: &str) -> Option<Option<i64>> {
        self.0.iter().find(|(listed, _)| listed == interval).map(|(_, retention)| *retention)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// [`check_event_time`] for a row of `interval`: its interval's retention when listed,
/// else the table's (`table_retention`).
pub fn check_interval_time(
    table: Table,
    table_retention: Option<i64>,
    by_interval: &IntervalRetention,
    interval: &str,
    max_future_micros: i64,
    time: Timestamp,
    now: Timestamp,
) -> Result<(), Rejection> {
    let Some(retention) = by_interval.get(interval) else {
        return check_event_time(table, table_retention, max_future_micros, time, now);
    };
    check_event_time(table, retention, max_future_micros, time, now).map_err(|mut rejection| {
        if let (RejectReason::OlderThanRetention, Some(retention)) = (rejection.code, retention) {
            rejection.detail = format!(
                "time {time} is older than the retention of {table} of interval {interval} (cutoff {}; tables.{table}.retention_by_interval)",
                now.saturating_sub_micros(retention)
            );
        }
        rejection
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_interval_has_its_own_retention_and_others_the_tables() {
        let settings = EffectiveTableConfig {
            retention_days: 30,
            retention_by_interval: vec![("1d".into(), 0), ("1m".into(), 10)],
            ..crate::config::Config::loopback("postgres://localhost/x").table(Table::Bars)
        };
        let by_interval = IntervalRetention::from_settings(&settings);
        let now = Timestamp(400 * MICROS_PER_DAY);
        let days_ago = |days: i64| Timestamp(now.micros() - days * MICROS_PER_DAY);
        let check =
            |interval: &str, time| check_interval_time(Table::Bars, Some(30 * MICROS_PER_DAY), &by_interval, interval, 0, time, now);
        assert_eq!(check("1d", days_ago(365)), Ok(()), "1d is kept for good");
        assert_eq!(check("1m", days_ago(9)), Ok(()));
        let refused = check("1m", days_ago(11)).unwrap_err();
        assert_eq!(refused.code, RejectReason::OlderThanRetention);
        assert!(refused.detail.contains("of interval 1m") && refused.detail.contains("tables.bars.retention_by_interval"), "{refused}");
        assert_eq!(check("5m", days_ago(29)), Ok(()), "not listed: the table's 30 days");
        assert_eq!(check("5m", days_ago(31)).unwrap_err().code, RejectReason::OlderThanRetention);
        assert_eq!(settings.drop_retention_days(), 0, "1d keeps all: no partition is dropped");
        assert!(settings.deletes_rows_by_interval());
        let all_limited = EffectiveTableConfig { retention_by_interval: vec![("1m".into(), 10), ("1h".into(), 90)], ..settings };
        assert_eq!(all_limited.drop_retention_days(), 90);
        assert_eq!((all_limited.retention_days_for("1m"), all_limited.retention_days_for("4h")), (10, 30));
    }
}
