//! Every call has a tracing span carrying its ids and tool, on the client
//! (`toolwire.call`, info level) and on the server (`call`, debug level), so
//! a tracing subscriber such as an OpenTelemetry exporter can export them.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestServer, within};
use serde_json::json;
use toolwire::ToolRequest;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::Registry;

type Spans = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

/// Records the name and fields of every span opened.
struct SpanLog(Spans);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanLog {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: Context<'_, S>,
    ) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        self.0
            .lock()
            .expect("log")
            .push((attrs.metadata().name().to_owned(), fields.0));
    }
}

#[tokio::test]
async fn each_call_has_a_span_with_its_id_and_tool_on_both_ends() {
    let spans = Spans::default();
    let subscriber = Registry::default().with(SpanLog(spans.clone()));
    // This test's runtime is single-threaded: client and server run here.
    let _default = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await;
    let peer = server.connect().await;
    let mut request = ToolRequest::new("echo", json!({"text": "hi"}));
    request.session_id = "agent-7".into();
    let tool_call_id = request.tool_call_id.clone();
    within(Duration::from_secs(10), "a call", peer.send(request))
        .await
        .expect("an answer");

    let spans = spans.lock().expect("log").clone();
    let with = |name: &str| {
        spans
            .iter()
            .find(|(n, f)| n == name && f.get("tool_call_id") == Some(&tool_call_id))
            .unwrap_or_else(|| panic!("no `{name}` span for the call in {spans:#?}"))
            .1
            .clone()
    };
    let client = with("toolwire.call");
    assert_eq!(client["tool"], "echo");
    assert_eq!(client["session"], "agent-7");
    let server_side = with("call");
    assert_eq!(server_side["tool"], "echo");
    assert!(server_side.contains_key("id"), "{server_side:?}");
}
