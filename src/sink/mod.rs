//! Writing rows into PostgreSQL: the PGCOPY binary encoder (`encoder`, `rows`), the
//! encoder stage that turns a closed batch into bytes (`stage`), the COPY writer tasks
//! (`writer`) and the classification of database errors into retry, bad data, or
//! fatal (`failure`). **Only this module knows the PGCOPY format.**

mod encoder;
mod failure;
mod rows;
mod stage;
mod writer;

pub use encoder::{copy_statement, encode_rows, CopyRow, TupleEncoder};
pub use failure::{classify, FailureKind};
pub use stage::{batch_queue, encode_stage, BatchQueue, Encoded, EncodedBatch};
pub use writer::{run_writer, WriterError, WriterSettings};
