//! Word length prefixes and single words (§1.2 of the protocol).
//!
//! | length | prefix |
//! |---|---|
//! | `0..=0x7F` | 1 byte |
//! | `0x80..=0x3FFF` | 2 bytes, `len \| 0x8000` |
//! | `0x4000..=0x1F_FFFF` | 3 bytes, `len \| 0xC0_0000` |
//! | `0x20_0000..=0xFFF_FFFF` | 4 bytes, `len \| 0xE000_0000` |
//! | `0x1000_0000..=u32::MAX` | `0xF0` then 4 bytes |
//!
//! A first byte `>= 0xF8` is a reserved control byte and an error.
//! First bytes `0xF1..=0xF7` cannot start a valid length either and are rejected the same way.

use bytes::BufMut;

use crate::ProtoError;

/// Number of prefix bytes [`encode_length`] writes for `len`.
pub fn length_prefix_len(len: u64) -> Result<usize, ProtoError> {
    Ok(match len {
        0..=0x7F => 1,
        0x80..=0x3FFF => 2,
        0x4000..=0x1F_FFFF => 3,
        0x20_0000..=0xFFF_FFFF => 4,
        0x1000_0000..=0xFFFF_FFFF => 5,
        _ => return Err(ProtoError::WordTooLong(len)),
    })
}

/// Appends the length prefix for a word of `len` content bytes.
pub fn encode_length(len: u64, out: &mut impl BufMut) -> Result<(), ProtoError> {
    match length_prefix_len(len)? {
        1 => out.put_u8(len as u8),
        2 => out.put_u16(len as u16 | 0x8000),
        3 => {
            let v = len as u32 | 0xC0_0000;
            out.put_slice(&v.to_be_bytes()[1..]);
        }
        4 => out.put_u32(len as u32 | 0xE000_0000),
        _ => {
            out.put_u8(0xF0);
            out.put_u32(len as u32);
        }
    }
    Ok(())
}

/// Decodes a length prefix at the start of `buf`.
///
/// Returns `Ok(None)` when `buf` is too short to hold the whole prefix,
/// `Ok(Some((len, prefix_bytes)))` otherwise.
pub fn decode_length(buf: &[u8]) -> Result<Option<(u64, usize)>, ProtoError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let need = match b0 {
        0x00..=0x7F => 1,
        0x80..=0xBF => 2,
        0xC0..=0xDF => 3,
        0xE0..=0xEF => 4,
        0xF0 => 5,
        other => return Err(ProtoError::ReservedControlByte(other)),
    };
    if buf.len() < need {
        return Ok(None);
    }
    let len = match need {
        1 => u64::from(b0),
        2 => u64::from(u16::from_be_bytes([b0, buf[1]]) ^ 0x8000),
        3 => u64::from(u32::from_be_bytes([0, b0, buf[1], buf[2]]) ^ 0xC0_0000),
        4 => u64::from(u32::from_be_bytes([b0, buf[1], buf[2], buf[3]]) ^ 0xE000_0000),
        _ => u64::from(u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]])),
    };
    Ok(Some((len, need)))
}

/// Appends one word (length prefix + content bytes).
pub fn encode_word(word: &[u8], out: &mut impl BufMut) -> Result<(), ProtoError> {
    encode_length(word.len() as u64, out)?;
    out.put_slice(word);
    Ok(())
}

/// Decodes text bytes of a word: UTF-8 when valid, otherwise Latin-1
/// (each byte one `char`), which is what RouterOS usually stores for non-ASCII.
pub fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(len: u64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_length(len, &mut v).expect("encodable");
        v
    }

    const VECTORS: &[(u64, &str)] = &[
        (0, "00"),
        (1, "01"),
        (0x7F, "7f"),
        (0x80, "8080"),
        (130, "8082"),
        (200, "80c8"),
        (0x3FFF, "bfff"),
        (0x4000, "c04000"),
        (2_097_140, "dffff4"),
        (0x1F_FFFF, "dfffff"),
        (0x20_0000, "e0200000"),
        (268_435_440, "effffff0"),
        (0xFFF_FFFF, "efffffff"),
        (0x1000_0000, "f010000000"),
        (0xFFFF_FFFF, "f0ffffffff"),
    ];

    #[test]
    fn length_boundary_vectors_encode_exactly() {
        for &(len, hex_str) in VECTORS {
            assert_eq!(hex::encode(enc(len)), hex_str, "len {len:#x}");
        }
    }

    #[test]
    fn length_boundary_vectors_decode_exactly() {
        for &(len, hex_str) in VECTORS {
            let bytes = hex::decode(hex_str).expect("hex");
            assert_eq!(decode_length(&bytes), Ok(Some((len, bytes.len()))), "{hex_str}");
        }
    }

    #[test]
    fn length_prefix_truncated_needs_more() {
        for &(_, hex_str) in VECTORS {
            let bytes = hex::decode(hex_str).expect("hex");
            for cut in 0..bytes.len() {
                assert_eq!(decode_length(&bytes[..cut]), Ok(None), "{hex_str} cut {cut}");
            }
        }
    }

    #[test]
    fn length_reserved_control_byte_is_error() {
        for b in 0xF1..=0xFFu8 {
            assert_eq!(decode_length(&[b, 0, 0, 0, 0]), Err(ProtoError::ReservedControlByte(b)));
        }
    }

    #[test]
    fn length_above_u32_is_error() {
        assert_eq!(encode_length(0x1_0000_0000, &mut Vec::new()), Err(ProtoError::WordTooLong(0x1_0000_0000)));
    }

    #[test]
    fn word_length_counts_utf8_bytes() {
        let mut v = Vec::new();
        encode_word("ł".as_bytes(), &mut v).expect("encode");
        assert_eq!(v, [2, 0xC5, 0x82]);
    }

    #[test]
    fn decode_text_invalid_utf8_falls_back_to_latin1() {
        assert_eq!(decode_text(&[0x63, 0x61, 0x66, 0xE9]), "café");
        assert_eq!(decode_text("café".as_bytes()), "café");
    }

    proptest! {
        #[test]
        fn length_any_u32_round_trips(len in 0u64..=0xFFFF_FFFF) {
            let bytes = enc(len);
            prop_assert_eq!(bytes.len(), length_prefix_len(len).expect("len"));
            prop_assert_eq!(decode_length(&bytes), Ok(Some((len, bytes.len()))));
        }
    }
}
