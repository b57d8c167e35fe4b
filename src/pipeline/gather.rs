//! What a batch is gathered in as a lane's rows are taken off it.

/// Where a receiver's rows are gathered ([`LaneReceiver::drain_into`]; the batcher keeps
/// it from batch to batch): a vec, or the encoder stage's buffers, which split each row
/// as it is gathered.
pub trait Gather<R> {
    fn push(&mut self, row: R);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Room for `rows` more rows.
    fn reserve(&mut self, rows: usize);
}

impl<R> Gather<R> for Vec<R> {
    fn push(&mut self, row: R) {
        Vec::push(self, row);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn reserve(&mut self, rows: usize) {
        Vec::reserve(self, rows);
    }
}
