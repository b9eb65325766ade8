//! The hub's accept loop: TLS (or, when the organiser asked for it, plain HTTP), a cap on
//! open connections in all and per peer, and timers `axum::serve` does not have: the TLS
//! handshake, the request headers and each whole request must finish in bounded time, and
//! a request body must keep arriving at a minimum rate, so a laptop on the venue Wi-Fi
//! cannot hold the hub's sockets open with half-sent requests. A peer that trickles bodies
//! holds at most its own share of the connections, each for seconds, and the health and
//! claim pages keep answering everyone else.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};

/// Limits of one hub.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one peer (`hub::peer`: an IPv4 address or an IPv6 /64) may hold at
    /// once; a further one is closed at once. Large enough for a venue NAT's phones and
    /// kiosks, small enough that one peer cannot take every slot.
    pub max_connections_per_peer: usize,
    /// For the TLS handshake.
    pub handshake_timeout: Duration,
    /// For a request's headers (also an idle keep-alive connection's next request).
    pub header_timeout: Duration,
    /// For a whole request, body and answer included (see `server::router`).
    pub request_timeout: Duration,
    /// How a request body must keep arriving.
    pub body_rate: BodyRate,
}

/// The slowest a request body may arrive: after `grace`, at least `bytes_per_second` on
/// average since the request began. A kiosk on poor venue Wi-Fi sends far faster; a
/// client trickling a byte every few seconds is cut off after `grace`.
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    pub grace: Duration,
    pub bytes_per_second: u64,
}

impl Default for BodyRate {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
            bytes_per_second: 2048,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_connections_per_peer: 64,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            body_rate: BodyRate::default(),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (for at most 5 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_peer = Arc::new(PeerConnections::new(limits.max_connections_per_peer));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(peer_slot) = per_peer.admit(peer.ip()) else {
            tracing::debug!("closing a connection from {peer}: it holds its share of the hub's connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body_rate = limits.body_rate;
        let service = router
            .clone()
            .layer(axum::middleware::from_fn(move |request, next| {
                minimum_body_rate(body_rate, request, next)
            }))
            .layer(axum::Extension(ConnectInfo(peer)));
        let acceptor = acceptor.clone();
        let limits = limits.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _peer_slot = peer_slot;
            match acceptor {
                Some(acceptor) => match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, service, peer, &limits, stopped).await,
                    Ok(Err(error)) => tracing::debug!("TLS handshake with {peer} failed: {error}"),
                    Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                },
                None => serve_connection(stream, service, peer, &limits, stopped).await,
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let everyone = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(6), slots.acquire_many(everyone)).await;
    Ok(())
}

async fn serve_connection<S>(
    stream: S,
    service: Router,
    peer: SocketAddr,
    limits: &Limits,
    mut stopped: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = hyper_util::service::TowerToHyperService::new(service);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!("connection from {peer}: {error}");
            }
        }
        () = async { let _ = stopped.wait_for(|stop| *stop).await.map(|_| ()); } => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
        }
    }
}

/// Open connections per peer, each held by a [`PeerSlot`] for as long as it lives.
#[derive(Debug)]
struct PeerConnections {
    most: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

struct PeerSlot {
    peer: IpAddr,
    connections: Arc<PeerConnections>,
}

impl PeerConnections {
    fn new(most: usize) -> Self {
        Self {
            most: most.max(1),
            open: Mutex::default(),
        }
    }

    /// A slot for one more connection of `address`'s peer, or None when it holds its share.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<PeerSlot> {
        let peer = super::peer::peer_key(address);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(peer).or_insert(0);
        if *count >= self.most {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peer,
            connections: Arc::clone(self),
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.open.lock() {
            if let Some(count) = open.get_mut(&self.peer) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.peer);
                }
            }
        }
    }
}

/// Holds every request body to [`BodyRate`]; a body that falls behind ends the request
/// with 408, which kiosks treat as "retry later" (their records stay queued).
async fn minimum_body_rate(rate: BodyRate, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let too_slow = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::new(MinimumRate::new(body, rate, Arc::clone(&too_slow)));
    let response = next.run(axum::extract::Request::from_parts(parts, body)).await;
    if too_slow.load(Ordering::SeqCst) {
        return crate::hub::state::error(
            StatusCode::REQUEST_TIMEOUT,
            "the request arrived too slowly: check the network and try again",
        );
    }
    response
}

