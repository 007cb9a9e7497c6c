//! float32 ops for what has no int8 kernel. Transcendentals come from
//! quant::floatmath and every loop runs in the C kernel's order, so the
//! generated C gives the same bits.

use crate::ir::{BinaryFn, FloatOp, ReduceFn, UnaryFn};
use hybridc_kernels::floatmath::{expf, logf};
use crate::quant::params::FloatParams;

pub fn unary(f: UnaryFn, x: f32) -> f32 {
    match f {
        UnaryFn::Exp => expf(x),
        UnaryFn::Log => logf(x),
        UnaryFn::Sqrt => x.sqrt(),
        UnaryFn::Neg => -x,
        UnaryFn::Abs => x.abs(),
        UnaryFn::Sigmoid => 1.0 / (1.0 + expf(-x)),
        UnaryFn::Tanh => {
            let e = expf(-2.0 * x);
            (1.0 - e) / (1.0 + e)
        }
        UnaryFn::Relu => if x > 0.0 { x } else { 0.0 },
        UnaryFn::Reciprocal => 1.0 / x,
    }
}

pub fn binary(f: BinaryFn, a: f32, b: f32) -> f32 {
    match f {
        BinaryFn::Add => a + b,
        BinaryFn::Sub => a - b,
        BinaryFn::Mul => a * b,
        BinaryFn::Div => a / b,
        BinaryFn::Max => if b > a { b } else { a },
        BinaryFn::Min => if b < a { b } else { a },
    }
}

/// Every index of a 4-D shape in row-major order.
fn indices(s: [usize; 4]) -> impl Iterator<Item = [usize; 4]> {
    (0..s[0]).flat_map(move |i0| (0..s[1]).flat_map(move |i1| (0..s[2]).flat_map(move |i2| (0..s[3]).map(move |i3| [i0, i1, i2, i3]))))
}

fn dot(i: [usize; 4], s: [usize; 4]) -> usize {
    i[0] * s[0] + i[1] * s[1] + i[2] * s[2] + i[3] * s[3]
}

pub fn run(op: &FloatOp, p: &FloatParams, ins: &[Vec<f32>], out: &mut [f32]) {
    match op {
        FloatOp::Unary(f) => {
            for (o, i) in out.iter_mut().zip(indices(p.out_shape)) {
                *o = unary(*f, ins[0][dot(i, p.a_strides)]);
            }
        }
        FloatOp::Binary(f) => {
            for (o, i) in out.iter_mut().zip(indices(p.out_shape)) {
                *o = binary(*f, ins[0][dot(i, p.a_strides)], ins[1][dot(i, p.b_strides)]);
            }
        }
        FloatOp::Reduce { op: r, .. } => {
            let count: usize = p.red_shape.iter().product();
            for (o, i) in out.iter_mut().zip(indices(p.out_shape)) {
                let base = dot(i, p.a_strides);
                let mut acc = match r {
                    ReduceFn::Sum | ReduceFn::Mean => 0.0,
                    ReduceFn::Max => f32::NEG_INFINITY,
                    ReduceFn::Min => f32::INFINITY,
                };
                for j in indices(p.red_shape) {
                    let v = ins[0][base + dot(j, p.red_strides)];
                    acc = match r {
                        ReduceFn::Sum | ReduceFn::Mean => acc + v,
                        ReduceFn::Max => if v > acc { v } else { acc },
                        ReduceFn::Min => if v < acc { v } else { acc },
                    };
                }
                *o = if *r == ReduceFn::Mean { acc / count as f32 } else { acc };
            }
        }
        FloatOp::Softmax => {
            for r in 0..p.rows {
                let row = &ins[0][r * p.depth..(r + 1) * p.depth];
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
                let mut sum = 0.0f32;
                for (c, &v) in row.iter().enumerate() {
                    let e = expf(v - max);
                    out[r * p.depth + c] = e;
                    sum += e;
                }
                for c in 0..p.depth {
                    out[r * p.depth + c] /= sum;
                }
            }
        }
        FloatOp::TopK { largest, .. } => {
            for r in 0..p.rows {
                let row = &ins[0][r * p.depth..(r + 1) * p.depth];
                let mut taken = vec![false; p.depth];
                for j in 0..p.k {
                    let mut best: Option<usize> = None;
                    for c in 0..p.depth {
                        if taken[c] {
                            continue;
                        }
                        let better = match best {
                            None => true,
                            Some(b) => if *largest { row[c] > row[b] } else { row[c] < row[b] },
                        };
                        if better {
                            best = Some(c);
                        }
                    }
                    let b = best.unwrap_or(0);
                    taken[b] = true;
                    out[r * p.k + j] = row[b];
                }
            }
        }
        FloatOp::Concat { .. } => {
            let mut o = 0;
            for outer in 0..p.outer {
                for (inp, &inner) in ins.iter().zip(&p.inners) {
                    out[o..o + inner].copy_from_slice(&inp[outer * inner..(outer + 1) * inner]);
                    o += inner;
                }
            }
        }
        FloatOp::Strided { .. } => {
            for (o, i) in out.iter_mut().zip(indices(p.out_shape)) {
                let at = p.offset as isize + (0..4).map(|d| i[d] as isize * p.strides[d]).sum::<isize>();
                *o = ins[0][at as usize];
            }
        }
    }
}
