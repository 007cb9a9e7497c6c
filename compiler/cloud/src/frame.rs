//! Offload frames, version 1 (runtime-c/hybrid/FRAMES.md): encoding,
//! strict decoding, and a stream reader that resynchronises on the magic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use thiserror::Error;

// The layout is shared with the compiler and the generated Rust crates.
use hybridc_kernels::frame::{query_payload_len, ERROR_FIXED, QUERY_FIXED, REPLY_LEN};
pub use hybridc_kernels::frame::{CRC_LEN, ELEM_INT8, HEADER_LEN, MAGIC, MAX_RANK, TYPE_ERROR, TYPE_QUERY, TYPE_REPLY, VERSION};

/// Largest payload a frame may declare (1 MiB).
pub const MAX_PAYLOAD: usize = 1 << 20;
/// A partial frame is given up this long after its first byte arrived, plus
/// the time its announced size takes at `MIN_RATE` (FRAMES.md, Receiving).
pub const FRAME_TIME: Duration = Duration::from_millis(500);
/// The slowest link a frame's deadline allows for, in bytes per second
/// (9600 baud, 8N1).
pub const MIN_RATE: u64 = 960;
/// Smallest query payload: rank 1, one element.
const QUERY_MIN: usize = QUERY_FIXED + 4 + 1;

/// A device's question about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub model_id: u32,
    pub seq: u32,
    pub scale: f32,
    pub zero_point: i32,
    pub dims: Vec<u32>,
    pub data: Vec<i8>,
}

/// The cloud's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub model_id: u32,
    pub seq: u32,
    pub label: i32,
    pub score: Option<f32>,
}

