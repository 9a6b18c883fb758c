//! Permits taken and given back with each connection, deadlines met with real (short)
//! timers, and requests counted on the connection they came on.

use super::*;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tonic::codegen::tokio_stream::{self, StreamExt};

fn limits(max: usize, first_request: u64, idle: u64) -> ConnectionLimits {
    ConnectionLimits {
        max,
        first_request: Duration::from_millis(first_request),
        idle: Duration::from_millis(idle),
    }
}

/// `n` connections to accept: their server ends, and the client ends kept open.
fn pairs(n: usize) -> (Vec<Result<DuplexStream, Infallible>>, Vec<DuplexStream>) {
    (0..n).map(|_| tokio::io::duplex(64)).fold(
        (Vec::new(), Vec::new()),
        |(mut servers, mut clients), (client, server)| {
            servers.push(Ok(server));
            clients.push(client);
            (servers, clients)
        },
    )
}

/// The next connection, or None if the listener is not accepting within 200 ms.
async fn accept<S>(limited: &mut Limited<S>) -> Option<Tracked<DuplexStream>>
where
    S: Stream<Item = Result<DuplexStream, Infallible>> + Unpin,
{
    let next = tokio::time::timeout(Duration::from_millis(200), limited.next()).await;
    next.ok().flatten().map(|accepted| accepted.unwrap())
}

#[tokio::test]
async fn a_listener_stops_accepting_at_the_cap_until_a_connection_ends() {
    let counters = ConnectionCounters::default();
    let (servers, _clients) = pairs(4);
    let hour = 3_600_000;
    let mut limited = Limited::new(
        tokio_stream::iter(servers),
        limits(2, hour, hour),
        counters.clone(),
    );
    let first = accept(&mut limited).await.expect("the first connection");
    let second = accept(&mut limited).await.expect("the second connection");
    assert_eq!(counters.open.get(), 2);
    assert!(
        accept(&mut limited).await.is_none(),
        "accepted past the cap"
    );
    assert_eq!(counters.waited.get(), 1);

    drop(first);
    assert_eq!(counters.open.get(), 1);
    let third = accept(&mut limited)
        .await
        .expect("accepted once one closed");
    assert_eq!(counters.open.get(), 2);
    drop((second, third));
    assert_eq!(counters.open.get(), 0);
    assert_eq!(limited.permits.available_permits(), 2, "a permit was lost");
    assert!(accept(&mut limited).await.is_some());
    assert_eq!(
        counters.waited.get(),
        1,
        "counted once per wait, not per poll"
    );
}

/// Reads until the end of the stream, returning how long it took.
async fn until_closed(conn: &mut Tracked<DuplexStream>) -> Duration {
    let start = Instant::now();
    let mut buf = [0; 64];
    while conn.read(&mut buf).await.expect("reading") > 0 {}
    start.elapsed()
}

/// Accepts the one connection of a fresh listener with these limits.
async fn connection(limits: ConnectionLimits) -> (Tracked<DuplexStream>, DuplexStream) {
    let (servers, mut clients) = pairs(1);
    let counters = ConnectionCounters::default();
    let mut limited = Limited::new(tokio_stream::iter(servers), limits, counters);
    (accept(&mut limited).await.unwrap(), clients.remove(0))
}

#[tokio::test]
async fn a_connection_that_makes_no_request_is_closed_at_its_deadline() {
    let (mut conn, _client) = connection(limits(1, 100, 3_600_000)).await;
    let took = until_closed(&mut conn).await;
    assert!(took >= Duration::from_millis(100), "closed early: {took:?}");
    assert!(took < Duration::from_secs(5), "closed late: {took:?}");
    assert_eq!(conn.counters.first_request.get(), 1);
    assert_eq!(conn.counters.idle.get(), 0);
    // Writes end too, and the permit goes with the connection.
    assert!(conn.write_all(b"x").await.is_err());
    let open = conn.counters.open.clone();
    drop(conn);
    assert_eq!(open.get(), 0);
}

#[tokio::test]
async fn bytes_read_at_the_deadline_earn_one_grace_period_not_more() {
    let (mut conn, mut client) = connection(limits(1, 100, 3_600_000)).await;
    // A preface, and pings after it: bytes, but never a request.
    let pinging = tokio::spawn(async move {
        for _ in 0..40 {
            if client.write_all(b"ping").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let took = until_closed(&mut conn).await;
    assert!(
        took >= Duration::from_millis(100) + GRACE,
        "no grace: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2) + GRACE,
        "pings kept it: {took:?}"
    );
    assert_eq!(conn.counters.first_request.get(), 1);
    pinging.abort();
}

#[tokio::test]
async fn a_request_in_flight_keeps_its_connection_and_the_idle_deadline_follows_it() {
    let (mut conn, _client) = connection(limits(1, 100, 300)).await;
    let peer = conn.connect_info();
    let request = peer.activity.begin();
    let closed = Arc::new(AtomicBool::new(false));
    let reader = {
        let closed = Arc::clone(&closed);
        tokio::spawn(async move {
            let took = until_closed(&mut conn).await;
            closed.store(true, Ordering::SeqCst);
            (took, conn)
        })
    };
    // Far past both deadlines, with the request still in flight.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!closed.load(Ordering::SeqCst), "closed under a request");
    let ended = Instant::now();
    drop(request);
    let (_, conn) = reader.await.unwrap();
    let idle = ended.elapsed();
    assert!(idle >= Duration::from_millis(300), "closed early: {idle:?}");
    assert!(idle < Duration::from_secs(5), "closed late: {idle:?}");
    assert_eq!(conn.counters.idle.get(), 1);
    assert_eq!(conn.counters.first_request.get(), 0);
}

/// Records what each call saw and answers with a body of one frame (an empty one
/// would be dropped at once: tonic's `Body::new` replaces a finished body).
#[derive(Clone, Default)]
struct Inner {
    saw_info: Arc<AtomicBool>,
    saw_peer: Arc<AtomicBool>,
}

impl Service<http::Request<Body>> for Inner {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let extensions = request.extensions();
        self.saw_info
            .store(extensions.get::<u32>() == Some(&7), Ordering::SeqCst);
        self.saw_peer
            .store(extensions.get::<Peer<u32>>().is_some(), Ordering::SeqCst);
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"answer"));
        std::future::ready(Ok(http::Response::new(Body::new(body))))
    }
}

#[tokio::test]
async fn a_request_counts_on_its_connection_until_its_answer_is_gone() {
    let activity = Activity::new();
    let inner = Inner::default();
    let mut service: Tracking<Inner, u32> = Tracking::over(inner.clone());
    let mut request = http::Request::new(Body::empty());
    request.extensions_mut().insert(Peer {
        info: 7u32,
        activity: Arc::clone(&activity),
    });
    let answer = service.call(request).await.unwrap();
    assert!(
        inner.saw_info.load(Ordering::SeqCst),
        "the inner info was not passed on"
    );
    assert!(!inner.saw_peer.load(Ordering::SeqCst));
    let counts = |a: &Activity| {
        let seen = a.seen();
        (seen.in_flight, seen.started)
    };
    assert_eq!(counts(&activity), (1, 1));
    drop(answer);
    assert_eq!(counts(&activity), (0, 1));
    // A request from elsewhere (no tracked connection) is served all the same.
    let answer = service.call(http::Request::new(Body::empty())).await;
    assert!(answer.is_ok());
}
