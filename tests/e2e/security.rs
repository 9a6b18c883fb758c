//! Who may use a worker: TLS with a private CA, mutual TLS, the bearer token, and the
//! refusal to serve other machines unprotected. Certificates are made here by the real
//! openssl, per test, in a scratch folder: no private key is ever committed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::*;

/// A scratch public-key infrastructure: CAs and the certificates they sign.
struct Pki {
    dir: Dir,
}

impl Pki {
    fn new(name: &str) -> Pki {
        Pki {
            dir: Dir::new(name),
        }
    }

    fn openssl(&self, args: &[&str]) {
        let r = run(Command::new("openssl")
            .current_dir(self.dir.join(""))
            .args(args));
        assert_ok!(r);
    }

    /// A self-signed CA: NAME.pem and NAME.key.
    fn ca(&self, name: &str) -> PathBuf {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ]);
        self.dir.join(&format!("{name}.pem"))
    }

    /// A certificate for `san` (e.g. "IP:127.0.0.1") signed by `ca`, valid for `days`
    /// (-1: expired a day before it began); returns (cert, key).
    fn cert(&self, name: &str, ca: &str, san: &str, days: i32) -> (PathBuf, PathBuf) {
        let ext = self.dir.file(
            &format!("{name}.ext"),
            format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\n").as_bytes(),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            &days.to_string(),
            "-extfile",
            ext.to_str().unwrap(),
        ]);
        (
            self.dir.join(&format!("{name}.pem")),
            self.dir.join(&format!("{name}.key")),
        )
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A TLS worker with the certificate `cert`/`key` and these extra flags.
fn tls_worker(cert: &(PathBuf, PathBuf), extra: &[&str]) -> Worker {
    let mut args = vec!["--tls-cert", s(&cert.0), "--tls-key", s(&cert.1)];
    args.extend_from_slice(extra);
    Worker::start(&args)
}

/// `gzfleet compress -c INPUT` on `workers` with these flags.
fn compress_on(workers: &str, input: &Path, flags: &[&str]) -> Run {
    run(gzfleet()
        .args([
            "compress",
            "-c",
            "-b",
            "256K",
            "--wait-workers",
            "0s",
            "--workers",
            workers,
        ])
        .args(flags)
        .arg(input))
}

#[test]
fn tls_with_the_right_ca_compresses_and_another_ca_is_refused_naming_the_worker() {
    let pki = Pki::new("tls-ca");
    let ca = pki.ca("ca");
    let other = pki.ca("other");
    let server = pki.cert("server", "ca", "IP:127.0.0.1,DNS:localhost", 1);
    let worker = tls_worker(&server, &[]);
    let data = mixed(1 << 20, 901);
    let input = pki.dir.file("data", &data);

    let good = compress_on(&worker.addr, &input, &["--tls-ca", s(&ca)]);
    assert_ok!(good);
    // Over TLS the bytes are those the embedded pool writes.
    let local = run(gzfleet().args(["compress", "-c", "-b", "256K"]).arg(&input));
    assert!(good.stdout == local.stdout, "TLS changed the output");

    let bad = compress_on(&worker.addr, &input, &["--tls-ca", s(&other)]);
    assert_fails!(bad, 1, &worker.addr);
    assert!(
        bad.stderr
            .contains("not signed by a CA this coordinator trusts"),
        "{}",
        bad.stderr
    );
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    assert!(bad.stdout.is_empty());
}

#[test]
fn expired_and_wrong_name_certificates_are_named() {
    let pki = Pki::new("tls-bad-certs");
    let ca = pki.ca("ca");
    let expired = pki.cert("expired", "ca", "IP:127.0.0.1", -1);
    let ip_only = pki.cert("ip-only", "ca", "IP:127.0.0.1", 1);
    let input = pki.dir.file("data", &text(300_000, 902));

    let old = tls_worker(&expired, &[]);
    let r = compress_on(&old.addr, &input, &["--tls-ca", s(&ca)]);
    assert_fails!(r, 1, "certificate has expired");
    assert!(r.stderr.contains(&old.addr));

    // Reached by a name its certificate does not hold.
    let w = tls_worker(&ip_only, &[]);
    let by_name = format!("localhost:{}", w.port());
    let r = compress_on(&by_name, &input, &["--tls-ca", s(&ca)]);
    assert_fails!(r, 1, "not valid for the name it was reached by");
    assert!(r.stderr.contains(&by_name));
    // By the address it holds, the same worker serves.
    assert_ok!(compress_on(&w.addr, &input, &["--tls-ca", s(&ca)]));
}

#[test]
fn a_worker_found_through_dns_is_checked_against_the_name_not_its_address() {
    let pki = Pki::new("tls-dns");
    let ca = pki.ca("ca");
    // As a Kubernetes service's certificate: its name, none of its pods' addresses.
    let named = pki.cert("named", "ca", "DNS:localhost", 1);
    let w = tls_worker(&named, &[]);
    let data = text(300_000, 907);
    let input = pki.dir.file("data", &data);
    let r = compress_on(
        &format!("dns:localhost:{}", w.port()),
        &input,
        &["--tls-ca", s(&ca)],
    );
    assert_ok!(r);
    let out = pki.dir.file("out.gz", &r.stdout);
    assert_decodes(&out, &data);
    // By its address, the same certificate does not do.
    let r = compress_on(&w.addr, &input, &["--tls-ca", s(&ca)]);
    assert_fails!(r, 1, "not valid for the name");
}

