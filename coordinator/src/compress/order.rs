//! The last steps of the compress path: answers put back in chunk order (a reorder
//! buffer the window bounds), the stream's CRC extended chunk by chunk, and each chunk
//! written as soon as it is next in line, freeing its place in the window.

use std::collections::BTreeMap;

use tokio::sync::mpsc::UnboundedReceiver;

use super::dispatch::Compressed;
use super::output::Output;
use super::resume::Start;
use super::window::Window;
use crate::error::Error;
use crate::gzip::StreamCrc;
use crate::ui::Progress;

/// Writes answers in chunk order as they become available, from where `start` left
/// off; returns the next index and the CRC of everything written.
pub(crate) fn write_in_order(
    mut results: UnboundedReceiver<Compressed>,
    output: &mut Output,
    start: &Start,
    window: &Window,
    progress: &Progress,
) -> Result<(u64, StreamCrc), Error> {
    let (mut next, mut crc) = (start.index, start.crc);
    let mut waiting = BTreeMap::new();
    while let Some(c) = results.blocking_recv() {
        waiting.insert(c.index, c);
        while let Some(c) = waiting.remove(&next) {
            crc.append(c.crc32, c.len);
            output.write_chunk(&c.deflate, c.crc32, c.len, crc)?;
            next += 1;
            window.advance(next);
            progress.inc(c.len);
        }
    }
    Ok((next, crc))
}
