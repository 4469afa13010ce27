//! The wire protocol: JSON text frames, one object each, `type` + `id`. Pure
//! data, no I/O.
//!
//! The core ([`ClientMessage::Tools`], [`ClientMessage::Request`],
//! [`ClientMessage::SetRules`], [`ClientMessage::SetActiveTools`],
//! [`ClientMessage::PushAnswers`] and their replies) is field-for-field the
//! `message` struct of sol's `executor` package. Everything else is an
//! extension a client opts into with [`ClientMessage::Hello`]; a client that
//! never says hello never receives an extension frame. `docs/PROTOCOL.md`
//! describes every message; `proto-examples/` holds one example of each.
//!
//! - `call`: one tool call's data ([`ToolInfo`], [`ToolRequest`], [`ToolResponse`]).
//! - `rules`: permission rules, suspensions, questions.
//! - `messages`: [`ClientMessage`] and [`ServerMessage`], one enum a direction.
//! - `events`: [`BusEvent`].
//! - `decode`: the measured one-pass decoders both ends use.

mod call;
pub mod chunk;
mod decode;
mod events;
mod messages;
mod rules;

pub use call::{Attachment, Metadata, ToolInfo, ToolRequest, ToolResponse};
pub(crate) use decode::short;
pub use decode::{InvalidMessage, parse_client_message, parse_server_message};
pub use events::{BusEvent, EventKind};
pub use messages::{
    Ack, ClientKind, ClientMessage, PermissionAsk, QuestionAsk, ResponseFrame, ResumeGrant,
    ResumeRequest, ServerKind, ServerMessage,
};
pub use rules::{
    Action, PermissionNeeded, PermissionReply, PermissionRule, QuestionInfo, QuestionNeeded,
    QuestionOption,
};

use serde::Serialize;

/// WebSocket read buffer of both ends. tungstenite zeroes the free part of
/// its read buffer before every socket read; its 128 KiB default made that
/// memset ~80% of the server's instructions per small call. Larger messages
/// are simply read in several reads.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Room a frame is encoded into at first: most frames fit, so the buffer
/// is not regrown (and copied) several times while it is written.
const ENCODE_CAPACITY: usize = 512;

/// Encodes a frame as JSON text.
///
/// # Errors
/// When a value cannot be represented in JSON (a map with non-string keys).
pub fn encode<T: Serialize + ?Sized>(frame: &T) -> serde_json::Result<String> {
    let mut buffer = Vec::with_capacity(ENCODE_CAPACITY);
    serde_json::to_writer(&mut buffer, frame)?;
    // serde_json writes UTF-8 only, so this never fails.
    String::from_utf8(buffer).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Version of the extension protocol this crate speaks (sent in `hello`).
pub const PROTOCOL_VERSION: u32 = 1;

/// Extension features a client may ask for in `hello`.
pub mod feature {
    /// `cancel` frames stop in-flight calls.
    pub const CANCEL: &str = "cancel";
    /// `progress` frames stream a running call's output.
    pub const PROGRESS: &str = "progress";
    /// Permission and question asks are sent to the client instead of suspending.
    pub const INTERACTIVE: &str = "interactive";
    /// Bus events are forwarded as `event` frames.
    pub const EVENTS: &str = "events";
    /// A lost connection can be taken over by a new one: the session's
    /// calls run on and their results are delivered after the reconnect.
    pub const RESUME: &str = "resume";
    /// Files and directories go in and out as binary chunks with flow
    /// control (`upload`, `download`, `credit`).
    pub const TRANSFER: &str = "transfer";
    /// Every feature this crate implements.
    pub const ALL: [&str; 6] = [CANCEL, PROGRESS, INTERACTIVE, EVENTS, RESUME, TRANSFER];
}
