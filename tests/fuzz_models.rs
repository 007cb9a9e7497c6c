//! Seeded mutation fuzzing of what users hand hybridc: ONNX models (byte
//! flips and truncation, and mutations of the decoded protobuf: attribute
//! values, dims, element types, op types, wiring), TFLite flatbuffers (byte
//! flips, truncation, edge values written over 32-bit fields) through the whole lowering
//! (validation, tract's analysis, quantization with calibration, import,
//! planning), and `.npy` files through the reader. Every input must give a
//! result or an error, never a panic. Crashing inputs are written to
//! target/fuzz-crashes/ to become regression fixtures.
//!
//! Long runs, in pieces with their own seeds (docs/reliability.md):
//! `HYBRIDC_FUZZ_N=100000 HYBRIDC_FUZZ_SEED=1 cargo test --release --test fuzz_models -- --nocapture`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use hybridc_core::lower::{self as driver, QuantOptions};
use hybridc_core::plan::search::SplitMix;
use prost::Message;
use tract_onnx::pb;

/// The planner's seeded generator (splitmix64), so a failure replays.
struct Rng(SplitMix);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n.max(1))
    }
    /// Mostly the values that break code: 0, ±1, extremes, powers of two.
    fn int(&mut self) -> i64 {
        const EDGE: [i64; 12] = [0, 1, -1, 2, -2, 127, -128, 1 << 31, -(1 << 31), i64::MAX, i64::MIN, 1 << 40];
        if self.below(3) == 0 {
            self.next() as i64 >> self.below(60)
        } else {
            EDGE[self.below(EDGE.len())]
        }
    }
}

