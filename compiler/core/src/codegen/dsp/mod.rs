//! Per-layer C for targets with the DSP extension. Each layer becomes a
//! small function that calls an always-inlined kernel of
//! runtime-c/kernels/dsp with the layer's shapes and quantization as
//! literals, so gcc specialises the kernel for it. A layer that no DSP kernel
//! does exactly (see `layout::requant_exact`) keeps the portable kernel.

pub mod choose;
mod cost;
mod layout;


use super::layers::array_body;
use crate::ir::{Graph, Op, TensorId};
use crate::ops::{add::Binary as AddOp, conv::Conv as ConvOp, fully_connected::FullyConnected as FcOp, pool::Pool as PoolOp};
use hybridc_kernels::{add::Add as AddParams, conv::Conv as ConvParams, fully_connected::FullyConnected as FcParams, pool::Pool as PoolParams};
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use layout::{
    acc_bound, add_affine_shift, add_table, chan, chan_fields, constant_chan, dw3x3_band, dw3x3_offsets_fit, dw3x3_pw,
    dw3x3_weights, first_order, first_weights, first_widen, widen_stream, folded_bias, gemm_weights, live_block, live_channels, quad_weights, relu_floor,
    requant_exact, rows_weights, uniform_shift, with_constants, words,
};

/// The DSP kernels (runtime-c/kernels/dsp), one variant each; what a
/// variant is, needs and allows is stated here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// im2col and a 2x2 SMLAD tile (conv_s8.h): any convolution.
    Conv,
    /// A ring of sign-extended input rows read by the 4x2 tile: in_c % 4 == 0.
    ConvRows,
    /// im2col with the row kernel's tile (conv_s8.h): in_c % 4 == 0.
    ConvCol,
    /// 1x1 layers with at most 32 input channels.
    ConvPw,
    /// 1x1 layers whose live block is at most half the layer (live_channels_s8.h).
    ConvPwLive,
    /// First layers, in_c % 4 != 0 (conv_first_s8.h).
    ConvFirst,
    /// Depthwise on a zero-point padded copy (depthwise_s8.h).
    Depthwise,
    /// 3x3 depthwise in bands of 2x2 tiles, known channels from templates (depthwise3x3_s8.h).
    Depthwise3x3,
    FullyConnected,
    AvgPool,
    /// Add from compile-time tables.
    Add,
}

impl Kernel {
    /// The kernel's C function.
    pub fn c_name(self) -> &'static str {
        match self {
            Kernel::Conv => "hyb_dsp_conv_s8",
            Kernel::ConvRows => "hyb_dsp_conv_rows_s8",
            Kernel::ConvCol => "hyb_dsp_conv_col_s8",
            Kernel::ConvPw => "hyb_dsp_conv_pw_s8",
            Kernel::ConvPwLive => "hyb_dsp_conv_pw_live_s8",
            Kernel::ConvFirst => "hyb_dsp_conv_first_s8",
            Kernel::Depthwise => "hyb_dsp_depthwise_s8",
            Kernel::Depthwise3x3 => "hyb_dsp_depthwise3x3_s8",
            Kernel::FullyConnected => "hyb_dsp_fully_connected_s8",
            Kernel::AvgPool => "hyb_dsp_avg_pool_s8",
            Kernel::Add => "hyb_dsp_add_s8",
        }
    }

    /// The specialised function's parameters (but the scratch) and the
    /// kernel's operands.
    fn signature(self) -> (&'static str, &'static str) {
        match self {
            Kernel::Add => ("const int8_t *a, const int8_t *b, int8_t *out, const int32_t *t", "a, b, out, t"),
            Kernel::AvgPool => ("const int8_t *in, int8_t *out", "in, out"),
            _ => ("const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch", "in, out, w, ch"),
        }
    }

    /// Whether a stride-1 layer with the input's shape may run exactly in
    /// place (a ring, see `plan::KernelNeeds`): the row kernel has the
    /// window's rows converted before it writes a row over the input; the
    /// column kernel converts its four pixels before writing them (1x1).
    fn exact_in_place(self, c: &ConvParams) -> bool {
        match self {
            Kernel::ConvRows | Kernel::ConvPwLive => true,
            Kernel::ConvCol => c.kernel == [1, 1],
            _ => false,
        }
    }
}

/// The largest immediate offsets the kernels' asm encodes (Armv7-M):
/// LDRD/STRD, a word multiple up to 1020; LDR/LDRB/STRB up to 4095. The
/// compiler picks kernels by them and the C kernels test them: both read
/// these, the C through [`limits_c`].
pub const LDRD_IMM_MAX: usize = 1020;
pub const STRB_IMM_MAX: usize = 4095;

/// The limits as C macros, ahead of the DSP headers in every project.
pub fn limits_c() -> String {
    format!("#define HYB_DSP_LDRD_IMM_MAX {LDRD_IMM_MAX}\n#define HYB_DSP_STRB_IMM_MAX {STRB_IMM_MAX}\n")
}

/// Headers of runtime-c/kernels/dsp a DSP project carries (in runtime/dsp/).
pub const HEADERS: &[&str] = &["hyb_dsp.h", "conv_s8.h", "live_channels_s8.h", "conv_first_s8.h", "depthwise_s8.h", "depthwise3x3_s8.h", "fully_connected_s8.h", "avg_pool_s8.h", "add_s8.h"];

/// The layer's scratch (im2col columns, then the byte patch; ring planes):
/// a parameter of the specialised function, so each call passes its own
/// (planned in the arena, or one static buffer).
pub const SCRATCH: &str = "hyb_dsp_col";

/// A kernel specialised for one set of shapes and quantization constants;
/// layers that share them (DS-CNN's four blocks, MobileNet's five 128-channel
/// ones) share its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub params: String,
    pub body: String,
}

/// What a DSP layer adds to model.c.
pub struct DspLayer {
    /// The layer's constant data (re-laid-out weights, channel records).
    pub data: String,
    pub function: Function,
    /// Arguments of the call to `function`, but for the scratch pointer,
    /// which comes last when `scratch_words` > 0.
    pub args: String,
    /// int32 words of SCRATCH the layer uses.
    pub scratch_words: usize,
    /// The kernel may write its output exactly over its input (see
    /// `plan::KernelNeeds`): it reads the whole of every input row or pixel
    /// group a later output needs before writing over it.
    pub exact_in_place: bool,
    /// MACs of the layer the kernel skips: products with the zero weights
    /// of dead channels.
    pub skipped_macs: u64,
    pub kernel: Kernel,
    /// Estimated cycles the variant adds to its kernel's rate (`cost`).
    pub overhead: u64,
    /// What sets the variant apart (depthwise bands, direct reads), or empty.
    pub note: String,
}

/// Arena addresses of the layer's operands, as C expressions.
pub struct Operands<'a> {
    pub input: &'a str,
    pub second: &'a str,
    pub output: &'a str,
}

/// What a channel with no weights outputs: its requantized bias, clamped.
fn dead_output(c: &ConvParams, bias: i32, o: usize) -> i32 {
    (multiply_by_quantized_multiplier(bias, c.multiplier[o], c.shift[o]) + c.output_offset).clamp(c.act[0], c.act[1])
}

