//! Test-only misbehaviour for fault-tolerance tests: a worker that lies, hangs or
//! crawls on command. Compiled only with the `fault-injection` feature and reachable
//! only through the separate `gzfleet-worker-faulty` binary, so a production
//! `gzfleet-worker` has no switch that makes it misbehave.

use std::time::Duration;

use clap::Args;
use gzfleet_proto::v1::CompressResponse;

/// Calls are counted from 1 in the order this process receives them.
#[derive(Debug, Clone, Default, Args)]
pub struct Faults {
    /// Answer a wrong CRC-32 on every call from the N-th on.
    #[arg(long, value_name = "N")]
    pub fault_wrong_crc_from: Option<u64>,
    /// Corrupt the deflate data (keeping CRC and length right) from the N-th call on.
    #[arg(long, value_name = "N")]
    pub fault_corrupt_deflate_from: Option<u64>,
    /// Never answer the N-th call.
    #[arg(long, value_name = "N")]
    pub fault_hang_on: Option<u64>,
    /// Take FACTOR times as long as the compression really took (at least 1 ms more).
    #[arg(long, value_name = "FACTOR")]
    pub fault_slow: Option<u32>,
}

impl Faults {
    pub async fn before(&self, call: u64) {
        if self.fault_hang_on == Some(call) {
            std::future::pending::<()>().await;
        }
    }

    pub async fn after(&self, call: u64, took: Duration, response: &mut CompressResponse) {
        if let Some(factor) = self.fault_slow {
            let extra = took * factor.saturating_sub(1) + Duration::from_millis(1);
            tokio::time::sleep(extra).await;
        }
        if self.fault_wrong_crc_from.is_some_and(|n| call >= n) {
            response.crc32 ^= 0xdead_beef;
        }
        if self.fault_corrupt_deflate_from.is_some_and(|n| call >= n) {
            // Valid deflate of the wrong bytes (zeros of the right length): it inflates
            // cleanly and the CRC and length still claim success, so only comparing
            // the inflated bytes with the input can catch it.
            let zeros = vec![0u8; response.input_length as usize];
            if let Ok(out) = crate::engine::compress_chunk(&zeros, &[], 1) {
                response.deflate = out.deflate.into();
            }
        }
    }
}
