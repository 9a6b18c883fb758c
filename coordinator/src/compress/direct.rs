//! `--direct-output`: the coordinator off the data path. In pull mode, each input is cut
//! into segments (runs of whole chunks); a worker compresses a segment and holds its
//! output, answering with each chunk's length and CRC (`fleet/segments.rs`). In stream
//! order the writer prefix-sums the lengths into the segment's offset in the output
//! and has the holder write it there (whole aligned blocks, fsynced), then writes the
//! fragments at its ends itself, with the header and trailer; the journal moves on as
//! segments become durable, as it does for chunks. The bytes are the embedded pool's:
//! same chunks, same engine; only who writes them changes. See docs/DESIGN.md,
//! "Direct output".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gzfleet_proto::v1::WriteTarget;

use super::objects::block_on;
use crate::cli::CompressArgs;
use crate::error::Error;
use crate::fleet::segments::{self, ALIGN, Fragments, Held, SegmentClient, WriterChannels};

/// Smallest default segment: per-segment costs (a round trip, an fsync, two fragments
/// of under 4 KiB, a journal entry) fade against 64 chunks' work.
const MIN_SEGMENT: u64 = 64 << 20;
/// Segments an input is cut into at most by default: under S3's 10,000 parts, with
/// room for the small ones joined.
const SEGMENTS: u64 = 9000;
/// Largest segment (the worker's limit).
const MAX_SEGMENT: u64 = 4 << 30;

/// `--direct-output`, checked.
#[derive(Debug, Clone)]
pub(crate) struct DirectPlan {
    /// `--segment-size` (tests): input bytes per segment, instead of the default.
    segment: Option<u64>,
}

impl DirectPlan {
    pub fn of(args: &CompressArgs) -> Result<Option<DirectPlan>, Error> {
        if !args.direct_output {
            if args.segment_size.is_some() {
                return Err(Error::Usage(
                    "--segment-size goes with --direct-output".into(),
                ));
            }
            return Ok(None);
        }
        if !args.pull {
            return Err(Error::Usage(
                "--direct-output needs --pull: workers read the inputs and write the output themselves (start them with --root and --write-root on the shared storage)".into(),
            ));
        }
        if args.verify {
            return Err(Error::Usage(
                "--verify is not available with --direct-output yet (the coordinator never holds the compressed bytes); drop one of them".into(),
            ));
        }
        Ok(Some(DirectPlan {
            segment: args.segment_size,
        }))
    }

    /// Input bytes per segment of an input of `size` bytes: whole blocks.
    pub fn segment(&self, size: u64, block: u64) -> u64 {
        let bytes = self
            .segment
            .unwrap_or_else(|| MIN_SEGMENT.max(size / SEGMENTS))
            .min(MAX_SEGMENT);
        bytes.next_multiple_of(block).max(block)
    }
}

/// The writer's side: has held segments written where they go.
pub(crate) struct DirectWriter {
    channels: WriterChannels,
    /// Every worker of the fleet: where a segment is compressed again when its holder
    /// fails before writing it.
    fleet: Vec<Arc<SegmentClient>>,
    received: AtomicU64,
}

impl DirectWriter {
    pub fn new(fleet: Vec<Arc<SegmentClient>>) -> DirectWriter {
        DirectWriter {
            channels: WriterChannels::default(),
            fleet,
            received: AtomicU64::new(0),
        }
    }

    /// Fragment bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Has `held` written into `path` (below the workers' write roots) at `offset`,
    /// by its holder or, if that fails, compressed and written again by another worker.
    /// Returns the fragments for the coordinator to write.
    pub fn write(&self, held: &Held, path: &str, offset: u64) -> Result<Fragments, String> {
        let target = WriteTarget {
            path: path.to_string(),
            offset,
            align: ALIGN,
        };
        let deadline = deadline(held);
        let fragments = block_on(async {
            let first = segments::write_held(&self.channels, held, target.clone(), deadline).await;
            let mut why = match first {
                Ok(f) => return Ok(f),
                Err(e) => vec![e],
            };
            tracing::info!(segment = held.request.first_chunk, error = %why[0], "held segment lost; compressing it again");
            for to in self.others(held) {
                match segments::rewrite(&self.channels, &to, held, target.clone(), deadline).await {
                    Ok(f) => return Ok(f),
                    Err(e) => why.push(e),
                }
            }
            Err(why.join("; "))
        })?;
        self.received.fetch_add(
            (fragments.head.len() + fragments.tail.len()) as u64,
            Ordering::Relaxed,
        );
        Ok(fragments)
    }

    /// The workers to try after the holder failed: the others first, then the holder
    /// again (it may have restarted).
    fn others(&self, held: &Held) -> Vec<Arc<SegmentClient>> {
        let holder = &held.holder.0.name;
        let mut them: Vec<_> = self
            .fleet
            .iter()
            .filter(|c| &c.name != holder)
            .cloned()
            .collect();
        them.extend(self.fleet.iter().filter(|c| &c.name == holder).cloned());
        them
    }
}

/// Time for a write: generous, as it is disk or a network file system, plus time to
/// compress it again for a rewrite (at 1 MB/s of input).
fn deadline(held: &Held) -> Duration {
    let input = held.input_lengths.iter().sum::<u64>();
    Duration::from_secs(30) + Duration::from_secs_f64(input as f64 / 1e6)
}
