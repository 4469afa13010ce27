//! The one pattern matcher for permission rules.
//!
//! `*` matches any run of characters (also none, also spaces and `/`), `?`
//! matches exactly one character, every other character matches itself. The
//! whole value must match. Both may appear anywhere in the pattern, so
//! `git * push` matches `git origin push` and `*secret*` matches
//! `config/secret.env` — cases that a prefix/suffix-only matcher gets wrong.
//!
//! `*` spans every character, `;` and `&&` included. A bash command is
//! never matched as one string: the bash tool reads it with a shell parser
//! and asks one pattern per simple command ([`crate::shell`]), so `git *`
//! matches `git status` in `git status; rm -rf /` and `rm -rf /` is judged
//! on its own.
//!
//! The algorithm is the linear greedy match with one backtrack point (the last
//! `*`), O(len(value) * len(pattern)) in the worst case, no recursion and no
//! allocation.

/// Whether `value` matches the wildcard `pattern`.
pub fn matches(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    // Bytes, not chars: a literal character matches its own UTF-8 bytes,
    // and `?` and the backtracking `*` step over whole characters, so no
    // comparison starts inside one. No allocation.
    let (pattern, value) = (pattern.as_bytes(), value.as_bytes());
    let (mut p, mut v) = (0usize, 0usize);
    // Position of the last `*` seen, and the value position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                v += char_len(value[v]);
            }
            Some(&c) if c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((star_p, star_v)) => {
                    let next = star_v + char_len(value[star_v]);
                    p = star_p + 1;
                    v = next;
                    star = Some((star_p, next));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The length of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything at all", true),
            ("ls", "ls", true),
            ("ls", "ls -la", false),
            ("git *", "git status", true),
            ("git *", "git", false),
            ("git *", "gitk", false),
            ("*.rs", "src/main.rs", true),
            ("*.rs", "src/main.rsx", false),
            // Wildcards in the middle: prefix/suffix-only matchers get these wrong.
            ("git * push", "git origin push", true),
            ("git * push", "git push", false),
            // `*` spans any characters, `;` included: an allow rule for a
            // command prefix also allows what is chained after it.
            ("git * push", "git remote add x; git push", true),
            ("git * push", "git a b c push", true),
            ("*secret*", "config/secret.env", true),
            ("*secret*", "secret", true),
            ("*secret*", "config/secre.env", false),
            ("rm -rf *", "rm -rf /", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*b*c", "abcbc", true),
            // `?` is exactly one character.
            ("?", "", false),
            ("?", "x", true),
            ("file?.txt", "file1.txt", true),
            ("file?.txt", "file10.txt", false),
            ("???", "abc", true),
            // Non-ASCII characters count as one.
            ("caf?", "café", true),
            ("*é", "résumé", true),
            ("r?sum?", "résumé", true),
            ("*?", "é", true),
            ("é*é", "éaé", true),
            ("*é?", "aéb", true),
            // Many stars do not blow up.
            (
                "*a*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
        ];
        for &(pattern, value, expected) in cases {
            assert_eq!(
                matches(pattern, value),
                expected,
                "pattern {pattern:?} on {value:?}"
            );
        }
    }
}
