//! gzfleet's worker side: the chunk engine every compressor shares, the bounded pool
//! that runs it, and the gRPC service that exposes it to coordinators.
//!
//! The coordinator links this crate too: its embedded pool is the same [`pool`] running
//! the same [`engine`], which is why local and cluster runs give identical bytes.

pub mod alloc;
pub mod cli;
pub mod engine;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod pool;
pub mod server;
pub mod units;
