//! gRPC message framing, watched while a body streams past: each message starts with a
//! 5-byte prefix declaring its length, so one over the limit is refused as soon as its
//! prefix arrives, before anyone buffers it (tonic reserves the declared length at
//! once and fills it as frames come in).
//!
//! The worker bounds requests with it ([`crate::admission`]), the coordinator the
//! answers it reads back: every call of the protocol carries exactly one message each
//! way, so a second one is refused too (tonic would decode it as well, to drain the
//! body, doubling what one call holds).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A message's prefix: a compression flag and a big-endian u32 length.
pub const PREFIX: usize = 5;

/// What a body carried that the limit does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Overrun {
    #[error("a message of {declared} bytes exceeds the limit of {limit} bytes")]
    TooLong { declared: u64, limit: u64 },
    #[error("a second message, where a call carries one")]
    Second,
}

/// Follows the message prefixes of one body, fed its data frames in order.
#[derive(Debug, Clone)]
pub struct Scanner {
    limit: u64,
    prefix: [u8; PREFIX],
    /// Prefix bytes seen of the message being started.
    have: usize,
    /// Bytes of the current message still to come.
    left: u64,
    /// Messages whose prefix was read.
    messages: u32,
}

impl Scanner {
    /// A body carrying one message of at most `limit` bytes.
    pub fn new(limit: usize) -> Scanner {
        Scanner {
            limit: limit as u64,
            prefix: [0; PREFIX],
            have: 0,
            left: 0,
            messages: 0,
        }
    }

    /// The next data frame of the body.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Overrun> {
        while !data.is_empty() {
            if self.left > 0 {
                let n = self.left.min(data.len() as u64);
                self.left -= n;
                data = &data[n as usize..];
                continue;
            }
            if self.have == 0 && self.messages == 1 {
                return Err(Overrun::Second);
            }
            let n = (PREFIX - self.have).min(data.len());
            self.prefix[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == PREFIX {
                let declared = u64::from(u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]));
                if declared > self.limit {
                    return Err(Overrun::TooLong {
                        declared,
                        limit: self.limit,
                    });
                }
                self.have = 0;
                self.left = declared;
                self.messages += 1;
            }
        }
        Ok(())
    }
}

/// A body that fails, with what `refuse` makes of the [`Overrun`], at the first frame
/// breaking its limit; that frame is not passed on, and nothing after it is read.
pub struct Bounded<B, F> {
    inner: B,
    scanner: Scanner,
    refuse: F,
    failed: bool,
}

impl<B, F> Bounded<B, F> {
    pub fn new(inner: B, limit: usize, refuse: F) -> Self {
        Bounded {
            inner,
            scanner: Scanner::new(limit),
            refuse,
            failed: false,
        }
    }
}

impl<B, F> Body for Bounded<B, F>
where
    B: Body<Data = Bytes> + Unpin,
    F: Fn(Overrun) -> B::Error + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && let Err(overrun) = this.scanner.feed(data)
        {
            this.failed = true;
            return Poll::Ready(Some(Err((this.refuse)(overrun))));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut m = vec![0];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend(std::iter::repeat_n(7, len as usize));
        m
    }

    #[test]
    fn a_message_within_the_limit_passes_however_it_is_cut() {
        let body = message(100);
        for cut in [1, 2, 4, 5, 6, 50, body.len()] {
            let mut s = Scanner::new(100);
            for piece in body.chunks(cut) {
                assert_eq!(s.feed(piece), Ok(()), "cut every {cut}");
            }
        }
        // An empty message (InfoRequest) is one message too.
        let mut s = Scanner::new(0);
        assert_eq!(s.feed(&message(0)), Ok(()));
        assert_eq!(s.feed(&message(0)), Err(Overrun::Second));
    }

    #[test]
    fn a_long_message_is_refused_on_its_prefix_alone() {
        let mut s = Scanner::new(100);
        assert_eq!(s.feed(&[0, 0, 0]), Ok(()));
        assert_eq!(
            s.feed(&[0, 101]),
            Err(Overrun::TooLong {
                declared: 101,
                limit: 100
            })
        );
        let mut s = Scanner::new(100);
        assert_eq!(
            s.feed(&[0, 0xff, 0xff, 0xff, 0xff]),
            Err(Overrun::TooLong {
                declared: u32::MAX as u64,
                limit: 100
            })
        );
    }

    #[test]
    fn a_second_message_is_refused() {
        let mut two = message(10);
        two.extend(message(10));
        let mut s = Scanner::new(100);
        assert_eq!(s.feed(&two), Err(Overrun::Second));
        let mut s = Scanner::new(100);
        assert_eq!(s.feed(&message(10)), Ok(()));
        assert_eq!(s.feed(&[0]), Err(Overrun::Second));
    }
}
