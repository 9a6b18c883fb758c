//! The test seam around each Compress call. A production worker serves with
//! [`NoHooks`], which compiles to nothing; the fault-injection worker the end-to-end
//! tests use (`tests/faulty_worker.rs`) supplies hooks that hang, crawl or lie. Keeping
//! the faults out of this crate means no build of `gzfleet-worker` can contain them.

use std::future::Future;
use std::time::Duration;

use gzfleet_proto::v1::{CompressResponse, InfoResponse};

/// Called around every Compress call that passed validation. `call` counts such calls
/// from 1 in the order this process received them.
pub trait Hooks: Send + Sync + 'static {
    /// Before an Info answer is sent.
    fn info(&self, response: &mut InfoResponse) {
        let _ = response;
    }

    /// Before the chunk is queued for compression.
    fn before(&self, call: u64) -> impl Future<Output = ()> + Send {
        let _ = call;
        async {}
    }

    /// After compression, before the answer is sent; `took` is the compression time.
    fn after(
        &self,
        call: u64,
        took: Duration,
        response: &mut CompressResponse,
    ) -> impl Future<Output = ()> + Send {
        let _ = (call, took, response);
        async {}
    }
}

/// The production worker: no hooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}
