//! A real HTTP service on 127.0.0.1:0 that records every request it
//! receives: `/api/fail` answers 503, `/api/big` 3 MiB, anything else 200
//! with an echo of what it got (path, query, headers).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;

/// One request as the service received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Default)]
pub struct Service {
    pub received: Mutex<Vec<Received>>,
}

async fn record(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
            .collect(),
        body,
    };
    service
        .received
        .lock()
        .expect("lock")
        .push(received.clone());
    match uri.path() {
        "/api/fail" => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("overloaded: try later {}", "x".repeat(2000)),
        ),
        "/api/big" => (StatusCode::OK, "y".repeat(3 << 20)),
        _ => (
            StatusCode::OK,
            json!({
                "echo": {"path": received.path, "query": received.query, "headers": received.headers}
            })
            .to_string(),
        ),
    }
}

/// The service, and its base URL.
pub async fn service() -> (Arc<Service>, String, tokio::task::JoinHandle<()>) {
    let service = Arc::new(Service::default());
    let app = axum::Router::new()
        .fallback(record)
        .with_state(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (service, url, task)
}