/// Why the cloud side could not answer (FRAMES.md, error payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    CloudUnavailable = 1,
    CloudTimeout = 2,
    BadFrame = 3,
    BadQuery = 4,
    CloudError = 5,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFrame {
    pub model_id: u32,
    pub seq: u32,
    /// Kept raw so that a code from a later version still decodes.
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Query(Query),
    Reply(Reply),
    Error(ErrorFrame),
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum FrameError {
    #[error("bad magic {0:02x?} (expected 48 59)")]
    BadMagic([u8; 2]),
    #[error("unsupported frame version {0} (this side speaks version 1)")]
    BadVersion(u8),
    #[error("unknown frame type {0}")]
    BadType(u8),
    #[error("payload length {0} is over the 1 MiB limit")]
    TooLong(u32),
    #[error("a {what} frame cannot have a {len}-byte payload")]
    BadLength { what: &'static str, len: u32 },
    #[error("CRC-32 mismatch: the frame carries {carried:#010x}, its bytes give {computed:#010x}")]
    BadCrc { carried: u32, computed: u32 },
    #[error("truncated frame: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    #[error("{what} payload of {len} bytes, expected {expected}")]
    PayloadLength { what: &'static str, len: usize, expected: usize },
    #[error("query element type {0} is not 1 (int8)")]
    BadElementType(u8),
    #[error("query rank {0} is outside 1..8")]
    BadRank(u8),
    #[error("query zero point {0} is outside the int8 range -128..127")]
    BadZeroPoint(i32),
    #[error("query scale {0} is not positive, or so large that the real values are not finite")]
    BadScale(f32),
    #[error("query dims {0:?}: every dimension must be at least 1 and the size must fit in memory")]
    BadDims(Vec<u32>),
    #[error("query dims {dims:?} hold {expected} elements, the payload carries {actual}")]
    DataLength { dims: Vec<u32>, expected: usize, actual: usize },
    #[error("a device sent a {0} frame; only queries are expected")]
    UnexpectedType(&'static str),
}

impl FrameError {
    /// The error-frame code that answers this problem: 3 for the envelope
    /// (magic, version, type, length, CRC), 4 for the query inside it.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::BadMagic(_)
            | FrameError::BadVersion(_)
            | FrameError::BadType(_)
            | FrameError::TooLong(_)
            | FrameError::BadLength { .. }
            | FrameError::BadCrc { .. }
            | FrameError::Truncated { .. } => ErrorCode::BadFrame,
            _ => ErrorCode::BadQuery,
        }
    }
}

/// CRC-32 (IEEE 802.3), as the frame trailer uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// FNV-1a 32-bit hash: the model id of a model name.
pub use hybridc_kernels::frame::fnv1a as model_id;

/// Wraps a payload in header and CRC. Public so that tests can build frames
/// the encoder would never write.
pub fn seal(frame_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CRC_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(frame_type);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

impl Query {
    /// The real values, `scale * (q - zero_point)` (in i64: a query built
    /// by hand may hold any zero point without overflowing).
    pub fn dequantize(&self) -> Vec<f32> {
        self.data.iter().map(|&q| self.scale * (q as i64 - self.zero_point as i64) as f32).collect()
    }

    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().map(|&d| d as usize).collect()
    }

    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(query_payload_len(self.dims.len(), self.data.len()));
        p.extend_from_slice(&self.model_id.to_le_bytes());
        p.extend_from_slice(&self.seq.to_le_bytes());
        p.push(ELEM_INT8);
        p.push(self.dims.len() as u8);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&self.scale.to_le_bytes());
        p.extend_from_slice(&self.zero_point.to_le_bytes());
        for d in &self.dims {
            p.extend_from_slice(&d.to_le_bytes());
        }
        p.extend(self.data.iter().map(|&q| q as u8));
        p
    }

    fn parse(p: &[u8]) -> Result<Query, FrameError> {
        if p.len() < QUERY_FIXED {
            return Err(FrameError::PayloadLength { what: "query", len: p.len(), expected: QUERY_FIXED });
        }
        let (model_id, seq) = (le_u32(p, 0), le_u32(p, 4));
        if p[8] != ELEM_INT8 {
            return Err(FrameError::BadElementType(p[8]));
        }
        let rank = p[9] as usize;
        if !(1..=MAX_RANK).contains(&rank) {
            return Err(FrameError::BadRank(p[9]));
        }
        let data_at = QUERY_FIXED + 4 * rank;
        if p.len() < data_at {
            return Err(FrameError::PayloadLength { what: "query", len: p.len(), expected: data_at });
        }
        let dims: Vec<u32> = (0..rank).map(|i| le_u32(p, QUERY_FIXED + 4 * i)).collect();
        let count = dims
            .iter()
            .try_fold(1usize, |n, &d| if d == 0 { None } else { n.checked_mul(d as usize) })
            .filter(|&n| n <= MAX_PAYLOAD)
            .ok_or_else(|| FrameError::BadDims(dims.clone()))?;
        let actual = p.len() - data_at;
        if actual != count {
            return Err(FrameError::DataLength { dims, expected: count, actual });
        }
        let scale = f32::from_le_bytes(p[12..16].try_into().unwrap());
        // |q - zero_point| <= 255, so that scale * 255 must stay finite.
        if !(scale > 0.0 && (scale * 255.0).is_finite()) {
            return Err(FrameError::BadScale(scale));
        }
        let zero_point = le_u32(p, 16) as i32;
        if i8::try_from(zero_point).is_err() {
            return Err(FrameError::BadZeroPoint(zero_point));
        }
        Ok(Query {
            model_id,
            seq,
            scale,
            zero_point,
            dims,
            data: p[data_at..].iter().map(|&b| b as i8).collect(),
        })
    }
}

impl Reply {
    fn payload(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(REPLY_LEN);
        p.extend_from_slice(&self.model_id.to_le_bytes());
        p.extend_from_slice(&self.seq.to_le_bytes());
        p.extend_from_slice(&self.label.to_le_bytes());
        p.extend_from_slice(&[self.score.is_some() as u8, 0, 0, 0]);
        p.extend_from_slice(&self.score.unwrap_or(0.0).to_le_bytes());
        p
    }

    fn parse(p: &[u8]) -> Result<Reply, FrameError> {
        if p.len() != REPLY_LEN {
            return Err(FrameError::PayloadLength { what: "reply", len: p.len(), expected: REPLY_LEN });
        }
        let score = f32::from_le_bytes(p[16..20].try_into().unwrap());
        Ok(Reply { model_id: le_u32(p, 0), seq: le_u32(p, 4), label: le_u32(p, 8) as i32, score: (p[12] != 0).then_some(score) })
    }
}

impl ErrorFrame {
    pub fn new(model_id: u32, seq: u32, code: ErrorCode, message: impl Into<String>) -> ErrorFrame {
        ErrorFrame { model_id, seq, code: code as u16, message: message.into() }
    }