#[test]
fn tls_and_plaintext_mismatches_are_named_both_ways() {
    let pki = Pki::new("tls-mismatch");
    let ca = pki.ca("ca");
    let server = pki.cert("server", "ca", "IP:127.0.0.1", 1);
    let input = pki.dir.file("data", &text(300_000, 903));

    let plain = Worker::start(&[]);
    let r = compress_on(&plain.addr, &input, &["--tls-ca", s(&ca)]);
    assert_fails!(r, 1, "does not speak TLS");
    assert!(r.stderr.contains(&plain.addr));

    let tls = tls_worker(&server, &[]);
    let r = compress_on(&tls.addr, &input, &[]);
    assert_fails!(r, 1, "it may serve TLS only");
    assert!(r.stderr.contains(&tls.addr));
}

#[test]
fn mutual_tls_refuses_no_and_foreign_client_certificates() {
    let pki = Pki::new("mtls");
    let ca = pki.ca("ca");
    pki.ca("other");
    let server = pki.cert("server", "ca", "IP:127.0.0.1", 1);
    let client = pki.cert("client", "ca", "DNS:coordinator", 1);
    let foreign = pki.cert("foreign", "other", "DNS:coordinator", 1);
    let worker = tls_worker(&server, &["--client-ca", s(&ca)]);
    let data = text(700_000, 904);
    let input = pki.dir.file("data", &data);

    let none = compress_on(&worker.addr, &input, &["--tls-ca", s(&ca)]);
    assert_fails!(none, 1, "client certificate");
    assert!(none.stderr.contains(&worker.addr));

    let wrong = compress_on(
        &worker.addr,
        &input,
        &[
            "--tls-ca",
            s(&ca),
            "--tls-cert",
            s(&foreign.0),
            "--tls-key",
            s(&foreign.1),
        ],
    );
    assert_fails!(wrong, 1, "certificate");
    assert!(wrong.stderr.contains(&worker.addr));
    assert!(
        wrong
            .stderr
            .contains("refused this coordinator's client certificate")
            || wrong
                .stderr
                .contains("may not trust this coordinator's certificate"),
        "{}",
        wrong.stderr
    );

    let good = compress_on(
        &worker.addr,
        &input,
        &[
            "--tls-ca",
            s(&ca),
            "--tls-cert",
            s(&client.0),
            "--tls-key",
            s(&client.1),
        ],
    );
    assert_ok!(good);
    let out = pki.dir.file("out.gz", &good.stdout);
    assert_decodes(&out, &data);
}

