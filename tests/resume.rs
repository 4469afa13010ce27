//! Reconnect and resume, with the network cut for real: a TCP proxy between
//! client and server closes the connections under the client and refuses
//! new ones for a while. Calls in flight get their real results once; past
//! the reconnect window they fail with the reason; a session nobody comes
//! back for is ended; a client without `resume` fails at once, as before.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::proxy::Blip;
use common::{TOKEN, TestServer, next_json, send_text, within};
use futures::StreamExt;
use serde_json::json;
use toolwire::metrics::ClientMetrics;
use toolwire::server::ServerConfig;
use toolwire::{CallError, Endpoint, Peer, PeerConfig, ToolRequest, WsConfig};

async fn connect_through(blip: &Blip, config: PeerConfig) -> Peer {
    within(
        Duration::from_secs(5),
        "connect",
        Peer::connect(
            &Endpoint::Url(blip.url()),
            Some(TOKEN),
            &WsConfig::default(),
            config,
        ),
    )
    .await
    .expect("connect")
}

fn sleep_call(ms: u64) -> ToolRequest {
    ToolRequest::new("sleep", json!({ "ms": ms }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_blip_under_64_calls_in_flight_loses_none() {
    const CALLS: u64 = 64;
    let server = TestServer::start().await;
    let blip = Blip::to(server.addr).await;
    let metrics = ClientMetrics::new();
    let peer = connect_through(&blip, PeerConfig::default().metrics(metrics.clone())).await;
    // Half end during the blip (their results are kept for the client),
    // half after it (delivered on the new connection as they end).
    let ms = |n: u64| {
        if n.is_multiple_of(2) {
            1000 + n
        } else {
            3000 + n
        }
    };
    let calls = futures::future::join_all((0..CALLS).map(|n| peer.send(sleep_call(ms(n)))));
    let blip_run = async {
        server.sleep.started.reached(CALLS as usize).await;
        blip.cut();
        let cut_at = Instant::now();
        tokio::time::sleep(Duration::from_secs(2)).await;
        blip.restore();
        cut_at
    };
    let (results, cut_at) = within(
        Duration::from_secs(20),
        "every call to end",
        futures::future::join(calls, blip_run),
    )
    .await;
    let mut outputs = BTreeSet::new();
    for (n, result) in results.into_iter().enumerate() {
        let response = result.unwrap_or_else(|e| panic!("call {n} failed: {e}"));
        assert!(!response.is_error, "call {n}: {}", response.output);
        assert!(
            outputs.insert(response.output.clone()),
            "two calls got the same result"
        );
        assert_eq!(response.output, format!("slept {} ms", ms(n as u64)));
    }
    assert!(
        cut_at.elapsed() >= Duration::from_secs(2),
        "the calls ended after the blip"
    );
    assert_eq!(
        server.sleep.started.get(),
        CALLS as usize,
        "nothing ran twice"
    );
    assert_eq!(server.sleep.cancelled.get(), 0, "no call was stopped");
    let client = metrics.encode();
    assert!(
        client.contains("toolwire_client_reconnects_total 1"),
        "{client}"
    );
    let served = server.shared.metrics.encode();
    assert!(
        served.contains("toolwire_server_sessions_resumed_total 1"),
        "{served}"
    );
    // The peer goes on as before.
    let after = peer
        .send(sleep_call(1))
        .await
        .expect("a call after the resume");
    assert_eq!(after.output, "slept 1 ms");
}

#[tokio::test]
async fn past_the_reconnect_window_calls_fail_with_the_reason() {
    const WINDOW: Duration = Duration::from_secs(1);
    let server = TestServer::start().await;
    let blip = Blip::to(server.addr).await;
    let peer = connect_through(&blip, PeerConfig::default().resume(true, WINDOW)).await;
    let call = peer.send(sleep_call(30_000));
    let cutter = async {
        server.sleep.started.reached(1).await;
        blip.cut();
        Instant::now()
    };
    let (result, cut_at) = within(
        Duration::from_secs(10),
        "the call to fail",
        futures::future::join(call, cutter),
    )
    .await;
    let waited = cut_at.elapsed();
    match &result {
        Err(CallError::ConnectionLost { reason }) => {
            assert!(reason.contains("; no reconnect within 1.0 s ("), "{reason}")
        }
        other => panic!("expected the connection to be lost, got {other:?}"),
    }
    assert!(
        waited >= WINDOW,
        "failed after {waited:?}, before the window ran out"
    );
    assert!(
        waited < WINDOW + Duration::from_secs(1),
        "failed after {waited:?}"
    );
    assert!(peer.is_closed());
}

#[tokio::test]
async fn without_resume_a_lost_connection_fails_the_calls_at_once() {
    let server = TestServer::start().await;
    let blip = Blip::to(server.addr).await;
    let peer = connect_through(
        &blip,
        PeerConfig::default().resume(false, Duration::from_secs(30)),
    )
    .await;
    let call = peer.send(sleep_call(30_000));
    let cutter = async {
        server.sleep.started.reached(1).await;
        blip.cut();
        Instant::now()
    };
    let (result, cut_at) = within(
        Duration::from_secs(10),
        "the call to fail",
        futures::future::join(call, cutter),
    )
    .await;
    assert!(
        matches!(&result, Err(CallError::ConnectionLost { reason }) if !reason.contains("reconnect")),
        "{result:?}"
    );
    assert!(
        cut_at.elapsed() < Duration::from_secs(1),
        "failed after {:?}",
        cut_at.elapsed()
    );
    // The server stopped the call with the session, as for any client that left.
    within(
        Duration::from_secs(5),
        "the call to be stopped",
        server.sleep.cancelled.reached(1),
    )
    .await;
}

#[tokio::test]
async fn a_session_nobody_resumes_is_ended_after_the_grace() {
    const GRACE: Duration = Duration::from_secs(1);
    let server = TestServer::start_with(ServerConfig::default().resume_grace(GRACE)).await;
    let blip = Blip::to(server.addr).await;
    let peer = connect_through(
        &blip,
        PeerConfig::default().resume(true, Duration::from_secs(30)),
    )
    .await;
    let call = tokio::spawn(async move { peer.send(sleep_call(60_000)).await });
    server.sleep.started.reached(1).await;
    let cut_at = Instant::now();
    blip.cut();
    within(
        Duration::from_secs(10),
        "the parked session's call to be stopped",
        server.sleep.cancelled.reached(1),
    )
    .await;
    let stopped_after = cut_at.elapsed();
    assert!(
        stopped_after >= GRACE,
        "stopped {stopped_after:?} after the loss, within the grace"
    );
    let mut sessions = server.sessions();
    within(
        Duration::from_secs(5),
        "no session left",
        sessions.wait_for(|n| *n == 0),
    )
    .await
    .expect("sessions");
    // The client comes back too late: told the session is gone.
    blip.restore();
    let result = within(Duration::from_secs(10), "the call to fail", call)
        .await
        .expect("task");
    match &result {
        Err(CallError::ConnectionLost { reason }) => {
            assert!(reason.contains("no longer had the session"), "{reason}")
        }
        other => panic!("expected the connection to be lost, got {other:?}"),
    }
}

/// The protocol as a client in another language sees it: the session id in
/// `hello`, then on a new connection the requests still waited for — a
/// finished one's result comes again, an unknown one gets an error — and a
/// session id the server does not know starts a new session.
#[tokio::test]
async fn a_resuming_hello_answers_every_request_it_lists() {
    let server = TestServer::start().await;
    let mut first = common::raw_connect(&server).await;
    send_text(
        &mut first,
        r#"{"type":"hello","id":"h1","version":1,"features":["resume"]}"#,
    )
    .await;
    let hello = next_json(&mut first).await;
    let session = hello["resume"]["session"]
        .as_str()
        .expect("a session id")
        .to_owned();
    assert_eq!(hello["resume"]["resumed"], json!(false));
    send_text(
        &mut first,
        r#"{"type":"request","id":"7","request":{"tool_call_id":"c7","tool_name":"echo","input":{"text":"kept"},"session_id":"s"}}"#,
    )
    .await;
    let answer = next_json(&mut first).await;
    assert_eq!(answer["id"], json!("7"));
    // Lost, not closed: the TCP connection just goes.
    drop(first.into_inner());

    let mut second = common::raw_connect(&server).await;
    let resume = json!({
        "type": "hello", "id": "h2", "version": 1, "features": ["resume"],
        "resume": {"session": session, "waiting": ["7", "8"]},
    });
    send_text(&mut second, &resume.to_string()).await;
    let hello = next_json(&mut second).await;
    assert_eq!(hello["resume"]["resumed"], json!(true), "{hello}");
    assert_eq!(hello["resume"]["session"], json!(session));
    let mut answers = [next_json(&mut second).await, next_json(&mut second).await];
    answers.sort_by_key(|a| a["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(answers[0]["id"], json!("7"));
    assert_eq!(answers[0]["response"]["output"], json!("kept"));
    assert_eq!(answers[1]["id"], json!("8"));
    assert!(
        answers[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("lost with the connection")),
        "{}",
        answers[1]
    );

    let mut third = common::raw_connect(&server).await;
    send_text(
        &mut third,
        r#"{"type":"hello","id":"h3","version":1,"features":["resume"],"resume":{"session":"nope","waiting":["1"]}}"#,
    )
    .await;
    let hello = next_json(&mut third).await;
    assert_eq!(hello["resume"]["resumed"], json!(false));
    assert_ne!(hello["resume"]["session"], json!("nope"));
    // Nothing else comes for the unknown session's request.
    let next = tokio::time::timeout(Duration::from_millis(300), third.next()).await;
    assert!(next.is_err(), "unexpected frame {next:?}");
}

/// The client found its connection dead before the server did (both
/// heartbeats fire about together): a resuming `hello` on a new connection
/// stops the old one and takes the session over, its running call included.
#[tokio::test]
async fn a_resume_takes_over_a_session_the_server_still_thinks_connected() {
    let server = TestServer::start().await;
    let mut old = common::raw_connect(&server).await;
    send_text(
        &mut old,
        r#"{"type":"hello","id":"h1","version":1,"features":["resume"]}"#,
    )
    .await;
    let session = next_json(&mut old).await["resume"]["session"]
        .as_str()
        .expect("a session id")
        .to_owned();
    send_text(
        &mut old,
        r#"{"type":"request","id":"1","request":{"tool_call_id":"c1","tool_name":"sleep","input":{"ms":300},"session_id":"s"}}"#,
    )
    .await;
    server.sleep.started.reached(1).await;

    // The old connection stays open; the client moves on.
    let mut new = common::raw_connect(&server).await;
    let resume = json!({
        "type": "hello", "id": "h2", "version": 1, "features": ["resume"],
        "resume": {"session": session, "waiting": ["1"]},
    });
    send_text(&mut new, &resume.to_string()).await;
    let hello = next_json(&mut new).await;
    assert_eq!(hello["resume"]["resumed"], json!(true), "{hello}");
    let answer = next_json(&mut new).await;
    assert_eq!(answer["id"], json!("1"));
    assert_eq!(answer["response"]["output"], json!("slept 300 ms"));
    assert_eq!(server.sleep.cancelled.get(), 0, "the call ran on");
    // The server let the old connection go.
    within(Duration::from_secs(5), "the old connection to end", async {
        loop {
            match old.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_)) | None => {
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}
