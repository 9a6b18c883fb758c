//! Gzip indexes in gztool's format (`.gzi`): reading and writing one (`format`).
//! An index lists access points into a gzip file (compressed and uncompressed
//! offsets, plus the 32 KiB of output before each point), so decompression can start
//! in the middle: on several threads at once, or at an offset a user asks for.
//!
//! An index is advice, never truth: a reader checks it against the .gz it claims to
//! describe, and a missing, stale or damaged one costs speed, never correctness.

// Until both the compress side (IndexWriter) and the reading side (Index) call it.
#[allow(dead_code)]
mod format;

#[allow(unused_imports)]
pub(crate) use format::{Index, IndexError, IndexWriter, Point, PointEntry};
