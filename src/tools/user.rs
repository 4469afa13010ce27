//! The user the tools run as, when it is not the server's own: bash is
//! started with that uid and gid, and the file tools act with it as their
//! filesystem identity (`setfsuid`/`setfsgid`, per thread, for the length of
//! one operation). A tool then cannot signal, trace or replace the server,
//! and the file tools can do no more than bash could.
//!
//! Switching needs `CAP_SETUID` and `CAP_SETGID`, and killing a command's
//! process group of another uid needs `CAP_KILL`: the Docker launcher runs
//! the server with exactly these three (docs/SECURITY.md).

use std::str::FromStr;

use crate::error::ToolError;

/// A uid and gid the tools run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolUser {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

/// `UID:GID` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tool user is UID:GID in numbers (such as 1000:1000), not {0:?}")]
pub struct ToolUserError(String);

impl FromStr for ToolUser {
    type Err = ToolUserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ToolUserError(text.chars().take(40).collect());
        let (uid, gid) = text.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            uid: uid.parse().map_err(|_| bad())?,
            gid: gid.parse().map_err(|_| bad())?,
        })
    }
}

/// Capability bits of `/proc/self/status` (`CapEff`).
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

impl ToolUser {
    /// Checks that this process may run tools as another user.
    ///
    /// # Errors
    /// Names the capabilities this process lacks.
    pub fn check_capabilities(&self) -> Result<(), String> {
        let status = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
        let effective = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        let missing: Vec<&str> = [
            (CAP_SETUID, "CAP_SETUID"),
            (CAP_SETGID, "CAP_SETGID"),
            (CAP_KILL, "CAP_KILL"),
        ]
        .into_iter()
        .filter(|(bit, _)| effective & (1 << bit) == 0)
        .map(|(_, name)| name)
        .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "running tools as {}:{} needs {} (this process has CapEff {effective:#x})",
                self.uid,
                self.gid,
                missing.join(", ")
            ))
        }
    }
}

/// While alive, this thread's filesystem identity is the tool user's.
pub(super) struct ActingAs(Option<(u32, u32)>);

impl ActingAs {
    /// Takes the tool user's filesystem identity on this thread (nothing
    /// when there is no tool user).
    ///
    /// # Errors
    /// A [`ToolError::Failed`] when the switch did not happen.
    pub(super) fn enter(user: Option<ToolUser>) -> Result<Self, ToolError> {
        let Some(user) = user else {
            return Ok(Self(None));
        };
        // SAFETY: setfsgid/setfsuid change only the calling thread's
        // filesystem ids; they have no memory-safety preconditions. An
        // invalid id (u32::MAX) changes nothing and returns the current one.
        let (previous_gid, previous_uid, now_uid, now_gid) = unsafe {
            let previous_gid = libc::setfsgid(user.gid) as u32;
            let previous_uid = libc::setfsuid(user.uid) as u32;
            (
                previous_gid,
                previous_uid,
                libc::setfsuid(u32::MAX) as u32,
                libc::setfsgid(u32::MAX) as u32,
            )
        };
        let guard = Self(Some((previous_uid, previous_gid)));
        if now_uid != user.uid || now_gid != user.gid {
            return Err(ToolError::failed(format!(
                "cannot act as the tool user {}:{} (the server lacks CAP_SETUID/CAP_SETGID)",
                user.uid, user.gid
            )));
        }
        Ok(guard)
    }
}

impl Drop for ActingAs {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.0 {
            // SAFETY: as in `enter`: per-thread ids, no preconditions.
            unsafe {
                libc::setfsuid(uid);
                libc::setfsgid(gid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_user_is_two_numbers() {
        assert_eq!(
            "1000:1001".parse::<ToolUser>(),
            Ok(ToolUser {
                uid: 1000,
                gid: 1001
            })
        );
        assert!("agent".parse::<ToolUser>().is_err());
        assert!("1000:".parse::<ToolUser>().is_err());
    }
}
