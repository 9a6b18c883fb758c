//! Direct output, the calls to a worker: `CompressSegment` (from the dispatcher, as any
//! attempt) and `WriteSegment` or a segment compressed and written at once (from the
//! writer, once the segment's offset is known).
//!
//! The writer runs on its own thread after the dispatcher may have finished, so its
//! calls go through channels of their own, opened on the object runtime (which always
//! turns), not through the dispatcher's, whose runtime turns only while it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gzfleet_proto::v1::worker_client::WorkerClient;
use gzfleet_proto::v1::{SegmentRequest, SegmentResponse, WriteRequest, WriteTarget};
use gzfleet_worker::engine::MAX_DICTIONARY;
use tonic::Request;
use tonic::transport::{Channel, Endpoint};

use super::access::Credentials;
use super::link::{Answer, AttemptError, BoxFuture};
use crate::compress::chunker::Payload;
use crate::compress::{Chunk, JobParams};

/// Bytes of alignment workers write in: the page size NFS clients widen writes to on
/// common hardware (4 KiB; the coordinator writes the fragments between).
pub(crate) const ALIGN: u32 = 4096;

/// How to reach one worker for segments.
#[derive(Clone)]
pub(crate) struct SegmentClient {
    pub name: String,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
}

/// A segment compressed and held by a worker: what the writer needs to have it written.
#[derive(Debug)]
pub(crate) struct Held {
    pub holder: SegmentClientRef,
    pub segment_id: u64,
    /// The request that made it: sent again, with a place, should the holder fail.
    pub request: SegmentRequest,
    pub deflate_lengths: Vec<u64>,
    pub crc32s: Vec<u32>,
    pub input_lengths: Vec<u64>,
    /// The windows of its chunks that start index points, in order.
    pub windows: Vec<Bytes>,
}

/// A [`SegmentClient`] in a [`Held`] (Debug without the endpoint's insides).
#[derive(Clone)]
pub(crate) struct SegmentClientRef(pub Arc<SegmentClient>);

impl std::fmt::Debug for SegmentClientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl Held {
    pub fn deflate_len(&self) -> u64 {
        self.deflate_lengths.iter().sum()
    }
}

/// The segment request for `chunk`, a segment of a shared input.
pub(crate) fn request(chunk: &Chunk, job: &JobParams) -> Option<SegmentRequest> {
    let Payload::Shared(file) = &chunk.payload else {
        return None;
    };
    let window_every = match (job.index_step, job.encoding.independent) {
        (Some(step), false) => step,
        _ => 0,
    };
    Some(SegmentRequest {
        job_id: job.id.clone(),
        first_chunk: chunk.index,
        block: job.encoding.block,
        level: job.encoding.level,
        engine: job.encoding.engine.name().into(),
        independent: job.encoding.independent,
        range: Some(file.range(chunk.offset, chunk.len)),
        window_every,
        verify: false,
        write: None,
    })
}

/// Largest answer to a segment request: its per-chunk numbers, its windows, and
/// fragments of at most one alignment block each.
pub(crate) fn answer_limit(req: &SegmentRequest) -> usize {
    let len = req.range.as_ref().map_or(0, |r| r.length);
    let chunks = len.div_ceil(req.block.max(1));
    let windows = match req.window_every {
        0 => 0,
        step => chunks.div_ceil(step) + 1,
    };
    (chunks * 32 + windows * (MAX_DICTIONARY as u64 + 8)) as usize + 2 * ALIGN as usize + 4096
}

/// The answer as the dispatcher checks it: no deflate data, the numbers in `held`.
pub(crate) fn answer(
    reply: SegmentResponse,
    holder: &SegmentClientRef,
    request: SegmentRequest,
) -> Answer {
    let input_len = reply.input_lengths.iter().sum();
    let received = reply.windows.iter().map(|w| w.len() as u64).sum::<u64>()
        + (reply.head.len() + reply.tail.len()) as u64;
    Answer {
        deflate: Bytes::new(),
        crc32: 0,
        input_len,
        engine: reply.engine,
        window: Bytes::new(),
        held: Some(Arc::new(Held {
            holder: holder.clone(),
            segment_id: reply.segment_id,
            request,
            deflate_lengths: reply.deflate_lengths,
            crc32s: reply.crc32s,
            input_lengths: reply.input_lengths,
            windows: reply.windows,
        })),
        received,
    }
}

