//! Many connect/call/close cycles leave nothing behind: file descriptors and
//! runtime tasks come back to where they were.

mod common;

use std::time::Duration;

use common::{TestServer, within};
use serde_json::json;
use toolwire::ToolRequest;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_call_close_cycles_stay_flat() {
    let server = TestServer::start().await;
    // Warm up: the first connection allocates lazily created state.
    let warm = server.connect().await;
    warm.send(ToolRequest::new("echo", json!({"text": "warm"})))
        .await
        .expect("answer");
    warm.close().await;
    let mut sessions = server.sessions();
    within(
        Duration::from_secs(5),
        "the warm-up session to end",
        sessions.wait_for(|n| *n == 0),
    )
    .await
    .expect("the server lives");
    let metrics = tokio::runtime::Handle::current().metrics();
    let (fds_before, tasks_before) = (open_fds(), metrics.num_alive_tasks());

    for i in 0..300 {
        let transport = server.connect().await;
        let reply = within(
            Duration::from_secs(5),
            "call",
            transport.send(ToolRequest::new("echo", json!({"text": i.to_string()}))),
        )
        .await
        .expect("answer");
        assert_eq!(reply.output, i.to_string());
        if i % 2 == 0 {
            transport.close().await;
        } else {
            drop(transport); // dropped without a close handshake
        }
    }
    // Server sessions end asynchronously: wait for the server to say all
    // have ended, then for their tasks to be reaped by the runtime.
    within(
        Duration::from_secs(10),
        "sessions to end",
        sessions.wait_for(|n| *n == 0),
    )
    .await
    .expect("the server lives");
    within(
        Duration::from_secs(10),
        "tasks and fds to come back",
        async {
            while open_fds() > fds_before + 2 || metrics.num_alive_tasks() > tasks_before + 2 {
                tokio::task::yield_now().await;
            }
        },
    )
    .await;
}
