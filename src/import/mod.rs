//! `hypertick import`: backfill vendor files (CSV or NDJSON, plain, gzip or zstd)
//! through the same COPY writers as the daemon, exactly once and resumable.
//!
//! `args` merges the flags into `[import]`; `plan` knows each file by path and
//! content and reads from `ingest_offsets` which of its chunks are committed; `work`
//! runs the reader and the parse-and-encode workers; `run` ties them to the writers
//! and marks finished files; `progress` draws the bar and prints the summary. Each
//! chunk's rows, its mark in `ingest_offsets` and its bad lines (as dead letters) are
//! committed in one transaction, so a killed import re-run with the same arguments
//! sends exactly the chunks that were not committed. `bench` compares the import with
//! `psql \copy` (`hypertick bench-import`).

mod args;
mod bench;
mod plan;
mod progress;
mod run;
mod work;

pub use args::{ImportArgs, ImportSettings};
pub use bench::{run as bench, BenchImportArgs};
pub use plan::FileChanged;
pub use progress::{FileReport, ImportReport};
pub use run::import;

/// `hypertick import`: imports, prints the summary, fails if it stopped early.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let config = crate::app::load_config(&args.config)?;
    let settings = ImportSettings::resolve(&args, &config)?;
    let report = import(&config, &settings, &args.files).await?;
    // A closed stdout (`| head`) must not turn a finished import into a failure.
    let _ = std::io::Write::write_fmt(&mut std::io::stdout(), format_args!("{report}"));
    match report.stopped {
        Some(reason) => Err(anyhow::anyhow!("import stopped early: {reason}")),
        None => Ok(()),
    }
}
