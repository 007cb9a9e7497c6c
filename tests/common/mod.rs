//! Shared helpers of the golden suite: fixture paths and .npy loading.
#![allow(dead_code)]

pub mod check;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use hybridc_core::lower::{CompileOptions, Compiled, QuantOptions};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlperf-tiny")
}

/// An int8 .npy as (shape, values).
pub fn load_i8(path: &Path) -> (Vec<usize>, Vec<i8>) {
    let a = npy::read(path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    assert_eq!(a.descr, "|i1", "{} is not int8", path.display());
    (a.shape, a.data.iter().map(|&b| b as i8).collect())
}

/// The four MLPerf Tiny models and their logits tensor (None: no softmax).
pub const MODELS: [(&str, Option<&str>); 4] = [
    ("ad_fcae", None),
    ("ic_resnet8", Some("model/dense/MatMul;model/dense/BiasAdd")),
    ("kws_dscnn", Some("functional_1/dense/BiasAdd")),
    ("vww_mbnv1", Some("model/dense/MatMul;model/dense/BiasAdd")),
];

/// Every golden input of a model with its TFLite Micro output and logits:
/// the 12 vectors plus the seed0 and sample0 references.
pub struct Golden {
    pub label: String,
    pub input: Vec<i8>,
    pub output: Vec<i8>,
    pub logits: Option<Vec<i8>>,
}

pub fn golden_cases(model: &str) -> Vec<Golden> {
    let f = fixtures();
    let (shape, inputs) = load_i8(&f.join(format!("vectors/{model}_inputs_int8.npy")));
    let (_, outputs) = load_i8(&f.join(format!("vectors/{model}_tflm_outputs_int8.npy")));
    let logits_path = f.join(format!("vectors/{model}_tflm_logits_int8.npy"));
    let logits = logits_path.exists().then(|| load_i8(&logits_path).1);
    let n = shape[0];
    let (isz, osz) = (inputs.len() / n, outputs.len() / n);
    let mut cases: Vec<Golden> = (0..n)
        .map(|i| Golden {
            label: format!("vectors[{i}]"),
            input: inputs[i * isz..(i + 1) * isz].to_vec(),
            output: outputs[i * osz..(i + 1) * osz].to_vec(),
            logits: logits.as_ref().map(|l| {
                let lsz = l.len() / n;
                l[i * lsz..(i + 1) * lsz].to_vec()
            }),
        })
        .collect();
    for which in ["seed0", "sample0"] {
        cases.push(Golden {
            label: format!("ref/{which}"),
            input: load_i8(&f.join(format!("ref/{model}_{which}_input_int8.npy"))).1,
            output: load_i8(&f.join(format!("ref/{model}_{which}_tflm_output_int8.npy"))).1,
            logits: None,
        });
    }
    cases
}

/// Index and values of the first differing element, if any.
pub fn first_diff(a: &[i8], b: &[i8]) -> Option<(usize, i8, i8)> {
    if a.len() != b.len() {
        return Some((a.len().min(b.len()), 0, 0));
    }
    a.iter().zip(b).position(|(x, y)| x != y).map(|i| (i, a[i], b[i]))
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A subprocess (a server), killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bundled hybrid example (examples/mnist-hybrid).
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mnist-hybrid")
}

/// The first `n` test images of the bundled example.
pub fn example_inputs(n: usize) -> npy::Array {
    let a = npy::read(&example().join("test_x.npy")).unwrap();
    let per = a.data.len() / a.shape[0];
    let mut shape = a.shape.clone();
    shape[0] = n;
    npy::Array { shape, descr: a.descr.clone(), data: a.data[..n * per].to_vec() }
}

/// One test module per model, one test per entry `name: runner(args)`,
/// which calls `runner(model, args...)`.
#[macro_export]
macro_rules! model_tests {
    ($tests:tt $($model:ident),*) => {$( $crate::model_tests!(@one $tests $model); )*};
    (@one [$($test:ident: $f:ident($($arg:expr),*)),*] $model:ident) => {
        mod $model {
            $(
                #[test]
                fn $test() {
                    super::$f(stringify!($model) $(, $arg)*);
                }
            )*
        }
    };
}

/// Writes `a` as `dir/name` and returns the path.
pub fn save(dir: &Path, name: &str, a: &npy::Array) -> PathBuf {
    let p = dir.join(name);
    npy::write(&p, &a.shape, &a.descr, &a.data).unwrap();
    p
}

/// Options compiling the float `model` for `target` into `out`, calibrated on `calib`.
pub fn calibrated(model: &Path, calib: &Path, target: &str, out: &Path) -> CompileOptions {
    CompileOptions { quant: QuantOptions { calib: Some(calib.to_path_buf()), ..Default::default() }, ..CompileOptions::new(model, target, out) }
}

/// `hybridc compile MODEL --calib CALIB --target TARGET -o OUT`.
pub fn compile_calibrated(model: &Path, calib: &Path, target: &str, out: &Path) -> hybridc_core::codegen::Manifest {
    hybridc_verify::compile::compile(&calibrated(model, calib, target, out)).expect("compile")
}

/// `hybridc run` on the batch `x` (per-layer outputs with `trace`).
pub fn run(project: &Path, x: &npy::Array, trace: bool) -> verify::RunResult {
    let opts = RunOptions { project: project.to_path_buf(), trace, profile: false, timeout: Duration::from_secs(600), gateway: None };
    verify::run_project(&opts, x, Path::new("test inputs")).expect("run")
}

/// Every layer of the traced C run equals the reference interpreter's, item by item.
pub fn assert_c_equals_reference(model: &str, c: &Compiled, traced: &verify::RunResult, x: &npy::Array) {
    let n = x.shape[0];
    assert_eq!(traced.trace.len(), n, "{model}: one trace per input");
    assert_trace_is_reference(model, &c.graph, &traced.trace, &x.data, n);
}

/// The generated C's per-layer trace equals the reference interpreter on
/// every layer of every sample (`inputs` holds the samples one after the other).
pub fn assert_trace_is_reference(model: &str, g: &hybridc_core::ops::Graph, trace: &[Vec<Vec<u8>>], inputs: &[u8], samples: usize) {
    let per = inputs.len() / samples;
    for k in 0..samples {
        let values = hybridc_core::reference::run(g, &[&inputs[k * per..(k + 1) * per]]).unwrap();
        for (l, op) in g.ops.iter().enumerate() {
            assert_eq!(&trace[k][l], values[op.output].as_ref().unwrap(), "{model} sample {k}: C diverges from the reference at layer {l} '{}' ({})", op.name, op.kind.name());
        }
    }
}
