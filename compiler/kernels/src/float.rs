//! float32 ops for what has no int8 kernel (a router's TopK, Log,
//! ReduceSum...): a port of runtime-c/kernels/float_ops.c, with the same
//! loops, the same order and the same exp/log (`floatmath`, made of +, -, *,
//! / only), so the bits are those of the C kernels and of hybridc's reference.

use super::floatmath::{expf, logf, pow2i};
use super::{dot, for4, read_f32, write_f32};

/// Where an operand lives: in the arena at a byte offset, or in flash.
#[derive(Clone, Copy)]
pub enum Src {
    Arena(usize),
    Const(&'static [f32]),
}

impl Src {
    /// Element `i` of the operand.
    #[inline(always)]
    pub fn get(&self, arena: &[i8], i: usize) -> f32 {
        match *self {
            Src::Arena(at) => read_f32(arena, at + 4 * i),
            Src::Const(c) => c[i],
        }
    }
}

/// What a float op computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exp,
    Log,
    Sqrt,
    Neg,
    Abs,
    Sigmoid,
    Tanh,
    Relu,
    Reciprocal,
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    ReduceSum,
    ReduceMean,
    ReduceMax,
    ReduceMin,
    Softmax,
    TopK { largest: bool },
    Concat,
    Strided,
    MatMul,
}

/// A float op's constant parameters (storage shapes right-aligned to 4 dims).
#[derive(Debug, Clone, Copy)]
pub struct FloatOp<'a> {
    pub kind: Kind,
    pub out_shape: [usize; 4],
    pub a_strides: [usize; 4],
    pub b_strides: [usize; 4],
    pub red_shape: [usize; 4],
    pub red_strides: [usize; 4],
    pub offset: usize,
    pub strides: [isize; 4],
    pub rows: usize,
    pub depth: usize,
    pub k: usize,
    pub outer: usize,
    pub inners: &'a [usize],
}

