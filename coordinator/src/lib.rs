//! gzfleet's coordinator: splits an input into chunks, has them compressed by the
//! embedded pool or by `gzfleet-worker`s over gRPC, and stitches the answers into one
//! standard gzip member. Also the reading side (decompress, test, list).
//!
//! How a compression flows through the modules:
//! `compress` (per file) → `job` (reader thread, scheduler, ordered writer) →
//! `chunker` + `window` (bounded input) → `scheduler` over a `fleet` of `backend`s
//! (`LocalPool` or `remote`) with every answer passing `check` → `output` (temporary
//! file, `journal`, rename) framed by `gzip` with CRCs joined by `crc`.

pub mod backend;
pub mod check;
pub mod chunker;
pub mod cli;
pub mod compress;
pub mod crc;
pub mod decompress;
pub mod discovery;
pub mod error;
pub mod fleet;
pub mod gunzip;
pub mod gzip;
pub mod job;
pub mod journal;
pub mod output;
pub mod progress;
pub mod remote;
pub mod scheduler;
pub mod signals;
pub mod stats;
pub mod window;