/// The layers a DSP kernel runs: the op's parameters as the kernels take them.
enum Layer<'a> {
    Conv(ConvParams<'a>),
    Fc(FcParams<'a>),
    AvgPool(&'a PoolParams),
    Add(&'a AddParams),
}

impl<'a> Layer<'a> {
    fn of(op: &'a Op) -> Option<Layer<'a>> {
        let k = &op.kind;
        if let Some(c) = k.downcast::<ConvOp>() {
            Some(Layer::Conv(c.kernel()))
        } else if let Some(f) = k.downcast::<FcOp>() {
            Some(Layer::Fc(f.kernel()))
        } else if let Some(p) = k.downcast::<PoolOp>().filter(|p| !p.max) {
            Some(Layer::AvgPool(&p.p))
        } else {
            k.downcast::<AddOp>().filter(|a| a.same).map(|a| Layer::Add(&a.p.add))
        }
    }
}

/// `known`: the values of the channels of the op's first input that are
/// known constants (see `constant_channels`), or empty.
/// `level`: the variant, 0 the fastest, higher ones with less scratch
/// (smaller depthwise bands, a fully connected layer reading its input
/// directly); None past the layer's last (see `choose::variants`).
pub fn layer(index: usize, op: &Op, io: &Operands, known: &[Option<i8>], level: usize) -> Option<DspLayer> {
    let l = format!("L{index}");
    let layer = Layer::of(op)?;
    let e = match &layer {
        Layer::Conv(c) if c.depthwise => depthwise(&l, c, known, level)?,
        Layer::Fc(f) => fully_connected(&l, f, level)?,
        _ if level > 0 => return None,
        Layer::Conv(c) => conv2d(&l, c)?,
        Layer::AvgPool(p) => avg_pool(p)?,
        Layer::Add(a) => add(&l, a)?,
    };
    let (params, operands) = e.kernel.signature();
    let args = match e.kernel {
        Kernel::Add => format!("{}, {}, {}, {l}_table", io.input, io.second, io.output),
        Kernel::AvgPool => format!("{}, {}", io.input, io.output),
        // The row kernels carry their channel records in the weight stream.
        _ => format!("{}, {}, {l}_weights, {}", io.input, io.output, if e.chans { format!("{l}_chan") } else { "0".into() }),
    };
    let params = if e.scratch > 0 { format!("{params}, int32_t *{SCRATCH}") } else { params.to_string() };
    let function = Function { params, body: format!("{}({operands}, {});", e.kernel.c_name(), e.args) };
    let (exact_in_place, skipped_macs) = match &layer {
        Layer::Conv(c) => {
            let exact = c.stride == [1, 1] && e.kernel.exact_in_place(c);
            let skipped = match e.kernel {
                Kernel::ConvPwLive => {
                    let (outs, ins) = live_channels(c.weights, c.out_hwc[2], c.in_hwc[2]);
                    ((c.out_hwc[0] * c.out_hwc[1]) * (c.in_hwc[2] * c.out_hwc[2] - outs.len() * ins.len())) as u64
                }
                Kernel::Depthwise3x3 => {
                    let n = dw3x3_sparse_channels(c, known).map_or(0, |k| k.iter().filter(|&&k| k).count());
                    (c.out_hwc[0] * c.out_hwc[1] * 9 * n) as u64
                }
                _ => 0,
            };
            (exact, skipped)
        }
        _ => (false, 0),
    };
    Some(DspLayer { data: e.data, function, args, scratch_words: e.scratch, exact_in_place, skipped_macs, kernel: e.kernel, overhead: e.overhead, note: e.note })
}

/// A layer's DSP kernel: its constant data, the kernel, the arguments after
/// the operands, the int32 words of scratch, and whether the data holds
/// channel records apart (`{l}_chan`) rather than in the weight stream.
struct Emitted {
    data: String,
    kernel: Kernel,
    args: String,
    scratch: usize,
    chans: bool,
    /// Estimated cycles the variant adds to its kernel's (`cost`): bands, direct reads.
    overhead: u64,
    /// What sets the variant apart, for report.json (empty: nothing).
    note: String,
}

fn int32_array(name: &str, values: &[i32]) -> String {
    format!("static const int32_t {name}[{}] = {{{}}};\n", values.len(), array_body(values))
}

fn chan_array(name: &str, chans: &[String]) -> String {
    format!("static const hyb_dsp_chan {name}[{}] = {{{}}};\n", chans.len(), array_body(chans))
}

/// Channel records for `out` channels whose weights are `row(c)`, padded
/// with inert channels up to a multiple of `pad`, and whether some channel
/// has no right shift; None if a channel's requantization cannot take the
/// shortcut exactly. `acc_scale` 2 doubles the biases, for kernels whose
/// accumulator is 2*acc.
fn channels<'w>(
    acc_scale: i32,
    out: usize,
    pad: usize,
    row: impl Fn(usize) -> Box<dyn Iterator<Item = i8> + 'w>,
    bias: &[i32],
    input_offset: i32,
    output_offset: i32,
    mult: impl Fn(usize) -> (i32, i32),
) -> Option<(Vec<String>, bool)> {
    if bias.len() != out {
        return None;
    }
    let mut chans = Vec::with_capacity(out.next_multiple_of(pad));
    let mut shift0 = false;
    for c in 0..out {
        let (sum, abs) = row(c).fold((0i32, 0i64), |(s, a), v| (s + v as i32, a + (v as i64).abs()));
        let (m, shift) = mult(c);
        if abs == 0 {
            // A dead channel (all weights 0) outputs a constant; its bias can
            // be too large for the shortcut, so encode the constant instead.
            chans.push(constant_chan(multiply_by_quantized_multiplier(bias[c], m, shift), output_offset, acc_scale));
            continue;
        }
        if !requant_exact(m, shift, acc_bound(bias[c], abs, input_offset), output_offset) {
            return None;
        }
        shift0 |= shift == 0;
        chans.push(chan(folded_bias(bias[c], sum, input_offset).wrapping_mul(acc_scale), m, shift, output_offset));
    }
    chans.resize(out.next_multiple_of(pad), chan(0, 0, -1, 0));
    Some((chans, shift0))
}

/// The kernels' `hyb_dsp_outq` argument.
fn outq(lo: i32, hi: i32, shift0: bool) -> String {
    format!("(hyb_dsp_outq){{{lo}, {hi}, {}}}", shift0 as i32)
}

/// Scratch words of an im2col GEMM over `k` taps with `pixels` columns:
/// where the byte patch starts, and the total (the patch only if the
/// im2col `gather`s bytes: in_c % 4 != 0).
fn gemm_scratch(k: usize, pixels: usize, gather: bool) -> (usize, usize) {
    let k4 = k.div_ceil(4) * 4;
    let col = pixels * k4 / 2;
    (col, if gather { col + k4 / 4 + 1 } else { col })
}

fn conv2d(l: &str, c: &ConvParams) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    if in_c % 4 != 0 {
        if let Some(first) = conv_first(l, c) {
            return Some(first);
        }
    }
    if let Some(live) = conv_pw_live(l, c) {
        return Some(live);
    }
    let k = c.kernel[0] * c.kernel[1] * in_c;
    let w = &c.weights;
    let row = |oc: usize| Box::new(w[oc * k..(oc + 1) * k].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out_c, 2, row, &c.bias, c.input_offset, c.output_offset, |oc| (c.multiplier[oc], c.shift[oc]))?;
    let usual_out = c.act[0] == -128 && c.act[1] == 127 && !shift0 && out_c % 2 == 0 && 3 * out_c <= STRB_IMM_MAX;
    if in_c % 4 == 0 && usual_out {
        return Some(conv_rows(l, c, w, &chans).or_else(|| conv_pw(l, c, w, &chans, &c.bias)).unwrap_or_else(|| conv_col(l, c, w, &chans)));
    }
    let data = int32_array(&format!("{l}_weights"), &words(&gemm_weights(w, out_c, k))) + &chan_array(&format!("{l}_chan"), &chans);
    let (patch, scratch) = gemm_scratch(k, 4, in_c % 4 != 0);
    let args = format!(
        "{SCRATCH}, (int8_t *)({SCRATCH} + {patch}), {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad[0], c.pad[1],
        -c.input_offset, outq(c.act[0], c.act[1], shift0)
    );
    Some(Emitted { data, kernel: Kernel::Conv, args, scratch, chans: true, overhead: 0, note: String::new() })
}

/// Steps a weight-stream chunk of the row kernels holds: the most of the
/// asm's unrollings that divides the steps of a kernel column (even).
fn unroll(col_steps: usize) -> usize {
    [32, 24, 16, 8, 4, 2].into_iter().find(|u| col_steps % u == 0).unwrap()
}

/// Steps of a MAC run of at least `steps` that cost least: each chunk of
/// `unroll` steps adds a control word (about 6 cycles), padding steps
/// (zero weights) about 18 each.
fn padded_steps(steps: usize) -> usize {
    let steps = steps.next_multiple_of(2);
    (steps..=steps + 16).step_by(2).min_by_key(|&s| 18 * s + 6 * s / unroll(s)).unwrap()
}

/// The row kernels' weight stream with the channel records (no chan array).
fn stream_array(l: &str, stream: &[i32], steps: usize, u: usize, chans: &[String]) -> String {
    let fields: Vec<[i64; 4]> = chans.iter().map(|c| chan_fields(c)).collect();
    int32_array(&format!("{l}_weights"), &with_constants(stream, steps + steps / u, &fields))
}

/// Most words of a row kernel's weight stream widened in flash (twice the
/// int8 stream's bytes): a bound on the flash a layer trades for speed.
const WIDE_MAX_WORDS: usize = 9216;

/// Fewest four-pixel tiles for which the widened stream pays for its flash:
/// it saves 1 cycle in every step of every tile.
const WIDE_MIN_TILES: usize = 16;

/// The row kernels' weight array: the int8 stream with its channel records
/// or, when the layer has the tiles to pay for it and it fits
/// WIDE_MAX_WORDS, that stream widened at compile time (hyb_dsp_widen's
/// result kept in flash: no scratch, no widening at run time), and the
/// kernel's `wide_at` argument for it (-1, or HYB_DSP_WIDE_FLASH).
fn row_stream(l: &str, stream: &[i32], pixels: usize, out_c: usize, steps: usize, u: usize, chans: &[String]) -> (String, i32) {
    let fields: Vec<[i64; 4]> = chans.iter().map(|c| chan_fields(c)).collect();
    let narrow = with_constants(stream, steps + steps / u, &fields);
    let words = out_c / 2 * (8 + 2 * steps + steps / u);
    if words > WIDE_MAX_WORDS || pixels.div_ceil(4) < WIDE_MIN_TILES {
        return (int32_array(&format!("{l}_weights"), &narrow), -1);
    }
    (int32_array(&format!("{l}_weights"), &widen_stream(&narrow, out_c / 2, steps / u, u)), -2)
}

/// The row kernel (hyb_dsp_conv_rows_s8) for kernels larger than 1x1 with
/// in_c % 4 == 0 and dilation 1 (the caller checked the output side for HYB_DSP_RQ_OK).
/// Always with the sign term (relu 0): ResNet-8's convolutions with and
/// without ReLU then share their code, which is worth more flash than the
/// cycle an output saves.
fn conv_rows(l: &str, c: &ConvParams, w: &[i8], chans: &[String]) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let [k_h, k_w] = c.kernel;
    let [s_h, s_w] = c.stride;
    if k_h * k_w == 1 || c.dilation != [1, 1] {
        return None;
    }
    // Padded columns every group of four output pixels reads, per residue mod s_w.
    let span = (out_w.next_multiple_of(4) - 1) * s_w + k_w;
    let hw = span.div_ceil(s_w);
    let wb = s_w * hw;
    // The step's second LDRD post-increments by 4 * wb - 8 (at most 1020).
    if 4 * wb > 1028 {
        return None;
    }
    let row_w = in_c / 2 * wb;
    let off = |kx: usize| ((kx % s_w) * hw + kx / s_w) as i64;
    let adjust = |kx: usize| (4 * (off(kx + 1) - off(kx) - (k_h * row_w) as i64)) as i32;
    let u = unroll(k_h * in_c / 2);
    let nb = (k_h + 3 * s_h).min((out_h - 1) * s_h + k_h);
    let steps = k_h * k_w * in_c / 2;
    let (data, wide_at) = row_stream(l, &rows_weights(w, out_c, c.kernel, in_c, u, adjust), out_h * out_w, out_c, steps, u, chans);
    let scratch = nb * row_w + if out_w % 4 != 0 { out_c } else { 0 };
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {k_h}, {k_w}, {s_h}, {s_w}, {}, {}, {}, {hw}, {nb}, {u}, {wide_at}, 0",
        c.pad[0], c.pad[1], -c.input_offset
    );
    Some(Emitted { data, kernel: Kernel::ConvRows, args, scratch, chans: false, overhead: 0, note: String::new() })
}

