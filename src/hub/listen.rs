//! The hub's accept loop: TLS (or, when the organiser asked for it, plain HTTP), a cap on
//! open connections, and timers `axum::serve` does not have: the TLS handshake, the
//! request headers and each whole request must finish in bounded time, so a laptop on the
//! venue Wi-Fi cannot hold the hub's sockets open with half-sent requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Limits of one hub.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// For the TLS handshake.
    pub handshake_timeout: Duration,
    /// For a request's headers (also an idle keep-alive connection's next request).
    pub header_timeout: Duration,
    /// For a whole request, body and answer included (see `server::router`).
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
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
        let _ = stream.set_nodelay(true);
        let service = router.clone().layer(axum::Extension(ConnectInfo(peer)));
        let acceptor = acceptor.clone();
        let limits = limits.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
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
