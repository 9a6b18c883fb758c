//! Direct output, the worker's calls: `CompressSegment` compresses a segment (a run of
//! consecutive chunks, each exactly as a Compress request for it would be: same reads,
//! same engine, same bytes) and holds its output (`held.rs`); `WriteSegment` writes a
//! held segment into the output's partial file below `--write-root` at the offset the
//! coordinator computed, fsyncs, and returns the fragments at its ends.
//!
//! A segment takes one admission permit and one pool slot at a time, chunk after
//! chunk, so a worker's memory for input is what it was for Compress calls; the output
//! it holds is bounded by the store's budget and spills past it.

use std::path::Path;

use bytes::Bytes;
use gzfleet_proto::v1::compress_request::Source;
use gzfleet_proto::v1::{
    CompressRequest, RangeRef, SegmentRequest, SegmentResponse, WriteRequest, WriteResponse,
    WriteTarget,
};
use tonic::Status;

use crate::admission::Admitted;
use crate::held::{HeldError, HeldStore, Sink};
use crate::hooks::Hooks;
use crate::limits::MIN_CHUNK;
use crate::root::{Root, RootError};
use crate::server::{ServeError, WorkerService, WritesConfig};

/// Largest segment a request may describe: bounds what one held segment costs on disk.
pub const MAX_SEGMENT: u64 = 4 << 30;

/// What a worker started with `--write-root` has.
pub struct Writes {
    root: Root,
    held: &'static HeldStore,
}

impl Writes {
    pub fn new(config: &WritesConfig) -> Result<Writes, ServeError> {
        let root = Root::new(&config.root).map_err(|source| ServeError::WriteRoot {
            dir: config.root.clone(),
            source,
        })?;
        Ok(Writes {
            root,
            held: HeldStore::new(config.hold_memory, config.spill_dir.clone()),
        })
    }

    /// Writes `data` where `target` says, keeping to whole aligned blocks.
    async fn write(
        &self,
        data: Sink<'static>,
        target: &WriteTarget,
    ) -> Result<(Bytes, Bytes), Status> {
        let align = u64::from(target.align);
        if !align.is_power_of_two() || !(512..=1 << 20).contains(&align) {
            return Err(Status::invalid_argument(format!(
                "alignment of {align} bytes: a power of two from 512 B to 1 MiB"
            )));
        }
        let file = self
            .root
            .open_for_writing(&target.path)
            .map_err(write_root_error)?;
        let offset = target.offset;
        let written = tokio::task::spawn_blocking(move || data.write_into(&file, offset, align))
            .await
            .map_err(|_| Status::internal("the writing thread ended unexpectedly"))?;
        let (head, tail) = written
            .map_err(|e| Status::unavailable(format!("{}: cannot write: {e}", target.path)))?;
        Ok((Bytes::from(head), Bytes::from(tail)))
    }
}

/// A write-root refusal: about the request (its path), never the worker's health,
/// except I/O trouble here.
fn write_root_error(e: RootError) -> Status {
    let e_text = format!("{e} (--write-root)");
    match e {
        RootError::Absolute(_) | RootError::Climbs(_) => Status::invalid_argument(e_text),
        RootError::Escapes(_) => Status::permission_denied(e_text),
        RootError::Unreadable { .. } if !e.about_input() => Status::unavailable(e_text),
        _ => Status::failed_precondition(e_text),
    }
}

impl<H: Hooks> WorkerService<H> {
    fn writes(&self) -> Result<&Writes, Status> {
        self.writes.as_ref().ok_or_else(|| {
            Status::unimplemented(
                "this worker writes no outputs (--direct-output): start it with --write-root DIR",
            )
        })
    }

    pub(crate) async fn segment(
        &self,
        req: &SegmentRequest,
        admitted: Option<&Admitted>,
    ) -> Result<SegmentResponse, Status> {
        let writes = self.writes()?;
        let range = checked(req)?;
        let mut sink = writes.held.sink();
        let mut answer = SegmentResponse::default();
        let mut offset = range.offset;
        let mut index = req.first_chunk;
        while offset < range.offset + range.length {
            let len = req.block.min(range.offset + range.length - offset);
            let chunk = chunk_request(req, range, index, offset, len);
            let out = self.chunk(&chunk, admitted).await?;
            sink.push(&out.deflate)
                .map_err(|e| Status::unavailable(format!("cannot hold the segment: {e}")))?;
            answer.deflate_lengths.push(out.deflate.len() as u64);
            answer.crc32s.push(out.crc32);
            answer.input_lengths.push(out.input_length);
            answer.engine = out.engine;
            if chunk.return_window {
                answer.windows.push(out.window);
            }
            offset += len;
            index += 1;
        }
        match &req.write {
            Some(target) => {
                let (head, tail) = writes.write(sink, target).await?;
                (answer.head, answer.tail) = (head, tail);
            }
            None => answer.segment_id = writes.held.hold(&req.job_id, req.first_chunk, sink),
        }
        Ok(answer)
    }

    pub(crate) async fn write_held(&self, req: WriteRequest) -> Result<WriteResponse, Status> {
        let writes = self.writes()?;
        let target = req
            .target
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("a WriteSegment request names its target"))?;
        let data = writes
            .held
            .take(
                req.segment_id,
                &req.job_id,
                req.first_chunk,
                req.deflate_length,
            )
            .map_err(|e| match e {
                HeldError::Gone(_) => Status::not_found(e.to_string()),
                HeldError::Mismatch { .. } => Status::failed_precondition(e.to_string()),
            })?;
        let (head, tail) = writes.write(data, target).await?;
        Ok(WriteResponse { head, tail })
    }
}

/// The segment's range, once its shape is within the limits.
fn checked(req: &SegmentRequest) -> Result<&RangeRef, Status> {
    let range = req
        .range
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("a segment request names its range"))?;
    if req.block < MIN_CHUNK {
        return Err(Status::invalid_argument(format!(
            "chunks of {} bytes: at least {MIN_CHUNK}",
            req.block
        )));
    }
    if range.length > MAX_SEGMENT {
        return Err(Status::invalid_argument(format!(
            "a segment of {} bytes: at most {MAX_SEGMENT}",
            range.length
        )));
    }
    if let Some(target) = &req.write
        && Path::new(&target.path).as_os_str().len() > crate::limits::MAX_PATH
    {
        return Err(Status::invalid_argument("the output's path is too long"));
    }
    Ok(range)
}

/// The Compress request for one chunk of a segment.
fn chunk_request(
    req: &SegmentRequest,
    range: &RangeRef,
    index: u64,
    offset: u64,
    len: u64,
) -> CompressRequest {
    CompressRequest {
        job_id: req.job_id.clone(),
        chunk_index: index,
        offset,
        level: req.level,
        independent: req.independent,
        dictionary: Bytes::new(),
        source: Some(Source::Range(RangeRef {
            offset,
            length: len,
            ..range.clone()
        })),
        engine: req.engine.clone(),
        return_window: req.window_every > 0 && index.is_multiple_of(req.window_every),
    }
}
