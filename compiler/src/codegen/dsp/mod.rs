//! Per-layer C for targets with the DSP extension. Each layer becomes a
//! small function that calls an always-inlined kernel of
//! runtime-c/kernels/dsp with the layer's shapes and quantization as
//! literals, so gcc specialises the kernel for it. A layer that no DSP kernel
//! does exactly (see `layout::requant_exact`) keeps the portable kernel.

mod layout;


use super::layers::array_body;
use crate::ir::{Conv2d, FullyConnected, Op, OpKind};
use crate::quant::params::{AddParams, ConvParams, FcParams, Params, PoolParams};
use crate::quant::fixedpoint::multiply_by_quantized_multiplier;
use layout::{
    acc_bound, add_affine_shift, add_table, chan, constant_chan, dw3x3_weights, first_order, first_weights, folded_bias, gemm_weights,
    requant_exact, words,
};

/// Headers of runtime-c/kernels/dsp a DSP project carries (in runtime/dsp/).
pub const HEADERS: &[&str] = &["hyb_dsp.h", "conv_s8.h", "conv_first_s8.h", "depthwise_s8.h", "depthwise3x3_s8.h", "fully_connected_s8.h", "avg_pool_s8.h", "add_s8.h"];

/// The shared scratch buffer: im2col columns, then the byte patch.
pub const SCRATCH: &str = "hyb_dsp_col";

/// A kernel specialised for one set of shapes and quantization constants;
/// layers that share them (DS-CNN's four blocks, MobileNet's five 128-channel
/// ones) share its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub params: &'static str,
    pub body: String,
}

/// What a DSP layer adds to model.c.
pub struct DspLayer {
    /// The layer's constant data (re-laid-out weights, channel records).
    pub data: String,
    pub function: Function,
    /// Arguments of the call to `function`.
    pub args: String,
    /// int32 words of SCRATCH the layer uses.
    pub scratch_words: usize,
}

/// Arena addresses of the layer's operands, as C expressions.
pub struct Operands<'a> {
    pub input: &'a str,
    pub second: &'a str,
    pub output: &'a str,
}

pub fn layer(index: usize, op: &Op, p: &Params, io: &Operands) -> Option<DspLayer> {
    let l = format!("L{index}");
    let (data, kernel, consts, scratch_words) = match (p, &op.kind) {
        (Params::Conv(c), OpKind::Conv2d(conv)) if c.depthwise => depthwise(&l, c, conv)?,
        (Params::Conv(c), OpKind::Conv2d(conv)) => conv2d(&l, c, conv)?,
        (Params::Fc(f), OpKind::FullyConnected(fc)) => fully_connected(&l, f, fc)?,
        (Params::AvgPool(a), _) => avg_pool(a)?,
        (Params::Add(a), _) => add(&l, a)?,
        _ => return None,
    };
    let (params, operands, args) = match p {
        Params::Add(_) => (
            "const int8_t *a, const int8_t *b, int8_t *out, const int32_t *t",
            "a, b, out, t",
            format!("{}, {}, {}, {l}_table", io.input, io.second, io.output),
        ),
        Params::AvgPool(_) => ("const int8_t *in, int8_t *out", "in, out", format!("{}, {}", io.input, io.output)),
        _ => (
            "const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch",
            "in, out, w, ch",
            format!("{}, {}, {l}_weights, {l}_chan", io.input, io.output),
        ),
    };
    let function = Function { params, body: format!("{kernel}({operands}, {consts});") };
    Some(DspLayer { data, function, args, scratch_words })
}

type Emitted = (String, &'static str, String, usize);

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

/// Scratch words of an im2col GEMM over `k` taps with `pixels` columns.
fn gemm_scratch(k: usize, pixels: usize) -> (usize, usize) {
    let k4 = k.div_ceil(4) * 4;
    let col = pixels * k4 / 2;
    (col, col + k4 / 4 + 1)
}

fn conv2d(l: &str, c: &ConvParams, conv: &Conv2d) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    if in_c % 4 != 0 {
        if let Some(first) = conv_first(l, c, conv) {
            return Some(first);
        }
    }
    let k = c.kernel[0] * c.kernel[1] * in_c;
    let w = &conv.weights;
    let row = |oc: usize| Box::new(w[oc * k..(oc + 1) * k].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out_c, 2, row, &conv.bias, c.input_offset, c.output_offset, |oc| (c.multiplier[oc], c.shift[oc]))?;
    let data = int32_array(&format!("{l}_weights"), &words(&gemm_weights(w, out_c, k))) + &chan_array(&format!("{l}_chan"), &chans);
    let (patch, scratch) = gemm_scratch(k, 4);
    let args = format!(
        "{SCRATCH}, (int8_t *)({SCRATCH} + {patch}), {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad_top, c.pad_left,
        -c.input_offset, outq(c.act_min, c.act_max, shift0)
    );
    Some((data, "hyb_dsp_conv_s8", args, scratch))
}

