//! The HTTP side of the server: `/metrics` and the WebSocket upgrade of
//! `/ws` (RFC 6455 done by hand onto tokio-tungstenite), both behind the
//! bearer token.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::{Inner, session};
use crate::transport::WsTransport;

pub(super) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Bearer")],
        "missing or wrong bearer token\n",
    )
        .into_response()
}

pub(super) async fn metrics(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    if !inner.auth.allows(&headers) {
        return unauthorized();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        inner.metrics().encode(),
    )
        .into_response()
}

pub(super) async fn upgrade(State(inner): State<Arc<Inner>>, mut request: Request) -> Response {
    if !inner.auth.allows(request.headers()) {
        return unauthorized();
    }
    let Some(accept) = websocket_accept(request.headers()) else {
        return (
            StatusCode::BAD_REQUEST,
            [("sec-websocket-version", "13")],
            "expected a WebSocket upgrade: GET with Connection: upgrade, \
             Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key\n",
        )
            .into_response();
    };
    if inner.shutting_down.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the tool server is shutting down\n",
        )
            .into_response();
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    let max = inner.config.max_message_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(crate::protocol::READ_BUFFER_BYTES)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    // The session is one of the server's tasks: shutdown waits for it.
    let session_inner = inner.clone();
    inner.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let stream = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                session::run(WsTransport::new(stream), session_inner).await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// The `Sec-WebSocket-Accept` for a valid upgrade request (RFC 6455 §4.2.1),
/// or `None` when the request is not one.
fn websocket_accept(headers: &HeaderMap) -> Option<String> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return None;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION)?.as_bytes() != b"13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()))
}