/// The im2col kernel with the row kernel's tile (hyb_dsp_conv_col_s8) for
/// the other convolutions with in_c % 4 == 0: one kernel column of k / 2 steps.
fn conv_col(l: &str, c: &ConvParams, w: &[i8], chans: &[String]) -> Emitted {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let k = c.kernel[0] * c.kernel[1] * in_c;
    let u = unroll(k / 2);
    let (data, wide_at) = row_stream(l, &rows_weights(w, out_c, [1, 1], k, u, |_| 0), out_h * out_w, out_c, k / 2, u, chans);
    let scratch = 2 * k + out_c;
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {u}, {wide_at}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad[0], c.pad[1],
        -c.input_offset, relu_floor(c.act[0], c.output_offset) as i32
    );
    Emitted { data, kernel: Kernel::ConvCol, args, scratch, chans: false, overhead: 0, note: String::new() }
}

/// The narrow pointwise kernel (hyb_dsp_conv_pw_s8) for 1x1 layers with
/// in_c <= 32 (its asm repeats at most 16 steps), stride 1, no padding and
/// enough pixels to widen the weights.
fn conv_pw(l: &str, c: &ConvParams, w: &[i8], chans: &[String], conv_bias: &[i32]) -> Option<Emitted> {
    let [_, _, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let plain = c.kernel == [1, 1] && c.stride == [1, 1] && c.pad[0] == 0 && c.pad[1] == 0;
    if !plain || in_c > 32 || c.in_hwc[..2] != c.out_hwc[..2] {
        return None;
    }
    let steps = in_c / 2;
    let data = stream_array(l, &rows_weights(w, out_c, [1, 1], in_c, steps, |_| 0), steps, steps, chans);
    // Its weights widened (and rescaled for `ush`) at run time into scratch after col.
    let wide = 2 * in_c + out_c;
    let words = out_c / 2 * (8 + 2 * steps + 1);
    if words > WIDE_MAX_WORDS || (out_h * out_w).div_ceil(4) < WIDE_MIN_TILES {
        return None;
    }
    let scratch = wide + words;
    let relu = relu_floor(c.act[0], c.output_offset) as i32;
    let row = |oc: usize| Box::new(w[oc * in_c..(oc + 1) * in_c].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let ush = layer_ush(c, out_c, row, &conv_bias);
    let args = format!("{SCRATCH}, {}, {in_c}, {out_c}, {SCRATCH} + {wide}, {relu}, {ush}", out_h * out_w);
    Some(Emitted { data, kernel: Kernel::ConvPw, args, scratch, chans: false, overhead: 0, note: String::new() })
}

/// Pointwise layers (1x1, stride 1, no padding, the usual output side) with
/// dead channels (live_channels_s8.h), when the live block is at most half
/// the layer: only it runs, the dead outputs come from a constant row.
fn conv_pw_live(l: &str, c: &ConvParams) -> Option<Emitted> {
    let [_, _, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let plain = c.kernel == [1, 1] && c.stride == [1, 1] && c.pad[0] == 0 && c.pad[1] == 0 && c.in_hwc[..2] == c.out_hwc[..2];
    // Channel lists are bytes; the constant row is copied a word at a time.
    if !plain || in_c > 256 || out_c > 256 || out_c % 4 != 0 || (c.act[0], c.act[1]) != (-128, 127) {
        return None;
    }
    let w = &c.weights;
    let (live_out, live_in) = live_channels(w, out_c, in_c);
    let n_in = if live_out.is_empty() { 0 } else { 2 * padded_steps(live_in.len().div_ceil(2)) };
    let n_out = live_out.len().next_multiple_of(2);
    if 2 * n_in * n_out > in_c * out_c {
        return None;
    }
    let wc = live_block(w, in_c, &live_out, &live_in, n_out, n_in);
    let row = |j: usize| Box::new(wc[j * n_in..(j + 1) * n_in].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let bias: Vec<i32> = live_out.iter().map(|&o| c.bias[o]).collect();
    let mult = |j: usize| (c.multiplier[live_out[j]], c.shift[live_out[j]]);
    let (chans, shift0) = channels(1, live_out.len(), 2, row, &bias, c.input_offset, c.output_offset, mult)?;
    if shift0 {
        return None;
    }
    let steps = n_in / 2;
    let u = if steps == 0 { 2 } else { unroll(steps) };
    let mut data = if steps == 0 {
        Vec::new()
    } else {
        let fields: Vec<[i64; 4]> = chans.iter().map(|ch| chan_fields(ch)).collect();
        with_constants(&rows_weights(&wc, n_out, [1, 1], n_in, u, |_| 0), steps + steps / u, &fields)
    };
    // The gathered channels (padded with a live one: its weights there are 0),
    // the scattered ones, and the constant row (the dead channels' outputs).
    let pad_in = live_in.first().copied().unwrap_or(0);
    let ins: Vec<i8> = (0..n_in).map(|i| live_in.get(i).copied().unwrap_or(pad_in) as u8 as i8).collect();
    let outs: Vec<i8> = (0..n_out).map(|j| live_out.get(j).copied().unwrap_or(0) as u8 as i8).collect();
    let row: Vec<i8> = (0..out_c).map(|o| if live_out.contains(&o) { 0 } else { dead_output(c, c.bias[o], o) as i8 }).collect();
    for bytes in [ins, outs, row] {
        data.extend(words(&[bytes.as_slice(), &[0; 3][..bytes.len().next_multiple_of(4) - bytes.len()]].concat()));
    }
    let relu = relu_floor(c.act[0], c.output_offset) as i32;
    let args = format!("{SCRATCH}, {}, {in_c}, {out_c}, {n_in}, {n_out}, {}, {u}, {relu}", out_h * out_w, live_out.len());
    // col (4 words a step), then 4 * n_out bytes of outputs.
    Some(Emitted { data: int32_array(&format!("{l}_weights"), &data), kernel: Kernel::ConvPwLive, args, scratch: (2 * n_in + n_out).max(1), chans: false, overhead: 0, note: String::new() })
}

/// The kernels' `ush` argument: one right shift for all channels
/// (`uniform_shift`) of a `relu_floor` layer with the usual output side, or 0.
/// Channel c's weights are `row(c)`; dead channels take constant_chan's record.
fn layer_ush<'w>(c: &ConvParams, out: usize, row: impl Fn(usize) -> Box<dyn Iterator<Item = i8> + 'w>, bias: &[i32]) -> i32 {
    if !relu_floor(c.act[0], c.output_offset) || c.act[0] != -128 || c.act[1] != 127 {
        return 0;
    }
    let chans: Vec<(i64, i32)> = (0..out)
        .map(|o| match row(o).map(|v| (v as i64).abs()).sum::<i64>() {
            0 => ((4 * multiply_by_quantized_multiplier(bias[o], c.multiplier[o], c.shift[o]).clamp(-1 << 20, 1 << 20) as i64).abs(), 1),
            abs => (acc_bound(bias[o], abs, c.input_offset), -c.shift[o]),
        })
        .collect();
    uniform_shift(&chans).unwrap_or(0)
}

/// Largest zero-point padded input copy the first-layer kernel makes.
const FIRST_PAD_MAX_BYTES: usize = 8 * 1024;

/// Most steps (pairs of taps) of a first-layer kernel's unrolled tap loop.
const FIRST_MAX_STEPS: usize = 64;

/// Channel counts that are not a multiple of 4 (first layers): conv_first_s8.h.
fn conv_first(l: &str, c: &ConvParams) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let (row_bytes, k) = (c.kernel[1] * in_c, c.kernel[0] * c.kernel[1] * in_c);
    let order = first_order(c.kernel[0], row_bytes);
    let steps = order.len() / 2;
    // The tap loop is unrolled whole (larger kernels take conv_s8.h), and
    // the stores address 3 * out_c as an immediate.
    if steps > FIRST_MAX_STEPS || 3 * out_c > STRB_IMM_MAX {
        return None;
    }
    let w = &c.weights;
    let row = |oc: usize| Box::new(w[oc * k..(oc + 1) * k].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(2, out_c, 2, row, &c.bias, c.input_offset, c.output_offset, |oc| (c.multiplier[oc], c.shift[oc]))?;

    // col, then a row cut by the padding (row_bytes + 4) and the packed row tails.
    let buf = (row_bytes + 4 + c.kernel[0] * (row_bytes % 4) + 4).div_ceil(4);
    // A small input is copied with its padding first, so no window needs the edge path.
    let span = |out: usize, s: usize, k: usize, d: usize| (out - 1) * s + (k - 1) * d + 1;
    let ph = span(out_h, c.stride[0], c.kernel[0], c.dilation[0]).max(c.pad[0] + in_h);
    let pw = span(out_w, c.stride[1], c.kernel[1], c.dilation[1]).max(c.pad[1] + in_w);
    let padded = (c.pad[0] + c.pad[1] > 0 || ph > in_h || pw > in_w) && c.dilation[1] == 1 && ph * pw * in_c <= FIRST_PAD_MAX_BYTES;
    let (ph, pw) = if padded { (ph, pw) } else { (0, 0) };
    let relu = relu_floor(c.act[0], c.output_offset);
    let ush = if shift0 || out_c % 2 != 0 { 0 } else { layer_ush(c, out_c, row, &c.bias) };
    // The weights widened here, as the kernel would at run time: in flash, no scratch.
    let fast = !shift0 && (c.act[0], c.act[1]) == (-128, 127) && out_c % 2 == 0;
    let fields: Vec<[i64; 4]> = chans.iter().map(|ch| chan_fields(ch)).collect();
    let wide = first_widen(&words(&first_weights(w, out_c, k, &order)), &fields, steps, if fast { ush } else { 0 });
    let data = int32_array(&format!("{l}_weights"), &wide) + &chan_array(&format!("{l}_chan"), &chans);
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {ph}, {pw}, {}, {}, {ush}, 1",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad[0], c.pad[1],
        -c.input_offset, outq(c.act[0], c.act[1], shift0), relu as i32
    );
    // The last, short tile's outputs go through 4 * out_c bytes of scratch.
    let short = if (out_h * out_w) % 4 != 0 { out_c } else { 0 };
    Some(Emitted { data, kernel: Kernel::ConvFirst, args, scratch: 4 * steps + buf + (ph * pw * in_c).div_ceil(4) + short, chans: true, overhead: 0, note: String::new() })
}

fn depthwise(l: &str, c: &ConvParams, known: &[Option<i8>], level: usize) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    if c.depth_multiplier != 1 || out_c % 4 != 0 {
        return None;
    }
    if c.kernel == [3, 3] && c.dilation == [1, 1] && c.stride[0] == c.stride[1] && c.stride[0] <= 2 {
        return depthwise3x3(l, c, known, None, level);
    }
    if level > 0 {
        return None;
    }
    let taps = c.kernel[0] * c.kernel[1];
    let w = &c.weights;
    let row = |ch: usize| Box::new((0..taps).map(move |t| w[t * out_c + ch])) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out_c, 4, row, &c.bias, c.input_offset, c.output_offset, |ch| (c.multiplier[ch], c.shift[ch]))?;
    let data = int32_array(&format!("{l}_weights"), &words(w)) + &chan_array(&format!("{l}_chan"), &chans);
    // The zero-point padded copy of the input: tall and wide enough for every window.
    let span = |out: usize, s: usize, k: usize, d: usize| (out - 1) * s + (k - 1) * d + 1;
    let pad_h = span(out_h, c.stride[0], c.kernel[0], c.dilation[0]).max(c.pad[0] + in_h);
    let pad_w = span(out_w, c.stride[1], c.kernel[1], c.dilation[1]).max(c.pad[1] + in_w);
    // Each tap loads its inputs and weights at immediate offsets (LDR).
    let last_tap = ((c.kernel[0] - 1) * c.dilation[0] * pad_w + (c.kernel[1] - 1) * c.dilation[1]) * in_c;
    if (last_tap + c.stride[1] * in_c).max((taps - 1) * out_c) > STRB_IMM_MAX {
        return None;
    }
    let args = format!(
        "(int8_t *){SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {}, {}, {}, {}, {}, {}, {}, {}, {pad_h}, {pad_w}, {}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad[0], c.pad[1],
        -c.input_offset, outq(c.act[0], c.act[1], shift0)
    );
    let scratch = pad_h * pad_w * in_c / 4;
    Some(Emitted { data, kernel: Kernel::Depthwise, args, scratch, chans: true, overhead: 0, note: String::new() })
}