    fn payload(&self) -> Vec<u8> {
        // The length field is a u16: cut long messages at a character boundary.
        let mut end = self.message.len().min(u16::MAX as usize);
        while !self.message.is_char_boundary(end) {
            end -= 1;
        }
        let msg = &self.message.as_bytes()[..end];
        let mut p = Vec::with_capacity(ERROR_FIXED + msg.len());
        p.extend_from_slice(&self.model_id.to_le_bytes());
        p.extend_from_slice(&self.seq.to_le_bytes());
        p.extend_from_slice(&self.code.to_le_bytes());
        p.extend_from_slice(&(msg.len() as u16).to_le_bytes());
        p.extend_from_slice(msg);
        p
    }

    fn parse(p: &[u8]) -> Result<ErrorFrame, FrameError> {
        if p.len() < ERROR_FIXED {
            return Err(FrameError::PayloadLength { what: "error", len: p.len(), expected: ERROR_FIXED });
        }
        let m = u16::from_le_bytes([p[10], p[11]]) as usize;
        if p.len() != ERROR_FIXED + m {
            return Err(FrameError::PayloadLength { what: "error", len: p.len(), expected: ERROR_FIXED + m });
        }
        Ok(ErrorFrame {
            model_id: le_u32(p, 0),
            seq: le_u32(p, 4),
            code: u16::from_le_bytes([p[8], p[9]]),
            message: String::from_utf8_lossy(&p[ERROR_FIXED..]).into_owned(),
        })
    }
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Frame::Query(q) => seal(TYPE_QUERY, &q.payload()),
            Frame::Reply(r) => seal(TYPE_REPLY, &r.payload()),
            Frame::Error(e) => seal(TYPE_ERROR, &e.payload()),
        }
    }

    /// Decodes the complete frame at the start of `bytes`; returns it and the
    /// number of bytes it took.
    pub fn decode(bytes: &[u8]) -> Result<(Frame, usize), FrameError> {
        let total = check_envelope(bytes)?;
        let payload = &bytes[HEADER_LEN..total - CRC_LEN];
        let frame = match bytes[3] {
            TYPE_QUERY => Frame::Query(Query::parse(payload)?),
            TYPE_REPLY => Frame::Reply(Reply::parse(payload)?),
            _ => Frame::Error(ErrorFrame::parse(payload)?),
        };
        Ok((frame, total))
    }
}

impl From<Query> for Frame {
    fn from(q: Query) -> Frame {
        Frame::Query(q)
    }
}

impl From<Reply> for Frame {
    fn from(r: Reply) -> Frame {
        Frame::Reply(r)
    }
}

impl From<ErrorFrame> for Frame {
    fn from(e: ErrorFrame) -> Frame {
        Frame::Error(e)
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks the header of the frame at the start of `bytes` and returns its
/// total size, without needing the whole frame yet.
fn check_header(bytes: &[u8]) -> Result<usize, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated { have: bytes.len(), need: HEADER_LEN });
    }
    if bytes[..2] != MAGIC {
        return Err(FrameError::BadMagic([bytes[0], bytes[1]]));
    }
    if bytes[2] != VERSION {
        return Err(FrameError::BadVersion(bytes[2]));
    }
    if !(TYPE_QUERY..=TYPE_ERROR).contains(&bytes[3]) {
        return Err(FrameError::BadType(bytes[3]));
    }
    let n = le_u32(bytes, 4);
    if n as usize > MAX_PAYLOAD {
        return Err(FrameError::TooLong(n));
    }
    Ok(HEADER_LEN + n as usize + CRC_LEN)
}

/// Whether a header that `check_header` passed announces a payload length
/// its type can have; used to give up an incomplete frame at once. (A
/// complete frame with a good CRC is decoded instead, so that its sender
/// hears the precise problem.)
fn length_error(bytes: &[u8]) -> Option<FrameError> {
    let n = le_u32(bytes, 4);
    let (what, lengths) = match bytes[3] {
        TYPE_QUERY => ("query", QUERY_MIN..=MAX_PAYLOAD),
        TYPE_REPLY => ("reply", REPLY_LEN..=REPLY_LEN),
        _ => ("error", ERROR_FIXED..=ERROR_FIXED + u16::MAX as usize),
    };
    (!lengths.contains(&(n as usize))).then_some(FrameError::BadLength { what, len: n })
}

