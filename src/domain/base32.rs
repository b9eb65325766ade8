//! RFC 4648 base32, upper case, no padding.
//!
//! Chosen over base45 for attendance codes because its alphabet (A–Z, 2–7) fits QR
//! alphanumeric mode *and* survives keyboard-wedge scanners typing into a host whose
//! layout differs from theirs: letters and digits can be mapped back, `$%*+-./:` cannot.

use thiserror::Error;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base32Error {
    #[error("character {character:?} at position {position} is not base32")]
    InvalidCharacter { character: char, position: usize },
    #[error("the text has a length no encoder produces")]
    InvalidLength,
    #[error("the text has non-zero trailing bits (not canonical)")]
    NonCanonical,
}

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u64::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn value_of(character: char) -> Option<u64> {
    match character {
        'A'..='Z' => Some(character as u64 - 'A' as u64),
        '2'..='7' => Some(character as u64 - '2' as u64 + 26),
        _ => None,
    }
}

/// Decodes strictly: only the canonical encoding of some byte string is accepted, so
/// that one code has exactly one textual form (no malleability through trailing bits).
pub fn decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    // Lengths mod 8 that an encoder can produce: 0, 2, 4, 5, 7.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(Base32Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for (position, character) in text.chars().enumerate() {
        let value = value_of(character).ok_or(Base32Error::InvalidCharacter { character, position })?;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    if bits > 0 && buffer & ((1 << bits) - 1) != 0 {
        return Err(Base32Error::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn refuses_non_canonical_and_foreign_text() {
        assert_eq!(decode("MZ"), Err(Base32Error::NonCanonical));
        assert!(matches!(decode("MY1"), Err(Base32Error::InvalidLength)));
        assert!(matches!(
            decode("my"),
            Err(Base32Error::InvalidCharacter { position: 0, .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }
}