/// Most scratch the 3x3 depthwise kernel's planes may take for a layer in
/// one band (all its rows converted first); larger layers run in bands of
/// output rows within DW3_BAND_BYTES, which costs little more (two rows
/// converted again per band) and keeps their scratch, often at the model's
/// largest activations, small.
const DW3_MAX_BYTES: usize = 32 * 1024;
const DW3_BAND_BYTES: usize = 16 * 1024;

/// Rows per band of the 3x3 depthwise kernel's variants with less scratch.
const DW3_SMALL_BANDS: [usize; 4] = [16, 8, 4, 2];

/// The C of a 3x3 depthwise layer `l` (stride 1 or 2, channels a multiple
/// of 4), for tests: its data (arrays `{l}_weights`, `{l}_chan`), the
/// kernel call's constant arguments and the scratch words; `band` (even,
/// or out_h) overrides the rows per band.
#[doc(hidden)]
pub fn depthwise3x3_c(l: &str, c: &ConvParams, known: &[Option<i8>], band: Option<usize>) -> Option<(String, String, usize)> {
    depthwise3x3(l, c, known, band, 0).map(|e| (e.data, e.args, e.scratch))
}

/// The values of a tensor's channels known at compile time: those of a
/// regular convolution's output channels whose weights are all 0 (the
/// requantized bias). Empty when none is known.
pub fn constant_channels(g: &Graph, t: TensorId) -> Vec<Option<i8>> {
    let Some(i) = g.producer(t) else { return Vec::new() };
    let Some(conv) = g.ops[i].kind.downcast::<ConvOp>() else { return Vec::new() };
    let c = conv.kernel();
    let out_c = c.out_hwc[2];
    if c.depthwise || c.bias.len() != out_c || c.weights.len() % out_c != 0 {
        return Vec::new();
    }
    let k = c.weights.len() / out_c;
    (0..out_c)
        .map(|o| c.weights[o * k..(o + 1) * k].iter().all(|&v| v == 0).then(|| dead_output(&c, c.bias[o], o) as i8))
        .collect()
}

