//! The hybrid on the device: the edge model and the router run on every
//! input, and the cloud is asked (through the application's [`Offload`])
//! only when the router's score exceeds [`THRESHOLD`]. Route: {{ info.route }}.
//! A port of runtime-c/hybrid (hyb_hybrid.c, hyb_frame.c): the same
//! decisions and byte-identical query frames (FRAMES.md).

use crate::{Arena, Model, Observer};

/// Query the cloud when the router's score exceeds this (real units).
pub const THRESHOLD: f32 = {{ threshold }};
/// FNV-1a hash of the model name, sent in every query frame.
pub const MODEL_ID: u32 = {{ info.model_id }};
/// Classes of the edge model's output.
pub const NUM_CLASSES: usize = {{ num_classes }};
/// The int8 tensor sent to the cloud: its ONNX shape, scale and zero point.
pub const QUERY_DIMS: [u32; {{ query_rank }}] = [{{ query_dims }}];
/// Quantization of the query tensor: real = scale * (q - zero point).
pub const QUERY_QUANT: (f32, i32) = ({{ query_scale }}, {{ query_zp }});
/// Bytes of one query frame: header, payload, CRC.
pub const FRAME_BYTES: usize = {{ frame_size }};

const EDGE_OUTPUT: usize = {{ edge_output }};
const ROUTER_OUTPUT: usize = {{ router_output }};
const QUERY_OUTPUT: usize = {{ query_output }};
const ROUTER_QUANT: (f32, i32) = ({{ router_scale }}, {{ router_zp }});

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
    let payload = 20 + 4 * dims.len() + data.len();
    let total = 8 + payload + 4;
    if total > buf.len() || dims.is_empty() || dims.len() > 8 {
        return 0;
    }
    buf[..4].copy_from_slice(&[0x48, 0x59, 1, 1]);
    buf[4..8].copy_from_slice(&(payload as u32).to_le_bytes());
    buf[8..12].copy_from_slice(&model_id.to_le_bytes());
    buf[12..16].copy_from_slice(&seq.to_le_bytes());
    buf[16..20].copy_from_slice(&[1, dims.len() as u8, 0, 0]);
    buf[20..24].copy_from_slice(&quant.0.to_bits().to_le_bytes());
    buf[24..28].copy_from_slice(&quant.1.to_le_bytes());
    let mut at = 28;
    for d in dims {
        buf[at..at + 4].copy_from_slice(&d.to_le_bytes());
        at += 4;
    }
    for (o, &q) in buf[at..at + data.len()].iter_mut().zip(data) {
        *o = q as u8;
    }
    let crc = crc32(&buf[..8 + payload]);
    buf[8 + payload..total].copy_from_slice(&crc.to_le_bytes());
    total
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
{%- if edge_float %}
            if real(edge, true, (1.0, 0), k) > real(edge, true, (1.0, 0), best) {
{%- else %}
            if edge[k] > edge[best] {
{%- endif %}
                best = k;
            }
        }
        let score = real(self.model.output_bytes(ROUTER_OUTPUT), {{ router_float }}, ROUTER_QUANT, 0);
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
