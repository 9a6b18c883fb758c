//! A run as one stream of items, in order: for each input, its start (the output set
//! up), its chunks, and its end; or why it was skipped or stopped early. Every item has
//! a place in the stream (`seq`): the window bounds the items read but not yet
//! written, the writer handles them in that order, and only chunks go through dispatch.
//! So a batch of many small files keeps every worker as busy as one large file, under
//! one memory bound.
//!
//! The reader thread produces the stream: it opens each input, sets up its output
//! (fresh, or resumed), and cuts it into chunks as the window admits them. Two inputs
//! of one run never share an output: the second is skipped before its output is
//! touched (with -f it would delete the first's partial file; with --rm, lose data).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::chunker::{Chunk, Chunker};
use super::input::InputReader;
use super::output::Output;
use super::plan::{Destination, JobPlan, Plan};
use super::pull::Ranges;
use super::resume::{self, Start};
use super::walk::Named;
use super::window::{OutputSlot, Window};
use crate::error::Error;
use crate::ui::Ui;

/// One input being compressed: what the writer needs to finish it.
pub(crate) struct FileJob {
    pub plan: JobPlan,
    pub output: Output,
    pub start: Start,
    /// Its place among the outputs set up ahead: held (never read) until the writer is
    /// done with it.
    pub _slot: OutputSlot,
}

/// The items between chunks: they go straight to the writer, in their place.
pub(crate) enum Marker {
    /// An input starts: its output is open, the header written (or an interrupted
    /// run's partial output reopened).
    Begin(Box<FileJob>),
    /// The input's last chunk was read.
    End,
    /// The input could not be read to its end: its output is abandoned.
    Failed(Error),
    /// The input could not be opened, or its output not set up: nothing was started.
    Skipped(Error),
}

pub(crate) enum Item {
    Chunk(Chunk),
    Marker {
        seq: u64,
        marker: Marker,
    },
    /// Every input was read: the stream is complete. A stream that stops without it
    /// was cut short (the reader died).
    Done,
}

/// The run's inputs, and what the reader needs to open them.
pub(crate) struct Inputs {
    pub plan: Arc<Plan>,
    pub named: Vec<Named>,
    /// Chunks carry their CRC, for answers from other processes to be checked against.
    pub chunk_crcs: bool,
    pub ui: Ui,
}

/// Starts the reader. It is detached, not scoped: it may be blocked reading a pipe that
/// never ends when the run fails, and must not hold the failure up.
pub(crate) fn spawn_reader(
    inputs: Inputs,
    window: Arc<Window>,
    items: UnboundedSender<Item>,
) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || read_all(&inputs, &window, &items))
        .map(|_| ())
        .map_err(|source| Error::Spawn {
            what: "the reader thread".into(),
            source,
        })
}

/// The reader's loop; returns early when the window closes or the run is gone.
fn read_all(run: &Inputs, window: &Arc<Window>, items: &UnboundedSender<Item>) {
    let mut out = Emitter { seq: 0, items };
    let mut outputs = Outputs::default();
    for named in &run.named {
        if !window.admit(out.seq) {
            return;
        }
        let Some(slot) = window.admit_output() else {
            return;
        };
        let (job, reader) = match open(run, named, &mut outputs, slot) {
            Ok(opened) => opened,
            Err(e) => match out.marker(Marker::Skipped(e)) {
                true => continue,
                false => return,
            },
        };
        let mut cutter = match &job.plan.shared {
            Some(file) => {
                let block = run.plan.encoding.block;
                let ranges = Ranges::new(Arc::clone(file), block, &job.start);
                Cutter::Pull(match &run.plan.direct {
                    Some(direct) => ranges.segments(direct.segment(file.size, block)),
                    None => ranges,
                })
            }
            None => Cutter::Read(
                Chunker::new(reader.reader, &run.plan.encoding, run.chunk_crcs)
                    .resume_at(&job.start),
            ),
        };
        if !out.marker(Marker::Begin(job)) {
            return;
        }
        loop {
            if !window.admit(out.seq) {
                return;
            }
            let sent = match cutter.next_chunk(out.seq) {
                Ok(Some(chunk)) => out.chunk(chunk),
                Ok(None) => {
                    if !out.marker(Marker::End) {
                        return;
                    }
                    break;
                }
                Err(source) => {
                    let input = reader.place.clone();
                    if !out.marker(Marker::Failed(Error::Read { input, source })) {
                        return;
                    }
                    break;
                }
            };
            if !sent {
                return;
            }
        }
    }
    let _ = items.send(Item::Done);
}

/// How an input becomes chunks: read here, or (pull mode) cut by size for workers to
/// read.
enum Cutter {
    Read(Chunker),
    Pull(Ranges),
}

impl Cutter {
    fn next_chunk(&mut self, seq: u64) -> std::io::Result<Option<Chunk>> {
        match self {
            Cutter::Read(chunker) => chunker.next_chunk(seq),
            Cutter::Pull(ranges) => Ok(ranges.next_chunk(seq)),
        }
    }
}

/// Sends items, giving each its place in the stream. False once nobody listens.
struct Emitter<'a> {
    seq: u64,
    items: &'a UnboundedSender<Item>,
}

impl Emitter<'_> {
    fn chunk(&mut self, chunk: Chunk) -> bool {
        self.seq += 1;
        self.items.send(Item::Chunk(chunk)).is_ok()
    }

    fn marker(&mut self, marker: Marker) -> bool {
        let seq = self.seq;
        self.seq += 1;
        self.items.send(Item::Marker { seq, marker }).is_ok()
    }
}

/// Opens one input and sets up its output: where its chunks start.
fn open(
    run: &Inputs,
    named: &Named,
    outputs: &mut Outputs,
    slot: OutputSlot,
) -> Result<(Box<FileJob>, InputReader), Error> {
    let mut plan = run.plan.job(named)?;
    outputs.claim(&plan)?;
    let (output, start) = resume::prepare(&run.plan, &plan, &run.ui)?;
    // A failure here drops `output`, which then abandons itself.
    let reader = plan.input.reader_at(start.offset)?;
    let job = FileJob {
        plan,
        output,
        start,
        _slot: slot,
    };
    Ok((Box::new(job), reader))
}

/// The outputs this run has claimed, by a 128-bit hash of where each goes: 16 bytes
/// per input, however long the names of a batch of millions, and no two places alike
/// in any batch that fits on Earth.
#[derive(Default)]
struct Outputs(HashSet<u128>);

impl Outputs {
    /// Claims `job`'s output, refusing one another input of the run has claimed.
    fn claim(&mut self, job: &JobPlan) -> Result<(), Error> {
        let key = match &job.destination {
            // Members one after another: any number may go there.
            Destination::Stdout => return Ok(()),
            Destination::Object(url) => hash128(url.as_bytes()),
            // The same file however named: its folder resolved, links and all.
            Destination::File(path) => {
                let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
                let folder = folder.map_or_else(
                    || std::env::current_dir().unwrap_or_default(),
                    |f| f.canonicalize().unwrap_or_else(|_| f.to_path_buf()),
                );
                let full = folder.join(path.file_name().unwrap_or_default());
                hash128(full.as_os_str().as_encoded_bytes())
            }
        };
        if !self.0.insert(key) {
            return Err(Error::Refused(format!(
                "{}: another input of this run compresses to {} too -- skipped (name the outputs apart)",
                job.input.place(),
                job.destination
            )));
        }
        Ok(())
    }
}

fn hash128(bytes: &[u8]) -> u128 {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, bytes).hash(&mut h);
        h.finish() as u128
    };
    (half(0) << 64) | half(1)
}