/// Correctly rounded square root (as IEEE sqrt, so as C's sqrtf), from
/// integer arithmetic: `core` has no `f32::sqrt`.
pub fn sqrtf(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 || x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    let (mut m, mut e) = if bits >> 23 == 0 {
        // Subnormal: normalise the mantissa.
        let shift = (bits.leading_zeros() - 8) as i32;
        (bits << shift, -126 - shift - 23)
    } else {
        (
            (bits & 0x007f_ffff) | 0x0080_0000,
            ((bits >> 23) as i32) - 127 - 23,
        )
    };
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // x = m * 2^e, m in [2^23, 2^25), e even; sqrt(m * 2^24) in [2^23.5, 2^24.5).
    let n = (m as u64) << 24;
    let mut r = 0u64;
    let mut bit = 1u64 << 48;
    let mut rem = n;
    while bit != 0 {
        if rem >= r + bit {
            rem -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    // r = floor(sqrt(n)), rem = n - r^2.
    let (q, scale) = if r < 1 << 24 {
        (if rem > r { r + 1 } else { r }, (e - 24) / 2)
    } else {
        ((r >> 1) + (r & 1), (e - 24) / 2 + 1)
    };
    // q <= 2^24 is exact in f32; the power of two keeps the result normal.
    let half = scale / 2;
    (q as f32) * pow2i(half) * pow2i(scale - half)
}

#[inline(always)]
fn unary(kind: Kind, x: f32) -> f32 {
    match kind {
        Kind::Exp => expf(x),
        Kind::Log => logf(x),
        Kind::Sqrt => sqrtf(x),
        Kind::Neg => -x,
        Kind::Abs => {
            if x < 0.0 {
                -x
            } else if x == 0.0 {
                0.0
            } else {
                x
            }
        }
        Kind::Sigmoid => 1.0 / (1.0 + expf(-x)),
        Kind::Tanh => {
            let e = expf(-2.0 * x);
            (1.0 - e) / (1.0 + e)
        }
        Kind::Relu => {
            if x > 0.0 {
                x
            } else {
                0.0
            }
        }
        _ => 1.0 / x,
    }
}

#[inline(always)]
fn binary(kind: Kind, a: f32, b: f32) -> f32 {
    match kind {
        Kind::Add => a + b,
        Kind::Sub => a - b,
        Kind::Mul => a * b,
        Kind::Div => a / b,
        Kind::Max => {
            if b > a {
                b
            } else {
                a
            }
        }
        _ => {
            if b < a {
                b
            } else {
                a
            }
        }
    }
}

/// Runs the float op `p` on `inputs`, writing f32 at byte offset `output`.
#[inline(always)]
pub fn float_op(p: &FloatOp<'_>, arena: &mut [i8], inputs: &[Src], output: usize) {
    let mut o = output;
    let mut put = |arena: &mut [i8], v: f32| {
        write_f32(arena, o, v);
        o += 4;
    };
    match p.kind {
        Kind::Exp
        | Kind::Log
        | Kind::Sqrt
        | Kind::Neg
        | Kind::Abs
        | Kind::Sigmoid
        | Kind::Tanh
        | Kind::Relu
        | Kind::Reciprocal => for4(&p.out_shape, |i| {
            let v = unary(p.kind, inputs[0].get(arena, dot(&p.a_strides, i)));
            put(arena, v);
        }),
        Kind::Add | Kind::Sub | Kind::Mul | Kind::Div | Kind::Max | Kind::Min => {
            for4(&p.out_shape, |i| {
                let a = inputs[0].get(arena, dot(&p.a_strides, i));
                let b = inputs[1].get(arena, dot(&p.b_strides, i));
                put(arena, binary(p.kind, a, b));
            })
        }
        Kind::ReduceSum | Kind::ReduceMean | Kind::ReduceMax | Kind::ReduceMin => {
            let count = p.red_shape.iter().product::<usize>();
            for4(&p.out_shape, |i| {
                let base = dot(&p.a_strides, i);
                let mut acc = match p.kind {
                    Kind::ReduceMax => f32::NEG_INFINITY,
                    Kind::ReduceMin => f32::INFINITY,
                    _ => 0.0,
                };
                for4(&p.red_shape, |j| {
                    let v = inputs[0].get(arena, base + dot(&p.red_strides, j));
                    acc = match p.kind {
                        Kind::ReduceMax => {
                            if v > acc {
                                v
                            } else {
                                acc
                            }
                        }
                        Kind::ReduceMin => {
                            if v < acc {
                                v
                            } else {
                                acc
                            }
                        }
                        _ => acc + v,
                    };
                });
                put(
                    arena,
                    if p.kind == Kind::ReduceMean {
                        acc / count as f32
                    } else {
                        acc
                    },
                );
            })
        }
        Kind::MatMul => {
            // inputs: x [rows, depth], w [k, depth] (one row per output), bias [k]
            for r in 0..p.rows {
                for n in 0..p.k {
                    let mut acc = 0.0f32;
                    for d in 0..p.depth {
                        acc += inputs[0].get(arena, r * p.depth + d)
                            * inputs[1].get(arena, n * p.depth + d);
                    }
                    put(arena, acc + inputs[2].get(arena, n));
                }
            }
        }
        Kind::Softmax => {
            for r in 0..p.rows {
                let (row, orow) = (r * p.depth, output + 4 * r * p.depth);
                let mut max = f32::NEG_INFINITY;
                for c in 0..p.depth {
                    let v = inputs[0].get(arena, row + c);
                    max = if v > max { v } else { max };
                }
                let mut sum = 0.0f32;
                for c in 0..p.depth {
                    let e = expf(inputs[0].get(arena, row + c) - max);
                    write_f32(arena, orow + 4 * c, e);
                    sum += e;
                }
                for c in 0..p.depth {
                    let v = read_f32(arena, orow + 4 * c) / sum;
                    write_f32(arena, orow + 4 * c, v);
                }
            }
        }
        Kind::TopK { largest } => {
            let mut taken = [false; 256];
            let depth = p.depth.min(256);
            for r in 0..p.rows {
                let row = r * p.depth;
                taken[..depth].fill(false);
                for j in 0..p.k {
                    let mut best: Option<usize> = None;
                    for (c, &t) in taken[..depth].iter().enumerate() {
                        if t {
                            continue;
                        }
                        let better = match best {
                            None => true,
                            Some(b) => {
                                let (v, w) =
                                    (inputs[0].get(arena, row + c), inputs[0].get(arena, row + b));
                                if largest {
                                    v > w
                                } else {
                                    v < w
                                }
                            }
                        };
                        if better {
                            best = Some(c);
                        }
                    }
                    let best = best.unwrap_or(0);
                    taken[best] = true;
                    let v = inputs[0].get(arena, row + best);
                    write_f32(arena, output + 4 * (r * p.k + j), v);
                }
            }
        }
        Kind::Concat => {
            for outer in 0..p.outer {
                for (src, &inner) in inputs.iter().zip(p.inners) {
                    for i in 0..inner {
                        let v = src.get(arena, outer * inner + i);
                        put(arena, v);
                    }
                }
            }
        }
        Kind::Strided => for4(&p.out_shape, |i| {
            let at = p.offset as isize
                + i[0] as isize * p.strides[0]
                + i[1] as isize * p.strides[1]
                + i[2] as isize * p.strides[2]
                + i[3] as isize * p.strides[3];
            let v = inputs[0].get(arena, at as usize);
            put(arena, v);
        }),
    }
}
