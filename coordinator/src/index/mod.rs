//! Gzip indexes in gztool's format (`.gzi`) and what they are for. An index lists
//! access points into a gzip file (compressed and uncompressed offsets, and the 32 KiB
//! of output before each point), so inflation can start in the middle: on several
//! threads at once, or at the offset a user asks for.
//!
//! - `format`: the file format, read and written.
//! - `plan`: finding a .gz's index and vetting it against the .gz; the spans.
//! - `inflate`: raw inflation that starts mid-byte and stops at block boundaries.
//! - `span`: one span inflated and its end proved to line up with the next point.
//! - `whole`: a span on byte boundaries inflated in one call by libdeflate, as
//!   strictly checked.
//! - `buffers`: output buffers used again from span to span.
//! - `parallel`: a whole file on several threads, written in order.
//! - `range`: `--offset`/`--length`.
//!
//! An index is advice, never truth: a missing, stale or damaged one costs speed,
//! never correctness.

mod buffers;
mod format;
mod inflate;
mod parallel;
mod plan;
mod range;
mod span;
mod whole;

#[allow(unused_imports)]
pub(crate) use format::{Index, IndexError, IndexWriter, Point, PointEntry};
pub(crate) use parallel::{Failure, decompress};
pub(crate) use plan::{Found, index_path_for};
pub(crate) use range::{Range, RangeError, extract};
