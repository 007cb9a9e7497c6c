//! The DSP kernels against the portable ones on small float models built to
//! reach the paths the MLPerf Tiny goldens miss (first layers with odd
//! channel counts, row and column kernels with odd widths and strides, the
//! generic path, Add, pointwise layers with dead channels and the depthwise layers after them): tests/dsp_layers_check.py writes them with the onnx
//! package, and each runs as cortex-m4 firmware under QEMU with both kernel
//! sets; the outputs must be equal byte for byte.

use std::process::Command;

#[test]
fn dsp_kernels_equal_portable_kernels_on_small_models() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/dsp_layers_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_hybridc"))
        .output()
        .expect("python3 (tests/run.sh installs numpy and onnx)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "DSP and portable builds differ or the check failed:\n{text}");
    assert_eq!(text.matches(": equal").count(), 33, "not every model was checked:\n{text}");
}
