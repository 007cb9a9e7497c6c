//! Compile-time preparation for the DSP kernels (runtime-c/kernels/dsp):
//! weights re-laid-out into the order the kernels load them, the input zero
//! point folded into the bias, and the checks that make the kernels'
//! requantization shortcut exact.

/// Weights `[out][k]` in the order of the 4x2 GEMM tile: per pair of
/// output channels, per step s (k0 = 4*(s/2) + s%2), the bytes
/// `w[c][k0], w[c+1][k0], w[c][k0+2], w[c+1][k0+2]`, zero beyond `out` or `k`.
/// SXTB16 of such a word gives channel c's two taps, SXTB16 ROR 8 channel c+1's.
pub fn gemm_weights(w: &[i8], out: usize, k: usize) -> Vec<i8> {
    let k4 = k.div_ceil(4) * 4;
    let at = |c: usize, kk: usize| if c < out && kk < k { w[c * k + kk] } else { 0 };
    let mut v = Vec::with_capacity(out.div_ceil(2) * 2 * k4);
    for c in (0..out).step_by(2) {
        for s in 0..k4 / 2 {
            let k0 = 4 * (s / 2) + s % 2;
            v.extend([at(c, k0), at(c + 1, k0), at(c, k0 + 2), at(c + 1, k0 + 2)]);
        }
    }
    v
}

/// Weights `[out][k_h][k_w][in_c]` (in_c a multiple of 4) for the row
/// kernel (hyb_dsp_conv_rows_s8): per pair of output channels the
/// `gemm_weights` steps of the taps in kernel-column order (kx, ky), and a
/// control word after every `u` steps (u divides k_h * in_c / 2): 0 within a
/// column, `adjust(kx)` after column kx < k_w - 1, 1 after the last.
pub fn rows_weights(w: &[i8], out: usize, [k_h, k_w]: [usize; 2], in_c: usize, u: usize, adjust: impl Fn(usize) -> i32) -> Vec<i32> {
    let k = k_h * k_w * in_c;
    let tap = |c: usize, kx: usize, ky: usize| &w[c * k + (ky * k_w + kx) * in_c..][..in_c];
    let perm: Vec<i8> = (0..out).flat_map(|c| (0..k_w).flat_map(move |kx| (0..k_h).flat_map(move |ky| tap(c, kx, ky).iter().copied()))).collect();
    let col = k_h * in_c / 2;
    let mut v = Vec::new();
    for pair in words(&gemm_weights(&perm, out, k)).chunks(k / 2) {
        for (kx, column) in pair.chunks(col).enumerate() {
            for (j, chunk) in column.chunks(u).enumerate() {
                v.extend_from_slice(chunk);
                let last = (j + 1) * u == col;
                v.push(if !last { 0 } else if kx + 1 < k_w { adjust(kx) } else { 1 });
            }
        }
    }
    v
}

/// The row kernels' weight stream from `rows_weights` (`pair_words` a pair)
/// and the pairs' channel records (`chan` fields: bias, multiplier, right
/// shift, round): per pair the two biases, its words, then multiplier,
/// shift and round of either channel, so one pointer walks them all.
pub fn with_constants(stream: &[i32], pair_words: usize, chans: &[[i64; 4]]) -> Vec<i32> {
    let mut v = Vec::with_capacity(stream.len() + 4 * chans.len());
    for (words, pair) in stream.chunks(pair_words).zip(chans.chunks(2)) {
        v.extend([pair[0][0], pair[1][0]].map(|b| b as i32));
        v.extend_from_slice(words);
        v.extend(pair.iter().flat_map(|c| c[1..].iter().map(|&x| x as i32)));
    }
    v
}

