//! [`Journal`]: the handle calls record through. Recording never waits: a
//! record goes into a bounded queue (a full queue drops it and counts the
//! drop), and one writer thread, which the journal owns, commits what it
//! finds in the queue as one transaction per batch.
//!
//! A call in flight is queued as a shared [`PendingRecord`], at most once
//! at a time: the writer writes whatever state the call is in when it gets
//! to it. A call that ends before the writer took its start is therefore
//! written once, with its end, and a record is never copied to be queued.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::record::CallRecord;
use super::store;
use crate::metrics::ClientMetrics;

/// How a [`Journal`] writes. Every field has a documented default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JournalConfig {
    /// Records waiting for the writer at most; one more is dropped (and
    /// counted) instead of waiting. Default 8192 (the writer takes the
    /// queue every 5 ms at least; at 200k calls/s about 1000 gather).
    pub queue_capacity: usize,
    /// Records committed in one transaction at most. Default 1024.
    pub batch_max: usize,
    /// Longest answer stored, in bytes; a longer one is cut and marked.
    /// Default 64 KiB.
    pub response_cap: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 8192,
            batch_max: 1024,
            response_cap: 64 << 10,
        }
    }
}

impl JournalConfig {
    /// Sets [`JournalConfig::queue_capacity`].
    #[must_use]
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }
    /// Sets [`JournalConfig::response_cap`].
    #[must_use]
    pub fn response_cap(mut self, bytes: usize) -> Self {
        self.response_cap = bytes;
        self
    }
}

/// The journal could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the call journal {}", path.display())]
pub struct JournalError {
    /// The file.
    pub path: PathBuf,
    /// What SQLite or the file system said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Counts of what happened to records, since the journal was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records written (a call is written once or more: when it starts,
    /// when it ends, after an ask, unless the writer got to it only after
    /// several of these).
    pub committed: u64,
    /// Writes dropped because the queue was full.
    pub dropped: u64,
    /// Records the database refused (logged).
    pub failed: u64,
}

/// A record the call keeps changing while it may sit in the queue.
#[derive(Debug)]
pub(crate) struct PendingRecord {
    record: Mutex<CallRecord>,
    /// In the queue now (so changing the record is enough for it to be written).
    queued: AtomicBool,
    /// Its row once inserted (0 before); only the writer thread uses it.
    row: AtomicI64,
}

impl PendingRecord {
    pub(crate) fn new(record: CallRecord) -> Arc<Self> {
        Arc::new(Self {
            record: Mutex::new(record),
            queued: AtomicBool::new(false),
            row: AtomicI64::new(0),
        })
    }