/// Header plus CRC of a complete frame; returns its total size.
fn check_envelope(bytes: &[u8]) -> Result<usize, FrameError> {
    let total = check_header(bytes)?;
    if bytes.len() < total {
        return Err(FrameError::Truncated { have: bytes.len(), need: total });
    }
    let carried = le_u32(bytes, total - CRC_LEN);
    let computed = crc32(&bytes[..total - CRC_LEN]);
    if carried != computed {
        return Err(FrameError::BadCrc { carried, computed });
    }
    Ok(total)
}

/// What a stream reader found.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Frame(Frame),
    /// A rejected frame. `ids` (model id, sequence) are set when the payload
    /// was long enough to hold them, so that the sender can be told; after a
    /// CRC failure they are a best guess.
    Bad { error: FrameError, ids: Option<(u32, u32)> },
}

/// Incremental frame parser for a byte stream. Bytes outside frames are
/// skipped (counted in `skipped`); a rejected header or CRC makes it drop only
/// the first byte of the candidate and search again, so that real frames that
/// a false or corrupted header swallowed are still found. A candidate whose
/// bytes are still coming is given up at once when a complete frame with a
/// good CRC starts inside it, and otherwise at its deadline, which runs from
/// the arrival of its first byte (`FRAME_TIME` + its size at `MIN_RATE`).
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    /// (stream offset just past a pushed chunk, when it arrived), oldest first.
    arrivals: VecDeque<(u64, Instant)>,
    /// Stream offset up to which later magics have been looked at.
    scanned: u64,
    /// Later candidates with a good header whose bytes are still coming, as
    /// (stream offset of their end, of their start), soonest end first.
    waiting: BinaryHeap<Reverse<(u64, u64)>>,
    /// Bytes dropped while searching for a magic.
    pub skipped: u64,
}