/// A request body that fails once it arrives slower than its [`BodyRate`].
struct MinimumRate {
    inner: Body,
    rate: BodyRate,
    started: Instant,
    received: u64,
    deadline: Pin<Box<Sleep>>,
    too_slow: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body arrived slower than {0} bytes per second")]
struct BodyTooSlow(u64);

impl MinimumRate {
    fn new(inner: Body, rate: BodyRate, too_slow: Arc<AtomicBool>) -> Self {
        let started = Instant::now();
        Self {
            inner,
            rate,
            started,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(started + rate.grace)),
            too_slow,
        }
    }

    /// When the body has fallen behind if nothing more arrives.
    fn deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / self.rate.bytes_per_second.max(1) as f64);
        self.started + self.rate.grace + earned
    }
}

impl http_body::Body for MinimumRate {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received = self.received.saturating_add(data.len() as u64);
                    let deadline = self.deadline();
                    self.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(failure))) => Poll::Ready(Some(Err(failure.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(context) {
                Poll::Ready(()) => {
                    self.too_slow.store(true, Ordering::SeqCst);
                    Poll::Ready(Some(Err(BodyTooSlow(self.rate.bytes_per_second).into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_holds_at_most_its_share_and_gets_it_back() {
        let connections = Arc::new(PeerConnections::new(2));
        let laptop: IpAddr = "192.0.2.10".parse().unwrap();
        let first = connections.admit(laptop).unwrap();
        let _second = connections.admit(laptop).unwrap();
        assert!(connections.admit(laptop).is_none());
        let other_v6: IpAddr = "2001:db8::1".parse().unwrap();
        let same_host_v6: IpAddr = "2001:db8::2".parse().unwrap();
        let _a = connections.admit(other_v6).unwrap();
        let _b = connections.admit(same_host_v6).unwrap();
        assert!(connections.admit(other_v6).is_none(), "one /64 is one peer");
        drop(first);
        assert!(connections.admit(laptop).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_body_fails_after_the_grace_and_a_steady_one_passes() {
        use http_body_util::BodyExt;
        let rate = BodyRate {
            grace: Duration::from_secs(10),
            bytes_per_second: 1000,
        };
        // One byte every 5 s: behind the rate once the grace is over.
        let (sender, receiver) =
            tokio::sync::mpsc::channel::<Result<http_body::Frame<axum::body::Bytes>, std::io::Error>>(1);
        tokio::spawn(async move {
            loop {
                if sender
                    .send(Ok(http_body::Frame::data(axum::body::Bytes::from_static(b"x"))))
                    .await
                    .is_err()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let too_slow = Arc::new(AtomicBool::new(false));
        let trickle = Body::new(http_body_util::StreamBody::new(tokio_stream_from(receiver)));
        let started = Instant::now();
        let failed = MinimumRate::new(trickle, rate, Arc::clone(&too_slow)).collect().await;
        assert!(failed.is_err());
        assert!(too_slow.load(Ordering::SeqCst));
        assert!(
            Instant::now() - started <= Duration::from_secs(11),
            "{:?}",
            Instant::now() - started
        );

        // 2,000 bytes a second for 20 s: ahead of the rate all the way.
        let (sender, receiver) =
            tokio::sync::mpsc::channel::<Result<http_body::Frame<axum::body::Bytes>, std::io::Error>>(1);
        tokio::spawn(async move {
            for _ in 0..20 {
                let chunk = axum::body::Bytes::from(vec![b'y'; 2000]);
                if sender.send(Ok(http_body::Frame::data(chunk))).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let too_slow = Arc::new(AtomicBool::new(false));
        let steady = Body::new(http_body_util::StreamBody::new(tokio_stream_from(receiver)));
        let body = MinimumRate::new(steady, rate, Arc::clone(&too_slow))
            .collect()
            .await
            .unwrap();
        assert_eq!(body.to_bytes().len(), 40_000);
        assert!(!too_slow.load(Ordering::SeqCst));
    }

    /// An mpsc receiver as a stream of body frames.
    fn tokio_stream_from<T>(mut receiver: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
        futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
    }
}
