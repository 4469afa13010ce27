//! The core call path: RemoteExecutor -> WsTransport -> ToolServer -> LocalExecutor.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestServer, within};
use serde_json::json;
use toolwire::server::ServerConfig;
use toolwire::{CallError, Executor, PeerConfig, RemoteExecutor, ToolRequest};

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn lists_tools_and_runs_a_call() {
    let server = TestServer::start().await;
    let executor = RemoteExecutor::new(Arc::new(server.connect().await));
    let tools = within(LIMIT, "tools", executor.tools())
        .await
        .expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["echo", "fail", "guarded", "panic", "question", "sleep"]
    );
    let echo = tools.iter().find(|t| t.name == "echo").expect("echo");
    assert_eq!(echo.input_schema["required"], json!(["text"]));
    assert_eq!(
        echo.input_schema["properties"]["text"]["description"],
        "Text to return unchanged."
    );

    let response = within(
        LIMIT,
        "echo",
        executor.execute(ToolRequest::new("echo", json!({"text": "hi"}))),
    )
    .await
    .expect("answer");
    assert_eq!(response.output, "hi");
    assert!(!response.is_error);
}

#[tokio::test]
async fn a_failing_or_panicking_tool_is_data_and_the_connection_lives_on() {
    let server = TestServer::start().await;
    let executor = RemoteExecutor::new(Arc::new(server.connect().await));
    let failed = within(
        LIMIT,
        "fail",
        executor.execute(ToolRequest::new("fail", json!({}))),
    )
    .await
    .expect("answer");
    assert!(failed.is_error);
    assert_eq!(failed.output, "Error: disk on fire");

    let panicked = within(
        LIMIT,
        "panic",
        executor.execute(ToolRequest::new("panic", json!({}))),
    )
    .await
    .expect("answer");
    assert!(panicked.is_error);
    assert!(
        panicked.output.contains("tool exploded"),
        "{}",
        panicked.output
    );

    let unknown = within(
        LIMIT,
        "unknown",
        executor.execute(ToolRequest::new("nope", json!({}))),
    )
    .await
    .expect("answer");
    assert!(unknown.is_error);
    assert!(unknown.output.contains("nope"), "{}", unknown.output);

    let ok = within(
        LIMIT,
        "echo",
        executor.execute(ToolRequest::new("echo", json!({"text": "still here"}))),
    )
    .await
    .expect("answer");
    assert_eq!(ok.output, "still here");
}

#[tokio::test]
async fn input_that_breaks_the_schema_names_the_field_and_the_tool_never_runs() {
    let server = TestServer::start().await;
    let executor = RemoteExecutor::new(Arc::new(server.connect().await));
    let missing = within(
        LIMIT,
        "missing",
        executor.execute(ToolRequest::new("echo", json!({}))),
    )
    .await
    .expect("answer");
    assert!(missing.is_error);
    assert!(missing.output.contains("\"text\""), "{}", missing.output);

    let wrong_type = within(
        LIMIT,
        "wrong type",
        executor.execute(ToolRequest::new("sleep", json!({"ms": "soon"}))),
    )
    .await
    .expect("answer");
    assert!(wrong_type.is_error);
    assert!(
        wrong_type.output.contains("field `ms`"),
        "{}",
        wrong_type.output
    );
    assert_eq!(server.sleep.started.get(), 0, "the tool must not run");
}

#[tokio::test]
async fn sixty_four_concurrent_200ms_calls_on_one_connection_finish_together() {
    let server = TestServer::start().await;
    let executor = Arc::new(RemoteExecutor::new(Arc::new(server.connect().await)));
    let started = Instant::now();
    let calls = (0..64).map(|_| {
        let executor = executor.clone();
        async move {
            executor
                .execute(ToolRequest::new("sleep", json!({"ms": 200})))
                .await
        }
    });
    let results = within(LIMIT, "64 calls", futures::future::join_all(calls)).await;
    let elapsed = started.elapsed();
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.output == "slept 200 ms"))
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "64 x 200 ms took {elapsed:?}"
    );
}

#[tokio::test]
async fn over_the_in_flight_limit_calls_are_refused_at_once_as_busy() {
    let server = TestServer::start_with(ServerConfig::default().max_in_flight(2)).await;
    let transport = Arc::new(server.connect().await);
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move { t.send(ToolRequest::new("sleep", json!({"ms": 500}))).await })
        })
        .collect();
    // Wait until both run, observed by the tool, not by sleeping.
    within(LIMIT, "two calls running", async {
        server.sleep.started.reached(2).await;
    })
    .await;
    let started = Instant::now();
    let busy = transport
        .send(ToolRequest::new("echo", json!({"text": "x"})))
        .await
        .expect("answer");
    assert!(busy.is_error && busy.output.starts_with("busy"), "{busy:?}");
    assert!(started.elapsed() < Duration::from_millis(300));
    for call in slow {
        let done = within(LIMIT, "slow call", call)
            .await
            .expect("join")
            .expect("answer");
        assert_eq!(done.output, "slept 500 ms");
    }
}