/// Channels of a 3x3 depthwise layer whose outputs are known at compile
/// time: a known constant input, or the same output over the whole range
/// of the accumulator (all weights 0, or a ReLU that clamps every value).
/// A tap outside the image adds 0, which every tap's range holds (the input
/// offset is in [-127, 128]), and the requantization is monotonic, so the
/// ends of the range decide.
fn dw3x3_constant(c: &ConvParams, known: &[Option<i8>]) -> Vec<bool> {
    let out_c = c.out_hwc[2];
    let out = |ch: usize, acc: i64| {
        let acc = acc.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        (multiply_by_quantized_multiplier(acc, c.multiplier[ch], c.shift[ch]) + c.output_offset).clamp(c.act[0], c.act[1])
    };
    (0..out_c)
        .map(|ch| {
            let (x0, x1) = (-128 + c.input_offset as i64, 127 + c.input_offset as i64);
            let terms = (0..9).map(|t| c.weights[t * out_c + ch] as i64).map(|w| (w * x0, w * x1));
            let (lo, hi) = terms.fold((c.bias[ch] as i64, c.bias[ch] as i64), |(lo, hi), (a, b)| (lo + a.min(b), hi + a.max(b)));
            let fits = lo >= i32::MIN as i64 && hi <= i32::MAX as i64 && c.multiplier[ch] > 0;
            known.get(ch).copied().flatten().is_some() || (fits && out(ch, lo) == out(ch, hi))
        })
        .collect()
}

/// The known channels of a 3x3 depthwise layer that takes the sparse path:
/// at least an eighth of them (fewer save less than the templates cost).
fn dw3x3_sparse_channels(c: &ConvParams, known: &[Option<i8>]) -> Option<Vec<bool>> {
    let constant = dw3x3_constant(c, known);
    let out_c = constant.len();
    (8 * constant.iter().filter(|&&k| k).count() >= out_c && out_c <= 256).then_some(constant)
}