/// Largest zero-point padded input copy the first-layer kernel makes.
const FIRST_PAD_MAX_BYTES: usize = 8 * 1024;

/// Most steps (pairs of taps) of a first-layer kernel's unrolled tap loop.
const FIRST_MAX_STEPS: usize = 64;

/// Channel counts that are not a multiple of 4 (first layers): conv_first_s8.h.
fn conv_first(l: &str, c: &ConvParams, conv: &Conv2d) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let (row_bytes, k) = (c.kernel[1] * in_c, c.kernel[0] * c.kernel[1] * in_c);
    let order = first_order(c.kernel[0], row_bytes);
    let steps = order.len() / 2;
    // The tap loop is unrolled whole (larger kernels take conv_s8.h), and
    // the stores address 3 * out_c as an immediate.
    if steps > FIRST_MAX_STEPS || 3 * out_c > 4095 {
        return None;
    }
    let w = &conv.weights;
    let row = |oc: usize| Box::new(w[oc * k..(oc + 1) * k].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(2, out_c, 2, row, &conv.bias, c.input_offset, c.output_offset, |oc| (c.multiplier[oc], c.shift[oc]))?;
    let data = int32_array(&format!("{l}_weights"), &words(&first_weights(w, out_c, k, &order))) + &chan_array(&format!("{l}_chan"), &chans);
    // col, then a row cut by the padding (row_bytes + 4) and the packed row tails.
    let buf = (row_bytes + 4 + c.kernel[0] * (row_bytes % 4) + 4).div_ceil(4);
    // A small input is copied with its padding first, so no window needs the edge path.
    let span = |out: usize, s: usize, k: usize, d: usize| (out - 1) * s + (k - 1) * d + 1;
    let ph = span(out_h, c.stride[0], c.kernel[0], c.dilation[0]).max(c.pad_top + in_h);
    let pw = span(out_w, c.stride[1], c.kernel[1], c.dilation[1]).max(c.pad_left + in_w);
    let padded = (c.pad_top + c.pad_left > 0 || ph > in_h || pw > in_w) && c.dilation[1] == 1 && ph * pw * in_c <= FIRST_PAD_MAX_BYTES;
    let (ph, pw) = if padded { (ph, pw) } else { (0, 0) };
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {out_c}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {ph}, {pw}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad_top, c.pad_left,
        -c.input_offset, outq(c.act_min, c.act_max, shift0)
    );
    // The last, short tile's outputs go through 4 * out_c bytes of scratch;
    // the weights are widened into 2 words per channel pair and step, with
    // the pair's 8 words of biases and requantization constants.
    let short = if (out_h * out_w) % 4 != 0 { out_c } else { 0 };
    let widened = out_c.div_ceil(2) * (2 * steps + 8);
    Some((data, "hyb_dsp_conv_first_s8", args, 4 * steps + buf + (ph * pw * in_c).div_ceil(4) + short + widened))
}

fn depthwise(l: &str, c: &ConvParams, conv: &Conv2d) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    if c.depth_multiplier != 1 || out_c % 4 != 0 {
        return None;
    }
    if c.kernel == [3, 3] && c.dilation == [1, 1] && c.stride[0] == c.stride[1] && c.stride[0] <= 2 {
        return depthwise3x3(l, c, conv);
    }
    let taps = c.kernel[0] * c.kernel[1];
    let w = &conv.weights;
    let row = |ch: usize| Box::new((0..taps).map(move |t| w[t * out_c + ch])) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out_c, 4, row, &conv.bias, c.input_offset, c.output_offset, |ch| (c.multiplier[ch], c.shift[ch]))?;
    let data = int32_array(&format!("{l}_weights"), &words(w)) + &chan_array(&format!("{l}_chan"), &chans);
    // The zero-point padded copy of the input: tall and wide enough for every window.
    let span = |out: usize, s: usize, k: usize, d: usize| (out - 1) * s + (k - 1) * d + 1;
    let pad_h = span(out_h, c.stride[0], c.kernel[0], c.dilation[0]).max(c.pad_top + in_h);
    let pad_w = span(out_w, c.stride[1], c.kernel[1], c.dilation[1]).max(c.pad_left + in_w);
    let args = format!(
        "(int8_t *){SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {}, {}, {}, {}, {}, {}, {}, {}, {pad_h}, {pad_w}, {}, {}",
        c.kernel[0], c.kernel[1], c.stride[0], c.stride[1], c.dilation[0], c.dilation[1], c.pad_top, c.pad_left,
        -c.input_offset, outq(c.act_min, c.act_max, shift0)
    );
    let scratch = pad_h * pad_w * in_c / 4;
    Some((data, "hyb_dsp_depthwise_s8", args, scratch))
}

