//! The hybrid on the device: the edge model and the router run on every
//! input, and the cloud is asked (through the application's [`Offload`])
//! only when the router's score exceeds [`THRESHOLD`]. Route: {{ info.route }}.
//! A port of runtime-c/hybrid (hyb_hybrid.c, hyb_frame.c): the same
//! decisions and byte-identical query frames (FRAMES.md).

use crate::kernels::frame::{
    query_len, query_payload_len, CRC_LEN, ELEM_INT8, ERROR_FIXED, HEADER_LEN, MAGIC, MAX_RANK,
    QUERY_FIXED, REPLY_LEN, TYPE_QUERY, TYPE_REPLY, VERSION,
};
use crate::{Arena, Model, Observer};

/// Query the cloud when the router's score exceeds this (real units).
pub const THRESHOLD: f32 = {{ threshold }};
/// FNV-1a hash of the model name, sent in every query frame.
pub const MODEL_ID: u32 = {{ info.model_id }};
/// Classes of the edge model's output.
pub const NUM_CLASSES: usize = {{ io.num_classes }};
/// The int8 tensor sent to the cloud: its ONNX shape, scale and zero point.
pub const QUERY_DIMS: [u32; {{ io.query_dims.len() }}] = [{{ query_dims }}];
/// Quantization of the query tensor: real = scale * (q - zero point).
pub const QUERY_QUANT: (f32, i32) = ({{ query_scale }}, {{ io.query_q.zero_point }});
/// Bytes of one query frame: header, payload, CRC.
pub const FRAME_BYTES: usize = {{ io.frame_size }};

const EDGE_OUTPUT: usize = {{ io.edge_output }};
const ROUTER_OUTPUT: usize = {{ io.router_output }};
const QUERY_OUTPUT: usize = {{ io.query_output }};
const ROUTER_QUANT: (f32, i32) = ({{ router_scale }}, {{ io.router_q.zero_point }});

/// Where a decision's label comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Source {
    /// The edge model's answer.
    Edge = 0,
    /// The cloud model's answer.
    Cloud = 1,
    /// The cloud was wanted but not reached: the edge model's answer.
    EdgeFallback = 2,
}

/// One input's decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The class.
    pub label: i32,
    /// Who gave it.
    pub source: Source,
    /// The router's score, in the float model's units.
    pub score: f32,
}

/// Why the cloud gave no label; the edge's answer is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadError {
    /// There is no link to the cloud.
    NoLink,
    /// The link failed, timed out or the cloud answered with an error.
    Failed,
}

/// Carries a query frame (runtime-c/hybrid/FRAMES.md) to the cloud and
/// returns the cloud's label. The application implements it over its link
/// (UART, TCP, ...); [`NoLink`] (the default method) never reaches it.
pub trait Offload {
    /// Sends `frame` and waits for the reply's label.
    fn offload(&mut self, frame: &[u8]) -> Result<i32, OffloadError> {
        let _ = frame;
        Err(OffloadError::NoLink)
    }
}

/// No link: every routed input falls back to the edge's answer.
pub struct NoLink;

impl Offload for NoLink {}

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320), as hyb_crc32.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

/// Writes a query frame into `buf`, as hyb_frame_query; returns its length,
/// or 0 when it does not fit or the rank is not 1..=8.
pub fn query_frame(
    buf: &mut [u8],
    model_id: u32,
    seq: u32,
    quant: (f32, i32),
    dims: &[u32],
    data: &[i8],
) -> usize {
    let payload = query_payload_len(dims.len(), data.len());
    let total = query_len(dims.len(), data.len());
    if total > buf.len() || dims.is_empty() || dims.len() > MAX_RANK {
        return 0;
    }
    buf[..4].copy_from_slice(&[MAGIC[0], MAGIC[1], VERSION, TYPE_QUERY]);
    buf[4..8].copy_from_slice(&(payload as u32).to_le_bytes());
    buf[8..12].copy_from_slice(&model_id.to_le_bytes());
    buf[12..16].copy_from_slice(&seq.to_le_bytes());
    buf[16..20].copy_from_slice(&[ELEM_INT8, dims.len() as u8, 0, 0]);
    buf[20..24].copy_from_slice(&quant.0.to_bits().to_le_bytes());
    buf[24..28].copy_from_slice(&quant.1.to_le_bytes());
    let mut at = HEADER_LEN + QUERY_FIXED;
    for d in dims {
        buf[at..at + 4].copy_from_slice(&d.to_le_bytes());
        at += 4;
    }
    for (o, &q) in buf[at..at + data.len()].iter_mut().zip(data) {
        *o = q as u8;
    }
    let crc = crc32(&buf[..HEADER_LEN + payload]);
    buf[HEADER_LEN + payload..total].copy_from_slice(&crc.to_le_bytes());
    total
}

/// Bytes this side reads of a frame from the cloud: a reply or an error
/// frame with up to 256 bytes of message.
pub const REPLY_BYTES: usize = HEADER_LEN + ERROR_FIXED + 256 + CRC_LEN;

fn word(f: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]])
}

