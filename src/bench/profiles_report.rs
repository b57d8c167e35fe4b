//! The profiles' section of `results.md`: both schema profiles side by side, as
//! [`profiles`](super::profiles) measured them.

/// The profiles section of `results.md`.
pub fn markdown(runs: &[super::profiles::ProfileRun], note: Option<&str>, settings: &super::figures::Settings) -> String {
    use std::fmt::Write as _;
    let rate = super::figures::rate;
    let mut out = String::new();
    let _ = writeln!(out, "\n## Both profiles side by side\n");
    let _ = writeln!(
        out,
        "Into `ticks`, {} connections/writers, {} s warm-up then {} s measured per figure; the raw COPY ceiling sends \
         pre-encoded 10 000-row batches (what `\\copy … (FORMAT binary)` sends), one transaction each (50 000-row \
         batches with direct compress, as the daemon's), and is measured first and again after the other raw runs, the \
         ratios taking the higher; hypertick is the whole daemon fed over push websockets at max rate (default batches for copy, \
         measured twice in the same way, the ratio taking the higher; for direct compress \
         `{}`). Each profile's throwaway cluster runs only while that profile is measured, and on TimescaleDB the policy \
         jobs (aggregate refresh, columnstore, retention) are paused for the whole profile, raw runs and hypertick alike: \
         a refresh landing in a window took a core from it. The cookbook refreshes the aggregates itself, timed.\n",
        settings.connections,
        settings.warmup_secs,
        settings.measure_secs,
        super::profiles::DIRECT_COMPRESS_TICKS.replace('\n', " ").trim()
    );
    if let Some(note) = note {
        let _ = writeln!(out, "**{note}.**\n");
    }
    for run in runs {
        let _ = writeln!(out, "### {}\n", run.profile);
        let _ = writeln!(out, "Database: {}.\n", run.database);
        let settings: Vec<String> = run.server_settings.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let _ = writeln!(out, "Settings: {}.\n", settings.join(", "));
        let _ = writeln!(out, "Indexes on `ticks` as measured (the time index added only where a row says so):\n");
        for index in &run.indexes {
            let _ = writeln!(out, "- `{index}`");
        }
        let _ = writeln!(out, "\n| writer | write mode | (time DESC) index | rows/s |\n|---|---|---|---|");
        for figure in run.raw_copy.iter().chain(&run.hypertick) {
            let writer = if run.raw_copy.iter().any(|raw| std::ptr::eq(raw, figure)) {
                figure.name.clone()
            } else {
                format!("hypertick, {}", figure.name)
            };
            let _ = writeln!(
                out,
                "| {writer} | {} | {} | {} |",
                figure.write_mode,
                if figure.time_index { "yes" } else { "no" },
                rate(figure.rows_per_sec)
            );
        }
        if let Some(compression) = &run.compression {
            let _ = writeln!(
                out,
                "\nCompression: the copy run's {} rows, compressed afterwards (`compress_chunk`, segmentby symbol, orderby \
                 time DESC): {:.1} MB → {:.1} MB (`hypertable_columnstore_stats`), {:.1}×; {:.1} → {:.1} bytes per row.{}\n",
                compression.rows,
                compression.before_bytes as f64 / 1_048_576.0,
                compression.after_bytes as f64 / 1_048_576.0,
                compression.ratio,
                compression.before_bytes as f64 / compression.rows.max(1) as f64,
                compression.after_bytes as f64 / compression.rows.max(1) as f64,
                compression.direct_compress_bytes_per_row.map_or(String::new(), |bytes| format!(
                    " Direct compress's data: {bytes:.1} bytes per row (`hypertable_size`, every index and chunk included)."
                ))
            );
        }
        if !run.queries.is_empty() {
            let _ = write!(
                out,
                "\nCookbook (`docs/queries.md`, aimed at the bench data's day, hour, venue and symbol), ms, best of 3:\n\n| query |"
            );
            for set in &run.queries {
                let _ = write!(out, " {} ({} rows) |", set.data, set.rows);
            }
            let _ = writeln!(out, "\n|---|{}", "---|".repeat(run.queries.len()));
            for (name, _) in &run.queries[0].times_ms {
                let _ = write!(out, "| {name} |");
                for set in &run.queries {
                    let time = set.times_ms.iter().find(|(other, _)| other == name);
                    let _ = write!(out, " {} |", time.map_or("— (already refreshed)".to_string(), |(_, ms)| format!("{ms:.1}")));
                }
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}