/// 3x3 depthwise, stride 1 or 2: channel-planar 2x2 tiles (depthwise3x3_s8.h).
/// Channels whose outputs are known (`dw3x3_constant`) are not computed:
/// the kernel copies them from templates, one per class of output pixel
/// (which window rows and columns are inside the image), and converts and
/// runs only the groups of four channels and the channels that are left.
fn depthwise3x3(l: &str, c: &ConvParams, known: &[Option<i8>], band: Option<usize>, level: usize) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let s = c.stride[0];
    let sparse_channels = dw3x3_sparse_channels(c, known);
    let sparse = sparse_channels.is_some();
    let constant = sparse_channels.unwrap_or_default();
    let live: Vec<usize> = (0..out_c).filter(|&ch| !sparse || !constant[ch]).collect();
    // Sparse: groups of four with at least 3 live channels convert together,
    // the other live channels alone.
    let in_group = |g: usize| live.iter().filter(|&&ch| ch / 4 == g).count();
    let groups: Vec<usize> = (0..out_c / 4).filter(|&g| in_group(g) > if sparse { 2 } else { 0 }).collect();
    let single: Vec<usize> = live.iter().copied().filter(|&ch| !groups.contains(&(ch / 4))).collect();
    let pw = dw3x3_pw(in_w, out_w, s, c.pad[1]);
    let planes = 4 * groups.len() + single.len();
    let fastest = match dw3x3_band(out_h, s, planes * pw * 2, DW3_MAX_BYTES) {
        all if all == out_h => all,
        _ => dw3x3_band(out_h, s, planes * pw * 2, DW3_BAND_BYTES),
    };
    // Smaller bands (fewer plane rows in scratch) as the higher levels.
    let bands: Vec<usize> = std::iter::once(fastest).chain(DW3_SMALL_BANDS.into_iter().filter(|&b| b < fastest)).collect();
    let band = match band {
        Some(b) => b,
        None => *bands.get(level)?,
    };
    if !dw3x3_offsets_fit(s, pw, out_w * out_c, out_c) {
        return None;
    }
    // The live channels as a layer of their own (weights [tap][channel]).
    let n = live.len();
    let w: Vec<i8> = (0..9).flat_map(|t| live.iter().map(move |&ch| c.weights[t * out_c + ch])).collect();
    let (sub_m, sub_s): (Vec<i32>, Vec<i32>) = live.iter().map(|&ch| (c.multiplier[ch], c.shift[ch])).unzip();
    let sub_b: Vec<i32> = live.iter().map(|&ch| c.bias[ch]).collect();
    let sub_c = ConvParams { out_hwc: [out_h, out_w, n], multiplier: &sub_m, shift: &sub_s, weights: &w, bias: &sub_b, ..*c };
    let wr = &w;
    let row = |ch: usize| Box::new((0..9).map(move |t| wr[t * n + ch])) as Box<dyn Iterator<Item = i8> + '_>;
    let relu = relu_floor(c.act[0], c.output_offset);
    // Under a ReLU floor with the full int8 range, a layer-wide shift when
    // the channels allow it; else the records of the other kernels.
    let uniform = if relu && (c.act[0], c.act[1]) == (-128, 127) { dw3x3_uniform(&sub_c) } else { None };
    let (header, lists) = if sparse { dw3x3_sparse(c, known, &constant, &live, &groups, &single, uniform.is_some()) } else { Default::default() };
    let weights = words(&dw3x3_weights(&w, n));
    let chans = uniform.is_none();
    let (data, shift0, big_s) = match uniform {
        // Each channel's three weight words, then its bias, multiplier and rounding term.
        Some((big_s, recs)) => {
            let stream: Vec<i32> = weights.chunks(3).zip(&recs).flat_map(|(w, r)| w.iter().chain(r).copied()).collect();
            (int32_array(&format!("{l}_weights"), &[header, stream, lists].concat()), false, big_s)
        }
        None => {
            let (chans, shift0) = channels(2, n, 4, row, &sub_b, c.input_offset, c.output_offset, |j| {
                (sub_c.multiplier[j], sub_c.shift[j])
            })?;
            let data = int32_array(&format!("{l}_weights"), &[header, weights, lists].concat()) + &chan_array(&format!("{l}_chan"), &chans);
            (data, shift0, 0)
        }
    };
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {s}, {}, {}, {pw}, {band}, {}, {}, {}, {big_s}, {}",
        c.pad[0], c.pad[1], -c.input_offset, outq(c.act[0], c.act[1], shift0), relu as i32, sparse as i32
    );
    let scratch = planes * ((band - 1) * s + 3) * pw / 2 + 1;
    let overhead = cost::band_overhead(out_h.div_ceil(band), s, planes, pw);
    let note = format!("bands of {band} of {out_h} output rows");
    Some(Emitted { data, kernel: Kernel::Depthwise3x3, args, scratch, chans, overhead, note })
}

/// What the sparse 3x3 depthwise kernel reads around the live channels'
/// weights: a header of counts and word offsets before them, and after them
/// byte lists (each live channel's plane, the live channels, the groups
/// converted together, the channels converted alone, each output row's and
/// column's class), then per row class and column class a pixel with the
/// known channels' outputs.
fn dw3x3_sparse(
    c: &ConvParams,
    known: &[Option<i8>],
    constant: &[bool],
    live: &[usize],
    groups: &[usize],
    single: &[usize],
    uniform: bool,
) -> (Vec<i32>, Vec<i32>) {
    let [in_h, in_w, _] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let s = c.stride[0];
    // Which of the window's 3 rows (columns) lie inside the image.
    let mask = |o: usize, pad: usize, len: usize| (0..3).filter(|&k| (0..len as isize).contains(&((o * s + k) as isize - pad as isize))).fold(0u8, |m, k| m | 1 << k);
    let classes = |n: usize, pad: usize, len: usize| {
        let masks: Vec<u8> = (0..n).map(|o| mask(o, pad, len)).collect();
        let mut distinct: Vec<u8> = Vec::new();
        masks.iter().for_each(|m| if !distinct.contains(m) { distinct.push(*m) });
        let index: Vec<u8> = masks.iter().map(|m| distinct.iter().position(|d| d == m).unwrap() as u8).collect();
        (distinct, index)
    };
    let (rmasks, rowc) = classes(out_h, c.pad[0], in_h);
    let (cmasks, colc) = classes(out_w, c.pad[1], in_w);
    // A known channel's output over a window with these rows and columns inside.
    let value = |ch: usize, rm: u8, cm: u8| {
        let x = known.get(ch).copied().flatten().unwrap_or(0) as i32;
        let mut acc: i32 = 0;
        for ky in (0..3).filter(|k| rm >> k & 1 == 1) {
            for kx in (0..3).filter(|k| cm >> k & 1 == 1) {
                acc = acc.wrapping_add(c.weights[(ky * 3 + kx) * out_c + ch] as i32 * (x + c.input_offset));
            }
        }
        let v = multiply_by_quantized_multiplier(acc.wrapping_add(c.bias[ch]), c.multiplier[ch], c.shift[ch]) + c.output_offset;
        v.clamp(c.act[0], c.act[1]) as i8
    };
    let mut templ = Vec::new();
    for &rm in &rmasks {
        for &cm in &cmasks {
            templ.extend((0..out_c).map(|ch| if constant[ch] { value(ch, rm, cm) } else { 0 }));
        }
    }
    let plane_of: Vec<u8> = live
        .iter()
        .map(|&ch| match groups.iter().position(|&g| g == ch / 4) {
            Some(g) => 4 * g + ch % 4,
            None => 4 * groups.len() + single.iter().position(|&k| k == ch).unwrap(),
        } as u8)
        .collect();
    let bytes = |v: &[u8]| words(&[v.iter().map(|&b| b as i8).collect::<Vec<_>>(), vec![0; v.len().next_multiple_of(4) - v.len()]].concat());
    let lists: Vec<Vec<i32>> = vec![
        bytes(&plane_of),
        bytes(&live.iter().map(|&ch| ch as u8).collect::<Vec<_>>()),
        bytes(&groups.iter().map(|&g| g as u8).collect::<Vec<_>>()),
        bytes(&single.iter().map(|&ch| ch as u8).collect::<Vec<_>>()),
        bytes(&rowc),
        bytes(&colc),
        words(&templ),
    ];
    const HEADER: usize = 12;
    let mut at = HEADER + if uniform { 6 } else { 3 } * live.len();
    let mut header = vec![live.len() as i32, groups.len() as i32, single.len() as i32, cmasks.len() as i32];
    for l in &lists {
        header.push(at as i32);
        at += l.len();
    }
    header.resize(HEADER, 0);
    (header, lists.concat())
}

