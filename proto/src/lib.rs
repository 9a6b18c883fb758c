//! The `gzfleet.v1` gRPC contract, generated from `proto/gzfleet.proto` at build time.
//!
//! Both sides use this crate: the worker serves [`v1::worker_server::Worker`] and the
//! coordinator calls it through [`v1::worker_client::WorkerClient`].

pub mod v1 {
    tonic::include_proto!("gzfleet.v1");
}