/// The row kernels' weight stream (`with_constants`) as hyb_dsp_widen
/// makes it at run time, for layers that keep it widened in flash: per
/// pair the biases doubled (wrapping), each weight word as its two SXTB16
/// halves doubled, the control and constant words as they are.
pub fn widen_stream(stream: &[i32], pairs: usize, chunks: usize, u: usize) -> Vec<i32> {
    let half = |w: i32, byte: u32| ((w >> (8 * byte)) as i8 as i16 * 2) as u16 as u32;
    let wide = |w: i32, b: u32| (half(w, b) | half(w, b + 2) << 16) as i32;
    let pair_words = 2 + chunks * (u + 1) + 6;
    let mut v = Vec::with_capacity(pairs * (8 + chunks * (2 * u + 1)));
    for p in stream.chunks(pair_words).take(pairs) {
        v.extend(p[..2].iter().map(|b| b.wrapping_mul(2)));
        for chunk in p[2..2 + chunks * (u + 1)].chunks(u + 1) {
            v.extend(chunk[..u].iter().flat_map(|&w| [wide(w, 0), wide(w, 1)]));
            v.push(chunk[u]);
        }
        v.extend_from_slice(&p[2 + chunks * (u + 1)..]);
    }
    v
}

/// The first-layer kernel's weight stream as hyb_dsp_first_widen makes it
/// at run time (conv_first_s8.h), made here so it stays in flash: per
/// channel pair (records `chans`, fields as `chan_fields`) the biases, each
/// of the pair's `steps` int8 words of `w` as two doubled int16 pairs, then
/// mult and shift, round (or, with one right shift `ush`, mult and round'),
/// every channel scaled by 2^(ush - its shift); without `ush` the last
/// shift word flagged with bit 31 to end the kernel's loop.
pub fn first_widen(w: &[i32], chans: &[[i64; 4]], steps: usize, ush: i32) -> Vec<i32> {
    let sx = |x: i32, b: u32| (((x >> (8 * b)) as i8 as i16 as u16 as u32) | ((x >> (8 * b + 16)) as i8 as i16 as u16 as u32) << 16) as i32;
    let pow2 = |v: i32, n: u32| ((((v as i16 as i32 as u32) << n) & 0xffff) | ((v >> 16) as u32) << n << 16) as i32;
    let mut v = Vec::with_capacity(chans.len() / 2 * (2 * steps + 8));
    for (p, pair) in chans.chunks(2).enumerate() {
        let j = |c: &[i64; 4]| if ush != 0 { (ush as i64 - c[2]) as u32 } else { 0 };
        v.extend(pair.iter().map(|c| ((c[0] as i32 as u32) << j(c)) as i32));
        for &x in &w[p * steps..(p + 1) * steps] {
            v.extend([pow2(sx(x, 0), 1 + j(&pair[0])), pow2(sx(x, 1), 1 + j(&pair[1]))]);
        }
        for c in pair {
            v.push(c[1] as i32);
            match ush {
                0 => v.extend([c[2] as i32, c[3] as i32]),
                _ => v.push((((c[3] as i32 as u32) << j(c)) as i32).wrapping_add(1 << (j(c) - 1))),
            }
        }
    }
    if ush == 0 {
        let n = v.len();
        v[n - 2] |= i32::MIN;
    }
    v
}

/// The fields of a `chan` record.
pub fn chan_fields(record: &str) -> [i64; 4] {
    let mut f = record.trim_matches(['{', '}']).split(',').map(|x| x.parse().unwrap());
    [(); 4].map(|_| f.next().unwrap())
}

/// `gemm_weights` words (per pair of outputs `steps` words) for the fully
/// connected kernel: per four outputs, per step, the two pairs' words side
/// by side (one LDRD), zero words for a missing last pair.
pub fn quad_weights(pairs: &[i32], steps: usize) -> Vec<i32> {
    let at = |p: usize, s: usize| pairs.get(p * steps + s).copied().unwrap_or(0);
    let n = pairs.len() / steps;
    (0..n.div_ceil(2)).flat_map(|q| (0..steps).flat_map(move |s| [at(2 * q, s), at(2 * q + 1, s)])).collect()
}

/// Patch order of the first-layer kernel (conv_first_s8.h): per kernel row
/// of `row` = k_w*in_c = 4m + e bytes its first 4m, then every row's last e;
/// each entry an index into the row-major k, None for the padding to a word.
pub fn first_order(k_h: usize, row: usize) -> Vec<Option<usize>> {
    let (m, e) = (row / 4, row % 4);
    let mut v: Vec<Option<usize>> = (0..k_h).flat_map(|r| (0..4 * m).map(move |b| Some(r * row + b))).collect();
    v.extend((0..k_h).flat_map(|r| (0..e).map(move |i| Some(r * row + 4 * m + i))));
    v.resize(v.len().next_multiple_of(4), None);
    v
}