impl FrameReader {
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.push_at(bytes, Instant::now());
    }

    /// `push`, with the bytes' arrival time given (for tests).
    pub fn push_at(&mut self, bytes: &[u8], now: Instant) {
        self.buf.extend_from_slice(bytes);
        let end = self.start + self.buf.len() as u64;
        // Chunks within 10 ms share the first one's time: few entries, and
        // deadlines only ever come early.
        match self.arrivals.back_mut() {
            Some((e, t)) if now.saturating_duration_since(*t) < Duration::from_millis(10) => *e = end,
            _ => self.arrivals.push_back((end, now)),
        }
    }

    /// Bytes held, waiting for the rest of a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// When the partial frame held (if any) is given up.
    pub fn deadline(&self) -> Option<Instant> {
        if self.buf.is_empty() {
            return None;
        }
        let since = self.arrivals.iter().find(|(end, _)| *end > self.start).map_or_else(Instant::now, |a| a.1);
        let need = check_header(&self.buf).unwrap_or(HEADER_LEN) as u64;
        Some(since + FRAME_TIME + Duration::from_millis(need * 1000 / MIN_RATE))
    }

    /// Everything found by `now`: frames, rejections, and partial frames
    /// given up because their deadline passed.
    pub fn poll(&mut self, now: Instant) -> Vec<Parsed> {
        let mut found: Vec<Parsed> = std::iter::from_fn(|| self.next_parsed()).collect();
        while self.deadline().is_some_and(|d| d <= now) {
            found.extend(self.abandon_partial());
            found.extend(std::iter::from_fn(|| self.next_parsed()));
        }
        found
    }

    /// The next frame or rejection; None when more bytes are needed.
    pub fn next_parsed(&mut self) -> Option<Parsed> {
        self.seek_magic();
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        let total = match check_header(&self.buf) {
            Ok(total) => total,
            Err(error) => return Some(self.reject(error, None)),
        };
        if self.buf.len() < total {
            if let Some(error) = length_error(&self.buf) {
                return Some(self.reject(error, None));
            }
            let at = self.complete_frame_inside()?;
            let error = FrameError::Truncated { have: at, need: total };
            self.drop_front(at);
            self.skipped += at as u64;
            return Some(Parsed::Bad { error, ids: None });
        }
        let ids = (total >= HEADER_LEN + 8 + CRC_LEN).then(|| (le_u32(&self.buf, 8), le_u32(&self.buf, 12)));
        match Frame::decode(&self.buf[..total]) {
            Ok((frame, _)) => {
                self.drop_front(total);
                Some(Parsed::Frame(frame))
            }
            Err(error @ FrameError::BadCrc { .. }) => Some(self.reject(error, ids)),
            Err(error) => {
                // The CRC held, so the length was right: drop the whole frame.
                self.drop_front(total);
                Some(Parsed::Bad { error, ids })
            }
        }
    }

    /// The offset in `buf` of a complete frame with a good header and CRC
    /// that starts inside the partial one at 0 (any frame that starts before
    /// it is incomplete, so overlaps it and is false too). Each later
    /// position is looked at once, and again once its frame is complete.
    fn complete_frame_inside(&mut self) -> Option<usize> {
        let start = self.start;
        let from = (self.scanned.max(start + 1) - start) as usize;
        let to = (self.buf.len() + 1).saturating_sub(HEADER_LEN);
        for i in from..to {
            let b = &self.buf[i..];
            if b[..2] == MAGIC && length_error(b).is_none() {
                if let Ok(total) = check_header(b) {
                    let at = start + i as u64;
                    self.waiting.push(Reverse((at + total as u64, at)));
                }
            }
        }
        self.scanned = self.scanned.max(start + to as u64);
        let end = start + self.buf.len() as u64;
        while let Some(&Reverse((frame_end, at))) = self.waiting.peek() {
            if frame_end > end {
                return None;
            }
            self.waiting.pop();
            if at > start && check_envelope(&self.buf[(at - start) as usize..]).is_ok() {
                return Some((at - start) as usize);
            }
        }
        None
    }

    /// Gives up on a partial frame that stopped arriving (its header may have
    /// been noise): drops its first byte so that the search goes on.
    pub fn abandon_partial(&mut self) -> Option<Parsed> {
        self.seek_magic();
        if self.buf.is_empty() || self.buf[0] != MAGIC[0] {
            return None;
        }
        let need = check_header(&self.buf).unwrap_or(HEADER_LEN);
        let error = FrameError::Truncated { have: self.buf.len(), need };
        Some(self.reject(error, None))
    }

    fn reject(&mut self, error: FrameError, ids: Option<(u32, u32)>) -> Parsed {
        self.drop_front(1);
        self.skipped += 1;
        Parsed::Bad { error, ids }
    }

    fn drop_front(&mut self, n: usize) {
        self.buf.drain(..n);
        self.start += n as u64;
        while self.arrivals.front().is_some_and(|(end, _)| *end <= self.start) {
            self.arrivals.pop_front();
        }
    }

    /// Drops bytes before the next magic; keeps a trailing first magic byte.
    fn seek_magic(&mut self) {
        let at = self
            .buf
            .windows(2)
            .position(|w| w == MAGIC)
            .unwrap_or_else(|| if self.buf.last() == Some(&MAGIC[0]) { self.buf.len() - 1 } else { self.buf.len() });
        if at > 0 {
            self.drop_front(at);
            self.skipped += at as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query { model_id: model_id("cnn"), seq: 7, scale: 0.5, zero_point: -3, dims: vec![1, 2, 3], data: vec![-128, -3, 0, 1, 2, 127] }
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn reply_bytes_by_hand() {
        let f = Frame::Reply(Reply { model_id: 1, seq: 2, label: 3, score: Some(0.5) }).encode();
        let mut want = vec![0x48, 0x59, 1, 2, 20, 0, 0, 0];
        want.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f]);
        let crc = crc32(&want);
        want.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(f, want);
    }

    #[test]
    fn error_bytes_by_hand() {
        let f = Frame::Error(ErrorFrame::new(0, 9, ErrorCode::CloudTimeout, "t/o")).encode();
        let body = [0x48, 0x59, 1, 3, 15, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 3, 0, b't', b'/', b'o'];
        assert_eq!(&f[..body.len()], &body);
        assert_eq!(f.len(), body.len() + 4);
        assert_eq!(&f[body.len()..], &crc32(&body).to_le_bytes());
    }

    #[test]
    fn query_layout_and_round_trip() {
        let q = query();
        let bytes = Frame::Query(q.clone()).encode();
        assert_eq!(bytes.len(), 8 + 20 + 12 + 6 + 4);
        assert_eq!(&bytes[8 + 8..8 + 12], &[1, 3, 0, 0]); // int8, rank 3, reserved
        assert_eq!(&bytes[8 + 12..8 + 16], &0.5f32.to_le_bytes());
        assert_eq!(&bytes[8 + 16..8 + 20], &(-3i32).to_le_bytes());
        assert_eq!(Frame::decode(&bytes), Ok((Frame::Query(q.clone()), bytes.len())));
        assert_eq!(q.dequantize(), vec![-62.5, 0.0, 1.5, 2.0, 2.5, 65.0]);
    }

    #[test]
    fn reply_and_error_round_trip() {
        for f in [
            Frame::Reply(Reply { model_id: 5, seq: u32::MAX, label: -1, score: None }),
            Frame::Reply(Reply { model_id: 5, seq: 0, label: 9, score: Some(0.25) }),
            Frame::Error(ErrorFrame::new(1, 2, ErrorCode::BadQuery, "rank 9 — too high")),
        ] {
            let bytes = f.encode();
            assert_eq!(Frame::decode(&bytes), Ok((f, bytes.len())));
        }
    }

    #[test]
    fn long_error_message_is_cut_at_a_char_boundary() {
        let e = ErrorFrame::new(0, 0, ErrorCode::CloudError, "é".repeat(40_000));
        let Ok((Frame::Error(back), _)) = Frame::decode(&Frame::Error(e).encode()) else { panic!() };
        assert_eq!(back.message.len(), 65_534);
    }

    fn corrupt(bytes: &[u8], at: usize, value: u8) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b[at] = value;
        b
    }

    #[test]
    fn strict_envelope() {
        let good = Frame::Query(query()).encode();
        let last = good.len() - 1;
        assert_eq!(Frame::decode(&corrupt(&good, 0, b'X')), Err(FrameError::BadMagic([b'X', b'Y'])));
        assert_eq!(Frame::decode(&corrupt(&good, 2, 2)), Err(FrameError::BadVersion(2)));
        assert_eq!(Frame::decode(&corrupt(&good, 3, 4)), Err(FrameError::BadType(4)));
        assert_eq!(Frame::decode(&corrupt(&good, 6, 0x20)), Err(FrameError::TooLong(0x20_0000 + good.len() as u32 - 12)));
        assert!(matches!(Frame::decode(&corrupt(&good, 30, 9)), Err(FrameError::BadCrc { .. })));
        assert!(matches!(Frame::decode(&corrupt(&good, last, 0)), Err(FrameError::BadCrc { .. })));
        assert_eq!(Frame::decode(&good[..10]), Err(FrameError::Truncated { have: 10, need: good.len() }));
        // Exactly 1 MiB is allowed; one more byte is not.
        let mut big = vec![0x48, 0x59, 1, 1];
        big.extend_from_slice(&(MAX_PAYLOAD as u32 + 1).to_le_bytes());
        assert_eq!(Frame::decode(&big), Err(FrameError::TooLong(MAX_PAYLOAD as u32 + 1)));
        let max = seal(TYPE_QUERY, &vec![0u8; MAX_PAYLOAD]);
        assert!(!matches!(Frame::decode(&max), Err(FrameError::TooLong(_))));
    }

    #[test]
    fn strict_query() {
        let p = query().payload();
        let with = |at: usize, v: u8| Frame::decode(&seal(TYPE_QUERY, &corrupt(&p, at, v)));
        assert_eq!(with(8, 2), Err(FrameError::BadElementType(2)));
        assert_eq!(with(9, 0), Err(FrameError::BadRank(0)));
        assert_eq!(with(9, 9), Err(FrameError::BadRank(9)));
        assert_eq!(with(20, 0), Err(FrameError::BadDims(vec![0, 2, 3])));
        assert_eq!(with(20, 2), Err(FrameError::DataLength { dims: vec![2, 2, 3], expected: 12, actual: 6 }));
        assert_eq!(with(9, 2), Err(FrameError::DataLength { dims: vec![1, 2], expected: 2, actual: 10 }));
        let short = Frame::decode(&seal(TYPE_QUERY, &p[..p.len() - 1]));
        assert_eq!(short, Err(FrameError::DataLength { dims: vec![1, 2, 3], expected: 6, actual: 5 }));
        assert!(matches!(Frame::decode(&seal(TYPE_QUERY, &p[..5])), Err(FrameError::PayloadLength { .. })));
        let huge = [0xff, 0xff, 0xff, 0xff].repeat(8);
        let mut q = p[..20].to_vec();
        q[9] = 8;
        q.extend_from_slice(&huge);
        assert!(matches!(Frame::decode(&seal(TYPE_QUERY, &q)), Err(FrameError::BadDims(_))));
        assert!(matches!(Frame::decode(&seal(TYPE_REPLY, &[0; 16])), Err(FrameError::PayloadLength { .. })));
        assert_eq!(FrameError::BadRank(0).code(), ErrorCode::BadQuery);
        assert_eq!(FrameError::BadVersion(0).code(), ErrorCode::BadFrame);
    }

    fn drain(r: &mut FrameReader) -> Vec<Parsed> {
        std::iter::from_fn(|| r.next_parsed()).collect()
    }

    #[test]
    fn stream_byte_by_byte_with_garbage() {
        let a = Frame::Query(query());
        let b = Frame::Reply(Reply { model_id: 1, seq: 2, label: 3, score: None });
        let mut stream = b"noise H HY".to_vec();
        stream.extend(a.encode());
        stream.extend(b"\x00\xffH");
        stream.extend(b.encode());
        let mut r = FrameReader::new();
        let mut got = vec![];
        for byte in &stream {
            r.push(&[*byte]);
            got.extend(drain(&mut r));
        }
        // "HY" followed by "HY\x01..." is a header with version 0x48: rejected, then resynced.
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(matches!(&got[0], Parsed::Bad { error: FrameError::BadVersion(0x48), ids: None }));
        assert_eq!(got[1], Parsed::Frame(a));
        assert_eq!(got[2], Parsed::Frame(b));
        assert_eq!(r.pending(), 0);
        assert_eq!(r.skipped, 8 + 1 + 1 + 3);
    }

    #[test]
    fn bad_crc_reports_ids_and_keeps_the_next_frame() {
        let good = Frame::Query(query()).encode();
        let mut stream = corrupt(&good, 30, 0x55);
        stream.extend(&good);
        let mut r = FrameReader::new();
        r.push(&stream);
        let got = drain(&mut r);
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0], Parsed::Bad { error: FrameError::BadCrc { .. }, ids: Some((id, 7)) } if id == model_id("cnn")));
        assert_eq!(got[1], Parsed::Frame(Frame::Query(query())));
    }

    #[test]
    fn a_false_header_does_not_swallow_real_frames() {
        // A header that claims 64 bytes, then a real frame: the real frame is
        // found as soon as it is complete, without waiting for the 64 bytes.
        let good = Frame::Reply(Reply { model_id: 1, seq: 1, label: 1, score: None }).encode();
        let mut stream = vec![0x48, 0x59, 1, 1, 64, 0, 0, 0];
        stream.extend(&good);
        let mut r = FrameReader::new();
        r.push(&stream[..stream.len() - 1]);
        assert_eq!(drain(&mut r), vec![]);
        r.push(&stream[stream.len() - 1..]);
        let got = drain(&mut r);
        assert!(matches!(got[0], Parsed::Bad { error: FrameError::Truncated { have: 8, need: 76 }, ids: None }), "{got:?}");
        assert_eq!(got[1..], [Parsed::Frame(Frame::decode(&good).unwrap().0)]);
        assert_eq!((r.pending(), r.skipped), (0, 8));
        assert_eq!(r.abandon_partial(), None);
    }

    #[test]
    fn an_incomplete_frame_with_an_impossible_length_is_given_up_at_once() {
        for (header, error) in [
            ([0x48, 0x59, 1, 2, 0, 0, 0x10, 0], FrameError::BadLength { what: "reply", len: 0x10_0000 }),
            ([0x48, 0x59, 1, 1, 24, 0, 0, 0], FrameError::BadLength { what: "query", len: 24 }),
            ([0x48, 0x59, 1, 3, 0, 0, 2, 0], FrameError::BadLength { what: "error", len: 0x2_0000 }),
        ] {
            let mut r = FrameReader::new();
            r.push(&header);
            let got = drain(&mut r);
            assert_eq!(got, vec![Parsed::Bad { error: error.clone(), ids: None }]);
            assert_eq!(error.code(), ErrorCode::BadFrame);
        }
        // Complete with a good CRC, the frame is decoded: its sender hears why.
        let mut r = FrameReader::new();
        r.push(&seal(TYPE_REPLY, &[0; 16]));
        assert!(matches!(drain(&mut r)[..], [Parsed::Bad { error: FrameError::PayloadLength { .. }, ids: Some((0, 0)) }]));
    }

    #[test]
    fn stacked_false_headers_then_a_query_cost_no_wait() {
        // 16 false headers (each a plausible query header claiming 1 MiB),
        // noise, then a real query: found at once, with no deadline passing.
        let mut stream = vec![];
        for _ in 0..16 {
            stream.extend([0x48, 0x59, 1, 1, 0, 0, 0x10, 0]);
            stream.extend(b"noise");
        }
        stream.extend(Frame::Query(query()).encode());
        let mut r = FrameReader::new();
        let t0 = Instant::now();
        for chunk in stream.chunks(3) {
            r.push_at(chunk, t0);
        }
        let got = r.poll(t0);
        assert_eq!(got.last(), Some(&Parsed::Frame(Frame::Query(query()))), "{got:?}");
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn a_flood_of_plausible_headers_byte_by_byte_stays_cheap() {
        // 64 KiB of headers that each announce 1 MiB, one byte at a time,
        // then a query: each position is looked at once, the query is found.
        let mut stream = [0x48, 0x59, 1, 1, 0, 0, 0x10, 0].repeat(8192);
        stream.extend(Frame::Query(query()).encode());
        let mut r = FrameReader::new();
        let t0 = Instant::now();
        let mut got = vec![];
        for b in &stream {
            r.push_at(&[*b], t0);
            got.extend(r.poll(t0));
        }
        assert_eq!(got.last(), Some(&Parsed::Frame(Frame::Query(query()))));
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[test]
    fn a_partial_frame_is_given_up_at_a_deadline_from_its_first_byte() {
        let t0 = Instant::now();
        let mut r = FrameReader::new();
        // A header announcing 1 MiB, then a trickle of noise that keeps coming.
        r.push_at(&[0x48, 0x59, 1, 1, 0, 0, 0x10, 0], t0);
        let deadline = r.deadline().unwrap();
        let expected = FRAME_TIME + Duration::from_millis((HEADER_LEN + MAX_PAYLOAD + CRC_LEN) as u64 * 1000 / MIN_RATE);
        assert_eq!(deadline, t0 + expected);
        for i in 1..100u64 {
            r.push_at(&[0], t0 + Duration::from_secs(i));
            assert_eq!(r.deadline(), Some(deadline), "the trickle must not move the deadline");
        }
        assert_eq!(r.poll(deadline - Duration::from_millis(1)), vec![]);
        let got = r.poll(deadline);
        assert!(matches!(got[..], [Parsed::Bad { error: FrameError::Truncated { .. }, .. }]), "{got:?}");
        assert_eq!(r.pending(), 0);
        assert_eq!(r.deadline(), None);
        // A lone header waits FRAME_TIME and its own size, no more.
        r.push_at(&[0x48], t0);
        assert_eq!(r.deadline(), Some(t0 + FRAME_TIME + Duration::from_millis(HEADER_LEN as u64 * 1000 / MIN_RATE)));
    }

    #[test]
    fn zero_point_and_scale_are_checked() {
        for zp in [i32::MIN, i32::MAX, -129, 128] {
            let q = Query { zero_point: zp, data: vec![-128, 127, 0, 0, 0, 0], ..query() };
            // Dequantizing a hand-built query cannot overflow either.
            assert!(q.dequantize().iter().all(|v| v.is_finite()));
            let bytes = Frame::Query(q).encode();
            assert_eq!(Frame::decode(&bytes), Err(FrameError::BadZeroPoint(zp)));
            assert!(FrameError::BadZeroPoint(zp).to_string().contains(&zp.to_string()));
        }
        for zp in [-128, 127] {
            assert!(Frame::decode(&Frame::Query(Query { zero_point: zp, ..query() }).encode()).is_ok());
        }
        for scale in [0.0, -1.0, f32::NAN, f32::INFINITY, f32::MAX / 200.0] {
            let bytes = Frame::Query(Query { scale, ..query() }).encode();
            assert!(matches!(Frame::decode(&bytes), Err(FrameError::BadScale(_))), "{scale}");
        }
        assert_eq!(FrameError::BadZeroPoint(0).code(), ErrorCode::BadQuery);
    }

    #[test]
    fn valid_crc_bad_query_is_consumed_whole() {
        let mut p = query().payload();
        p[9] = 0;
        let mut stream = seal(TYPE_QUERY, &p);
        stream.extend(Frame::Query(query()).encode());
        let mut r = FrameReader::new();
        r.push(&stream);
        let got = drain(&mut r);
        assert_eq!(got[0], Parsed::Bad { error: FrameError::BadRank(0), ids: Some((model_id("cnn"), 7)) });
        assert_eq!(got[1], Parsed::Frame(Frame::Query(query())));
        assert_eq!(got.len(), 2);
    }
}
