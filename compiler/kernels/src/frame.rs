//! Offload frames, version 1 (runtime-c/hybrid/FRAMES.md): the layout
//! constants, the query frame's length and the model id's hash, written once
//! for the compiler, the cloud side and every generated Rust crate. The C
//! runtime (runtime-c/hybrid/hyb_frame.c) is its own implementation.

/// The first two bytes of every frame ("HY").
pub const MAGIC: [u8; 2] = *b"HY";
pub const VERSION: u8 = 1;
/// Magic, version, type and payload length.
pub const HEADER_LEN: usize = 8;
/// The CRC-32 that ends every frame.
pub const CRC_LEN: usize = 4;

pub const TYPE_QUERY: u8 = 1;
pub const TYPE_REPLY: u8 = 2;
pub const TYPE_ERROR: u8 = 3;

/// The only query element type of version 1.
pub const ELEM_INT8: u8 = 1;
pub const MAX_RANK: usize = 8;
/// Query payload before its dims: model id, sequence, element type, rank,
/// reserved, scale, zero point.
pub const QUERY_FIXED: usize = 20;
/// A reply payload: model id, sequence, label, score flag, score.
pub const REPLY_LEN: usize = 20;
/// Error payload before its message: model id, sequence, code, length.
pub const ERROR_FIXED: usize = 12;

/// Payload bytes of a query with `rank` dims and `data_bytes` int8 elements.
pub const fn query_payload_len(rank: usize, data_bytes: usize) -> usize {
    QUERY_FIXED + 4 * rank + data_bytes
}

/// Bytes of a whole query frame: header, payload and CRC.
pub const fn query_len(rank: usize, data_bytes: usize) -> usize {
    HEADER_LEN + query_payload_len(rank, data_bytes) + CRC_LEN
}

/// FNV-1a, 32 bits, over the UTF-8 bytes of a model name: the model id every
/// query carries.
pub fn fnv1a(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert_eq!(fnv1a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn query_len_by_hand() {
        // Header 8, fixed 20, dims 4 x 3, data 6, CRC 4.
        assert_eq!(query_len(3, 6), 8 + 20 + 12 + 6 + 4);
        assert_eq!(query_payload_len(3, 6), 20 + 12 + 6);
    }
}
