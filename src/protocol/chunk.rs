//! The binary frames of the `transfer` feature: one chunk of a file or tar
//! stream, tagged with its transfer's id. Layout: one byte giving the id's
//! length, the id in UTF-8, then the data. Everything else of the protocol
//! stays JSON in text frames.

/// Data bytes in one chunk at most (the sender's choice; a receiver takes
/// any size within its credit).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Longest transfer id a chunk can carry.
pub const MAX_ID_BYTES: usize = u8::MAX as usize;

/// A chunk with room for `data_capacity` bytes after the header of `id`;
/// the caller appends the data. `None` when the id is too long.
pub fn start(id: &str, data_capacity: usize) -> Option<Vec<u8>> {
    let len = u8::try_from(id.len()).ok()?;
    let mut frame = Vec::with_capacity(1 + id.len() + data_capacity);
    frame.push(len);
    frame.extend_from_slice(id.as_bytes());
    Some(frame)
}

/// Where the data start in a chunk, and its id.
///
/// # Errors
/// A chunk shorter than its header says, or an id that is not UTF-8.
pub fn split(frame: &[u8]) -> Result<(&str, usize), String> {
    let Some((&len, rest)) = frame.split_first() else {
        return Err("an empty binary frame".to_owned());
    };
    let len = usize::from(len);
    let id = rest
        .get(..len)
        .ok_or_else(|| "a binary frame shorter than its header".to_owned())?;
    let id =
        std::str::from_utf8(id).map_err(|_| "a binary frame whose id is not UTF-8".to_owned())?;
    Ok((id, 1 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_carries_its_id_and_data() {
        let mut frame = start("42", 3).expect("short id");
        frame.extend_from_slice(b"abc");
        let (id, at) = split(&frame).expect("valid");
        assert_eq!(id, "42");
        assert_eq!(&frame[at..], b"abc");
    }

    #[test]
    fn bad_chunks_are_refused() {
        assert!(split(&[]).is_err());
        assert!(split(&[5, b'a']).is_err());
        assert!(split(&[2, 0xff, 0xfe]).is_err());
        assert!(start(&"x".repeat(256), 0).is_none());
        assert_eq!(split(&[0]).expect("empty id"), ("", 1));
    }
}
