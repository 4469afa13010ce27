//! Credentials of declarative tools: where a secret comes from (the loading
//! process's environment, or a value the orchestrator supplies per session
//! through [`Credentials`]), how it is applied to a request, and the
//! redaction of every applied secret from what the tool returns. A secret
//! is held as a [`SecretString`]: its `Debug` shows nothing, and it is read
//! only when a request is built.

use std::sync::Arc;

use dashmap::DashMap;
use secrecy::{ExposeSecret, SecretString};

use crate::error::ToolError;

/// Secrets the orchestrator supplies per session, by credential name. Cheap
/// to clone; clones share the values.
#[derive(Clone, Default)]
pub struct Credentials {
    by_session: Arc<DashMap<(String, String), SecretString>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("values", &self.by_session.len())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Supplies credential `name` (an `authService` with `secret: {session:
    /// true}`) for calls of `session`.
    pub fn set(&self, session: &str, name: &str, secret: SecretString) {
        self.by_session
            .insert((session.to_owned(), name.to_owned()), secret);
    }

    /// Forgets every value of `session`.
    pub fn clear_session(&self, session: &str) {
        self.by_session.retain(|(s, _), _| s != session);
    }

    fn get(&self, session: &str, name: &str) -> Option<SecretString> {
        self.by_session
            .get(&(session.to_owned(), name.to_owned()))
            .map(|s| s.clone())
    }
}

/// Where a credential's value comes from.
#[derive(Debug, Clone)]
pub(super) enum SecretFrom {
    /// An environment variable of the process that loaded the file, read at
    /// call time.
    Env(String),
    /// [`Credentials::set`] for the call's session.
    Session,
}

/// How a credential is applied.
#[derive(Debug, Clone)]
pub(super) enum Apply {
    /// A request header, the value after `prefix` (`Bearer `, say).
    Header { name: String, prefix: String },
    /// A query parameter.
    Query(String),
    /// An environment variable of a command tool.
    Env(String),
}

/// A named credential (`kind: authService`).
#[derive(Debug, Clone)]
pub(super) struct AuthService {
    pub name: String,
    pub from: SecretFrom,
    pub apply: Apply,
}

impl AuthService {
    /// The secret for a call of `session`.
    ///
    /// # Errors
    /// A tool error naming the credential (never a value) when it is missing.
    pub(super) fn secret(
        &self,
        credentials: &Credentials,
        session: &str,
    ) -> Result<SecretString, ToolError> {
        let found = match &self.from {
            SecretFrom::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::from),
            SecretFrom::Session => credentials.get(session, &self.name),
        };
        found.ok_or_else(|| {
            ToolError::failed(match &self.from {
                SecretFrom::Env(var) => format!(
                    "credential `{}` is missing: the environment variable {var} is not set",
                    self.name
                ),
                SecretFrom::Session => format!(
                    "credential `{}` is missing: no value was supplied for session {session:?}",
                    self.name
                ),
            })
        })
    }
}

/// Replaces every applied secret in a tool's output with `[redacted]`:
/// as written, percent-encoded (a query parameter echoed in a URL), and
/// with its prefix.
#[derive(Default)]
pub(super) struct Redactor {
    secrets: Vec<SecretString>,
}

impl Redactor {
    /// Adds a secret to redact.
    pub(super) fn add(&mut self, secret: &SecretString) {
        let raw = secret.expose_secret();
        if raw.is_empty() {
            return;
        }
        let encoded: String =
            percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        for form in [raw.to_owned(), encoded.clone(), encoded.replace("%20", "+")] {
            if !self.secrets.iter().any(|s| s.expose_secret() == form) {
                self.secrets.push(SecretString::from(form));
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        self.secrets
            .sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
    }

    /// `text` with every secret replaced.
    pub(super) fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.expose_secret()) {
                out = out.replace(secret.expose_secret(), "[redacted]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_redacted_and_debug_shows_none() {
        let mut redactor = Redactor::default();
        let secret = SecretString::from("s3cr et/+".to_owned());
        redactor.add(&secret);
        let echoed = "raw s3cr et/+ query s3cr%20et%2F%2B form s3cr+et%2F%2B";
        assert_eq!(
            redactor.apply(echoed),
            "raw [redacted] query [redacted] form [redacted]"
        );
        assert!(!format!("{secret:?}").contains("s3cr"));
        let credentials = Credentials::default();
        credentials.set("s1", "api", secret);
        assert!(!format!("{credentials:?}").contains("s3cr"));
    }
}