    /// The record, to read or change; queue it again afterwards.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, CallRecord> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long the writer lets records gather after a batch that did not
/// fill up: the longest a record waits in the queue beyond a batch's write.
const GATHER: Duration = Duration::from_millis(5);

enum Command {
    Write(Arc<PendingRecord>),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    committed: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// The call journal: a SQLite file and the thread that writes it. Cheap to
/// clone; the writer thread ends once every clone is dropped and the queue
/// is written.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    config: Arc<JournalConfig>,
    metrics: Option<ClientMetrics>,
    path: Arc<Path>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating it and its directory if needed) the journal at
    /// `path` and starts its writer thread.
    ///
    /// # Errors
    /// [`JournalError`] when the file cannot be created or is not a journal.
    pub fn open(path: impl AsRef<Path>, config: JournalConfig) -> Result<Self, JournalError> {
        let path = path.as_ref();
        let error = |source: Box<dyn std::error::Error + Send + Sync>| JournalError {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| error(e.into()))?;
        }
        let connection = store::open_for_writing(path).map_err(error)?;
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let writer_counters = counters.clone();
        let batch_max = config.batch_max.max(1);
        std::thread::Builder::new()
            .name("toolwire-journal".into())
            .spawn(move || write_loop(&connection, receiver, &writer_counters, batch_max))
            .map_err(|e| error(e.into()))?;
        Ok(Self {
            queue,
            counters,
            config: Arc::new(config),
            metrics: None,
            path: path.into(),
        })
    }

    /// Counts drops also in `metrics` (`toolwire_journal_dropped_total`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: ClientMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration.
    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// Queues `record` for writing; never waits. A full queue drops it and
    /// counts the drop.
    pub fn record(&self, record: CallRecord) {
        self.queue_pending(&PendingRecord::new(record));
    }

    /// Queues `pending` unless it is queued already (the writer will then
    /// write its newest state); never waits. A full queue drops it and
    /// counts the drop.
    pub(crate) fn queue_pending(&self, pending: &Arc<PendingRecord>) {
        if pending.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        if self
            .queue
            .try_send(Command::Write(pending.clone()))
            .is_err()
        {
            pending.queued.store(false, Ordering::Release);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(metrics) = &self.metrics {
                metrics.journal_dropped.inc();
            }
        }
    }

    /// Waits until every record queued before this call is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// What happened to the records so far.
    pub fn stats(&self) -> JournalStats {
        JournalStats {
            committed: self.counters.committed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// The writer thread: takes what is queued (at most `batch_max`), writes
/// it as one transaction, answers flushes, until the queue closes.
fn write_loop(
    connection: &rusqlite::Connection,
    mut queue: mpsc::Receiver<Command>,
    counters: &Counters,
    batch_max: usize,
) {
    let mut batch: Vec<Arc<PendingRecord>> = Vec::with_capacity(batch_max);
    let mut flushes = Vec::new();
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Write(record) => batch.push(record),
                Command::Flush(done) => flushes.push(done),
            }
            if batch.len() < batch_max {
                next = queue.try_recv().ok();
            }
        }
        let full = batch.len() >= batch_max;
        write_batch(connection, &mut batch, counters);
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        // Let records gather before the next batch: a writer that waits on
        // the queue is woken (a futex call, a context switch) by each record,
        // which under load costs the calls more than the writing does.
        if !full {
            std::thread::sleep(GATHER);
        }
    }
}

/// Writes `batch` in one transaction, each record as it is now.
fn write_batch(
    connection: &rusqlite::Connection,
    batch: &mut Vec<Arc<PendingRecord>>,
    counters: &Counters,
) {
    if batch.is_empty() {
        return;
    }
    let mut inserted = Vec::new();
    let result = (|| {
        let transaction = connection.unchecked_transaction()?;
        let mut statements = store::BatchStatements::prepare(&transaction)?;
        let mut written = 0u64;
        let mut failed = 0u64;
        inserted.clear();
        for pending in batch.iter() {
            // Taken out of the queue before it is read: a change after this
            // queues it again, so the newest state is always written.
            pending.queued.store(false, Ordering::Release);
            // A copy: the call must never wait on the lock while the
            // database makes the writer wait, and a call may still change a
            // record whose state is final (its answer comes after a denial
            // seen in the events).
            let record = pending.lock().clone();
            let row = Some(pending.row.load(Ordering::Relaxed)).filter(|r| *r != 0);
            match statements.write(&record, row) {
                Ok(row) => {
                    if pending.row.swap(row, Ordering::Relaxed) != row {
                        inserted.push(pending.clone());
                    }
                    written += 1;
                }
                Err(error) => {
                    tracing::error!(id = %record.id, %error, "journal: a record was refused");
                    failed += 1;
                }
            }
        }
        drop(statements);
        transaction.commit()?;
        Ok::<_, rusqlite::Error>((written, failed))
    })();
    match result {
        Ok((written, failed)) => {
            counters.committed.fetch_add(written, Ordering::Relaxed);
            counters.failed.fetch_add(failed, Ordering::Relaxed);
        }
        Err(error) => {
            // Rolled back: the rows this batch inserted do not exist.
            for pending in &inserted {
                pending.row.store(0, Ordering::Relaxed);
            }
            tracing::error!(%error, records = batch.len(), "journal: a batch could not be committed");
            counters
                .failed
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }
    batch.clear();
}
