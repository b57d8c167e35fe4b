//! Writing rows into PostgreSQL: the PGCOPY binary encoder (`encoder`, `rows`, and
//! `cells` for the typed values of custom tables, `numeric` included), the
//! encoder stage that turns a closed batch into bytes (`stage`), the writer tasks
//! (`writer`) sending batches by COPY or, in insert mode, as column arrays cut from
//! the same bytes (`insert`), the relational writer for `row` records
//! (`relational`: `INSERT … ON CONFLICT` in foreign-key order), the one upsert of the
//! symbol master that both kinds of writer run (`instruments`), and the classification of database errors into retry,
//! bad data, or fatal (`failure`). **Only this module knows the PGCOPY format.**

mod buffers;
mod cells;
mod encoder;
mod failure;
mod insert;
mod instruments;
mod relational;
mod rows;
mod stage;
mod writer;

pub use cells::{cell_len, encode_cell, numeric_len};
pub use encoder::{copy_statement, encode_rows, CopyRow, EncodeRow, TupleEncoder};
pub use failure::{classify, FailureKind};
pub use insert::{column_arrays, insert_statement, ColumnArray};
pub use instruments::UPSERT_INSTRUMENTS;
pub use relational::{run_relational_writer, KeyedPartitions, RelationalBatch, WaitPolicy};
pub use stage::{
    batch_queue, encode_batch, encode_stage, key_order, BatchBuffers, BatchProgress, BatchQueue, BusClaim, Encoded, EncodedBatch,
    KnownInstruments, Spares,
};
pub use writer::{
    run_writer, run_writer_on_stream, watermark_stream, TableWriteSettings, WriterError, WriterSettings, ADVANCE_OFFSET,
    DIRECT_COMPRESS_SETTINGS,
};
