//! Estimated Cortex-M4 cycles of a layer's kernel variants, to choose
//! variants under an arena budget (`choose`). The rates are the MAC/cycle
//! the bench's profiles of the MLPerf Tiny models give per kernel
//! (docs/kernels.md, docs/performance.md); the overheads count the
//! instructions a variant adds. Coarse: they rank the variants of a layer
//! and price the portable fallback, they do not predict a model's cycles.

use super::Kernel;

/// MAC/cycle of the portable C kernels (the slowest of the four models'),
/// and of the portable depthwise kernel (DS-CNN's profile: 0.015-0.019).
pub const PORTABLE_RATE: f64 = 0.045;
pub const PORTABLE_DEPTHWISE_RATE: f64 = 0.017;

/// MAC/cycle of a DSP kernel on the MACs it runs.
fn rate(k: Kernel) -> f64 {
    match k {
        Kernel::ConvRows | Kernel::ConvCol => 0.80,
        Kernel::ConvPw | Kernel::ConvPwLive => 0.65,
        Kernel::ConvFirst => 0.66,
        Kernel::Conv => 0.30,
        Kernel::Depthwise3x3 => 0.45,
        Kernel::Depthwise => 0.25,
        Kernel::FullyConnected => 0.55,
        // No MACs: per element (`macs` is then the element count).
        Kernel::AvgPool | Kernel::Add => 0.1,
    }
}

/// Estimated cycles of a layer of `macs` (run, not skipped) on kernel `k`
/// with a variant's `overhead`.
pub fn cycles(k: Kernel, macs: u64, overhead: u64) -> u64 {
    (macs as f64 / rate(k)) as u64 + overhead
}

/// The same on the portable kernels, for a layer a DSP kernel `k` runs.
pub fn portable_cycles(k: Kernel, macs: u64) -> u64 {
    let r = if matches!(k, Kernel::Depthwise3x3 | Kernel::Depthwise) { PORTABLE_DEPTHWISE_RATE } else { PORTABLE_RATE };
    (macs as f64 / r) as u64
}

/// What bands of the 3x3 depthwise kernel add: each band after the first
/// moves up the plane rows it shares with the one before (3 - s rows of
/// `pw` int16 per plane) and restarts its channel loop, plus a little for
/// being in bands at all. Fitted to DS-CNN's profiles (a layer in bands of
/// 25, 16, 4 and 2 rows: 155, 166, 205 and 226 k cycles).
pub fn band_overhead(bands: usize, s: usize, planes: usize, pw: usize) -> u64 {
    let banded = if bands > 1 { 13 * planes * pw } else { 0 };
    ((bands - 1) * planes * ((3 - s) * pw + 74) + banded) as u64
}

/// The fully connected kernel reading its input directly: a load and two
/// SXTB16 instead of one LDRD, a cycle more per 4 inputs per 4 outputs,
/// less the sign extension into scratch it saves (3/4 of it on the FC
/// autoencoder's profile: 7.7 k cycles in 481 k).
pub fn fc_direct_overhead(in_len: usize, out_len: usize) -> u64 {
    (3 * out_len.div_ceil(4) * in_len / 16) as u64
}
