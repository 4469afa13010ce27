//! The fake Kubernetes API server over real HTTP/1 on loopback, for what
//! cannot be handed a mock client: the `toolwire` binary, which reads a
//! kubeconfig. Ordinary requests go to the fake's handler; a port-forward
//! upgrade is relayed byte for byte to the fake's port-forward server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::fake_cluster::BoxBody;

/// Serves `handler` on `127.0.0.1:<free port>` until `down`; returns the address.
pub async fn serve<H, F>(
    handler: H,
    forward_addr: SocketAddr,
    down: CancellationToken,
) -> SocketAddr
where
    H: Fn(Request<kube::client::Body>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<BoxBody>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("fake API over HTTP");
    let addr = listener.local_addr().expect("fake API over HTTP");
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(_) => return,
                },
                () = down.cancelled() => return,
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handle(handler, request, forward_addr).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn handle<H, F>(
    handler: H,
    request: Request<hyper::body::Incoming>,
    forward_addr: SocketAddr,
) -> Response<BoxBody>
where
    H: Fn(Request<kube::client::Body>) -> F,
    F: Future<Output = Response<BoxBody>>,
{
    if request.uri().path().ends_with("/portforward") {
        return relay_upgrade(request, forward_addr).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    handler(Request::from_parts(parts, kube::client::Body::from(bytes))).await
}

/// Sends the upgrade request on to the port-forward server and, when both
/// sides switch protocols, copies bytes between them.
async fn relay_upgrade(
    mut request: Request<hyper::body::Incoming>,
    forward_addr: SocketAddr,
) -> Response<BoxBody> {
    let from_client = hyper::upgrade::on(&mut request);
    let path = request.uri().path_and_query().expect("a path").as_str();
    let mut response = send_upgrade(request.method(), path, request.headers(), forward_addr).await;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let from_server = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            if let (Ok(client), Ok(server)) = (from_client.await, from_server.await) {
                let _ = tokio::io::copy_bidirectional(
                    &mut TokioIo::new(client),
                    &mut TokioIo::new(server),
                )
                .await;
            }
        });
    }
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Empty::new().map_err(Into::into).boxed())
}

/// Sends an upgrade request to the fake's port-forward server over a new
/// HTTP/1 connection, so the 101 it returns can be upgraded.
pub async fn send_upgrade(
    method: &http::Method,
    path_and_query: &str,
    headers: &http::HeaderMap,
    forward_addr: SocketAddr,
) -> Response<hyper::body::Incoming> {
    let tcp = tokio::net::TcpStream::connect(forward_addr)
        .await
        .expect("fake port-forward");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("fake port-forward");
    tokio::spawn(connection.with_upgrades());
    let mut forward = Request::builder().method(method).uri(path_and_query);
    for (key, value) in headers {
        if key != http::header::HOST {
            forward = forward.header(key, value);
        }
    }
    let forward = forward
        .header(http::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .expect("fake port-forward");
    sender
        .send_request(forward)
        .await
        .expect("fake port-forward")
}
