//! RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR, int8 NHWC with the same
//! quantization in and out (TFLite reference_ops ResizeNearestNeighbor and
//! ResizeBilinearInteger). The per-axis source coordinates are computed at
//! compile time; the kernel only gathers and interpolates.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resize<'a> {
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub bilinear: bool,
    /// Per output row three words: the lower and upper input rows and the
    /// distance from the lower one in 1/1024 (TFLite's
    /// `input_y - (1 << 10) * y0`; 0 for nearest).
    pub ys: &'a [i32],
    /// The same per output column.
    pub xs: &'a [i32],
}

#[inline(always)]
pub fn resize(p: &Resize, arena: &mut [i8], input: usize, output: usize) {
    let [_, iw, c] = p.in_hwc;
    let [oh, ow, _] = p.out_hwc;
    let at = |y: i32, x: i32, ch: usize| input + (y as usize * iw + x as usize) * c + ch;
    for (oy, y) in p.ys.chunks_exact(3).enumerate().take(oh) {
        let (y0, y1, fy) = (y[0], y[1], y[2]);
        for (ox, x) in p.xs.chunks_exact(3).enumerate().take(ow) {
            let (x0, x1, fx) = (x[0], x[1], x[2]);
            let out = output + (oy * ow + ox) * c;
            for ch in 0..c {
                arena[out + ch] = if p.bilinear {
                    let (fy, fx) = (fy as i64, fx as i64);
                    let one = 1i64 << 10;
                    let v = |y: i32, x: i32| arena[at(y, x, ch)] as i64;
                    let sum = v(y0, x0) * (one - fy) * (one - fx)
                        + v(y1, x0) * fy * (one - fx)
                        + v(y0, x1) * (one - fy) * fx
                        + v(y1, x1) * fy * fx;
                    let round = if sum > 0 { 1i64 << 19 } else { -(1i64 << 19) };
                    ((sum + round) / (1i64 << 20)).clamp(-128, 127) as i8
                } else {
                    arena[at(y0, x0, ch)]
                };
            }
        }
    }
}
