//! Bearer-token authentication for the `/ws` upgrade.
//!
//! The server never keeps the token itself, only its SHA-256 digest, and
//! compares digests in constant time: how long a check takes does not depend
//! on how much of a presented token was right.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How clients must authenticate.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>` whose digest equals this one.
    Token(TokenDigest),
    /// Anyone may connect. Only for local experiments: say so explicitly.
    InsecureNoAuth,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Auth::Token(<digest>)"),
            Self::InsecureNoAuth => f.write_str("Auth::InsecureNoAuth"),
        }
    }
}

/// Error for a token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is empty (after trimming white space).
    #[error("the auth token is empty; use a random token of at least 16 bytes")]
    Empty,
    /// The token is shorter than [`MIN_TOKEN_BYTES`].
    #[error("the auth token has {len} bytes; use a random token of at least 16 bytes")]
    TooShort {
        /// Its length in bytes (after trimming white space).
        len: usize,
    },
}

/// The shortest bearer token accepted, in bytes.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The SHA-256 digest of a bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Digests `token` (surrounding white space, such as a file's final newline, is ignored).
    ///
    /// # Errors
    /// [`TokenError::Empty`] for an empty token, [`TokenError::TooShort`]
    /// for one shorter than [`MIN_TOKEN_BYTES`].
    pub fn of(token: &str) -> Result<Self, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if token.len() < MIN_TOKEN_BYTES {
            return Err(TokenError::TooShort { len: token.len() });
        }
        Ok(Self(Sha256::digest(token.as_bytes()).into()))
    }

    /// Whether `presented` is the token, in time independent of its content.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

impl Auth {
    /// Whether the request's headers carry acceptable credentials.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Self::Token(digest) = self else {
            return true;
        };
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && digest.matches(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(v) = value {
            map.insert(
                AUTHORIZATION,
                HeaderValue::from_str(v).expect("test header is ASCII"),
            );
        }
        map
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let auth = Auth::Token(TokenDigest::of("s3cret-token-0123\n").expect("16 bytes or more"));
        assert!(auth.allows(&headers(Some("Bearer s3cret-token-0123"))));
        assert!(auth.allows(&headers(Some("bearer s3cret-token-0123"))));
        assert!(!auth.allows(&headers(None)));
        assert!(!auth.allows(&headers(Some("Bearer s3cret-toke"))));
        assert!(!auth.allows(&headers(Some("Bearer "))));
        assert!(!auth.allows(&headers(Some("Basic s3cret-token-0123"))));
        assert!(!auth.allows(&headers(Some("s3cret-token-0123"))));
        assert_eq!(TokenDigest::of("  \n").err(), Some(TokenError::Empty));
        assert_eq!(
            TokenDigest::of("0123456789abcde\n").err(),
            Some(TokenError::TooShort { len: 15 })
        );
        assert!(Auth::InsecureNoAuth.allows(&headers(None)));
    }
}
