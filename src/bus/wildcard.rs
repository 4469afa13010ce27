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
//! allocation beyond the two char buffers.

/// Whether `value` matches the wildcard `pattern`.
pub fn matches(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    let (mut p, mut v) = (0usize, 0usize);
    // Position of the last `*` seen, and the value position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if c == '?' || c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((star_p, star_v)) => {
                    p = star_p + 1;
                    v = star_v + 1;
                    star = Some((star_p, star_v + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
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
