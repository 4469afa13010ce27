//! The journal's SQLite file: its schema, the writes (a call's row inserted
//! once, then updated by its row number: no key is looked up) and the reads
//! the CLI makes. WAL mode: readers (the
//! `sqlite3` shell, `toolwire calls`) never block the writer, and a
//! transaction once committed survives a crash of the process.

use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::record::{CallRecord, Decision};
use super::state::Transition;
use super::writer::JournalError;

/// The schema, version 1. docs/OPERATIONS.md explains every column.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL,
    session            TEXT NOT NULL,
    tool               TEXT NOT NULL,
    tool_call_id       TEXT NOT NULL,
    input              TEXT NOT NULL,
    state              TEXT NOT NULL,
    decision           TEXT,
    decisions          TEXT NOT NULL,
    transitions        TEXT NOT NULL,
    received_at        INTEGER NOT NULL,
    ended_at           INTEGER,
    duration_ms        INTEGER,
    response           TEXT,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    error              TEXT
);
";

/// What the schema adds once the table is known to be its own.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS calls_by_session ON calls (session);
PRAGMA user_version = 1;
";

const INSERT: &str = "
INSERT INTO calls (id, session, tool, tool_call_id, input, state, decision, decisions,
                   transitions, received_at, ended_at, duration_ms, response,
                   response_truncated, error)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

const UPDATE: &str = "
UPDATE calls SET state = ?2, decision = ?3, decisions = ?4, transitions = ?5, ended_at = ?6,
                 duration_ms = ?7, response = ?8, response_truncated = ?9, error = ?10
WHERE seq = ?1";

/// Opens (creating if needed) the journal at `path` for writing.
///
/// # Errors
/// The file or its directory cannot be created, or it is not a journal.
pub(crate) fn open_for_writing(path: &Path) -> Result<Connection, BoxError> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode: a committed transaction survives a crash of the
    // process (not of the machine), and a commit does not wait on fsync.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.execute_batch(SCHEMA)?;
    verify_schema(&connection)?;
    connection.execute_batch(INDEXES)?;
    Ok(connection)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The file is not a journal of this schema.
#[derive(Debug, thiserror::Error)]
#[error("not a toolwire call journal (schema 1): {0}")]
pub struct NotAJournal(String);

/// Refuses a file whose `calls` table is not this schema's (another
/// program's table, or an older layout): every write would fail later.
fn verify_schema(connection: &Connection) -> Result<(), NotAJournal> {
    connection
        .prepare(&format!("SELECT {COLUMNS} FROM calls LIMIT 0"))
        .map(drop)
        .map_err(|e| NotAJournal(e.to_string()))
}

/// The two statements a batch writes with, prepared once per batch.
pub(crate) struct BatchStatements<'c> {
    insert: rusqlite::CachedStatement<'c>,
    update: rusqlite::CachedStatement<'c>,
}

impl<'c> BatchStatements<'c> {
    /// Prepares them on `connection` (the batch's transaction).
    pub(crate) fn prepare(connection: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            insert: connection.prepare_cached(INSERT)?,
            update: connection.prepare_cached(UPDATE)?,
        })
    }

    /// Writes `record`: a new row when `row` is `None`, else the newer state
    /// of row `row`. Returns the row.
    pub(crate) fn write(&mut self, record: &CallRecord, row: Option<i64>) -> rusqlite::Result<i64> {
        let transitions = record.transitions();
        let ended_at = transitions
            .last()
            .filter(|t| t.state.is_final())
            .map(|t| t.at_ms);
        if let Some(row) = row {
            let changed = self.update.execute(params![
                row,
                record.state().as_str(),
                record.decision_summary(),
                to_json(&record.decisions),
                to_json(transitions),
                ended_at,
                record.duration_ms(),
                record.response,
                record.response_truncated,
                record.error,
            ])?;
            if changed == 1 {
                return Ok(row);
            }
            // The row is gone (deleted by hand): written anew.
        }
        self.insert.insert(params![
            record.id,
            record.session,
            record.tool,
            record.tool_call_id,
            record.input,
            record.state().as_str(),
            record.decision_summary(),
            to_json(&record.decisions),
            to_json(transitions),
            transitions.first().map_or(0, |t| t.at_ms),
            ended_at,
            record.duration_ms(),
            record.response,
            record.response_truncated,
            record.error,
        ])
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// One call as read back from the journal.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCall {
    /// The row's number: the order calls were first written in.
    pub seq: i64,
    /// The journal's id.
    pub id: String,
    /// The agent session.
    pub session: String,
    /// The tool.
    pub tool: String,
    /// The model's id of the call.
    pub tool_call_id: String,
    /// The redacted input, as JSON text.
    pub input: String,
    /// The last state recorded (`completed`, `denied`, ... or, after a
    /// crash, the state it was in).
    pub state: String,
    /// `allowed by rule`, `denied by person`, ... when a permission was decided.
    pub decision: Option<String>,
    /// Every permission decision.
    pub decisions: Vec<Decision>,
    /// Every step, the first being `received`.
    pub transitions: Vec<Transition>,
    /// Milliseconds since the Unix epoch.
    pub received_at: i64,
    /// Milliseconds since the Unix epoch, once final.
    pub ended_at: Option<i64>,
    /// From received to the final state.
    pub duration_ms: Option<i64>,
    /// The answer (JSON of a `ToolResponse`), verbatim up to the cap.
    pub response: Option<String>,
    /// The answer was cut at the cap.
    pub response_truncated: bool,
    /// Why there is no answer, or what the journal refused to record.
    pub error: Option<String>,
}

