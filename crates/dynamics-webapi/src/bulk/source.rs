//! Where the records of a bulk write come from: a stream whose items are serialised straight into the body of
//! the chunk being cut, so a record costs no buffer of its own.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;

use crate::error::{Error, Result};
use crate::key::RecordKey;

/// The next record, written into the chunk's buffer.
pub(crate) enum Pulled {
    /// The record at `index` was appended to the buffer.
    Written { index: usize, key: Option<RecordKey> },
    /// The record at `index` could not be built; the buffer is as it was.
    Failed { index: usize, error: Error },
}

/// Records, each appended to a buffer as it is pulled.
pub(crate) trait RecordSource: Send {
    /// Appends the next record's target to `buffer`; `Ready(None)` after the last one.
    fn poll_next_into(&mut self, cx: &mut Context<'_>, buffer: &mut Vec<u8>) -> Poll<Option<Pulled>>;
}

/// A stream and the function that turns its items into targets.
pub(crate) struct StreamSource<S, F> {
    stream: Pin<Box<S>>,
    build: F,
    next_index: usize,
}

impl<S, F> StreamSource<S, F> {
    pub(crate) fn new(stream: S, build: F) -> Self {
        Self { stream: Box::pin(stream), build, next_index: 0 }
    }
}

impl<S, F> RecordSource for StreamSource<S, F>
where
    S: Stream + Send,
    F: FnMut(S::Item, &mut Vec<u8>) -> Result<Option<RecordKey>> + Send,
{
    fn poll_next_into(&mut self, cx: &mut Context<'_>, buffer: &mut Vec<u8>) -> Poll<Option<Pulled>> {
        match self.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let index = self.next_index;
                self.next_index += 1;
                let start = buffer.len();
                Poll::Ready(Some(match (self.build)(item, buffer) {
                    Ok(key) => Pulled::Written { index, key },
                    Err(error) => {
                        buffer.truncate(start);
                        Pulled::Failed { index, error }
                    }
                }))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