#[tokio::test]
async fn a_client_timeout_cancels_the_call_on_the_server() {
    let server = TestServer::start().await;
    let transport = server
        .connect_with(PeerConfig::default().call_timeout(Duration::from_millis(200)))
        .await;
    let started = Instant::now();
    let result = transport
        .send(ToolRequest::new("sleep", json!({"ms": 30_000})))
        .await;
    assert!(
        matches!(result, Err(CallError::TimedOut { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    within(LIMIT, "the tool to see its cancellation", async {
        server.sleep.cancelled.reached(1).await;
    })
    .await;
}

#[tokio::test]
async fn the_server_call_timeout_stops_the_tool_and_answers() {
    let server =
        TestServer::start_with(ServerConfig::default().call_timeout(Duration::from_millis(200)))
            .await;
    let transport = server.connect().await;
    let started = Instant::now();
    let response = within(
        LIMIT,
        "timed out call",
        transport.send(ToolRequest::new("sleep", json!({"ms": 30_000}))),
    )
    .await
    .expect("answer");
    assert!(response.is_error);
    assert_eq!(response.output, "tool call timed out after 200 ms");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        server.sleep.cancelled.get(),
        1,
        "the tool saw the cancellation"
    );
}

#[tokio::test]
async fn dropping_the_connection_cancels_its_calls() {
    let server = TestServer::start().await;
    let transport = Arc::new(server.connect().await);
    let call = {
        let t = transport.clone();
        tokio::spawn(async move {
            t.send(ToolRequest::new("sleep", json!({"ms": 30_000})))
                .await
        })
    };
    within(LIMIT, "call running", async {
        server.sleep.started.reached(1).await;
    })
    .await;
    transport.close().await;
    let result = within(LIMIT, "pending call to fail", call)
        .await
        .expect("join");
    assert!(result.is_err(), "{result:?}");
    within(LIMIT, "the tool to see its cancellation", async {
        server.sleep.cancelled.reached(1).await;
    })
    .await;
}

#[tokio::test]
async fn server_shutdown_answers_or_cancels_in_flight_calls_promptly() {
    let mut server =
        TestServer::start_with(ServerConfig::default().shutdown_grace(Duration::from_millis(300)))
            .await;
    let transport = Arc::new(server.connect().await);
    let short = {
        let t = transport.clone();
        tokio::spawn(async move { t.send(ToolRequest::new("sleep", json!({"ms": 100}))).await })
    };
    let long = {
        let t = transport.clone();
        tokio::spawn(async move {
            t.send(ToolRequest::new("sleep", json!({"ms": 60_000})))
                .await
        })
    };
    within(LIMIT, "calls running", async {
        server.sleep.started.reached(2).await;
    })
    .await;
    let started = Instant::now();
    let serve = server.begin_shutdown();
    let short = within(LIMIT, "short call", short)
        .await
        .expect("join")
        .expect("answer");
    assert_eq!(
        short.output, "slept 100 ms",
        "a call within the grace period finishes"
    );
    let long = within(LIMIT, "long call", long)
        .await
        .expect("join")
        .expect("answer");
    assert!(long.is_error);
    assert!(long.output.contains("shutting down"), "{}", long.output);
    within(LIMIT, "serve to return", serve).await.expect("join");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    // After shutdown the client learns at once that the connection is gone.
    let after = within(
        LIMIT,
        "call after shutdown",
        transport.send(ToolRequest::new("echo", json!({"text": "x"}))),
    )
    .await;
    assert!(
        matches!(after, Err(CallError::ConnectionLost { .. })),
        "{after:?}"
    );
}

#[tokio::test]
async fn active_tools_filter_both_the_list_and_the_requests_and_survive_a_reconnect() {
    let server = TestServer::start().await;
    let executor = RemoteExecutor::new(Arc::new(server.connect().await));
    executor
        .set_active_tools(vec!["echo".into()])
        .await
        .expect("ack");
    let tools = executor.tools().await.expect("tools");
    assert_eq!(
        tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["echo"]
    );
    let refused = executor
        .execute(ToolRequest::new("sleep", json!({"ms": 1})))
        .await
        .expect("answer");
    assert!(refused.is_error);
    assert_eq!(refused.output, "tool \"sleep\" not available");
    assert_eq!(server.sleep.started.get(), 0);

    // State belongs to the server, not the connection.
    executor.close().await;
    let again = RemoteExecutor::new(Arc::new(server.connect().await));
    let tools = again.tools().await.expect("tools");
    assert_eq!(tools.len(), 1);
}
