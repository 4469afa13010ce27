//! A TCP proxy in front of a server whose connections a test can cut: a
//! network blip made real. Cutting closes every open connection under the
//! client (both sockets dropped) and closes new ones at once until restored.
//! It keeps the first bytes each connection sent (an HTTP request's head),
//! so a test can wait for a given request to arrive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy; its accept loop ends when it is dropped.
pub struct Blip {
    /// Where clients connect.
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    /// Connections accepted while open.
    pub accepted: Arc<AtomicUsize>,
    /// The first bytes each way of each connection accepted while open,
    /// in order.
    heads: watch::Sender<Vec<Head>>,
    task: tokio::task::JoinHandle<()>,
}

impl Blip {
    /// A proxy to `target`, open.
    pub async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicUsize::new(0));
        let cuts = watch::Sender::new(0u64);
        let heads = watch::Sender::new(Vec::new());
        let task = tokio::spawn({
            let (open, accepted, cuts, heads) =
                (open.clone(), accepted.clone(), cuts.clone(), heads.clone());
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    if !open.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let mut cut = cuts.subscribe();
                    let seen = *cut.borrow_and_update();
                    let heads = heads.clone();
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let (mut client, mut server) = (client, server);
                        tokio::select! {
                            () = relay(&mut client, &mut server, &heads) => {}
                            _ = cut.wait_for(|n| *n != seen) => {}
                        }
                    });
                }
            }
        });
        Self {
            addr,
            open,
            cuts,
            accepted,
            heads,
            task,
        }
    }

    /// Waits until, on a connection after the first `skip` ones, the client
    /// sent first bytes `request` accepts and the server has answered.
    pub async fn wait_for_answered(&self, skip: usize, request: impl Fn(&str) -> bool) {
        let mut heads = self.heads.subscribe();
        let _ = heads
            .wait_for(|heads| {
                heads
                    .iter()
                    .skip(skip)
                    .any(|head| head.answered && request(&head.request))
            })
            .await;
    }

    /// How many connections have sent their first bytes so far.
    pub fn heads_seen(&self) -> usize {
        self.heads.borrow().len()
    }

    /// Closes every open connection and refuses new ones until [`Blip::restore`].
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// The proxy's WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

/// What one connection began with.
#[derive(Debug, Default)]
struct Head {
    /// The client's first bytes (an HTTP request's head, say).
    request: String,
    /// The server has sent its first bytes back.
    answered: bool,
}

/// Copies both ways between `client` and `server` until both ends close,
/// noting in `heads` the client's first bytes and when the server answers.
async fn relay(client: &mut TcpStream, server: &mut TcpStream, heads: &watch::Sender<Vec<Head>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = [0u8; 4096];
    let Ok(n) = client.peek(&mut first).await else {
        return;
    };
    let mut index = 0;
    heads.send_modify(|heads| {
        index = heads.len();
        heads.push(Head {
            request: String::from_utf8_lossy(&first[..n]).into_owned(),
            answered: false,
        });
    });
    let (mut client_reader, mut client_writer) = client.split();
    let (mut server_reader, mut server_writer) = server.split();
    let upstream = async {
        let _ = tokio::io::copy(&mut client_reader, &mut server_writer).await;
        let _ = server_writer.shutdown().await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; 16 << 10];
        let mut noted = false;
        loop {
            let n = match server_reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client_writer.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            if !noted {
                noted = true;
                heads.send_modify(|heads| heads[index].answered = true);
            }
        }
        let _ = client_writer.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

impl Drop for Blip {
    fn drop(&mut self) {
        self.task.abort();
        self.cuts.send_modify(|n| *n += 1);
    }
}