/// What a raw gRPC client (Python grpcio, no gzfleet code) gets calling Info with this
/// `authorization` value (None: no header).
fn raw_info_status(addr: &str, authorization: Option<&str>) -> String {
    let script = r#"
import sys, grpc
addr, auth = sys.argv[1], sys.argv[2:]
info = grpc.insecure_channel(addr).unary_unary(
    "/gzfleet.v1.Worker/Info",
    request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    info(b"", timeout=10, metadata=[("authorization", auth[0])] if auth else None)
    print("OK")
except grpc.RpcError as e:
    print(e.code().name, e.details())
"#;
    let r = run(Command::new("python3")
        .args(["-c", script, addr])
        .args(authorization));
    assert_ok!(r);
    String::from_utf8_lossy(&r.stdout).trim().to_string()
}

#[test]
fn a_token_is_required_checked_and_never_shown() {
    let dir = Dir::new("token");
    let secret = "c0ffee-7d1b1d5e3a-secret";
    let token = dir.file("token", format!("{secret}\n").as_bytes());
    let data = mixed(1 << 20, 905);
    let input = dir.file("data", &data);
    let mut worker = Worker::start(&["--token-file", s(&token)]);

    // A raw client: no token, a wrong one, the right one.
    let none = raw_info_status(&worker.addr, None);
    assert!(
        none.starts_with("UNAUTHENTICATED authentication failed"),
        "{none}"
    );
    let bad = raw_info_status(&worker.addr, Some("Bearer not-the-token"));
    assert!(
        bad.starts_with("UNAUTHENTICATED authentication failed: wrong token"),
        "{bad}"
    );
    assert!(!bad.contains(secret));
    assert_eq!(
        raw_info_status(&worker.addr, Some(&format!("Bearer {secret}"))),
        "OK"
    );

    // The coordinator: none, wrong (from the environment), right.
    let r = compress_on(&worker.addr, &input, &[]);
    assert_fails!(r, 1, "authentication failed");
    assert!(r.stderr.contains(&worker.addr), "{}", r.stderr);
    let r = run(gzfleet()
        .env("GZFLEET_TOKEN", "not-the-token")
        .args([
            "compress",
            "-c",
            "--wait-workers",
            "0s",
            "--workers",
            &worker.addr,
        ])
        .arg(&input));
    assert_fails!(r, 1, "authentication failed: wrong token");

    let stats = dir.join("stats.json");
    let good = run(gzfleet()
        .args([
            "compress",
            "-vv",
            "-b",
            "256K",
            "--workers",
            &worker.addr,
            "--token-file",
        ])
        .arg(&token)
        .arg("--stats-json")
        .arg(&stats)
        .arg("-o")
        .arg(dir.join("data.gz"))
        .arg(&input));
    assert_ok!(good);
    assert_decodes(&dir.join("data.gz"), &data);
    let from_env = run(gzfleet()
        .env("GZFLEET_TOKEN", secret)
        .args(["compress", "-c", "-b", "256K", "--workers", &worker.addr])
        .arg(&input));
    assert_ok!(from_env);
    assert!(std::fs::read(dir.join("data.gz")).unwrap() == from_env.stdout);

    // Nowhere to be seen: messages, statistics, command lines, --help.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", worker.child.id())).unwrap();
    let help = run(gzfleet().args(["compress", "--help"]));
    let worker_help = run(Command::new(bin("gzfleet-worker")).arg("--help"));
    worker.signal(libc::SIGTERM);
    worker.wait_exit(std::time::Duration::from_secs(10));
    let worker_said = worker.stderr_text();
    for (what, text) in [
        ("coordinator stderr", good.stderr.clone()),
        ("coordinator stderr (env)", from_env.stderr.clone()),
        ("stats", std::fs::read_to_string(&stats).unwrap()),
        (
            "worker command line",
            String::from_utf8_lossy(&cmdline).into_owned(),
        ),
        ("worker stderr", worker_said),
        (
            "gzfleet --help",
            String::from_utf8_lossy(&help.stdout).into_owned(),
        ),
        (
            "worker --help",
            String::from_utf8_lossy(&worker_help.stdout).into_owned(),
        ),
    ] {
        assert!(!text.contains(secret), "the token shows in the {what}");
    }
    assert!(String::from_utf8_lossy(&help.stdout).contains("--token-file"));
}

#[test]
fn a_worker_reachable_from_other_machines_is_never_open_by_accident() {
    let dir = Dir::new("open-worker");
    let r = run(Command::new(bin("gzfleet-worker")).args(["--listen", "0.0.0.0:0"]));
    assert_fails!(r, 1, "refusing to serve 0.0.0.0:0 without TLS or a token");
    assert!(r.stderr.contains("--insecure"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    let mut open = Worker::start_bin("gzfleet-worker", "0.0.0.0:0", &["--insecure"]);
    let port = open.port();
    let input = dir.file("data", &text(300_000, 906));
    assert_ok!(compress_on(&format!("127.0.0.1:{port}"), &input, &[]));
    open.signal(libc::SIGTERM);
    open.wait_exit(std::time::Duration::from_secs(10));
    let said = open.stderr_text();
    assert!(said.contains("WARNING: --insecure"), "{said}");

    let token = dir.file("token", b"t0ken\n");
    let mut guarded =
        Worker::start_bin("gzfleet-worker", "0.0.0.0:0", &["--token-file", s(&token)]);
    guarded.signal(libc::SIGTERM);
    guarded.wait_exit(std::time::Duration::from_secs(10));
    assert!(!guarded.stderr_text().contains("WARNING"));
}

/// A TLS worker's health on a plaintext port of its own (`--health-listen`): `--check`
/// and Kubernetes' gRPC probes, which cannot speak TLS, reach it there; that port
/// serves nothing but health; it answers until the drain is over.
#[test]
fn a_tls_worker_answers_health_in_plaintext_on_its_health_port_only() {
    let pki = Pki::new("tls-health");
    let ca = pki.ca("ca");
    let server = pki.cert("server", "ca", "IP:127.0.0.1,DNS:localhost", 1);
    let health = format!("127.0.0.1:{}", free_port());
    let mut worker = tls_worker(&server, &["--health-listen", &health]);
    let check = |addr: &str| run(Command::new(bin("gzfleet-worker")).args(["--check", addr]));

    let r = check(&health);
    assert_ok!(r);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout).trim(),
        format!("{health}: SERVING")
    );
    // The TLS port itself cannot be checked in plaintext: that is what the port is for.
    assert_eq!(check(&worker.addr).status.code(), Some(1));

    // No chunk is compressed through the health port, and the TLS port still works.
    let input = pki.dir.file("data", &mixed(300 << 10, 77));
    let through_health = compress_on(&health, &input, &[]);
    assert!(
        !through_health.status.success(),
        "compressed through the health port"
    );
    assert_ok!(compress_on(&worker.addr, &input, &["--tls-ca", s(&ca)]));

    worker.signal(libc::SIGTERM);
    let status = worker
        .wait_exit(Duration::from_secs(10))
        .expect("worker ignored SIGTERM");
    assert!(status.success(), "SIGTERM exit: {status:?}");
    assert_eq!(
        check(&health).status.code(),
        Some(1),
        "the health port outlived the worker"
    );
}