/// Weights `[out][k]` for conv_first_s8.h: `gemm_weights` over the patch
/// positions of `order` (zero for its padding).
pub fn first_weights(w: &[i8], out: usize, k: usize, order: &[Option<usize>]) -> Vec<i8> {
    let permuted: Vec<i8> = (0..out).flat_map(|c| order.iter().map(move |o| o.map_or(0, |kk| w[c * k + kk]))).collect();
    gemm_weights(&permuted, out, order.len())
}

/// Little-endian int32 words of int8 data (a multiple of 4 long), so the C
/// arrays have the type the kernels read.
pub fn words(bytes: &[i8]) -> Vec<i32> {
    bytes.chunks(4).map(|c| i32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8])).collect()
}

/// The accumulator starts at `bias + input_offset * sum(w)`, so the inner
/// loops multiply raw inputs. int32 wraps like the reference's accumulator,
/// so the final sums agree exactly.
pub fn folded_bias(bias: i32, w_sum: i32, input_offset: i32) -> i32 {
    bias.wrapping_add(input_offset.wrapping_mul(w_sum))
}

/// Largest |accumulator| a channel can reach: |bias| + max|x + offset| * sum|w|.
pub fn acc_bound(bias: i32, abs_w_sum: i64, input_offset: i32) -> i64 {
    let x = (-128 + input_offset as i64).abs().max((127 + input_offset as i64).abs());
    (bias as i64).abs() + x * abs_w_sum
}

/// The kernels compute MultiplyByQuantizedMultiplier as smmulr(2*acc, m)
/// then a rounding right shift that also adds the output zero point:
/// exact when 2*acc fits in int32, the TFLite shift is a right shift (or
/// none), and the sum before the shift (|v| <= |acc| + 1, plus the
/// rounding term) fits in int32 too.
pub fn requant_exact(multiplier: i32, shift: i32, bound: i64, output_offset: i32) -> bool {
    // A positive multiplier lets the kernels take the rounding's sign from the accumulator.
    if multiplier <= 0 || !(-31..=0).contains(&shift) || 2 * bound >= (1i64 << 31) {
        return false;
    }
    let r = -shift;
    bound + 1 + (1i64 << r) + ((output_offset as i64).abs() << r) < (1i64 << 31)
}

/// One `hyb_dsp_chan` initializer: bias, multiplier, right shift, and the
/// rounding term with the output zero point folded in.
pub fn chan(bias: i32, multiplier: i32, shift: i32, output_offset: i32) -> String {
    let r = -shift;
    let half = if r > 0 { 1i64 << (r - 1) } else { 0 };
    format!("{{{bias},{multiplier},{r},{}}}", half + ((output_offset as i64) << r))
}

/// A channel record whose requantized output is `value` whatever the inputs,
/// for channels with all weights 0: the accumulator is then the bias 4v,
/// smmulr(8v, 2^30) = 2v and the rounding shift by 1 gives v. Values beyond
/// int8 clamp alike, so they are capped to keep 8v in int32.
/// `acc_scale` 2 is for kernels whose accumulator is already doubled.
pub fn constant_chan(value: i32, output_offset: i32, acc_scale: i32) -> String {
    let v = value.clamp(-1 << 20, 1 << 20);
    chan(4 * v * acc_scale, 1 << 30, -1, output_offset)
}

/// Depthwise 3x3 weights `[tap][channel]` as three words per channel, the
/// bytes (w0, w1, w1, w2) of each kernel row: SXTB16 gives the int16 pair
/// (w0, w1), SXTB16 ROR 8 the pair (w1, w2).
pub fn dw3x3_weights(w: &[i8], channels: usize) -> Vec<i8> {
    let at = |k: usize, j: usize, c: usize| w[(3 * k + j) * channels + c];
    (0..channels).flat_map(|c| (0..3).flat_map(move |k| [at(k, 0, c), at(k, 1, c), at(k, 1, c), at(k, 2, c)])).collect()
}

/// Tiles per unrolled group of the 3x3 depthwise kernel's row loop (U of hyb_dsp_dw3_rows).
pub const DW3_GROUP: usize = 4;

