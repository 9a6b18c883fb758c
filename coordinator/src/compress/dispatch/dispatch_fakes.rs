//! Fake workers for the dispatcher's tests: links that answer by script (after a
//! delay, never, or with an error) on tokio's paused clock, and a job runner.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gzfleet_worker::engine::{Engine, compress_chunk, engine_id};

use super::*;
use crate::compress::chunker::{Chunk, Payload};
use crate::compress::plan::Encoding;
use crate::fleet::link::BoxFuture;
use crate::fleet::{Link, Needs};
use crate::ui::Verbosity;

/// How a fake worker answers the n-th call (from 0) it gets.
#[derive(Clone)]
pub(super) enum Act {
    /// Compress, answering after this long.
    After(Duration),
    /// Never answer.
    Hang,
    Fail(AttemptError),
}

pub(super) struct Fake {
    pub(super) name: String,
    /// What to do for each call, by call number; the last entry repeats.
    pub(super) script: Vec<Act>,
    pub(super) calls: AtomicUsize,
    pub(super) probes: AtomicUsize,
    /// Probes answer (with this worker's info) or never do.
    pub(super) probe_answers: bool,
    /// Chunks compressed, by index.
    pub(super) done: Mutex<Vec<u64>>,
}

impl Fake {
    pub(super) fn new(name: &str, script: Vec<Act>) -> Arc<Fake> {
        Arc::new(Fake {
            name: name.into(),
            script,
            calls: AtomicUsize::new(0),
            probes: AtomicUsize::new(0),
            probe_answers: true,
            done: Mutex::default(),
        })
    }

    pub(super) fn quiet_probes(name: &str, script: Vec<Act>) -> Arc<Fake> {
        let mut f = Arc::into_inner(Fake::new(name, script)).unwrap();
        f.probe_answers = false;
        Arc::new(f)
    }

    pub(super) fn done(&self) -> Vec<u64> {
        self.done.lock().unwrap().clone()
    }
}

pub(super) fn info() -> WorkerInfo {
    WorkerInfo {
        slots: 1,
        queue_depth: 2,
        max_chunk: 1 << 20,
        engines: vec![("zlib-rs".into(), engine_id().into())],
        returns_window: true,
        writes_files: true,
        version: "test".into(),
    }
}

pub(super) struct FakeLink(Arc<Fake>);

impl Link for FakeLink {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn compress(
        &self,
        chunk: Arc<Chunk>,
        job: &JobParams,
        deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>> {
        let fake = Arc::clone(&self.0);
        let n = fake.calls.fetch_add(1, Ordering::SeqCst);
        let act = fake.script[n.min(fake.script.len() - 1)].clone();
        let level = job.encoding.level;
        Box::pin(async move {
            let work = async {
                match act {
                    Act::After(delay) => tokio::time::sleep(delay).await,
                    Act::Hang => std::future::pending().await,
                    Act::Fail(e) => return Err(e),
                }
                let Payload::Bytes {
                    data, dictionary, ..
                } = &chunk.payload
                else {
                    unreachable!("these tests push")
                };
                let out = compress_chunk(data, dictionary, level).unwrap();
                fake.done.lock().unwrap().push(chunk.index);
                Ok(Answer {
                    deflate: out.deflate.into(),
                    crc32: out.crc32,
                    input_len: out.input_len,
                    engine: engine_id().into(),
                    window: Bytes::new(),
                    held: None,
                    received: 0,
                })
            };
            tokio::time::timeout(deadline, work)
                .await
                .unwrap_or(Err(AttemptError::Timeout(deadline)))
        })
    }

    fn probe(&self) -> BoxFuture<Result<WorkerInfo, String>> {
        self.0.probes.fetch_add(1, Ordering::SeqCst);
        let answers = self.0.probe_answers;
        Box::pin(async move {
            match answers {
                true => Ok(info()),
                false => std::future::pending().await,
            }
        })
    }
}

pub(super) fn fleet(fakes: &[&Arc<Fake>]) -> Fleet {
    let links = fakes
        .iter()
        .map(|f| (Arc::new(FakeLink(Arc::clone(f))) as Arc<dyn Link>, info()))
        .collect();
    let needs = Needs {
        block: 1 << 20,
        engine: Engine::ZlibRs,
        window: false,
        writes: false,
    };
    Fleet::of_links(links, needs)
}

pub(super) fn config(max_attempts: u32) -> DispatchConfig {
    DispatchConfig {
        max_attempts,
        wait_workers: Duration::from_secs(30),
        verify: false,
    }
}

/// What one job did.
pub(super) struct Outcome {
    pub(super) result: Result<u64, Error>,
    pub(super) stats: DispatchStats,
    /// Chunk indexes in the order the writer got them.
    pub(super) written: Vec<u64>,
    pub(super) said: Vec<String>,
    pub(super) took: Duration,
}

/// `n` chunks of 1000 bytes, as the reader would send them.
pub(super) fn chunks_of(n: u64) -> UnboundedReceiver<Item> {
    let (tx, rx) = unbounded_channel();
    for index in 0..n {
        let data = Bytes::from(vec![index as u8; 1000]);
        let chunk = Chunk {
            seq: index,
            index,
            offset: index * 1000,
            len: data.len() as u64,
            payload: Payload::Bytes {
                crc32: Some(crc32fast::hash(&data)),
                dictionary: Bytes::new(),
                data,
            },
        };
        tx.send(Item::Chunk(chunk)).unwrap();
    }
    tx.send(Item::Done).unwrap();
    rx
}

/// Runs a job of `chunks` 1000-byte chunks through `fleet` on a paused clock.
pub(super) fn job(fleet: &mut Fleet, chunks: u64, config: DispatchConfig) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let ui = Ui::new(Verbosity {
        quiet: false,
        verbose: 0,
    });
    let chunk_rx = chunks_of(chunks);
    let (results_tx, mut results_rx) = unbounded_channel();
    let params = params();
    let window = Arc::new(Window::new(0, 1000));
    let progress = Progress::hidden();
    let mut d = Dispatcher::new(
        fleet,
        params,
        config,
        ui.clone(),
        progress,
        window,
        results_tx,
    );
    let (result, took) = runtime.block_on(async {
        let started = tokio::time::Instant::now();
        let result = d.run(chunk_rx).await;
        (result, started.elapsed())
    });
    let stats = d.stats.clone();
    drop(d);
    let mut written = Vec::new();
    while let Ok(c) = results_rx.try_recv() {
        written.push(c.seq());
    }
    Outcome {
        result,
        stats,
        written,
        said: ui.captured(),
        took,
    }
}

pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn each_once(written: &[u64], chunks: u64) {
    let mut sorted = written.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..chunks).collect::<Vec<_>>(), "{written:?}");
}

/// A job of 1000-byte independent chunks at level 1, as every test here runs.
pub(super) fn params() -> Arc<JobParams> {
    Arc::new(JobParams {
        id: "test".into(),
        encoding: Encoding {
            engine: Engine::ZlibRs,
            level: 1,
            block: 1000,
            independent: true,
        },
        index_step: None,
        direct: false,
    })
}
