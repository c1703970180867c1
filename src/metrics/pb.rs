//! The protobuf wire format, written by hand for the two large requests (remote write
//! and OTLP): straight into one buffer, fields in tag order as `prost` writes them,
//! proto3 defaults left out as `prost` does — so the bytes are those of the `prost`
//! messages in [`super::remote_write`] and [`super::otlp`] (tests compare), without
//! building a message tree of owned strings per series first. Every field number used
//! here is below 16, so a key is one byte.

/// A varint.
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of a varint.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes of a length-delimited field of `len` bytes, key included.
pub fn delimited_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Bytes of a proto3 string field (none when empty).
pub fn str_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        delimited_len(s.len())
    }
}

/// The key and length of a length-delimited field.
pub fn header(out: &mut Vec<u8>, field: u8, len: usize) {
    out.push(field << 3 | 2);
    varint(out, len as u64);
}

/// A proto3 string field (left out when empty).
pub fn string(out: &mut Vec<u8>, field: u8, s: &str) {
    if !s.is_empty() {
        header(out, field, s.len());
        out.extend_from_slice(s.as_bytes());
    }
}

/// A 64-bit field (`double`, `fixed64`), given its bits.
pub fn fixed64(out: &mut Vec<u8>, field: u8, bits: u64) {
    out.push(field << 3 | 1);
    out.extend_from_slice(&bits.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_encoding() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX, (-1i64) as u64] {
            let mut b = Vec::new();
            varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
    }
}