/// Output rows per band of the 3x3 depthwise kernel: all of them if their
/// planes (`row_bytes` per input row) fit in `max_bytes`, else the most
/// (even, at least 2) that do.
pub fn dw3x3_band(out_h: usize, s: usize, row_bytes: usize, max_bytes: usize) -> usize {
    let bytes = |nb: usize| ((nb - 1) * s + 3) * row_bytes;
    if bytes(out_h) <= max_bytes {
        return out_h;
    }
    (2..out_h).step_by(2).take_while(|&nb| bytes(nb) <= max_bytes).last().unwrap_or(2)
}

/// Int16 columns a plane row of the 3x3 depthwise kernel stores: every
/// window of the (even) pairs of output pixels. A stride-1 layer of odd
/// width with a zero-point column on each side keeps only the left one: a
/// window's right pad is then the next row's left pad (one more word after
/// the last plane), and the column after it belongs to no output.
pub fn dw3x3_pw(in_w: usize, out_w: usize, s: usize, pad_l: usize) -> usize {
    let pw = ((out_w.next_multiple_of(2) - 1) * s + 3).next_multiple_of(2);
    if s == 1 && pad_l == 1 && out_w % 2 == 1 && in_w <= out_w {
        pw - 2
    } else {
        pw
    }
}

/// Whether the kernel's immediates fit: LDRD offsets (<= 1020) of a group of
/// tiles over the window's rows, STRB offsets (<= 4095) of its outputs (which
/// also bounds the conversion loop's step of four pixels, 4 * c_n).
pub fn dw3x3_offsets_fit(s: usize, pw: usize, out_row: usize, c_n: usize) -> bool {
    let load = 4 * (DW3_GROUP * s + (2 * s + 1) * (pw / 2)) + 8;
    let store = 2 * DW3_GROUP * c_n + out_row + c_n;
    load <= super::LDRD_IMM_MAX && store <= super::STRB_IMM_MAX
}

/// Whether the requantization may skip the rounding's sign term: with the
/// activation floor at or above the output zero point, a negative product
/// gives at most the zero point however it rounds, and clamps to the floor.
pub fn relu_floor(act_min: i32, output_offset: i32) -> bool {
    act_min >= output_offset
}

/// One right shift R for all channels of a `relu_floor` layer, so that the
/// kernels take it as an immediate of the SSAT. The reference result is
/// floor((2acc*m + 2^31 + round*2^32) / 2^(32+r)) (the shortcut's two floors
/// merge), so with j = R - r >= 1 it is smmla(2acc*2^j, m, round') >> R,
/// round' = round*2^j + 2^(j-1): exact when 2acc*2^j fits in int32 and the
/// int8 weights times 2^(1+j) in int16 (j <= 7); |round'| < 2^31 for R <= 23.
/// `chans`: each channel's accumulator bound and right shift r >= 1.
pub fn uniform_shift(chans: &[(i64, i32)]) -> Option<i32> {
    let r = chans.iter().map(|c| c.1).max()? + 1;
    let fits = |&(bound, s): &(i64, i32)| s >= 1 && (1..=7).contains(&(r - s)) && bound << (1 + r - s) < 1i64 << 31;
    (r <= 23 && chans.iter().all(fits)).then_some(r)
}

/// One input of an Add as the kernel's lookup table: for each int8 value
/// (indexed by its byte), twice MultiplyByQuantizedMultiplierSmallerThanOneExp
/// of (value + offset) << left_shift, exactly as the reference computes it.
pub fn add_table(offset: i32, left_shift: i32, multiplier: i32, shift: i32) -> Vec<i64> {
    use crate::quant::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp as mul_exp;
    (0..256).map(|i| 2 * mul_exp((offset + i as u8 as i8 as i32).wrapping_mul(1 << left_shift), multiplier, shift) as i64).collect()
}