/// Widest output rows for which the 3x3 depthwise kernel converts the whole
/// input first (hyb_dsp_depthwise3x3_full_s8), and the most scratch it may take.
const DW3_FULL_MAX_WIDTH: usize = 8;
const DW3_FULL_MAX_BYTES: usize = 32 * 1024;

/// 3x3 depthwise, stride 1 or 2: channel-planar ring kernel (depthwise3x3_s8.h).
fn depthwise3x3(l: &str, c: &ConvParams, conv: &Conv2d) -> Option<Emitted> {
    let [in_h, in_w, in_c] = c.in_hwc;
    let [out_h, out_w, out_c] = c.out_hwc;
    let s = c.stride[0];
    let w = &conv.weights;
    let row = |ch: usize| Box::new((0..9).map(move |t| w[t * out_c + ch])) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(2, out_c, 4, row, &conv.bias, c.input_offset, c.output_offset, |ch| (c.multiplier[ch], c.shift[ch]))?;
    let data = int32_array(&format!("{l}_weights"), &words(&dw3x3_weights(w, out_c))) + &chan_array(&format!("{l}_chan"), &chans);
    // Ring columns: every window of the (even) pairs of output pixels.
    let pw = ((out_w.next_multiple_of(2) - 1) * s + 3).next_multiple_of(2);
    // Narrow rows: all padded input rows converted at once, so each channel
    // sets up its weights once for the whole layer (FULL_MAX_BYTES of scratch at most).
    let ph = (out_h - 1) * s + 3;
    let full_bytes = out_c * ph * pw * 2;
    if out_w <= DW3_FULL_MAX_WIDTH && full_bytes <= DW3_FULL_MAX_BYTES {
        let args = format!(
            "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {s}, {}, {}, {pw}, {ph}, {}, {}",
            c.pad_top, c.pad_left, -c.input_offset, outq(c.act_min, c.act_max, shift0)
        );
        return Some((data, "hyb_dsp_depthwise3x3_full_s8", args, full_bytes / 4));
    }
    let args = format!(
        "{SCRATCH}, {in_h}, {in_w}, {in_c}, {out_h}, {out_w}, {s}, {}, {}, {pw}, {}, {}",
        c.pad_top, c.pad_left, -c.input_offset, outq(c.act_min, c.act_max, shift0)
    );
    Some((data, "hyb_dsp_depthwise3x3_s8", args, out_c * 3 * pw / 2))
}

fn fully_connected(l: &str, f: &FcParams, fc: &FullyConnected) -> Option<Emitted> {
    let (n, out) = (f.in_len, f.out_len);
    let w = &fc.weights;
    let row = |o: usize| Box::new(w[o * n..(o + 1) * n].iter().copied()) as Box<dyn Iterator<Item = i8>>;
    let (chans, shift0) = channels(1, out, 2, row, &fc.bias, f.input_offset, f.output_offset, |_| (f.multiplier, f.shift))?;
    let data = int32_array(&format!("{l}_weights"), &words(&gemm_weights(w, out, n))) + &chan_array(&format!("{l}_chan"), &chans);
    let (patch, scratch) = gemm_scratch(n, 1);
    let args = format!(
        "{SCRATCH}, (int8_t *)({SCRATCH} + {patch}), {n}, {out}, {}",
        outq(f.act_min, f.act_max, shift0)
    );
    Some((data, "hyb_dsp_fully_connected_s8", args, scratch))
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
        p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.pad_top, p.pad_left, p.act_min, p.act_max
    );
    Some((String::new(), "hyb_dsp_avg_pool_s8", args, 0))
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
        a.len, a.output_multiplier, a.act_min, a.act_max
    );
    Some((data, "hyb_dsp_add_s8", args, 0))
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
            act_min: -128,
            act_max: 127,
        }
    }

    #[test]
    fn add_takes_the_shift_for_the_larger_scale() {
        let (data, kernel, args, _) = add("L3", &resnet_add()).unwrap();
        assert_eq!(kernel, "hyb_dsp_add_s8");
        // Mode 1: input 2 shifted by 20, one 256-entry table.
        assert!(args.starts_with("16384, 1, 20, "), "{args}");
        assert!(data.starts_with("static const int32_t L3_table[256]"));
        // Swapped inputs: mode 2.
        let mut p = resnet_add();
        (p.input1_offset, p.input2_offset) = (p.input2_offset, p.input1_offset);
        (p.input1_multiplier, p.input2_multiplier) = (p.input2_multiplier, p.input1_multiplier);
        (p.input1_shift, p.input2_shift) = (p.input2_shift, p.input1_shift);
        assert!(add("L3", &p).unwrap().2.starts_with("16384, 2, 20, "));
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
        let (data, _, args, _) = add("L3", &p).unwrap();
        assert!(args.starts_with("16384, 0, 0, ") && data.starts_with("static const int32_t L3_table[512]"));
    }
}
