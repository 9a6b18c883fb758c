//! The compress pipeline the `Writer` drives: the chunks it cuts go to the same
//! dispatcher and fleet (`Fleet::local` or workers over gRPC) as the command's, on a
//! thread of their own with its own async runtime; the answers come back in any order
//! and are handed out in stream order. At most a window of chunks (sized to the
//! fleet, as the command's: see `compress::window`) is between the caller and the
//! sink: a caller that writes faster than the fleet compresses waits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::compress::JobParams;
use crate::compress::dispatch::{Compressed, DispatchConfig, Dispatcher, Ready};
use crate::compress::plan::FleetPlan;
use crate::compress::stream::Item;
use crate::compress::window::Window;
use crate::compress::{Chunk, connect_fleet};
use crate::error::Error as Internal;
use crate::ui::{Progress, Ui, Verbosity};

use super::error::Error;

/// The chunks in flight and the thread compressing them.
pub(crate) struct Pipeline {
    /// None once the stream is complete (or abandoned).
    items: Option<UnboundedSender<Item>>,
    results: UnboundedReceiver<Ready>,
    window: Arc<Window>,
    engine: Option<JoinHandle<Result<u64, Internal>>>,
    /// Answers ahead of their turn.
    waiting: BTreeMap<u64, Compressed>,
    /// The place of the next chunk sent, and of the next one handed out.
    pub sent: u64,
    pub handed: u64,
    /// Chunks carry their CRC (answers come from other processes).
    pub chunk_crcs: bool,
}

/// What connecting the fleet tells the caller before any chunk is sent.
struct Connected {
    capacity: usize,
    remote: bool,
}

impl Pipeline {
    /// Connects the fleet `fleet` plans (on the engine thread, whose runtime the
    /// remote links need) and starts dispatching.
    pub fn start(fleet: FleetPlan, job: JobParams, config: DispatchConfig) -> Result<Self, Error> {
        let (items_tx, items_rx) = unbounded_channel();
        let (results_tx, results) = unbounded_channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let job = Arc::new(job);
        let block = job.encoding.block;
        // The window is made once the fleet's capacity is known; the engine thread
        // gets it through this slot.
        let (window_tx, window_rx) = mpsc::sync_channel::<Arc<Window>>(1);
        let engine = std::thread::Builder::new()
            .name("gzfleet-writer".into())
            .spawn(move || {
                let ends = Ends {
                    ready: ready_tx,
                    window: window_rx,
                    items: items_rx,
                    results: results_tx,
                };
                engine(&fleet, job, config, ends)
            })
            .map_err(|source| Error::io("cannot start the compressing thread", source))?;
        let connected = match ready_rx.recv() {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let _ = engine.join();
                return Err(Error::internal(e));
            }
            Err(_) => return Err(joined(engine.join())),
        };
        let window = Arc::new(Window::for_fleet(0, block, connected.capacity));
        // The thread is waiting for it: it cannot have gone.
        let _ = window_tx.send(Arc::clone(&window));
        Ok(Pipeline {
            items: Some(items_tx),
            results,
            window,
            engine: Some(engine),
            waiting: BTreeMap::new(),
            sent: 0,
            handed: 0,
            chunk_crcs: connected.remote,
        })
    }

    /// Whether another chunk may be sent without waiting for an answer.
    pub fn has_room(&self) -> bool {
        self.sent - self.handed < self.window.size() as u64
    }

    /// Sends `chunk` (cut at place `self.sent`).
    pub fn send(&mut self, chunk: Chunk) -> Result<(), Error> {
        debug_assert_eq!(chunk.seq, self.sent);
        let sent = self.items.as_ref().map(|tx| tx.send(Item::Chunk(chunk)));
        match sent {
            Some(Ok(())) => {
                self.sent += 1;
                Ok(())
            }
            _ => Err(self.failure()),
        }
    }

    /// The next chunk in stream order, waiting for it if `wait`; None when none is
    /// due (nothing in flight, or not yet answered and not `wait`).
    pub fn next(&mut self, wait: bool) -> Result<Option<Compressed>, Error> {
        loop {
            if let Some(c) = self.waiting.remove(&self.handed) {
                self.handed += 1;
                self.window.advance(self.handed);
                return Ok(Some(c));
            }
            if self.handed == self.sent {
                return Ok(None);
            }
            let ready = match wait {
                true => self.results.blocking_recv(),
                false => match self.results.try_recv() {
                    Ok(r) => Some(r),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return Ok(None),
                    Err(_) => None,
                },
            };
            match ready {
                Some(Ready::Chunk(c)) => {
                    self.waiting.insert(c.seq, c);
                }
                Some(_) => {
                    return Err(Error::internal(Internal::Fatal(
                        "internal error: a marker in a library stream".into(),
                    )));
                }
                None => return Err(self.failure()),
            }
        }
    }

    /// Ends the stream once every chunk was handed out: the engine thread stops.
    pub fn close(&mut self) -> Result<(), Error> {
        if let Some(items) = self.items.take() {
            let _ = items.send(Item::Done);
        }
        match self.engine.take() {
            Some(engine) => match engine.join() {
                Ok(Ok(_)) => Ok(()),
                other => Err(joined(other)),
            },
            None => Ok(()),
        }
    }

    /// Why the engine thread stopped early: its error, once it has ended.
    fn failure(&mut self) -> Error {
        self.items = None;
        self.window.close();
        match self.engine.take() {
            Some(engine) => joined(engine.join()),
            None => Error::internal(Internal::Fatal("the compressing thread is gone".into())),
        }
    }
}