/// The 3x3 depthwise kernel's requantization with one right shift S for the
/// whole layer (the ASR rides on the SSAT): a channel with right shift s
/// has its weights (and bias) scaled by 2^k, k = 1 + S - s, instead of 2,
/// and SMMLA adds `round` = 2^(S-s-1) + 2^(S-1) + zp * 2^S (no 2^(S-1)
/// when s = 0). Then floor((A*m + round*2^32) / 2^(32+S)) is 2^(S-s) times
/// the numerator of the two-step rounding over 2^(32+s) (see
/// hyb_dsp_requant_x2), the same floor. S = at least the largest s + 1, so
/// the scale is at least 4 and SMMLA's truncation can take the rounding
/// half; the scaled int16 weights need k <= 8. Records (bias, mult, round):
/// the lowest set bit of `round` is bit k - 2 (the kernel takes k from it);
/// a dead channel's record outputs its constant. None when a channel does
/// not fit (the kernel then takes the per-channel shift).
fn dw3x3_uniform(c: &ConvParams) -> Option<(u32, Vec<[i32; 3]>)> {
    // Layers that share a shape share a function only with the same S: the
    // first that fits from a fixed order (MLPerf Tiny's shifts are 3..9).
    [10, 11, 9, 12, 8, 13, 7, 14, 6, 15, 5, 16, 4, 17, 3, 18, 2, 19, 1, 20].into_iter().find_map(|s| Some((s, dw3x3_records(c, s)?)))
}

fn dw3x3_records(c: &ConvParams, big_s: u32) -> Option<Vec<[i32; 3]>> {
    let out_c = c.out_hwc[2];
    let w = &c.weights;
    if c.bias.len() != out_c {
        return None;
    }
    let taps = |ch: usize| (0..9).map(move |t| w[t * out_c + ch] as i64);
    let zp = c.output_offset as i64;
    let big_s = big_s as i64;
    let half_s = 1i64 << (big_s - 1);
    let mut chans = Vec::with_capacity(out_c);
    for ch in 0..out_c {
        let (m, shift) = (c.multiplier[ch], c.shift[ch]);
        let (sum, abs) = taps(ch).fold((0i64, 0i64), |(s, a), v| (s + v, a + v.abs()));
        if abs == 0 {
            // A*m/2^32 = v*2^S with A = v*2^(S+2), m = 2^30; |v| <= 256 clamps alike.
            let v = (multiply_by_quantized_multiplier(c.bias[ch], m, shift) as i64).clamp(-256, 256);
            chans.push([(v << (big_s + 2)) as i32, 1 << 30, (half_s + (zp << big_s)) as i32]);
            continue;
        }
        let s_ch = -(shift as i64);
        if m <= 0 || s_ch < 0 || s_ch >= big_s {
            return None;
        }
        let bound = acc_bound(c.bias[ch], abs, c.input_offset);
        let d = big_s - s_ch;
        let k = 1 + d;
        let round = (1i64 << (d - 1)) + if s_ch > 0 { half_s } else { 0 } + (zp << big_s);
        if k > 8 || bound << k >= 1i64 << 31 || (bound << d) + round.abs() + 1 >= 1i64 << 31 {
            return None;
        }
        let bias = folded_bias(c.bias[ch], sum as i32, c.input_offset).wrapping_mul(1 << k);
        chans.push([bias, m, round as i32]);
    }
    Some(chans)
}

/// Level 0 sign-extends the input into scratch; level 1 (in_len % 4 == 0)
/// reads it directly, no scratch, about a cycle more per 16 MACs.
fn fully_connected(l: &str, f: &FcParams, level: usize) -> Option<Emitted> {
    let (n, out) = (f.in_len, f.out_len);
    let w = &f.weights;
    let row = |o: usize| Box::new(w[o * n..(o + 1) * n].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out, 4, row, &f.bias, f.input_offset, f.output_offset, |_| (f.multiplier, f.shift))?;
    let steps = n.div_ceil(4) * 2;
    let data = int32_array(&format!("{l}_weights"), &quad_weights(&words(&gemm_weights(w, out, n)), steps)) + &chan_array(&format!("{l}_chan"), &chans);
    let direct = match level {
        0 => false,
        1 if n % 4 == 0 => true,
        _ => return None,
    };
    let (patch, scratch) = gemm_scratch(n, 1, n % 4 != 0);
    let (cols, scratch, overhead) = match direct {
        true => ("0, 0".to_string(), 0, cost::fc_direct_overhead(n, out)),
        false => (format!("{SCRATCH}, (int8_t *)({SCRATCH} + {patch})"), scratch, 0),
    };
    let args = format!("{cols}, {n}, {out}, {}", outq(f.act[0], f.act[1], shift0));
    let note = if direct { "input read directly" } else { "input sign-extended into scratch" }.to_string();
    Some(Emitted { data, kernel: Kernel::FullyConnected, args, scratch, chans: true, overhead, note })
}

fn avg_pool(p: &PoolParams) -> Option<Emitted> {
    let [in_h, in_w, ch] = p.in_hwc;
    let [out_h, out_w, _] = p.out_hwc;
    // Halfword lane sums: at most 256 values of magnitude <= 128; pooling
    // into another scale (Mean) stays on the portable kernel.
    if ch % 4 != 0 || p.kernel[0] * p.kernel[1] > 256 || p.requant.is_some() {
        return None;
    }
    let args = format!(
        "{in_h}, {in_w}, {ch}, {out_h}, {out_w}, {}, {}, {}, {}, {}, {}, {}, {}",
        p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.pad[0], p.pad[1], p.act[0], p.act[1]
    );
    Some(Emitted { data: String::new(), kernel: Kernel::AvgPool, args, scratch: 0, chans: false, overhead: 0, note: String::new() })
}

