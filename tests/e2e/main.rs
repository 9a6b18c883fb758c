//! End-to-end tests: the real `gzfleet` and `gzfleet-worker` binaries (as cargo built
//! them for this test run), real gRPC over loopback sockets, real kills, and the
//! system's gzip and pigz judging the output.

#[macro_use]
mod util;

mod batch;
mod chaos;
mod cli_errors;
mod cluster;
mod connections;
mod decompress;
mod determinism;
mod display;
mod dropin;
mod dropin_perms;
mod engines;
mod faults;
mod fleet_health;
mod gzip_name;
mod index_write;
mod index_write_elsewhere;
mod index_write_stale;
mod indexed;
mod indexed_memory;
mod interop;
mod library;
mod limits;
mod listing;
mod malformed;
mod malformed_members;
mod manuals;
mod objects;
mod observability;
mod oldformats;
mod plain_data;
mod pull;
mod resume;
mod roundtrip;
mod security;
mod side_by_side;
