//! The benchmark's chart (PNG): throughput by method, latency percentiles by offered
//! rate, and memory and backlog through the database stall.

use std::path::Path;
use std::sync::Once;

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::report::BenchReport;

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An embedded font: the chart must not depend on the machine's fonts.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn failed<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("drawing the chart: {error}")
}

/// Draws the report into a PNG at `path`.
pub fn draw(report: &BenchReport, path: &Path) -> anyhow::Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1400, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let (top, bottom) = root.split_vertically(520);
    let (left, right) = top.split_horizontally(760);
    throughput(report, &left)?;
    latency(report, &right)?;
    stall(report, &bottom)?;
    root.present().map_err(failed)?;
    Ok(())
}

fn throughput<DB: DrawingBackend>(report: &BenchReport, area: &DrawingArea<DB, plotters::coord::Shift>) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let mut bars: Vec<(String, f64, RGBColor)> = report
        .daemon
        .iter()
        .filter(|run| run.offered_rate == 0)
        .map(|run| (format!("hypertick, {}", run.name), run.committed_per_sec, RGBColor(31, 119, 180)))
        .collect();
    bars.extend(report.baselines.iter().map(|baseline| {
        let color = if baseline.method.contains("COPY") { RGBColor(127, 127, 127) } else { RGBColor(214, 39, 40) };
        (format!("{}, {} conn", baseline.method, baseline.connections), baseline.rows_per_sec, color)
    }));
    let top = bars.iter().map(|bar| bar.1).fold(1.0, f64::max) * 1.35 / 1_000.0;
    let count = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("Rows committed per second (thousands)", (FONT, 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..top, 0.0..count)
        .map_err(failed)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().x_desc("k rows/s").label_style((FONT, 13)).draw().map_err(failed)?;
    for (index, (label, value, color)) in bars.iter().enumerate() {
        let y = count - index as f64 - 1.0;
        let x = value / 1_000.0;
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.15), (x, y + 0.85)], color.filled()))).map_err(failed)?;
        chart
            .draw_series(std::iter::once(Text::new(format!("{label}: {x:.1} k"), (x + top * 0.01, y + 0.62), (FONT, 13))))
            .map_err(failed)?;
    }
    Ok(())
}

fn latency<DB: DrawingBackend>(report: &BenchReport, area: &DrawingArea<DB, plotters::coord::Shift>) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let runs: Vec<_> = report.daemon.iter().filter(|run| run.offered_rate > 0 && run.source == "push").collect();
    let max_rate = runs.iter().map(|run| run.offered_rate as f64 / 1_000.0).fold(10.0, f64::max) * 1.1;
    let max_latency = runs.iter().map(|run| run.latency_p999_ms).fold(10.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption("Receipt → commit latency by offered rate (push)", (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max_rate, (0.5..max_latency).log_scale())
        .map_err(failed)?;
    chart.configure_mesh().x_desc("offered k rows/s").y_desc("ms").label_style((FONT, 13)).draw().map_err(failed)?;
    type Series = (&'static str, fn(&super::figures::DaemonRun) -> f64, RGBColor);
    let series: [Series; 3] = [
        ("p50", |run| run.latency_p50_ms, RGBColor(44, 160, 44)),
        ("p99", |run| run.latency_p99_ms, RGBColor(255, 127, 14)),
        ("p999", |run| run.latency_p999_ms, RGBColor(214, 39, 40)),
    ];
    for (name, value, color) in series {
        let points: Vec<(f64, f64)> = runs.iter().map(|run| (run.offered_rate as f64 / 1_000.0, value(run).max(0.5))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(failed)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|point| Circle::new(point, 4, color.filled()))).map_err(failed)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(failed)?;
    Ok(())
}

fn stall<DB: DrawingBackend>(report: &BenchReport, area: &DrawingArea<DB, plotters::coord::Shift>) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let Some(stall) = &report.stall else {
        area.draw(&Text::new("no database stall run (--stall-secs 0)", (40, 40), (FONT, 18))).map_err(failed)?;
        return Ok(());
    };
    let end = stall.samples.last().map_or(1.0, |sample| sample.at_secs).max(1.0);
    let rss_top = stall.samples.iter().map(|sample| sample.rss_mb).fold(50.0, f64::max) * 1.3;
    let backlog_top = stall.samples.iter().map(|sample| sample.backlog_rows as f64 / 1_000_000.0).fold(0.1, f64::max) * 1.3;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Database paused {} s at {} k rows/s offered: daemon RSS and backlog", stall.stall_secs, stall.offered_rate / 1_000),
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..rss_top)
        .map_err(failed)?
        .set_secondary_coord(0.0..end, 0.0..backlog_top);
    chart.configure_mesh().x_desc("seconds").y_desc("RSS, MB").label_style((FONT, 13)).draw().map_err(failed)?;
    chart.configure_secondary_axes().y_desc("backlog, M rows (accepted, not committed)").label_style((FONT, 13)).draw().map_err(failed)?;
    let paused = RGBColor(255, 200, 200).mix(0.5);
    chart
        .draw_series(std::iter::once(Rectangle::new([(stall.stall_began_at, 0.0), (stall.stall_ended_at, rss_top)], paused.filled())))
        .map_err(failed)?
        .label("database paused")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], paused.filled()));
    let blue = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(stall.samples.iter().map(|sample| (sample.at_secs, sample.rss_mb)), blue.stroke_width(2)))
        .map_err(failed)?
        .label("daemon RSS (MB, left)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2)));
    let orange = RGBColor(255, 127, 14);
    chart
        .draw_secondary_series(LineSeries::new(
            stall.samples.iter().map(|sample| (sample.at_secs, sample.backlog_rows as f64 / 1_000_000.0)),
            orange.stroke_width(2),
        ))
        .map_err(failed)?
        .label("backlog (M rows, right)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], orange.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(failed)?;
    Ok(())
}