/// The shift s with t[x] = t[0] + x * 2^s for every int8 x (t indexed by the
/// byte), if there is one with s <= 23, so that x << s fits in int32: the
/// kernel then shifts that input instead of looking it up.
pub fn add_affine_shift(t: &[i64]) -> Option<u32> {
    let step = t[1] - t[0];
    if step <= 0 || step.count_ones() != 1 || step.trailing_zeros() > 23 {
        return None;
    }
    let s = step.trailing_zeros();
    (0..256).all(|i| t[i] == t[0] + ((i as u8 as i8 as i64) << s)).then_some(s)
}

/// The live output channels of 1x1 weights `[out][in_c]` (some weight
/// nonzero) and the live input channels (some weight of a live output nonzero).
pub fn live_channels(w: &[i8], out: usize, in_c: usize) -> (Vec<usize>, Vec<usize>) {
    let row = |o: usize| &w[o * in_c..(o + 1) * in_c];
    let outs: Vec<usize> = (0..out).filter(|&o| row(o).iter().any(|&v| v != 0)).collect();
    let ins = (0..in_c).filter(|&i| outs.iter().any(|&o| row(o)[i] != 0)).collect();
    (outs, ins)
}

/// The live block `[n_out][n_in]` of 1x1 weights `[_][in_c]`: row j is
/// output live_out[j], column i input live_in[i]; zero beyond the lists.
pub fn live_block(w: &[i8], in_c: usize, live_out: &[usize], live_in: &[usize], n_out: usize, n_in: usize) -> Vec<i8> {
    let mut v = vec![0; n_out * n_in];
    for (j, &o) in live_out.iter().enumerate() {
        for (i, &x) in live_in.iter().enumerate() {
            v[j * n_in + i] = w[o * in_c + x];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_block_keeps_the_nonzero_rows_and_columns() {
        // 4 outputs x 5 inputs: output 1 and 3 dead, input 0 and 3 only used by them or nobody.
        #[rustfmt::skip]
        let w: Vec<i8> = vec![
            0, 1, 0, 0, 2,
            0, 0, 0, 0, 0,
            0, 0, -3, 0, 4,
            0, 0, 0, 0, 0,
        ];
        let (outs, ins) = live_channels(&w, 4, 5);
        assert_eq!((outs.as_slice(), ins.as_slice()), (&[0, 2][..], &[1, 2, 4][..]));
        let b = live_block(&w, 5, &outs, &ins, 2, 4);
        assert_eq!(b, [1, 0, 2, 0, 0, -3, 4, 0]);
        // All dead: no live input either.
        assert_eq!(live_channels(&[0; 6], 2, 3), (vec![], vec![]));
    }

    #[test]
    fn gemm_layout_pairs_channels_and_taps() {
        // 3 channels x 5 taps: w[c][k] = 10c + k.
        let w: Vec<i8> = (0..3).flat_map(|c| (0..5).map(move |k| (10 * c + k) as i8)).collect();
        let v = gemm_weights(&w, 3, 5);
        assert_eq!(v.len(), 2 * 2 * 8);
        // pair 0: step 0 -> k 0,2; step 1 -> k 1,3; step 2 -> k 4,(6); step 3 -> k 5,7 (padding)
        assert_eq!(&v[0..16], &[0, 10, 2, 12, 1, 11, 3, 13, 4, 14, 0, 0, 0, 0, 0, 0]);
        // pair 1: channel 2 and a zero channel
        assert_eq!(&v[16..24], &[20, 0, 22, 0, 21, 0, 23, 0]);
    }

    #[test]
    fn rows_layout_orders_taps_by_kernel_column() {
        // 2 channels, 2x2 kernel, 4 input channels: w[c][ky][kx][i] = 16c + 8ky + 4kx + i.
        let w: Vec<i8> = (0..32).map(|v| v as i8).collect();
        let v = rows_weights(&w, 2, [2, 2], 4, 2, |kx| -4 * (kx as i32 + 10));
        // Per column: 2 taps x 2 steps, a control word after every 2 steps.
        assert_eq!(v.len(), 2 * (4 + 2) * 2 / 2);
        let b = |x: i32| x.to_le_bytes().map(|b| b as i8);
        // Column 0, tap (ky 0, kx 0): step 0 = channels 0,1 x inputs 0,2.
        assert_eq!(b(v[0]), [0, 16, 2, 18]);
        assert_eq!(b(v[1]), [1, 17, 3, 19]);
        assert_eq!(v[2], 0);
        // Tap (ky 1, kx 0) comes next, then the column adjustment.
        assert_eq!(b(v[3]), [8, 24, 10, 26]);
        assert_eq!(v[5], -40);
        // Column 1 starts with tap (ky 0, kx 1) and ends with the last flag.
        assert_eq!(b(v[6]), [4, 20, 6, 22]);
        assert_eq!(v[11], 1);
    }

    #[test]
    fn pointwise_stream_has_one_control_word_a_pair() {
        // hyb_dsp_widen_pw drops the word after a pair's in_c / 2 steps: it must be the last flag.
        let w: Vec<i8> = (0..4 * 8).map(|v| v as i8).collect();
        let v = rows_weights(&w, 4, [1, 1], 8, 4, |_| 0);
        assert_eq!(v.len(), 2 * (4 + 1));
        assert_eq!([v[4], v[9]], [1, 1]);
        assert_eq!(v[5].to_le_bytes().map(|b| b as i8), [16, 24, 18, 26]);
    }

    #[test]
    fn constants_frame_each_pair() {
        let chans = [chan(7, 1 << 30, -3, -128), chan(-2, 5, 0, 1)].map(|c| chan_fields(&c));
        assert_eq!(chans[0], [7, 1 << 30, 3, -1020]);
        let v = with_constants(&[10, 11, 12], 3, &chans);
        assert_eq!(v, [7, -2, 10, 11, 12, 1 << 30, 3, -1020, 5, 0, 1]);
    }

    #[test]
    fn quad_layout_pairs_pairs() {
        // 3 pairs x 2 steps: word 10p + s.
        assert_eq!(quad_weights(&[0, 1, 10, 11, 20, 21], 2), [0, 10, 1, 11, 20, 0, 21, 0]);
    }

    #[test]
    fn dw3x3_layout_duplicates_the_middle_tap() {
        // 9 taps x 2 channels: w[t][c] = 10t + c.
        let w: Vec<i8> = (0..9).flat_map(|t| (0..2).map(move |c| (10 * t + c) as i8)).collect();
        let v = dw3x3_weights(&w, 2);
        assert_eq!(&v[0..12], &[0, 10, 10, 20, 30, 40, 40, 50, 60, 70, 70, 80]);
        assert_eq!(&v[12..16], &[1, 11, 11, 21]);
    }

    #[test]
    fn dw3x3_bands_fit_the_budget() {
        // 25 rows of 5 output columns, 64 channels, stride 1: all at once (27 * 1024 bytes).
        assert_eq!(dw3x3_band(25, 1, 64 * 8 * 2, 32 * 1024), 25);
        // 48 rows, 8 channels of 50 columns (800 bytes a row): 38 rows need 40.
        assert_eq!(dw3x3_band(48, 1, 800, 32 * 1024), 38);
        // Stride 2: 17 input rows for 8 output rows.
        assert_eq!(dw3x3_band(24, 2, 1600, 32 * 1024), 8);
        // Never fewer than one pair of rows.
        assert_eq!(dw3x3_band(24, 2, 1 << 20, 32 * 1024), 2);
        assert!(dw3x3_offsets_fit(2, 50, 24 * 16, 16));
        assert!(!dw3x3_offsets_fit(2, 100, 48 * 16, 16));
        assert!(!dw3x3_offsets_fit(1, 8, 1024 * 4, 4));
        assert_eq!((dw3x3_pw(5, 5, 1, 1), dw3x3_pw(6, 6, 1, 1), dw3x3_pw(6, 5, 1, 1), dw3x3_pw(12, 6, 2, 0)), (6, 8, 8, 14));
        assert!(relu_floor(-128, -128) && relu_floor(0, -3) && !relu_floor(-128, -100));
    }

    #[test]
    fn uniform_shift_is_exact() {
        use crate::quant::fixedpoint::multiply_by_quantized_multiplier as mbqm;
        let chans = [(1179182713, 7), (1673859857, 8), (2002280840, 9), (1493832051, 10)];
        let bound = 1 << 17;
        let r = uniform_shift(&chans.map(|(_, s)| (bound, s))).unwrap();
        assert_eq!(r, 11);
        for (m, s) in chans {
            let (j, zp) = (r - s, -128i64);
            let round = (1i64 << (s - 1)) + (zp << s);
            let round2 = (round << j) + (1 << (j - 1));
            for acc in (-bound..=bound).step_by(37).chain([-1, 0, 1, bound]) {
                let want = (mbqm(acc as i32, m, -s) as i64 + zp).clamp(-128, 127);
                let a = (2 * acc) << j;
                let got = (((a * m as i64) + (round2 << 32)) >> 32 >> r).clamp(-128, 127);
                assert_eq!(got, want, "acc {acc} m {m} r {s}");
            }
        }
        // 2acc * 2^j must fit, and j stays within 1..=7.
        assert_eq!(uniform_shift(&[(1 << 26, 7), (1, 10)]), None);
        assert_eq!(uniform_shift(&[(1, 2), (1, 10)]), None);
        assert_eq!(uniform_shift(&[(1 << 20, 5), (1 << 20, 6)]), Some(7));
    }

    #[test]
    fn folding_wraps_like_int32() {
        assert_eq!(folded_bias(5, 3, -2), -1);
        assert_eq!(folded_bias(i32::MAX, 1, 1), i32::MIN);
    }

    #[test]
    fn requant_checks() {
        let m = 1 << 30;
        assert!(requant_exact(m, -7, 1 << 20, -128));
        assert!(requant_exact(m, 0, 1, 0));
        assert!(!requant_exact(0, 0, 1, 0));
        assert!(!requant_exact(m, 1, 1, 0));
        assert!(!requant_exact(m, -7, 1 << 30, 0));
        assert!(!requant_exact(m, -24, 1, -128));
        assert_eq!(acc_bound(-10, 2, 128), 10 + 255 * 2);
        assert_eq!(chan(7, 1 << 30, -3, -128), "{7,1073741824,3,-1020}");
    }
    #[test]
    fn add_tables() {
        // A multiplier of 2^30 with no shift halves (x << 20) << 1: exactly x << 20, affine.
        let t = add_table(-4, 20, 1 << 30, 0);
        assert_eq!(t[0], -4 << 20);
        assert_eq!(t[255], -5 << 20);
        assert_eq!(add_affine_shift(&t), Some(20));
        // A rounding multiplier is not.
        let t = add_table(128, 20, 1623821475, -2);
        assert_eq!(add_affine_shift(&t), None);
        assert_eq!(t[0x80], 0);
        assert_eq!(t[0x7f], 2 * crate::quant::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp(255 << 20, 1623821475, -2) as i64);
        // Too wide a shift for int32 stays a table.
        assert_eq!(add_affine_shift(&(0..256).map(|i| (i as u8 as i8 as i64) << 24).collect::<Vec<_>>()), None);
    }
    #[test]
    fn first_layout_moves_row_tails_last() {
        // 3x3 kernel, 3 channels: rows of 9 bytes -> 8 + 8 + 8, then 8, 17, 26 and a pad.
        let o = first_order(3, 9);
        assert_eq!(o.len(), 28);
        assert_eq!(&o[6..10], &[Some(6), Some(7), Some(9), Some(10)]);
        assert_eq!(&o[24..28], &[Some(8), Some(17), Some(26), None]);
        // Rows of 4 bytes (10x4, 1 channel) need no tail.
        assert_eq!(first_order(10, 4), (0..40).map(Some).collect::<Vec<_>>());
        // 3 channels, 3x3: gemm_weights of the weights in patch order.
        let w: Vec<i8> = (0..3 * 27).map(|i| (i % 100) as i8).collect();
        let o = first_order(3, 9);
        let v = first_weights(&w, 3, 27, &o);
        let permuted: Vec<i8> = (0..3).flat_map(|c| o.iter().map(|p| p.map_or(0, |kk| w[c * 27 + kk])).collect::<Vec<_>>()).collect();
        assert_eq!(v, gemm_weights(&permuted, 3, 28));
        // pair 0, steps 12 and 13: positions (24, 26) and (25, 27) = taps 8, 26, 17 and the pad.
        assert_eq!(&v[48..56], &[w[8], w[27 + 8], w[26], w[27 + 26], w[17], w[27 + 17], 0, 0]);
    }
}
