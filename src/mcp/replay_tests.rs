use std::time::Duration;

use futures::StreamExt;
use rmcp::model::{
    CallToolResult, ContentBlock, Notification, NumberOrString, ProgressNotificationParam,
    ProgressToken, ServerJsonRpcMessage, ServerNotification, ServerResult,
};
use rmcp::transport::streamable_http_server::session::{EventStore, ServerSseMessage};

use super::{EVENTS_PER_STREAM, LIVE_BACKLOG, MAX_STREAMS, ReplayStore};

fn priming() -> ServerSseMessage {
    ServerSseMessage::priming("", Duration::from_secs(3))
}

fn progress(n: f64) -> ServerSseMessage {
    ServerSseMessage::from_message(ServerJsonRpcMessage::notification(
        ServerNotification::ProgressNotification(Notification::new(
            ProgressNotificationParam::new(ProgressToken(NumberOrString::Number(1)), n),
        )),
    ))
}

fn answer(text: &str) -> ServerSseMessage {
    ServerSseMessage::from_message(ServerJsonRpcMessage::response(
        ServerResult::CallToolResult(CallToolResult::success(vec![ContentBlock::text(text)])),
        NumberOrString::Number(1),
    ))
}

/// The events a stream gives, as progress numbers, "priming" or the
/// answer's text.
fn describe(event: &ServerSseMessage) -> String {
    match event.message.as_deref() {
        None => "priming".to_owned(),
        Some(ServerJsonRpcMessage::Notification(notification)) => {
            match &notification.notification {
                ServerNotification::ProgressNotification(progress) => {
                    format!("progress {}", progress.params.progress)
                }
                other => format!("{other:?}"),
            }
        }
        Some(ServerJsonRpcMessage::Response(response)) => match &response.result {
            ServerResult::CallToolResult(result) => result
                .content
                .iter()
                .filter_map(|block| block.as_text().map(|text| text.text.clone()))
                .collect(),
            other => format!("{other:?}"),
        },
        Some(other) => format!("{other:?}"),
    }
}

async fn store(store: &ReplayStore, stream: &str, event: ServerSseMessage) -> String {
    store.store_event(stream, &event).await.expect("stored")
}

