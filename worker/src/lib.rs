//! gzfleet's worker side: the chunk [`engine`] every compressor shares, the bounded
//! [`pool`] that runs it, and the wire [`limits`] both ends of a connection agree on.
//! With the `server` feature (on by default) also the gRPC service that exposes the pool
//! to coordinators, and the `gzfleet-worker` command line.
//!
//! The coordinator links this crate without `server`: its embedded pool is the same
//! [`pool`] running the same [`engine`], which is why local and cluster runs give
//! identical bytes.
//!
//! With `observe` (which `server` includes, and the coordinator turns on) also what
//! both commands use to be watched: the Prometheus [`exposition`] endpoint and the
//! [`logs`] setup.

pub mod blocks;
pub mod engine;
pub mod framing;
pub mod limits;
pub mod objects;
pub mod pool;
pub mod range;
pub mod root;
pub mod token;
pub mod units;

#[cfg(feature = "observe")]
pub mod exposition;
#[cfg(feature = "observe")]
pub mod logs;

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod admission;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod connections;
#[cfg(feature = "server")]
pub mod held;
#[cfg(feature = "server")]
pub mod hooks;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
mod pulls;
#[cfg(feature = "server")]
pub mod segments;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod validate;

#[cfg(test)]
mod test_data;

/// Metadata on a status that says the *input* is the problem (a pull request's file
/// changed, differs or cannot be read on the worker), not the worker: the coordinator
/// tries the chunk elsewhere instead of taking the worker down. A proxy never sets it.
pub const INPUT_ERROR: &str = "gzfleet-input-error";
