//! The floor: what toolwire is measured against in the same run — a raw
//! tokio-tungstenite JSON echo (server and a client of toolwire's shape)
//! and a bare process spawn.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The floor: echoes every text frame back, nothing else.
pub async fn echo_floor_server(listen: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("echo-floor ready on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            // Bytes of binary frames received (the bulk floor).
            let mut bulk = 0u64;
            // Echo everything already received, then flush once: the best a
            // raw echo can do (toolwire's writers batch the same way).
            while let Some(Ok(message)) = stream.next().await {
                let mut pending = Some(message);
                while let Some(message) = pending.take() {
                    let sent = match message {
                        Message::Binary(data) => {
                            bulk += data.len() as u64;
                            Ok(())
                        }
                        Message::Text(text) if text.starts_with(BULK_PREFIX) => {
                            bulk_command(&text, &mut bulk, &mut sink).await
                        }
                        Message::Text(text) => sink.feed(Message::Text(text)).await,
                        _ => Ok(()),
                    };
                    if sent.is_err() {
                        return;
                    }
                    if let Some(Some(Ok(next))) = stream.next().now_or_never() {
                        pending = Some(next);
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Text frames of the bulk floor start with this: `bulk-end` answers the
/// count of binary bytes received; `bulk-send:N` sends N bytes as binary
/// frames of a transfer's chunk size, then `bulk-done`.
pub(super) const BULK_PREFIX: &str = "bulk-";

async fn bulk_command(
    text: &str,
    received: &mut u64,
    sink: &mut futures::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        Message,
    >,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    if text == "bulk-end" {
        sink.send(Message::text(std::mem::take(received).to_string()))
            .await
    } else if let Some(n) = text
        .strip_prefix("bulk-send:")
        .and_then(|n| n.parse::<u64>().ok())
    {
        let chunk = bytes::Bytes::from(vec![7u8; toolwire::protocol::chunk::CHUNK_BYTES]);
        let mut left = n;
        while left > 0 {
            let len = left.min(chunk.len() as u64) as usize;
            sink.feed(Message::Binary(chunk.slice(..len))).await?;
            left -= len as u64;
        }
        sink.send(Message::text("bulk-done")).await
    } else {
        Ok(())
    }
}

/// The floor uses the same WebSocket tuning as toolwire, so it stays the
/// best a raw echo can do.
pub(super) fn floor_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(toolwire::protocol::READ_BUFFER_BYTES)
}

pub(super) type FloorSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The floor client has the shape of toolwire's client: a reader task
/// receives, the caller writes its frame itself and waits for the reply. (A
/// single task that sends and then reads was measured 40 µs slower on a
/// current-thread runtime, which would flatter toolwire.)
pub(super) struct FloorClient {
    sink: futures::stream::SplitSink<FloorSocket, Message>,
    replies: tokio::sync::mpsc::UnboundedReceiver<String>,
    _reader: tokio_util::task::AbortOnDropHandle<()>,
}

impl FloorClient {
    pub(super) fn new(socket: FloorSocket) -> Self {
        let (sink, mut stream) = socket.split();
        let (sender, replies) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message
                    && sender.send(text.to_string()).is_err()
                {
                    return;
                }
            }
        });
        Self {
            sink,
            replies,
            _reader: tokio_util::task::AbortOnDropHandle::new(reader),
        }
    }
}

impl FloorClient {
    /// One round trip of `frame` through the raw echo.
    pub(super) async fn round_trip(&mut self, frame: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.sink.send(Message::text(frame.to_owned())).await?;
        let reply = self.replies.recv().await.context("floor closed")?;
        let _: Value = serde_json::from_str(&reply)?;
        Ok(started.elapsed())
    }
}

pub(super) async fn floor_latency(
    floor: &mut FloorClient,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let frame = echo_frame(i as u64);
        let started = Instant::now();
        floor.sink.send(Message::text(frame)).await?;
        let reply = floor.replies.recv().await.context("floor closed")?;
        let _: Value = serde_json::from_str(&reply)?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// Time for `total` echoes through the raw echo with `IN_FLIGHT` outstanding.
pub(super) async fn floor_rate(socket: FloorSocket, total: usize) -> anyhow::Result<Duration> {
    let (mut sink, mut stream) = socket.split();
    // At most IN_FLIGHT frames outstanding, as for the toolwire measurement.
    let window = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let writer = {
        let window = window.clone();
        tokio::spawn(async move {
            // Feed frames while the window has room; flush when it is full.
            let (mut i, mut unflushed) = (0, false);
            while i < total {
                let permit = if unflushed {
                    window.try_acquire().ok()
                } else {
                    window.acquire().await.ok()
                };
                match permit {
                    Some(permit) => {
                        permit.forget();
                        if sink
                            .feed(Message::text(echo_frame(i as u64)))
                            .await
                            .is_err()
                        {
                            break;
                        }
                        i += 1;
                        unflushed = true;
                    }
                    None if unflushed => {
                        if sink.flush().await.is_err() {
                            break;
                        }
                        unflushed = false;
                    }
                    None => break,
                }
            }
            let _ = sink.flush().await;
            sink
        })
    };
    let mut received = 0;
    while received < total {
        let reply = stream.next().await.context("floor closed")??;
        let _: Value = serde_json::from_str(reply.to_text()?)?;
        window.add_permits(1);
        received += 1;
    }
    let elapsed = started.elapsed();
    let _ = writer.await;
    Ok(elapsed)
}

pub(super) async fn spawn_floor(n: usize) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let status = tokio::process::Command::new("bash")
            .args(["-c", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        samples.push(started.elapsed());
        anyhow::ensure!(status.success());
    }
    Ok(samples)
}