fn refusal(
    result: Result<impl Sized, rmcp::transport::streamable_http_server::session::EventStoreError>,
) -> String {
    match result {
        Ok(_) => panic!("the resume was not refused"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_stream_resumes_after_its_call_ended_with_every_event_after_the_id() {
    let replay = ReplayStore::default();
    let first = store(&replay, "s1", priming()).await;
    store(&replay, "s1", progress(1.0)).await;
    store(&replay, "other", progress(9.0)).await;
    store(&replay, "s1", answer("done")).await;

    let resumed: Vec<_> = replay
        .replay_events_after(&first)
        .await
        .expect("resumable")
        .collect()
        .await;
    let described: Vec<_> = resumed.iter().map(describe).collect();
    assert_eq!(described, ["progress 1", "done"]);
    // Each event carries its own id, so the client can resume again from it.
    let again: Vec<_> = replay
        .replay_events_after(resumed[0].event_id.as_deref().expect("an id"))
        .await
        .expect("resumable")
        .map(|event| describe(&event))
        .collect()
        .await;
    assert_eq!(again, ["done"]);
}

#[tokio::test]
async fn a_resumed_stream_of_a_running_call_goes_on_live_until_the_answer() {
    let replay = ReplayStore::default();
    let first = store(&replay, "s1", priming()).await;
    let mut resumed = replay.replay_events_after(&first).await.expect("resumable");
    store(&replay, "s1", progress(1.0)).await;
    store(&replay, "s1", answer("done")).await;
    // Events after the answer belong to no call: the stream has ended.
    store(&replay, "s1", progress(2.0)).await;
    let mut described = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(5), resumed.next())
        .await
        .expect("the stream ends after the answer")
    {
        described.push(describe(&event));
    }
    assert_eq!(described, ["progress 1", "done"]);
}

#[tokio::test]
async fn ids_it_did_not_give_out_are_refused() {
    let replay = ReplayStore::default();
    store(&replay, "s1", priming()).await;
    for id in ["", "garbage", "s1/", "s1/x", "s1/7", "nope/0", "/0"] {
        let message = refusal(replay.replay_events_after(id).await);
        assert!(
            message.contains(&format!("`{id}`")),
            "{id:?} refused with: {message}"
        );
    }
}

#[tokio::test]
async fn a_stream_keeps_its_newest_events_and_refuses_a_resume_from_before_them() {
    let replay = ReplayStore::default();
    let first = store(&replay, "s1", priming()).await;
    let mut ids = Vec::new();
    for n in 0..EVENTS_PER_STREAM + 10 {
        ids.push(store(&replay, "s1", progress(n as f64)).await);
    }
    let message = refusal(replay.replay_events_after(&first).await);
    assert!(message.contains("no longer kept"), "{message}");
    // From the oldest kept event's predecessor on, nothing is skipped.
    let oldest_kept = ids.len() - EVENTS_PER_STREAM;
    let mut resumed = replay
        .replay_events_after(&ids[oldest_kept - 1])
        .await
        .expect("resumable");
    store(&replay, "s1", answer("done")).await;
    let mut count = 0;
    while let Some(_event) = resumed.next().await {
        count += 1;
    }
    assert_eq!(count, EVENTS_PER_STREAM + 1);
}

#[tokio::test]
async fn the_oldest_streams_go_beyond_the_bound() {
    let replay = ReplayStore::default();
    let oldest = store(&replay, "stream-0", answer("first")).await;
    for n in 1..=MAX_STREAMS {
        store(&replay, &format!("stream-{n}"), answer("later")).await;
    }
    let message = refusal(replay.replay_events_after(&oldest).await);
    assert!(message.contains("no longer kept"), "{message}");
    let streams = replay.lock();
    assert_eq!(streams.by_id.len(), MAX_STREAMS);
    assert_eq!(streams.order.len(), MAX_STREAMS);
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_cut_off_not_buffered_without_end() {
    let replay = ReplayStore::default();
    let first = store(&replay, "s1", priming()).await;
    let resumed = replay.replay_events_after(&first).await.expect("resumable");
    for n in 0..LIVE_BACKLOG + 50 {
        store(&replay, "s1", progress(n as f64)).await;
    }
    assert!(
        replay.lock().by_id["s1"].readers.is_empty(),
        "the slow reader was dropped"
    );
    // What it got is a prefix: it resumes from its last event to get the rest.
    let got: Vec<_> = resumed.collect().await;
    assert_eq!(got.len(), LIVE_BACKLOG);
    let last = got.last().and_then(|e| e.event_id.clone()).expect("an id");
    let rest: Vec<_> = {
        let mut rest = replay.replay_events_after(&last).await.expect("resumable");
        store(&replay, "s1", answer("done")).await;
        let mut collected = Vec::new();
        while let Some(event) = rest.next().await {
            collected.push(describe(&event));
        }
        collected
    };
    assert_eq!(rest.len(), 50 + 1);
    assert_eq!(rest.last().map(String::as_str), Some("done"));
}

#[tokio::test]
async fn a_running_call_keeps_its_stream_while_ended_ones_make_room() {
    let replay = ReplayStore::default();
    let running = store(&replay, "running", priming()).await;
    for n in 0..MAX_STREAMS + 10 {
        store(&replay, &format!("ended-{n}"), answer("done")).await;
    }
    let mut resumed = replay
        .replay_events_after(&running)
        .await
        .expect("the running call's stream is kept");
    store(&replay, "running", answer("mine")).await;
    let event = resumed.next().await.expect("the answer");
    assert_eq!(describe(&event), "mine");
    assert_eq!(replay.lock().by_id.len(), MAX_STREAMS);
}

#[tokio::test]
async fn its_debug_shows_counts_not_what_tools_printed() {
    let replay = ReplayStore::default();
    store(&replay, "s1", answer("secret-output")).await;
    let shown = format!("{replay:?}");
    assert!(shown.contains("streams: 1"), "{shown}");
    assert!(!shown.contains("secret-output"), "{shown}");
}