/// The writer's channels to workers, opened on the object runtime.
#[derive(Default)]
pub(crate) struct WriterChannels {
    open: Mutex<HashMap<String, Channel>>,
}

impl WriterChannels {
    /// A client for `to`; must be called on the object runtime.
    pub fn client(&self, to: &SegmentClient) -> WorkerClient<Channel> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let channel = open
            .entry(to.name.clone())
            .or_insert_with(|| to.endpoint.connect_lazy())
            .clone();
        WorkerClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(1 << 20)
    }
}

/// Fragments a worker returned: the segment's bytes before its first whole aligned
/// block and after its last.
pub(crate) struct Fragments {
    pub head: Bytes,
    pub tail: Bytes,
}

/// Has `held` written at `target` by its holder.
pub(crate) async fn write_held(
    channels: &WriterChannels,
    held: &Held,
    target: WriteTarget,
    deadline: Duration,
) -> Result<Fragments, String> {
    let to = &held.holder.0;
    let mut request = Request::new(WriteRequest {
        job_id: held.request.job_id.clone(),
        segment_id: held.segment_id,
        first_chunk: held.request.first_chunk,
        deflate_length: held.deflate_len(),
        target: Some(target),
    });
    request.set_timeout(deadline);
    to.credentials.authorize(request.metadata_mut());
    let reply = tokio::time::timeout(deadline, channels.client(to).write_segment(request))
        .await
        .map_err(|_| format!("{}: no answer within {deadline:?}", to.name))?
        .map_err(|s| format!("{}: {}", to.name, s.message()))?
        .into_inner();
    Ok(Fragments {
        head: reply.head,
        tail: reply.tail,
    })
}

/// Has `to` compress `held`'s segment again and write it at `target` at once: the
/// holder failed. Its numbers must be the held ones (determinism).
pub(crate) async fn rewrite(
    channels: &WriterChannels,
    to: &SegmentClient,
    held: &Held,
    target: WriteTarget,
    deadline: Duration,
) -> Result<Fragments, String> {
    let until = tokio::time::Instant::now() + deadline;
    let reply = loop {
        let mut request = Request::new(SegmentRequest {
            write: Some(target.clone()),
            window_every: 0,
            ..held.request.clone()
        });
        request.set_timeout(deadline);
        to.credentials.authorize(request.metadata_mut());
        let mut client = channels.client(to);
        let call = client.compress_segment(request);
        match tokio::time::timeout_at(until, call).await {
            Err(_) => return Err(format!("{}: no answer within {deadline:?}", to.name)),
            Ok(Ok(reply)) => break reply.into_inner(),
            // Full of the dispatcher's segments: room comes as they end.
            Ok(Err(s)) if s.code() == tonic::Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Err(s)) => return Err(format!("{}: {}", to.name, s.message())),
        }
    };
    if reply.deflate_lengths != held.deflate_lengths
        || reply.crc32s != held.crc32s
        || reply.input_lengths != held.input_lengths
    {
        return Err(format!(
            "{}: compressed segment at chunk {} differently from {} (engines differ?)",
            to.name, held.request.first_chunk, held.holder.0.name
        ));
    }
    Ok(Fragments {
        head: reply.head,
        tail: reply.tail,
    })
}

/// Calls `CompressSegment` on the dispatcher's channel; the answer holds the numbers.
pub(crate) fn compress(
    channel: Channel,
    holder: SegmentClientRef,
    request: SegmentRequest,
    deadline: Duration,
    classify: impl FnOnce(tonic::Status) -> AttemptError + Send + 'static,
) -> BoxFuture<Result<Answer, AttemptError>> {
    let limit = answer_limit(&request);
    let mut client = WorkerClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(1 << 20);
    let mut call = Request::new(request.clone());
    call.set_timeout(deadline);
    holder.0.credentials.authorize(call.metadata_mut());
    Box::pin(async move {
        let reply = tokio::time::timeout(deadline, client.compress_segment(call))
            .await
            .map_err(|_| AttemptError::Timeout(deadline))?
            .map_err(classify)?
            .into_inner();
        Ok(answer(reply, &holder, request))
    })
}