/// Reads one frame into `buf`, byte by byte from `get_byte` (None: timed
/// out or link lost), skipping bytes until the magic, as hyb_frame_read;
/// its length, or None when the link failed or the frame does not fit.
pub fn read_frame(mut get_byte: impl FnMut() -> Option<u8>, buf: &mut [u8]) -> Option<usize> {
    let mut prev = None;
    loop {
        let c = get_byte()?;
        if prev == Some(MAGIC[0]) && c == MAGIC[1] {
            break;
        }
        prev = Some(c);
    }
    if buf.len() < HEADER_LEN {
        return None;
    }
    buf[..2].copy_from_slice(&MAGIC);
    for b in &mut buf[2..HEADER_LEN] {
        *b = get_byte()?;
    }
    let total = (word(buf, 4) as usize).checked_add(HEADER_LEN + CRC_LEN)?;
    for b in buf.get_mut(HEADER_LEN..total)? {
        *b = get_byte()?;
    }
    Some(total)
}

/// The cloud's label in reply frame `f` to query `seq`, as
/// hyb_frame_parse_reply; an error frame or a bad or stray reply fails.
pub fn parse_reply(f: &[u8], seq: u32) -> Result<i32, OffloadError> {
    let envelope = HEADER_LEN + CRC_LEN;
    if f.len() < envelope || f[..3] != [MAGIC[0], MAGIC[1], VERSION] || word(f, 4) as usize + envelope != f.len() {
        return Err(OffloadError::Failed);
    }
    let end = f.len() - CRC_LEN;
    if word(f, end) != crc32(&f[..end]) || f[3] != TYPE_REPLY || end < HEADER_LEN + REPLY_LEN || word(f, 12) != seq {
        return Err(OffloadError::Failed);
    }
    Ok(word(f, 16) as i32)
}

/// One query over a byte stream, for links that carry frames as bytes (a
/// TCP socket, a UART): `send` writes the frame (false: the link failed),
/// then the reply is read from `get_byte` and checked against the query.
pub fn exchange(
    frame: &[u8],
    send: impl FnOnce(&[u8]) -> bool,
    get_byte: impl FnMut() -> Option<u8>,
) -> Result<i32, OffloadError> {
    if frame.len() < 16 || !send(frame) {
        return Err(OffloadError::NoLink);
    }
    let mut reply = [0u8; REPLY_BYTES];
    let n = read_frame(get_byte, &mut reply).ok_or(OffloadError::NoLink)?;
    parse_reply(&reply[..n], word(frame, 12))
}

/// Element `i` of a model output in real units.
fn real(bytes: &[i8], float: bool, quant: (f32, i32), i: usize) -> f32 {
    if float {
        let b = &bytes[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
    } else {
        (i32::from(bytes[i]) - quant.1) as f32 * quant.0
    }
}

/// Edge model and router over a borrowed arena, asking the cloud through
/// `L` for the inputs the router flags.
pub struct Hybrid<'a, L: Offload> {
    model: Model<'a>,
    link: L,
    seq: u32,
    frame: [u8; FRAME_BYTES],
}

impl<'a, L: Offload> Hybrid<'a, L> {
    /// The hybrid over `arena`, offloading through `link`.
    pub fn new(arena: &'a mut Arena, link: L) -> Self {
        Hybrid {
            model: Model::new(arena),
            link,
            seq: 0,
            frame: [0; FRAME_BYTES],
        }
    }

    /// The link, e.g. to read its counters.
    pub fn link(&mut self) -> &mut L {
        &mut self.link
    }

    /// Decides on one input (the model's input, raw bytes{% if input_float %}:
    /// little-endian `f32`{% endif %}), as hyb_infer.
    pub fn infer_bytes<O: Observer + ?Sized>(&mut self, input: &[i8], observer: &mut O) -> Decision {
        self.model.input_bytes(0).copy_from_slice(input);
        self.model.run(observer);
        let edge = self.model.output_bytes(EDGE_OUTPUT);
        let mut best = 0;
        for k in 1..NUM_CLASSES {
            // Compared in the stored type: int8 order is the real order.
{%- if io.edge_float %}
            if real(edge, true, (1.0, 0), k) > real(edge, true, (1.0, 0), best) {
{%- else %}
            if edge[k] > edge[best] {
{%- endif %}
                best = k;
            }
        }
        let score = real(self.model.output_bytes(ROUTER_OUTPUT), {{ io.router_float }}, ROUTER_QUANT, 0);
        let mut d = Decision {
            label: best as i32,
            source: Source::Edge,
            score,
        };
        if score > THRESHOLD {
            self.seq = self.seq.wrapping_add(1);
            let n = query_frame(
                &mut self.frame,
                MODEL_ID,
                self.seq,
                QUERY_QUANT,
                &QUERY_DIMS,
                self.model.output_bytes(QUERY_OUTPUT),
            );
            d.source = Source::EdgeFallback;
            if n > 0 {
                if let Ok(label) = self.link.offload(&self.frame[..n]) {
                    d.label = label;
                    d.source = Source::Cloud;
                }
            }
        }
        d
    }

    /// Decides on one input.
    pub fn infer(&mut self, input: &[{{ input_type }}; crate::INPUT_LEN]) -> Decision {
{%- if input_float %}
        let mut bytes = [0i8; crate::INPUT_BYTES[0]];
        for (d, s) in bytes.chunks_exact_mut(4).zip(input) {
            for (d, b) in d.iter_mut().zip(s.to_le_bytes()) {
                *d = b as i8;
            }
        }
        self.infer_bytes(&bytes, &mut ())
{%- else %}
        self.infer_bytes(input, &mut ())
{%- endif %}
    }
}
