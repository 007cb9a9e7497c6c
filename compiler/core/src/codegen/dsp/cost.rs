//! Estimated Cortex-M4 cycles of a layer's kernel variants, to choose
//! variants under an arena budget (`choose`). The rates are the MAC/cycle
//! the bench's profiles of the MLPerf Tiny models give per kernel (README,
//! "DSP kernels" and "Cortex-M figures"); the overheads count the
//! instructions a variant adds. Coarse: they rank the variants of a layer
//! and price the portable fallback, they do not predict a model's cycles.

use super::Kernel;

/// MAC/cycle of the portable C kernels (the slowest of the four models').
pub const PORTABLE_RATE: f64 = 0.045;

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
/// (None: the portable one) with a variant's `overhead`.
pub fn cycles(k: Option<Kernel>, macs: u64, overhead: u64) -> u64 {
    (macs as f64 / k.map_or(PORTABLE_RATE, rate)) as u64 + overhead
}

/// What bands of the 3x3 depthwise kernel add: each band after the first
/// moves up the plane rows it shares with the one before (3 - s rows of
/// `pw` int16 per plane, about a cycle each) and restarts its channel loop.
pub fn band_overhead(bands: usize, s: usize, planes: usize, pw: usize) -> u64 {
    ((bands - 1) * planes * ((3 - s) * pw + 40)) as u64
}

/// The fully connected kernel reading its input directly: a load and two
/// SXTB16 instead of one LDRD, a cycle more per 4 inputs per 4 outputs.
pub fn fc_direct_overhead(in_len: usize, out_len: usize) -> u64 {
    (out_len.div_ceil(4) * in_len / 4) as u64
}
