//! Reading and writing tokio's `AsyncRead`/`AsyncWrite` without the `io-util` feature.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads until `buffer` holds `want` bytes or the reader ends; returns how many bytes it holds.
pub(crate) async fn read_up_to<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut Vec<u8>,
    want: usize,
) -> io::Result<usize> {
    buffer.clear();
    buffer.resize(want, 0);
    let mut filled = 0;
    while filled < want {
        let read = poll_fn(|cx| {
            let mut window = ReadBuf::new(&mut buffer[filled..]);
            match Pin::new(&mut *reader).poll_read(cx, &mut window) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(window.filled().len())),
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    buffer.truncate(filled);
    Ok(filled)
}

/// Writes all of `bytes`.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(writer: &mut W, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let written = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, bytes)).await?;
        if written == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "the writer accepted no more bytes"));
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

/// Flushes the writer.
pub(crate) async fn flush<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_in_windows_and_writes_everything() {
        let mut reader: &[u8] = b"0123456789";
        let mut buffer = Vec::new();
        assert_eq!(read_up_to(&mut reader, &mut buffer, 4).await.unwrap(), 4);
        assert_eq!(buffer, b"0123");
        assert_eq!(read_up_to(&mut reader, &mut buffer, 4).await.unwrap(), 4);
        assert_eq!(read_up_to(&mut reader, &mut buffer, 4).await.unwrap(), 2);
        assert_eq!(buffer, b"89");
        assert_eq!(read_up_to(&mut reader, &mut buffer, 4).await.unwrap(), 0);
        let mut out = Vec::new();
        write_all(&mut out, b"abc").await.unwrap();
        flush(&mut out).await.unwrap();
        assert_eq!(out, b"abc");
    }
}