/// Add by lookup: each input's rescaled value comes from a 256-entry table
/// (or, when it is an exact power-of-two multiple, from a shift), so only
/// the output rescale is computed per element.
fn add(l: &str, a: &AddParams) -> Option<Emitted> {
    if ![a.input1_shift, a.input2_shift].iter().all(|s| (-31..=0).contains(s)) || !(0..=30).contains(&a.left_shift) {
        return None;
    }
    let t1 = add_table(a.input1_offset, a.left_shift, a.input1_multiplier, a.input1_shift);
    let t2 = add_table(a.input2_offset, a.left_shift, a.input2_multiplier, a.input2_shift);
    // The doubled sum must fit in int32 and take the requantization shortcut.
    let range = |t: &[i64]| (*t.iter().max().unwrap(), *t.iter().min().unwrap());
    let ((hi1, lo1), (hi2, lo2)) = (range(&t1), range(&t2));
    let bound = (hi1 + hi2).abs().max((lo1 + lo2).abs()) / 2;
    if !requant_exact(a.output_multiplier, a.output_shift, bound, a.output_offset) {
        return None;
    }
    // mode 1: input 2 is a shift of its byte, folded with t2[0] into input 1's table; 2: the other way round.
    let (mode, shift, ta, tb) = match (add_affine_shift(&t1), add_affine_shift(&t2)) {
        (_, Some(s)) => (1, s, t1.iter().map(|v| v + t2[0]).collect(), None),
        (Some(s), None) => (2, s, t2.iter().map(|v| v + t1[0]).collect(), None),
        (None, None) => (0, 0, t1, Some(t2)),
    };
    // One array: input a's table, then input b's in mode 0.
    let table: Vec<i32> = ta.into_iter().chain(tb.into_iter().flatten()).map(|v| v as i32).collect();
    let data = int32_array(&format!("{l}_table"), &table);
    let r = -a.output_shift;
    let round = if r > 0 { 1i64 << (r - 1) } else { 0 } + ((a.output_offset as i64) << r);
    let args = format!(
        "{}, {mode}, {shift}, {}, {r}, {round}, {}, {}",
        a.len, a.output_multiplier, a.act[0], a.act[1]
    );
    Some(Emitted { data, kernel: Kernel::Add, args, scratch: 0, chans: false, overhead: 0, note: String::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resnet_add() -> AddParams {
        AddParams {
            len: 16384,
            input1_offset: 128,
            input2_offset: -4,
            output_offset: -128,
            left_shift: 20,
            input1_multiplier: 1623821475,
            input1_shift: -2,
            input2_multiplier: 1 << 30,
            input2_shift: 0,
            output_multiplier: 1098017566,
            output_shift: -17,
            act: [-128, 127],
        }
    }

    #[test]
    fn add_takes_the_shift_for_the_larger_scale() {
        let Emitted { data, kernel, args, .. } = add("L3", &resnet_add()).unwrap();
        assert_eq!(kernel, Kernel::Add);
        // Mode 1: input 2 shifted by 20, one 256-entry table.
        assert!(args.starts_with("16384, 1, 20, "), "{args}");
        assert!(data.starts_with("static const int32_t L3_table[256]"));
        // Swapped inputs: mode 2.
        let mut p = resnet_add();
        (p.input1_offset, p.input2_offset) = (p.input2_offset, p.input1_offset);
        (p.input1_multiplier, p.input2_multiplier) = (p.input2_multiplier, p.input1_multiplier);
        (p.input1_shift, p.input2_shift) = (p.input2_shift, p.input1_shift);
        assert!(add("L3", &p).unwrap().args.starts_with("16384, 2, 20, "));
    }

    /// A depthwise 3x3 layer of `n` channels with these multipliers and shifts.
    fn dw3<'a>(mult: &'a [i32], shift: &'a [i32], w: &'a [i8], bias: &'a [i32], input_offset: i32) -> ConvParams<'a> {
        let n = mult.len();
        ConvParams {
            depthwise: true,
            in_hwc: [6, 6, n],
            out_hwc: [6, 6, n],
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [1, 1],
            depth_multiplier: 1,
            input_offset,
            output_offset: -128,
            multiplier: mult,
            shift,
            act: [-128, 127],
            weights: w,
            bias,
        }
    }

    #[test]
    fn dw3x3_layer_wide_shift_requantizes_as_the_reference() {
        let mut g = crate::plan::search::SplitMix(3);
        let mut tested = 0;
        for case in 0..200 {
            let n = 4;
            let lo = 1 + g.below(6) as i32;
            let shift: Vec<i32> = (0..n).map(|_| -(lo + g.below(7) as i32)).collect();
            let mult: Vec<i32> = (0..n).map(|_| (1 << 30) + g.below(1 << 30) as i32).collect();
            let w: Vec<i8> = (0..9 * n).map(|_| g.below(255) as i8).collect();
            let bias: Vec<i32> = (0..n).map(|_| g.below(40001) as i32 - 20000).collect();
            let c = dw3(&mult, &shift, &w, &bias, 128 - g.below(256) as i32);
            let Some((big_s, recs)) = dw3x3_uniform(&c) else { continue };
            tested += 1;
            for (ch, &[_, m, round]) in recs.iter().enumerate() {
                let k = round.trailing_zeros() + 2;
                let abs: i64 = (0..9).map(|t| (w[t * n + ch] as i64).abs()).sum();
                let bound = acc_bound(bias[ch], abs, c.input_offset);
                for _ in 0..500 {
                    let acc = (g.below(2 * bound as usize + 1) as i64 - bound) as i32;
                    // SMMLA (the high word of A*m + round*2^32, floored), then SSAT with ASR #S.
                    let a = acc.wrapping_shl(k);
                    let high = ((a as i64 * m as i64 + ((round as i64) << 32)) >> 32) as i32;
                    let got = (high >> big_s).clamp(-128, 127);
                    let want = (multiply_by_quantized_multiplier(acc, mult[ch], shift[ch]) - 128).clamp(-128, 127);
                    assert_eq!(got, want, "case {case} channel {ch}: acc {acc}, S {big_s}, k {k}");
                }
            }
        }
        assert!(tested > 150, "{tested} layers took a layer-wide shift");
    }

    #[test]
    fn dw3x3_channels_known_at_compile_time() {
        // Channel 0 all weights 0, channel 1 a constant input, channel 2 always below the ReLU floor, channel 3 live.
        let mut w = vec![1i8; 36];
        (0..9).for_each(|t| w[4 * t] = 0);
        let c = dw3(&[1 << 30; 4], &[-4; 4], &w, &[5, 0, -1_000_000, 0], 0);
        assert_eq!(dw3x3_constant(&c, &[None, Some(3), None, None]), vec![true, true, true, false]);
        // Three of four known: sparse; one of 16 is below the eighth.
        assert!(dw3x3_sparse_channels(&c, &[]).is_some());
        let c = dw3(&[1 << 30; 16], &[-4; 16], &[1; 144], &[0; 16], 0);
        assert!(dw3x3_sparse_channels(&c, &[Some(1)]).is_none());
        assert!(dw3x3_sparse_channels(&c, &[Some(1), Some(2)]).is_some());
    }

    #[test]
    fn add_refuses_sums_past_the_shortcut() {
        // A left shift of 24 makes the rescaled inputs 16 times larger: their doubled sum passes int32.
        let mut p = resnet_add();
        p.left_shift = 24;
        assert!(add("L3", &p).is_none());
        // Neither input a power of two: two tables.
        let mut p = resnet_add();
        p.input2_multiplier = 1500000001;
        let Emitted { data, args, .. } = add("L3", &p).unwrap();
        assert!(args.starts_with("16384, 0, 0, ") && data.starts_with("static const int32_t L3_table[512]"));
    }
}
