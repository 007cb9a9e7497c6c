//! Bad input, as a new user would give it: each case must end with one
//! `hybridc: error:` line naming the culprit, a non-zero exit (not a panic),
//! and no output left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn hybridc(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hybridc")).args(args).output().expect("run hybridc");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), stderr)
}

fn bad(name: &str) -> String {
    common::fixtures().join("../bad").join(name).to_string_lossy().to_string()
}

fn tflite_mlp() -> String {
    common::fixtures().join("../tflite/mlp.tflite").to_string_lossy().to_string()
}

fn kws() -> String {
    common::fixtures().join("kws_dscnn_int8.onnx").to_string_lossy().to_string()
}

/// Asserts a clean failure whose message contains every `needles`.
fn assert_clean_failure(code: i32, stderr: &str, needles: &[&str]) {
    assert_eq!(code, 1, "expected exit status 1, got {code}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "hybridc panicked:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{stderr}");
    assert!(lines[0].starts_with("hybridc: error: "), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "error should mention '{n}':\n{stderr}");
    }
}

fn compile_fails(model: &str, extra: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("out");
    let mut args = vec!["compile", model, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    if !extra.contains(&"--target") {
        args.extend_from_slice(&["--target", "host"]);
    }
    let (code, stderr) = hybridc(&args);
    assert_clean_failure(code, &stderr, needles);
    assert!(!out.exists(), "a failed compile left {} behind", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "a failed compile left scratch files: {leftovers:?}");
}

/// One test per bad model or option: `compile_fails(model, extra args, needles)`.
macro_rules! compile_fails_tests {
    ($($name:ident: $model:expr, $extra:expr, $needles:expr;)*) => {$(
        #[test]
        fn $name() {
            compile_fails(&$model, $extra, $needles);
        }
    )*};
}

compile_fails_tests! {
    truncated_onnx: bad("truncated.onnx"), &[], &["truncated.onnx", "not a valid ONNX model"];
    garbage_onnx: bad("garbage.onnx"), &[], &["garbage.onnx", "not a valid ONNX model"];
    missing_model_file: "/nonexistent/model.onnx", &[], &["/nonexistent/model.onnx"];
    unsupported_op_names_node_and_type: bad("unsupported_op.onnx"), &[], &["unsupported_selu", "Selu"];
    dynamic_input_shape: bad("dynamic_shape.onnx"), &[], &["input_1", "dynamic dimension 'N'"];
    unknown_output_name: kws(), &["--outputs", "no/such/tensor"], &["no/such/tensor"];
    // TFLite (tests/tflite/make_bad_models.py).
    truncated_tflite: bad("tflite_truncated.tflite"), &[], &["tflite_truncated.tflite", "not a valid TensorFlow Lite model", "truncated or corrupt flatbuffer"];
    corrupt_tflite: bad("tflite_corrupt.tflite"), &[], &["tflite_corrupt.tflite", "not a valid TensorFlow Lite model"];
    unsupported_tflite_op_names_index_and_op: bad("tflite_unsupported_op.tflite"), &[], &["operator 2 (MAXIMUM)", "not supported"];
    int16x8_tflite: bad("tflite_int16x8.tflite"), &[], &["operator 0 (QUANTIZE)", "INT16", "int16x8", "not supported"];
    float32_tflite: bad("tflite_float32.tflite"), &[], &["float32 TFLite models are not supported yet", "full-integer quantization"];
    // Found by the TFLite fuzzer: a scale of 1.8e-43 made a multiplier infinite (an assertion).
    fuzz_tflite_tiny_scale: bad("fuzz_tflite_tiny_scale.tflite"), &[], &["LeakyRelu'", "scale 1.78e-43", "between 2^-126 and 2^40"];
    tflite_unknown_output_name: tflite_mlp(), &["--outputs", "no/such/tensor"], &["no/such/tensor"];
    unknown_target: kws(), &["--target", "cortex-m99"], &["cortex-m99", "available targets"];
    // tests/fixtures/zoo/ds_cnn_rgb.onnx with bytes flipped in its weights: a
    // scale ratio past 2^31 once panicked the reference (shift overflow).
    weights_past_int8_range: bad("huge_weights.onnx"), &["--calib", &zoo_calib()], &["requantization scale ratio", "check the model's weights"];
    // Hostile mutations (make_bad_models.py) that once panicked in tract or
    // in hybridc, or compiled although invalid.
    string_initializer: bad("hostile_string_initializer.onnx"), &["--calib", &zoo_calib()], &["initializer 'onnx::Conv_29'", "element type 8"];
    flatten_axis_negative: bad("hostile_flatten_axis_neg.onnx"), &["--calib", &zoo_calib()], &["'/Flatten'", "axis = -100"];
    flatten_axis_huge: bad("hostile_flatten_axis_huge.onnx"), &["--calib", &zoo_calib()], &["'/Flatten'", "axis = 1000000"];
    two_nodes_one_output: bad("hostile_duplicate_output.onnx"), &["--calib", &zoo_calib()], &["'/f/f.6/Relu'", "one producer"];
    input_dim_i64_max: bad("hostile_input_dim_huge.onnx"), &["--calib", &zoo_calib()], &["'image'", "9223372036854775807"];
    maxpool_strides_zero: bad("hostile_maxpool_strides_zero.onnx"), &["--calib", &zoo_calib()], &["'/f/f.3/MaxPool'", "strides = [0, 0]"];
    gemm_turned_into_conv: bad("hostile_gemm_as_conv.onnx"), &["--calib", &zoo_calib()], &["'/fc/Gemm'", "fc.weight"];
    conv_group_negative: bad("hostile_conv_group_negative.onnx"), &["--calib", &zoo_calib()], &["'/f/f.0/Conv'", "group = -100"];
    output_dim_negative: bad("hostile_output_dim_negative.onnx"), &["--calib", &zoo_calib()], &["'logits'", "dimension -7"];
    opset_0: bad("hostile_opset_0.onnx"), &["--calib", &zoo_calib()], &["opset 0"];
    opset_99: bad("hostile_opset_99.onnx"), &["--calib", &zoo_calib()], &["opset 99"];
    dequantize_axis_2_pow_40: bad("hostile_dq_axis_huge.onnx"), &[], &["DequantizeLinear", "axis = 1099511627776"];
    // Found by tests/fuzz_models.rs: a Reshape spec whose product overflowed,
    // and a BatchNormalization on a 1-D tensor (an abort inside tract).
    fuzz_reshape_spec_overflow: bad("fuzz_reshape_overflow.onnx"), &[], &["(Reshape)", "cannot reshape"];
    fuzz_batch_norm_on_1d: bad("fuzz_batch_norm_rank1.onnx"), &["--calib", &zoo_calib()], &["'n4'", "1-D tensor"];
    // A Resize to 9.8e9 elements: tract's allocation aborted the process.
    fuzz_resize_to_billions: bad("fuzz_resize_abort.onnx"), &["--calib", &zoo_calib()], &["(Resize)", "more than 2^31"];
    // MaxPool ceil_mode = 5: tract rounds down, hybridc rounded up (a panic).
    fuzz_maxpool_ceil_mode_5: bad("fuzz_maxpool_ceil_mode_5.onnx"), &["--calib", &ops_calib("conv1d")], &["MaxPool", "ceil_mode", "0 or 1"];
}

fn ops_calib(model: &str) -> String {
    common::fixtures().join(format!("../ops/{model}_x.npy")).to_string_lossy().to_string()
}

fn zoo_calib() -> String {
    common::fixtures().join("../zoo/ds_cnn_rgb_calib.npy").to_string_lossy().to_string()
}

fn compiled_kws(dir: &Path) -> PathBuf {
    let proj = dir.join("kws");
    let (code, stderr) = hybridc(&["compile", &kws(), "--target", "host", "-o", proj.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    proj
}

fn run_fails(input: &Path, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let proj = compiled_kws(dir.path());
    let out = dir.path().join("y.npy");
    let (code, stderr) =
        hybridc(&["run", proj.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_clean_failure(code, &stderr, needles);
    assert!(!out.exists(), "a failed run wrote {}", out.display());
}

#[test]
fn npy_of_wrong_shape() {
    // ResNet-8 images fed to the keyword-spotting model.
    let x = common::fixtures().join("vectors/ic_resnet8_inputs_int8.npy");
    run_fails(&x, &["ic_resnet8_inputs_int8.npy", "[12, 32, 32, 3]", "input_1"]);
}

#[test]
fn npy_of_wrong_dtype() {
    let x = common::fixtures().join("ref/kws_dscnn_seed0_input_float.npy");
    run_fails(&x, &["kws_dscnn_seed0_input_float.npy", "<f4", "|i1"]);
}

/// A header declaring (2^62, 2^62, 10, 1) values once overflowed a multiplication.
#[test]
fn npy_whose_header_declares_more_than_the_file_holds() {
    run_fails(Path::new(&bad("huge_shape.npy")), &["huge_shape.npy", "more values than the file"]);
}

#[test]
fn npy_that_is_not_npy() {
    run_fails(Path::new(&bad("garbage.onnx")), &["garbage.onnx", "not a valid .npy"]);
}

#[test]
fn run_on_a_directory_that_is_not_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let x = common::fixtures().join("vectors/kws_dscnn_inputs_int8.npy");
    let (code, stderr) = hybridc(&[
        "run",
        dir.path().to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--output",
        dir.path().join("y.npy").to_str().unwrap(),
    ]);
    assert_clean_failure(code, &stderr, &["not a hybridc project"]);
}

// Float models and calibration data.

fn cnn_small() -> String {
    common::fixtures().join("../mnist/cnn_small.onnx").to_string_lossy().to_string()
}

fn write_npy(dir: &Path, name: &str, shape: &[usize], descr: &str, data: Vec<u8>) -> String {
    let p = dir.join(name);
    hybridc_core::npy::write(&p, shape, descr, &data).unwrap();
    p.to_string_lossy().to_string()
}

fn floats(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn float_model_without_calibration() {
    compile_fails(&cnn_small(), &[], &["cnn_small.onnx", "float model", "--calib"]);
}

#[test]
fn calibration_of_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_npy(dir.path(), "c.npy", &[4, 1, 32, 32], "<f4", floats(&vec![0.5; 4 * 32 * 32]));
    compile_fails(&cnn_small(), &["--calib", &c], &["c.npy", "[4, 1, 32, 32]", "[N, 1, 28, 28]"]);
}

#[test]
fn calibration_of_wrong_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_npy(dir.path(), "c.npy", &[4, 1, 28, 28], "|i1", vec![1; 4 * 784]);
    compile_fails(&cnn_small(), &["--calib", &c], &["c.npy", "|i1", "float32"]);
}

#[test]
fn calibration_with_nan() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = vec![0.5f32; 2 * 784];
    v[900] = f32::NAN;
    let c = write_npy(dir.path(), "c.npy", &[2, 1, 28, 28], "<f4", floats(&v));
    compile_fails(&cnn_small(), &["--calib", &c], &["c.npy", "NaN", "sample 1"]);
}

#[test]
fn empty_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_npy(dir.path(), "c.npy", &[0, 1, 28, 28], "<f4", vec![]);
    compile_fails(&cnn_small(), &["--calib", &c], &["c.npy", "no samples"]);
}

#[test]
fn nan_in_weights() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_npy(dir.path(), "c.npy", &[1, 1, 28, 28], "<f4", floats(&vec![0.5; 784]));
    compile_fails(&bad("nan_weights.onnx"), &["--calib", &c], &["NaN", "weight tensor"]);
}