/// The engine thread's ends of its channels.
struct Ends {
    ready: mpsc::SyncSender<Result<Connected, Internal>>,
    window: mpsc::Receiver<Arc<Window>>,
    items: UnboundedReceiver<Item>,
    results: UnboundedSender<Ready>,
}

/// The engine thread: connects the fleet, says how much it holds, and dispatches
/// the stream until its end. What fails connecting is sent back, not returned.
fn engine(
    fleet: &FleetPlan,
    job: Arc<JobParams>,
    config: DispatchConfig,
    ends: Ends,
) -> Result<u64, Internal> {
    let ui = Ui::new(Verbosity {
        quiet: true,
        verbose: 0,
    });
    let needs = crate::fleet::Needs {
        block: job.encoding.block,
        engine: job.encoding.engine,
        window: false,
    };
    let connected = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Internal::Spawn {
            what: "the async runtime".into(),
            source,
        })
        .and_then(|rt| connect_fleet(fleet, needs, &rt, &ui).map(|f| (rt, f)));
    let (runtime, mut fleet) = match connected {
        Ok(c) => c,
        Err(e) => {
            let _ = ends.ready.send(Err(e));
            return Ok(0);
        }
    };
    let info = Connected {
        capacity: fleet.capacity(),
        remote: fleet.is_remote(),
    };
    if ends.ready.send(Ok(info)).is_err() {
        return Ok(0);
    }
    let Ok(window) = ends.window.recv() else {
        return Ok(0);
    };
    let mut dispatcher = Dispatcher::new(
        &mut fleet,
        job,
        config,
        ui,
        Progress::hidden(),
        window,
        ends.results,
    );
    runtime.block_on(dispatcher.run(ends.items))
}

impl Drop for Pipeline {
    /// Abandoned: the stream ends without its `Done`, so the dispatcher stops at once
    /// (calling off what is in flight) and the fleet's threads with it.
    fn drop(&mut self) {
        self.items = None;
        self.window.close();
        if let Some(engine) = self.engine.take() {
            let _ = engine.join();
        }
    }
}

fn joined(result: std::thread::Result<Result<u64, Internal>>) -> Error {
    match result {
        Ok(Err(e)) => Error::internal(e),
        Ok(Ok(_)) => Error::internal(Internal::Fatal(
            "internal error: the compressing thread ended early".into(),
        )),
        Err(_) => Error::internal(Internal::Fatal("the compressing thread panicked".into())),
    }
}
