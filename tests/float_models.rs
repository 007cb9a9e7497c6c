//! Float models in: post-training quantization of PyTorch CNNs trained on
//! MNIST (tests/fixtures/mnist, see make_models.py) and of the float MLPerf
//! Tiny models. Oracles: onnxruntime's float accuracy (float_accuracy.json),
//! tract's float run, and the int8 reference for the generated C.

mod common;

use common::{compile_calibrated as compile, run, save};

use std::path::PathBuf;

use hybridc_core::lower::{self as driver, QuantOptions};
use hybridc_core::npy;

fn mnist() -> PathBuf {
    common::fixtures().join("../mnist")
}

/// uint8 images [N, 1, 28, 28] as the models' float input (value / 255).
fn images(file: &str, n: Option<usize>) -> npy::Array {
    let a = npy::read(&mnist().join(file)).unwrap();
    assert_eq!(a.descr, "|u1", "{file}");
    let count = n.unwrap_or(a.shape[0]).min(a.shape[0]);
    let per: usize = a.shape[1..].iter().product();
    let data = a.data[..count * per].iter().flat_map(|&b| (b as f32 / 255.0).to_le_bytes()).collect();
    let mut shape = a.shape.clone();
    shape[0] = count;
    npy::Array { shape, descr: "<f4".into(), data }
}

fn labels() -> Vec<i64> {
    let a = npy::read(&mnist().join("test_y.npy")).unwrap();
    a.data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap()
}

fn float_accuracy(model: &str) -> f64 {
    let text = std::fs::read_to_string(mnist().join("float_accuracy.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[model].as_f64().unwrap()
}

/// int8 top-1 within 0.5 points of the float model on the 1,500 held-out
/// images, and the generated C equal to the reference on every layer.
fn accuracy_and_bit_exactness(model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let calib = save(dir.path(), "calib.npy", &images("calib_u8.npy", None));
    let onnx = mnist().join(format!("{model}.onnx"));
    let proj = dir.path().join("proj");
    let m = compile(&onnx, &calib, "host", &proj);
    assert_eq!(m.inputs[0].dtype, "<f4");
    assert_eq!(m.outputs[0].dtype, "<f4");

    let x = images("test_x_u8.npy", None);
    let y = labels();
    let r = run(&proj, &x, false);
    let logits = hybridc_core::reference::f32s(&r.outputs[0]);
    let correct = logits.chunks_exact(10).zip(&y).filter(|(l, &t)| argmax(l) as i64 == t).count();
    let int8 = correct as f64 / y.len() as f64;
    let float = float_accuracy(model);
    println!("{model}: float {float:.4}, int8 {int8:.4}");
    assert!(y.len() >= 1000);
    assert!(float - int8 <= 0.005, "{model}: int8 top-1 {int8:.4} is more than 0.5 points below float {float:.4}");

    // Every layer of the C equals the reference on 20 images.
    let c = driver::lower_with(&onnx, &[], &QuantOptions { calib: Some(calib), ..Default::default() }).unwrap();
    let few = images("test_x_u8.npy", Some(20));
    common::assert_c_equals_reference(model, &c, &run(&proj, &few, true), &few);
    // The report gives a per-layer SQNR for every int8 layer.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(proj.join("report.json")).unwrap()).unwrap();
    let with_sqnr = report["layers"].as_array().unwrap().iter().filter(|l| l["sqnr_db"].as_f64().is_some_and(|d| d > 15.0)).count();
    assert!(with_sqnr >= c.graph.ops.len() - 3, "{model}: SQNR missing or low: {report}");
}

#[test]
fn cnn_small_torchscript_export() {
    accuracy_and_bit_exactness("cnn_small");
}

#[test]
fn cnn_mixed_dynamo_export() {
    accuracy_and_bit_exactness("cnn_mixed");
}

/// The float model on Cortex-M4 under QEMU gives the host's bytes.
#[test]
fn cnn_mixed_on_cortex_m4_equals_host() {
    let dir = tempfile::tempdir().unwrap();
    let calib = save(dir.path(), "calib.npy", &images("calib_u8.npy", None));
    let onnx = mnist().join("cnn_mixed.onnx");
    let x = images("test_x_u8.npy", Some(100));
    compile(&onnx, &calib, "host", &dir.path().join("host"));
    compile(&onnx, &calib, "cortex-m4", &dir.path().join("m4"));
    let h = run(&dir.path().join("host"), &x, false);
    let m = run(&dir.path().join("m4"), &x, false);
    assert_eq!(h.outputs, m.outputs, "Cortex-M4 outputs differ from the host's");
}

/// The float MLPerf Tiny models (tf2onnx) quantize, and agree with
/// onnxruntime's float output on the benchmark sample (top-1).
#[test]
fn mlperf_tiny_float_models_quantize() {
    let f = common::fixtures();
    for model in ["kws_dscnn", "ic_resnet8", "vww_mbnv1"] {
        let dir = tempfile::tempdir().unwrap();
        let input = f.join(format!("ref/{model}_sample0_input_float.npy"));
        let proj = dir.path().join("p");
        compile(&f.join(format!("{model}_float.onnx")), &input, "host", &proj);
        let x = npy::read(&input).unwrap();
        let r = run(&proj, &x, false);
        let got = hybridc_core::reference::f32s(&r.outputs[0]);
        let want = hybridc_core::reference::f32s(&npy::read(&f.join(format!("ref/{model}_sample0_float_onnx_output.npy"))).unwrap().data);
        assert_eq!(argmax(&got), argmax(&want), "{model}: int8 top-1 differs from onnxruntime float");
    }
}
