//! Which ops may write their output over a dying input, and how.
//!
//! `Lag`: any kernel that writes output pixels in raster order (NHWC, pixel
//! by pixel, each from its own window) may place its output `lag` bytes
//! below its input: output pixel q then never lands on an input byte that
//! pixel q or a later one still reads. Needs no special kernel.
//!
//! `Ring`: a stride-1 convolution whose output has the input's shape runs
//! with output == input, saving each input pixel into a small ring just
//! before it is overwritten (`hyb_conv_s8_inplace`,
//! `hyb_depthwise_conv_s8_inplace`); the ring is scratch in the arena. For
//! a 1x1 convolution the ring is one pixel: the per-pixel temporary.

use super::align;
use crate::ir::{Graph, Op, OpKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Output in its own buffer.
    Off,
    /// Output at least `lag` bytes below any input that dies at the op.
    Lag { lag: usize },
    /// Output exactly over input 0, with a ring of `ring` bytes of scratch.
    Ring { ring: usize },
}

/// The modes an op allows, most memory-saving first.
pub fn modes(g: &Graph, op: &Op) -> Vec<Mode> {
    let in_hwc = g.tensors[op.inputs[0]].hwc();
    let out_hwc = g.tensors[op.output].hwc();
    match &op.kind {
        OpKind::Conv2d(c) => {
            let lag = window_lag(in_hwc, out_hwc, c.stride, [c.pad_top, c.pad_left]);
            let mut m = vec![Mode::Lag { lag: align(lag) }];
            if c.stride == [1, 1] && in_hwc == out_hwc {
                let pixels = c.pad_top * in_hwc[1] + c.pad_left + 1;
                m.insert(0, Mode::Ring { ring: align(pixels * in_hwc[2]) });
            }
            m
        }
        OpKind::AveragePool(p) | OpKind::MaxPool(p) => {
            vec![Mode::Lag { lag: align(window_lag(in_hwc, out_hwc, p.stride, [p.pad_top, p.pad_left])) }]
        }
        // Element i of the output reads element i of each input only (no broadcasting).
        OpKind::Add { .. } | OpKind::Mul { .. } if op.inputs.iter().all(|&t| g.tensors[t].shape == g.tensors[op.output].shape) => {
            vec![Mode::Lag { lag: 0 }]
        }
        OpKind::Lut { .. } => vec![Mode::Lag { lag: 0 }],
        _ => vec![Mode::Off],
    }
}

/// The least distance between output and input such that writing output
/// pixels in raster order never clobbers an input byte still to be read:
/// max over q of end(output pixel q) - lowest input byte read by pixels >= q.
pub fn window_lag(in_hwc: [usize; 3], out_hwc: [usize; 3], stride: [usize; 2], pad: [usize; 2]) -> usize {
    let [_, in_w, in_c] = in_hwc;
    let [out_h, out_w, out_c] = out_hwc;
    let mut lowest_ahead = usize::MAX;
    let mut lag = 0;
    for q in (0..out_h * out_w).rev() {
        let (oy, ox) = (q / out_w, q % out_w);
        // The window's top-left input pixel, clamped into the image.
        let row = (oy * stride[0]).saturating_sub(pad[0]);
        let col = (ox * stride[1]).saturating_sub(pad[1]);
        lowest_ahead = lowest_ahead.min((row * in_w + col) * in_c);
        lag = lag.max(((q + 1) * out_c).saturating_sub(lowest_ahead));
    }
    lag
}