const COLUMNS: &str = "seq, id, session, tool, tool_call_id, input, state, decision, decisions, \
    transitions, received_at, ended_at, duration_ms, response, response_truncated, error";

fn stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCall> {
    let decisions: String = row.get(8)?;
    let transitions: String = row.get(9)?;
    Ok(StoredCall {
        seq: row.get(0)?,
        id: row.get(1)?,
        session: row.get(2)?,
        tool: row.get(3)?,
        tool_call_id: row.get(4)?,
        input: row.get(5)?,
        state: row.get(6)?,
        decision: row.get(7)?,
        decisions: serde_json::from_str(&decisions).unwrap_or_default(),
        transitions: serde_json::from_str(&transitions).unwrap_or_default(),
        received_at: row.get(10)?,
        ended_at: row.get(11)?,
        duration_ms: row.get(12)?,
        response: row.get(13)?,
        response_truncated: row.get(14)?,
        error: row.get(15)?,
    })
}

/// Reads a journal file (read-only; it may be in use by a writer).
#[derive(Debug)]
pub struct JournalReader {
    connection: Connection,
}

impl JournalReader {
    /// Opens the journal at `path`.
    ///
    /// # Errors
    /// [`JournalError`] when the file does not exist or is not a journal.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let error = |source: BoxError| JournalError {
            path: path.to_owned(),
            source,
        };
        let connection =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| error(e.into()))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| error(e.into()))?;
        verify_schema(&connection).map_err(|e| error(e.into()))?;
        Ok(Self { connection })
    }

    /// The most recent `limit` calls, oldest first, of one session or all.
    ///
    /// # Errors
    /// The query fails (not a journal file).
    pub fn list(&self, session: Option<&str>, limit: usize) -> rusqlite::Result<Vec<StoredCall>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM calls WHERE ?1 IS NULL OR session = ?1 \
             ORDER BY seq DESC LIMIT ?2) ORDER BY seq"
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map(params![session, limit], stored)?;
        rows.collect()
    }

    /// The call with this id, or with an id starting with it (as `git`
    /// takes a short hash); `None` when nothing or more than one matches.
    ///
    /// # Errors
    /// The query fails (not a journal file).
    pub fn show(&self, id: &str) -> rusqlite::Result<Option<StoredCall>> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE id = ?1 OR id LIKE ?2 LIMIT 2");
        let escaped = id.replace(['%', '_'], "");
        let mut statement = self.connection.prepare(&sql)?;
        let mut matches: Vec<StoredCall> = statement
            .query_map(params![id, format!("{escaped}%")], stored)?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(exact) = matches.iter().position(|c| c.id == id) {
            return Ok(Some(matches.swap_remove(exact)));
        }
        Ok((matches.len() == 1).then(|| matches.remove(0)))
    }

    /// How many calls the journal holds.
    ///
    /// # Errors
    /// The query fails (not a journal file).
    pub fn count(&self) -> rusqlite::Result<u64> {
        let count: i64 = self
            .connection
            .query_row("SELECT count(*) FROM calls", [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
