//! Cuts the input into fixed-size chunks, each carrying its preset dictionary (the
//! 32 KiB before it) as a zero-copy view of the previous chunk.
//!
//! Chunk boundaries depend only on the block size, never on how the input arrives
//! (pipes deliver short reads), because the output bytes must not either.

use std::io::{self, Read};

use std::sync::Arc;

use bytes::Bytes;
use gzfleet_worker::engine::MAX_DICTIONARY;

use super::plan::Encoding;
use super::pull::SharedFile;
use super::resume::Start;

/// One piece of an input, ready to compress anywhere.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Its place in the run's stream (see `stream.rs`).
    pub seq: u64,
    /// Its place in its file, and its first byte's.
    pub index: u64,
    pub offset: u64,
    /// Bytes of input it covers.
    pub len: u64,
    pub payload: Payload,
}

/// Where a chunk's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// Push: in hand.
    Bytes {
        data: Bytes,
        /// The 32 KiB before it; empty for the first chunk and in independent mode.
        dictionary: Bytes,
        /// The coordinator's own CRC of `data`, when answers come from other
        /// processes and are checked against it.
        crc32: Option<u32>,
    },
    /// Pull: workers read it, and the 32 KiB before it, from storage they share.
    Shared(Arc<SharedFile>),
}

impl Chunk {
    /// Bytes of input it covers, as a size in memory.
    pub fn len(&self) -> usize {
        self.len as usize
    }
}

pub(crate) struct Chunker {
    input: Box<dyn Read + Send>,
    block: usize,
    cutter: Cutter,
}

/// Turns consecutive pieces of one input into chunks: their places, their CRCs and
/// each one's dictionary (the 32 KiB before it). Shared by the chunker, which reads
/// pieces of a block each, and the library's `Writer`, which is handed them; so both
/// give the same chunks, hence the same bytes.
pub(crate) struct Cutter {
    independent: bool,
    compute_crc: bool,
    next_index: u64,
    offset: u64,
    tail: Bytes,
}

impl Cutter {
    pub fn new(encoding: &Encoding, compute_crc: bool) -> Self {
        Cutter {
            independent: encoding.independent,
            compute_crc,
            next_index: 0,
            offset: 0,
            tail: Bytes::new(),
        }
    }

    /// The chunk `data` (not empty) makes, at place `seq` in the run's stream.
    pub fn cut(&mut self, seq: u64, data: Bytes) -> Chunk {
        let dictionary = if self.independent {
            Bytes::new()
        } else {
            std::mem::replace(&mut self.tail, Bytes::new())
        };
        self.tail = match data.len() >= MAX_DICTIONARY {
            true => data.slice(data.len() - MAX_DICTIONARY..),
            // A piece shorter than a window (a flush point, or the last) keeps the
            // history before it too, as one-thread deflate would.
            false => {
                let keep = MAX_DICTIONARY - data.len();
                let mut tail = dictionary[dictionary.len().saturating_sub(keep)..].to_vec();
                tail.extend_from_slice(&data);
                Bytes::from(tail)
            }
        };
        let chunk = Chunk {
            seq,
            index: self.next_index,
            offset: self.offset,
            len: data.len() as u64,
            payload: Payload::Bytes {
                crc32: self.compute_crc.then(|| crc32fast::hash(&data)),
                data,
                dictionary,
            },
        };
        self.next_index += 1;
        self.offset += chunk.len;
        chunk
    }
}

impl Chunker {
    pub fn new(input: Box<dyn Read + Send>, encoding: &Encoding, compute_crc: bool) -> Self {
        Chunker {
            input,
            block: encoding.block as usize,
            cutter: Cutter::new(encoding, compute_crc),
        }
    }

    /// Cuts from where `start` says: the beginning, or an interrupted run's durable
    /// point, with `input` positioned there and the bytes before it as the dictionary.
    pub fn resume_at(mut self, start: &Start) -> Self {
        self.cutter.next_index = start.index;
        self.cutter.offset = start.offset;
        self.cutter.tail = start.dictionary.clone();
        self
    }

    /// The next chunk, which takes place `seq` in the run's stream; None at the end.
    pub fn next_chunk(&mut self, seq: u64) -> io::Result<Option<Chunk>> {
        let mut buf = Vec::with_capacity(self.block);
        (&mut self.input)
            .take(self.block as u64)
            .read_to_end(&mut buf)?;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.cutter.cut(seq, Bytes::from(buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delivers its bytes a few at a time, as a pipe might.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(7).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn all(mut c: Chunker) -> Vec<Chunk> {
        let mut seq = 0;
        std::iter::from_fn(|| {
            seq += 1;
            c.next_chunk(seq).unwrap()
        })
        .collect()
    }

    fn encoding(block: u64, independent: bool) -> Encoding {
        Encoding {
            engine: gzfleet_worker::engine::Engine::ZlibRs,
            level: 6,
            block,
            independent,
        }
    }

    #[test]
    fn boundaries_and_dictionaries() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let chunks = all(Chunker::new(
            Box::new(Trickle(data.clone(), 0)),
            &encoding(65536, false),
            true,
        ));
        assert_eq!(chunks.len(), 4);
        for (i, c) in chunks.iter().enumerate() {
            let start = i * 65536;
            assert_eq!(c.index, i as u64);
            assert_eq!(c.seq, i as u64 + 1);
            assert_eq!(c.offset, start as u64);
            let Payload::Bytes {
                data: bytes,
                dictionary,
                crc32,
            } = &c.payload
            else {
                panic!("a chunk read is in hand")
            };
            assert_eq!(&bytes[..], &data[start..(start + 65536).min(data.len())]);
            assert_eq!(c.len, bytes.len() as u64);
            assert_eq!(
                &dictionary[..],
                &data[start.saturating_sub(MAX_DICTIONARY)..start]
            );
            assert_eq!(*crc32, Some(crc32fast::hash(bytes)));
        }
    }

    #[test]
    fn independent_chunks_have_no_dictionary() {
        let chunks = all(Chunker::new(
            Box::new(&[1u8; 100_000][..]),
            &encoding(40_000, true),
            false,
        ));
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| matches!(
            &c.payload,
            Payload::Bytes { dictionary, crc32: None, .. } if dictionary.is_empty()
        )));
    }

    #[test]
    fn empty_input_and_exact_multiple() {
        assert!(
            all(Chunker::new(
                Box::new(&[][..]),
                &encoding(1024, false),
                false
            ))
            .is_empty()
        );
        let chunks = all(Chunker::new(
            Box::new(&[9u8; 2048][..]),
            &encoding(1024, false),
            false,
        ));
        assert_eq!(chunks.len(), 2);
    }
}
