//! `gzfleet-worker-faulty`: gzfleet-worker that can hang, crawl or lie on command, for
//! the end-to-end fault tests. Test support only: its faults reach the server through
//! the worker library's `Hooks` seam, so nothing here is in the shipped binaries.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser};
use gzfleet_proto::v1::{CompressResponse, InfoResponse};
use gzfleet_worker::cli::{self, WorkerArgs};
use gzfleet_worker::hooks::Hooks;

/// gzfleet-worker for fault-tolerance tests: can lie, hang or crawl on command.
#[derive(Parser)]
#[command(name = "gzfleet-worker-faulty", version)]
struct Cli {
    #[command(flatten)]
    worker: WorkerArgs,
    #[command(flatten)]
    faults: Faults,
}

/// Calls are counted from 1 in the order this process receives them.
#[derive(Debug, Clone, Default, Args)]
struct Faults {
    /// Answer a wrong CRC-32 on every call from the N-th on.
    #[arg(long, value_name = "N")]
    fault_wrong_crc_from: Option<u64>,
    /// Corrupt the deflate data (keeping CRC and length right) from the N-th call on.
    #[arg(long, value_name = "N")]
    fault_corrupt_deflate_from: Option<u64>,
    /// Answer more deflate data than the chunk's deflate bound allows (padding after
    /// the real data), from the N-th call on.
    #[arg(long, value_name = "N")]
    fault_overlong_from: Option<u64>,
    /// Return a window (asked for by an index point in pull mode) with one byte
    /// changed, its length right, from the N-th call on.
    #[arg(long, value_name = "N")]
    fault_wrong_window_from: Option<u64>,
    /// Never answer the N-th call.
    #[arg(long, value_name = "N")]
    fault_hang_on: Option<u64>,
    /// Take FACTOR times as long as the compression really took (at least 1 ms more).
    #[arg(long, value_name = "FACTOR")]
    fault_slow: Option<u32>,
    /// Report this engine with another id in Info, as a worker built with another
    /// release of it would (the compression itself is unchanged).
    #[arg(long, value_name = "NAME")]
    fault_engine_differs: Option<String>,
    /// Leave this engine out of Info, as an older worker would.
    #[arg(long, value_name = "NAME")]
    fault_engine_missing: Option<String>,
}

impl Hooks for Faults {
    fn info(&self, response: &mut InfoResponse) {
        if let Some(name) = &self.fault_engine_differs {
            for e in response.engines.iter_mut().filter(|e| &e.name == name) {
                e.id.push_str("-other-build");
            }
        }
        if let Some(name) = &self.fault_engine_missing {
            response.engines.retain(|e| &e.name != name);
        }
    }

    async fn before(&self, call: u64) {
        if self.fault_hang_on == Some(call) {
            std::future::pending::<()>().await;
        }
    }

    async fn after(&self, call: u64, took: Duration, response: &mut CompressResponse) {
        if let Some(factor) = self.fault_slow {
            let extra = took * factor.saturating_sub(1) + Duration::from_millis(1);
            tokio::time::sleep(extra).await;
        }
        if self.fault_wrong_window_from.is_some_and(|n| call >= n) && !response.window.is_empty() {
            let mut window = response.window.to_vec();
            window[0] ^= 1;
            response.window = window.into();
        }
        if self.fault_wrong_crc_from.is_some_and(|n| call >= n) {
            response.crc32 ^= 0xdead_beef;
        }
        if self.fault_overlong_from.is_some_and(|n| call >= n) {
            // Longer than the coordinator takes for this chunk (its deflate bound and
            // 4 KiB for the rest of the message), ending as a chunk should.
            let bound = gzfleet_worker::engine::deflate_bound(response.input_length);
            let mut long = response.deflate.to_vec();
            long.resize(bound as usize + 8192, 0);
            long.extend_from_slice(&[0, 0, 0xff, 0xff]);
            response.deflate = long.into();
        }
        if self.fault_corrupt_deflate_from.is_some_and(|n| call >= n) {
            // Valid deflate of the wrong bytes (zeros of the right length): it inflates
            // cleanly and the CRC and length still claim success, so only comparing
            // the inflated bytes with the input can catch it.
            let zeros = vec![0u8; response.input_length as usize];
            if let Ok(out) = gzfleet_worker::engine::compress_chunk(&zeros, &[], 1) {
                response.deflate = out.deflate.into();
            }
        }
    }
}

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    let cli: Cli = gzfleet::parse_or_exit("gzfleet-worker-faulty");
    cli::run(&cli.worker, cli.faults)
}
