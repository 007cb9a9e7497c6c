//! The conformance zoo (tests/fixtures/zoo, written by tests/zoo/make_zoo.py):
//! real PyTorch architectures as users export them, compiled with
//! calibration for the host and for Cortex-M4 (DSP kernels). Oracles: the
//! reference interpreter for every layer of the generated C, and
//! onnxruntime's float outputs (NAME_y.npy) for the int8 output's SQNR.

mod common;

use std::path::{Path, PathBuf};

use hybridc_core::lower::{self as driver, QuantOptions};
use hybridc_core::npy;

/// Every model of the zoo (each has NAME.onnx, NAME_calib.npy, NAME_x.npy, NAME_y.npy).
const ZOO: &[&str] = &[
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mnasnet",
    "shufflenet_v2",
    "squeezenet",
    "resnet_small",
    "kws_conv1d",
    "mbconv_se",
    "unet_upsample",
    "autoencoder_convt",
    "cnn_mean_head",
    "ds_cnn_rgb",
    "kws_dscnn2d",
    "ad_fc_autoencoder",
];

/// The int8 output's SQNR against onnxruntime's float output must reach
/// this (docs/zoo.md: the lowest today is MnasNet's, 19.3 dB).
const MIN_SQNR_DB: f64 = 15.0;

fn zoo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/zoo")
}

fn file(model: &str, suffix: &str) -> PathBuf {
    zoo().join(format!("{model}{suffix}"))
}

/// SQNR in dB of `got` against `want`.
fn sqnr_db(want: &[f32], got: &[f32]) -> f64 {
    assert_eq!(want.len(), got.len());
    let signal: f64 = want.iter().map(|&y| (y as f64).powi(2)).sum();
    let noise: f64 = want.iter().zip(got).map(|(&y, &g)| (y as f64 - g as f64).powi(2)).sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

/// Compiles `model` for `target` with its calibration set, runs the C on the
/// held-out inputs with a per-layer trace: every layer equals the reference,
/// and the output reaches MIN_SQNR_DB against onnxruntime. Returns the SQNR.
fn check(model: &str, target: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (onnx, calib) = (file(model, ".onnx"), file(model, "_calib.npy"));
    let proj = dir.path().join(target);
    let m = common::compile_calibrated(&onnx, &calib, target, &proj);
    assert_eq!(m.inputs[0].dtype, "<f4", "{model}: float input");
    let x = npy::read(&file(model, "_x.npy")).unwrap();
    let traced = common::run(&proj, &x, true);
    let c = driver::lower_with(&onnx, &[], &QuantOptions { calib: Some(calib), ..Default::default() }).unwrap();
    common::assert_c_equals_reference(model, &c, &traced, &x);

    let want = hybridc_core::reference::f32s(&npy::read(&file(model, "_y.npy")).unwrap().data);
    let got = hybridc_core::reference::f32s(&traced.outputs[0]);
    let db = sqnr_db(&want, &got);
    println!("{model} on {target}: output SQNR {db:.1} dB against onnxruntime");
    assert!(db >= MIN_SQNR_DB, "{model} on {target}: output SQNR {db:.1} dB < {MIN_SQNR_DB} dB against onnxruntime float");
    db
}

#[test]
fn zoo_lists_every_fixture_once() {
    let mut on_disk: Vec<String> = std::fs::read_dir(zoo())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok()?.strip_suffix(".onnx").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ZOO.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/fixtures/zoo and ZOO differ");
    assert!(ZOO.len() >= 10);
    for m in ZOO {
        for suffix in ["_calib.npy", "_x.npy", "_y.npy"] {
            assert!(file(m, suffix).exists(), "{m}{suffix} missing");
        }
        let size = std::fs::metadata(file(m, ".onnx")).unwrap().len();
        assert!(size < 2 << 20, "{m}.onnx is {size} bytes, over 2 MiB");
    }
}

#[test]
fn zoo_on_host() {
    for m in ZOO {
        check(m, "host");
    }
}

/// Cortex-M4 with DSP kernels, under QEMU.
#[test]
fn zoo_on_cortex_m4() {
    for m in ZOO {
        check(m, "cortex-m4");
    }
}
