//! The worker service called directly: limits, engines by name, pull requests
//! inside the root.

use super::*;
use crate::INPUT_ERROR;
use crate::hooks::NoHooks;
use gzfleet_proto::v1::RangeRef;

fn service(max_chunk: u64) -> WorkerService<NoHooks> {
    WorkerService::new(
        WorkerConfig {
            slots: 1,
            queue_depth: 1,
            max_chunk,
            root: None,
            read_objects: Vec::new(),
            connections: Default::default(),
            writes: None,
        },
        NoHooks,
    )
    .unwrap()
}

fn request(data: &[u8]) -> CompressRequest {
    CompressRequest {
        level: 6,
        source: Some(Source::Data(Bytes::copy_from_slice(data))),
        ..Default::default()
    }
}

#[tokio::test]
async fn oversized_chunk_is_refused_with_the_limit_named() {
    let svc = service(1024);
    let err = svc
        .compress(Request::new(request(&[0; 1025])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("limit of 1024 bytes"),
        "{}",
        err.message()
    );
    assert!(
        svc.compress(Request::new(request(&[0; 1024])))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn invalid_requests_are_refused() {
    let svc = service(1 << 20);
    let mut bad_level = request(b"x");
    bad_level.level = 10;
    let mut dict_when_independent = request(b"x");
    dict_when_independent.independent = true;
    dict_when_independent.dictionary = Bytes::from_static(b"abc");
    let mut no_source = request(b"x");
    no_source.source = None;
    for req in [bad_level, dict_when_independent, no_source] {
        let err = svc.compress(Request::new(req)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
    let mut range = request(b"x");
    range.source = Some(Source::Range(Default::default()));
    let err = svc.compress(Request::new(range)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn every_engine_is_listed_and_used_as_named() {
    let svc = service(1 << 20);
    let info = svc.info(Request::new(InfoRequest {})).await.unwrap();
    let info = info.into_inner();
    assert_eq!(info.engine, engine_id());
    let names: Vec<_> = info.engines.iter().map(|e| e.name.as_str()).collect();
    let all: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(names, all);
    assert_eq!(&names[..2], ["zlib-rs", "libdeflate"]);
    let data = b"an engine is asked for by name ".repeat(500);
    for listed in &info.engines {
        let engine = Engine::from_name(&listed.name).unwrap();
        assert_eq!(listed.id, engine.id());
        assert_eq!(listed.max_level, *engine.levels().end());
        let mut req = request(&data);
        req.engine = listed.name.clone();
        req.independent = true;
        req.level = listed.max_level;
        let out = svc.compress(Request::new(req)).await.unwrap().into_inner();
        assert_eq!(out.engine, listed.id);
        let local = engine.compress(&data, &[], listed.max_level).unwrap();
        assert_eq!(out.deflate, local.deflate);
    }
}

fn pull(path: &str, size: u64, mtime_ns: i64) -> CompressRequest {
    CompressRequest {
        level: 6,
        source: Some(Source::Range(RangeRef {
            path: path.into(),
            offset: 0,
            length: size.min(1000),
            size,
            mtime_ns,
            etag: String::new(),
        })),
        ..Default::default()
    }
}

#[tokio::test]
async fn pull_requests_read_inside_the_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("data"), vec![b'a'; 5000]).unwrap();
    std::fs::write(dir.path().join("secret"), b"s").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("out")).unwrap();
    let meta = std::fs::metadata(root.join("data")).unwrap();
    let svc = WorkerService::new(
        WorkerConfig {
            slots: 1,
            queue_depth: 1,
            max_chunk: 1 << 20,
            root: Some(root),
            read_objects: Vec::new(),
            connections: Default::default(),
            writes: None,
        },
        NoHooks,
    )
    .unwrap();
    let mtime = crate::range::mtime_ns(&meta);
    let ok = svc
        .compress(Request::new(pull("data", 5000, mtime)))
        .await
        .unwrap();
    assert_eq!(ok.get_ref().input_length, 1000);
    for (req, code, says) in [
        (
            pull("/etc/passwd", 1, 0),
            tonic::Code::InvalidArgument,
            "an absolute path",
        ),
        (
            pull("../secret", 1, 0),
            tonic::Code::InvalidArgument,
            "climbs out",
        ),
        (
            pull("out", 1, 0),
            tonic::Code::PermissionDenied,
            "leads out of this worker's --root",
        ),
        (
            pull("missing", 1, 0),
            tonic::Code::FailedPrecondition,
            "missing: not readable",
        ),
        (
            pull("data", 5001, mtime),
            tonic::Code::FailedPrecondition,
            "changed, or differs",
        ),
    ] {
        let err = svc.compress(Request::new(req)).await.unwrap_err();
        assert_eq!(err.code(), code, "{}", err.message());
        assert!(err.message().contains(says), "{}", err.message());
        assert!(
            err.metadata().get(INPUT_ERROR).is_some(),
            "{}",
            err.message()
        );
    }
}