fn iterations() -> usize {
    std::env::var("HYBRIDC_FUZZ_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Added to each target's own seed, so that pieces of a long run differ.
fn seed(base: u64) -> u64 {
    let s: u64 = std::env::var("HYBRIDC_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    println!("seed {s} (HYBRIDC_FUZZ_SEED), {} iterations (HYBRIDC_FUZZ_N)", iterations());
    // Hashed: splitmix streams whose states differ by a small multiple of
    // its increment are the same stream shifted.
    if s == 0 {
        base
    } else {
        base ^ SplitMix(s).next()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const OPS: [&str; 14] = ["Conv", "Gemm", "MatMul", "Add", "Mul", "Relu", "MaxPool", "AveragePool", "Reshape", "Transpose", "Concat", "Slice", "Split", "Softmax"];

/// One mutation of the decoded model.
fn mutate_proto(m: &mut pb::ModelProto, r: &mut Rng) {
    let Some(g) = m.graph.as_mut() else { return };
    match r.below(9) {
        0 | 1 => {
            // An integer attribute (strides, axis, group, pads, perm...).
            let n = r.below(g.node.len());
            if let Some(a) = g.node.get_mut(n).and_then(|n| {
                let k = n.attribute.len();
                n.attribute.get_mut(k.saturating_sub(1).min(k))
            }) {
                if a.ints.is_empty() {
                    a.i = r.int();
                } else {
                    let k = r.below(a.ints.len());
                    a.ints[k] = r.int();
                }
            }
        }
        2 => {
            let k = r.below(g.initializer.len());
            if let Some(t) = g.initializer.get_mut(k) {
                if !t.dims.is_empty() {
                    let d = r.below(t.dims.len());
                    t.dims[d] = r.int();
                }
            }
        }
        3 => {
            let k = r.below(g.initializer.len());
            if let Some(t) = g.initializer.get_mut(k) {
                t.data_type = r.below(20) as i32;
            }
        }
        4 => {
            let k = r.below(g.node.len());
            if let Some(n) = g.node.get_mut(k) {
                n.op_type = OPS[r.below(OPS.len())].to_string();
            }
        }
        5 => {
            // Rewire an input to another value of the graph.
            let names: Vec<String> = g.node.iter().flat_map(|n| n.output.clone()).chain(g.initializer.iter().map(|t| t.name.clone())).collect();
            let k = r.below(g.node.len());
            if let Some(n) = g.node.get_mut(k) {
                if !n.input.is_empty() && !names.is_empty() {
                    let i = r.below(n.input.len());
                    n.input[i] = names[r.below(names.len())].clone();
                }
            }
        }
        6 => {
            if !g.node.is_empty() {
                let k = r.below(g.node.len());
                g.node.remove(k);
            }
        }
        7 => {
            let k = r.below(g.initializer.len());
            if let Some(t) = g.initializer.get_mut(k) {
                let len = t.raw_data.len();
                t.raw_data.truncate(r.below(len + 1));
                for b in t.raw_data.iter_mut().take(8) {
                    *b ^= r.next() as u8;
                }
            }
        }
        _ => {
            for v in g.input.iter_mut().chain(g.output.iter_mut()) {
                if let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut()) {
                    if let Some(d) = t.shape.as_mut().and_then(|s| s.dim.last_mut()) {
                        d.value = Some(pb::tensor_shape_proto::dimension::Value::DimValue(r.int()));
                    }
                }
            }
        }
    }
}

/// Byte-level damage: flips, truncation, a duplicated slice.
fn mutate_bytes(b: &mut Vec<u8>, r: &mut Rng) {
    if b.is_empty() {
        return;
    }
    match r.below(3) {
        0 => {
            for _ in 0..1 + r.below(8) {
                let k = r.below(b.len());
                b[k] ^= 1 << r.below(8);
            }
        }
        1 => {
            let k = r.below(b.len());
            b.truncate(k);
        }
        _ => {
            let (a, n) = (r.below(b.len()), 1 + r.below(64));
            let chunk: Vec<u8> = b[a..(a + n).min(b.len())].to_vec();
            let at = r.below(b.len());
            b.splice(at..at, chunk);
        }
    }
}

fn save_crash(kind: &str, i: usize, bytes: &[u8]) -> PathBuf {
    let dir = repo().join("target/fuzz-crashes");
    std::fs::create_dir_all(&dir).unwrap();
    // The process id keeps parallel runs apart.
    let pid = std::process::id();
    let p = if i == usize::MAX { dir.join(format!("current-{pid}.{kind}")) } else { dir.join(format!("{kind}-{pid}-{i}")) };
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The models mutated: an int8 QDQ model (lowered without calibration) and
/// small float models with their calibration inputs.
fn bases() -> Vec<(Vec<u8>, Option<PathBuf>)> {
    let fx = repo().join("tests/fixtures");
    let mut out = vec![(std::fs::read(fx.join("mlperf-tiny/kws_dscnn_int8.onnx")).unwrap(), None)];
    for m in ["conv1d", "shuffle_split", "batch_norm_features", "resize", "hard_swish"] {
        out.push((std::fs::read(fx.join(format!("ops/{m}.onnx"))).unwrap(), Some(fx.join(format!("ops/{m}_x.npy")))));
    }
    out
}

#[test]
fn fuzz_mutated_models_never_panic() {
    let bases = bases();
    let decoded: Vec<pb::ModelProto> = bases.iter().map(|(b, _)| pb::ModelProto::decode(b.as_slice()).unwrap()).collect();
    let mut r = Rng(SplitMix(seed(0x5EED_1517)));
    let (mut errors, mut panics) = (0, vec![]);
    let n = iterations();
    for i in 0..n {
        let k = r.below(bases.len());
        let bytes = if r.below(4) == 0 {
            let mut b = bases[k].0.clone();
            mutate_bytes(&mut b, &mut r);
            b
        } else {
            let mut m = decoded[k].clone();
            for _ in 0..1 + r.below(3) {
                mutate_proto(&mut m, &mut r);
            }
            m.encode_to_vec()
        };
        // Kept where it survives an abort (tract has unsafe code).
        let path = save_crash("onnx", usize::MAX, &bytes);
        let q = QuantOptions { calib: bases[k].1.clone(), ..Default::default() };
        match catch_unwind(AssertUnwindSafe(|| driver::lower_any(&path, &[], &q, None))) {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => errors += 1,
            Err(p) => panics.push(format!("{}: {}", save_crash("onnx", i, &bytes).display(), hybridc_core::guard::panic_message(&p))),
        }
    }
    println!("{n} mutated models: {errors} errors, {} panics", panics.len());
    assert!(panics.is_empty(), "{} of {n} mutated models panicked:\n{}", panics.len(), panics.join("\n"));
}

/// An edge value (0, -1, 2^31, ...) over an aligned 32-bit word: in a
/// flatbuffer, a shape, an index, an offset or an option.
fn mutate_word(b: &mut [u8], r: &mut Rng) {
    if b.len() < 4 {
        return;
    }
    let k = r.below(b.len() / 4) * 4;
    b[k..k + 4].copy_from_slice(&(r.int() as i32).to_le_bytes());
}

#[test]
fn fuzz_mutated_tflite_never_panics() {
    let fx = repo().join("tests/fixtures");
    let bases: Vec<Vec<u8>> = ["tflite/mlp.tflite", "tflite/elementwise.tflite", "tflite/cnn.tflite", "mlperf-tiny/kws_dscnn_int8.tflite"]
        .iter()
        .map(|m| std::fs::read(fx.join(m)).unwrap())
        .collect();
    let mut r = Rng(SplitMix(seed(0x5EED_7F13)));
    let (mut errors, mut panics) = (0, vec![]);
    let n = iterations();
    for i in 0..n {
        let mut b = bases[r.below(bases.len())].clone();
        for _ in 0..1 + r.below(3) {
            if r.below(2) == 0 {
                mutate_word(&mut b, &mut r);
            } else {
                mutate_bytes(&mut b, &mut r);
            }
        }
        let path = save_crash("tflite", usize::MAX, &b);
        match catch_unwind(AssertUnwindSafe(|| driver::lower_any(&path, &[], &QuantOptions::default(), None))) {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => errors += 1,
            Err(p) => panics.push(format!("{}: {}", save_crash("tflite", i, &b).display(), hybridc_core::guard::panic_message(&p))),
        }
    }
    println!("{n} mutated TFLite models: {errors} errors, {} panics", panics.len());
    assert!(panics.is_empty(), "{} of {n} mutated TFLite models panicked:\n{}", panics.len(), panics.join("\n"));
}

#[test]
fn fuzz_mutated_npy_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read(repo().join("tests/fixtures/ops/conv1d_x.npy")).unwrap();
    let mut r = Rng(SplitMix(seed(0x5EED_0417)));
    let mut panics = vec![];
    let n = iterations();
    for i in 0..n {
        let mut b = base.clone();
        if r.below(2) == 0 {
            // In the header: digits, quotes, parentheses.
            let hl = 128.min(b.len());
            for _ in 0..1 + r.below(4) {
                let k = r.below(hl);
                b[k] = b"0123456789(),'<>f4i18 :{}"[r.below(25)];
            }
        } else {
            mutate_bytes(&mut b, &mut r);
        }
        let path = dir.path().join("x.npy");
        std::fs::write(&path, &b).unwrap();
        if let Err(p) = catch_unwind(|| hybridc_core::npy::read(&path)) {
            panics.push(format!("{}: {}", save_crash("npy", i, &b).display(), hybridc_core::guard::panic_message(&p)));
        }
    }
    println!("{n} mutated .npy files: {} panics", panics.len());
    assert!(panics.is_empty(), "{} of {n} mutated .npy files panicked:\n{}", panics.len(), panics.join("\n"));
}
