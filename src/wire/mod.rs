//! What both ends of a connection share above a frame transport: the one
//! writer that owns a connection's send half ([`FrameWriter`]) and the one
//! table of callers waiting for a reply by id ([`PendingTable`]), and the
//! heartbeat.

pub(crate) mod chunks;
pub(crate) mod heartbeat;
mod pending;
mod writer;

pub(crate) use pending::{Pending, PendingTable};
pub(crate) use writer::{Contention, FrameWriter};
