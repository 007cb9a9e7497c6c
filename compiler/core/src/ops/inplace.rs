//! Which ops may write their output over a dying input, and how; each op
//! states its modes (`OpKind::in_place`), the planner chooses among them.
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

/// Alignment of every buffer in the arena (word access for the kernels).
pub const ALIGN: usize = 4;

pub fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Output in its own buffer.
    Off,
    /// Output at least `lag` bytes below any input that dies at the op.
    Lag { lag: usize },
    /// Output exactly over input 0, with a ring of `ring` bytes of scratch.
    Ring { ring: usize },
}

/// The modes of a kernel that computes each output pixel from a window and
/// writes pixels in raster order.
pub fn window_modes(in_hwc: [usize; 3], out_hwc: [usize; 3], stride: [usize; 2], pad: [usize; 2]) -> Vec<Mode> {
    vec![Mode::Lag { lag: align(window_lag(in_hwc, out_hwc, stride, pad)) }]
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

/// Element-wise ops: output element i reads element i of each input only
/// (no broadcasting), so the output may lie exactly over an input.
pub fn elementwise_modes(g: &super::Graph, op: &super::Op) -> Vec<Mode> {
    if op.inputs.iter().all(|&t| g.tensors[t].shape == g.tensors[op.output].shape) {
        vec![Mode::Lag { lag: 0 }]
    } else {
        vec![Mode::Off]
    }
}
