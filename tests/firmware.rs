//! Firmware behaviour under QEMU: profiles are repeatable and consistent,
//! budgets stop the compile with both figures, and a crashed or hung
//! firmware is reported instead of hanging the caller.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn hybridc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hybridc")).args(args).output().expect("run hybridc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn fixture(rel: &str) -> String {
    common::fixtures().join(rel).to_string_lossy().to_string()
}

fn compile(dir: &Path, model: &str, target: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("{model}-{target}"));
    let mut args = vec!["compile", &fixture(&format!("{model}_int8.onnx"))].into_iter().map(String::from).collect::<Vec<_>>();
    args.extend(["--target", target, "-o", out.to_str().unwrap()].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, _, stderr) = hybridc(&a);
    assert_eq!(code, 0, "{stderr}");
    out
}

fn profile(project: &Path, input: &str, dir: &Path, tag: &str) -> serde_json::Value {
    let prof = dir.join(format!("{tag}.json"));
    let (code, _, stderr) = hybridc(&[
        "run",
        project.to_str().unwrap(),
        "--input",
        &fixture(input),
        "--output",
        dir.join(format!("{tag}.npy")).to_str().unwrap(),
        "--profile",
        prof.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&std::fs::read_to_string(prof).unwrap()).unwrap()
}

#[test]
fn profile_is_repeatable_and_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let proj = compile(dir.path(), "kws_dscnn", "cortex-m4", &[]);
    let a = profile(&proj, "ref/kws_dscnn_seed0_input_int8.npy", dir.path(), "a");
    let b = profile(&proj, "ref/kws_dscnn_seed0_input_int8.npy", dir.path(), "b");
    assert_eq!(a, b, "two profiles of the same build and input differ");
    let layers = a["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 12);
    let sum = |k: &str| layers.iter().map(|l| l[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("instructions"), a["instructions"].as_u64().unwrap());
    assert_eq!(sum("cycles_estimate"), a["cycles_estimate"].as_u64().unwrap());
    // MACs as the benchmark's README counts them.
    assert_eq!(a["macs"].as_u64().unwrap(), 2_656_768);
    // Every layer executes at least one instruction per MAC-free element and
    // cycles are never below instructions (every class costs >= 1).
    for l in layers {
        assert!(l["instructions"].as_u64().unwrap() > 0, "{l}");
        assert!(l["cycles_estimate"].as_u64().unwrap() >= l["instructions"].as_u64().unwrap());
    }
    // Flash holds at least the weights; RAM at least the arena.
    assert!(a["flash_bytes"].as_u64().unwrap() >= 22_016 + 2_360);
    assert!(a["ram_bytes"].as_u64().unwrap() >= a["arena_bytes"].as_u64().unwrap());
    assert!((a["latency_ms"].as_f64().unwrap() - a["cycles_estimate"].as_f64().unwrap() / 120e3).abs() < 1e-6);
}

/// Compiles `model` with `args` into a fresh directory; the compile must
/// fail with an error holding every needle and leave no project behind.
fn over_budget(model: &str, args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("proj");
    let (code, _, stderr) = hybridc(&[&["compile", &fixture(model), "-o", out.to_str().unwrap()], args].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(needles.iter().all(|n| stderr.contains(n)), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn arena_over_sram_stops_the_compile_with_both_figures() {
    over_budget("vww_mbnv1_int8.onnx", &["--target", "cortex-m4", "--sram", "32KiB"], &["32768", "arena"]);
}

#[test]
fn firmware_over_budget_stops_the_compile_at_link() {
    // The portable build's arena (8,448 B) fits 20,000 B, but arena + stack does not.
    over_budget("kws_dscnn_int8.onnx", &["--target", "cortex-m4", "--kernels", "portable", "--sram", "20000"], &["SRAM", "20000-byte budget"]);
    // ResNet-8's weights (about 78 KB) pass the compile's check of 100 KiB; the linked firmware does not.
    over_budget("ic_resnet8_int8.onnx", &["--target", "cortex-m7", "--flash", "100KiB"], &["flash", "102400-byte budget"]);
}

#[test]
fn flash_check_counts_the_weights_the_dsp_build_stores() {
    // MobileNetV1's weights are about 214 KiB, but the DSP kernels store none of its dead channels'.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vww");
    let args = ["compile", &fixture("vww_mbnv1_int8.onnx"), "--target", "cortex-m4", "-o", out.to_str().unwrap(), "--flash", "150KiB"];
    let (code, _, stderr) = hybridc(&args);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = hybridc(&[&args[..4], &["--kernels", "portable", "-o", dir.path().join("p").to_str().unwrap(), "--flash", "150KiB"]].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the weights need"), "{stderr}");
}

/// Compiles DS-CNN for Cortex-M4 with `code` injected at the start of main,
/// then runs it; returns (exit status, stderr, whether an output was written).
fn run_sabotaged(code: &str, timeout: &str) -> (i32, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let proj = compile(dir.path(), "kws_dscnn", "cortex-m4", &[]);
    let main = proj.join("main.c");
    let src = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, src.replace("int main(void) {", &format!("int main(void) {{\n    {code}"))).unwrap();
    let y = dir.path().join("y.npy");
    let (status, _, stderr) = hybridc(&[
        "run",
        proj.to_str().unwrap(),
        "--input",
        &fixture("ref/kws_dscnn_seed0_input_int8.npy"),
        "--output",
        y.to_str().unwrap(),
        "--timeout",
        timeout,
    ]);
    (status, stderr, y.exists())
}

#[test]
fn crashed_firmware_is_reported() {
    // A write to an address nothing is mapped at.
    let (code, stderr, wrote) = run_sabotaged("*(volatile int *)0x0FFFFFF0 = 1;", "60");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("HardFault"), "{stderr}");
    assert!(!wrote);
}

#[test]
fn hung_firmware_is_killed() {
    let start = std::time::Instant::now();
    let (code, stderr, wrote) = run_sabotaged("for (volatile int spin = 1; spin;) {}", "3");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("did not finish within 3 s"), "{stderr}");
    assert!(!wrote);
    assert!(start.elapsed().as_secs() < 60);
}

/// Configures and builds a CMake project; the build directory is `src/build-cmake`.
fn cmake_build(src: &Path, toolchain: &Path) -> PathBuf {
    let build = src.join("build-cmake");
    let cmd = |args: &[&str]| {
        let out = Command::new("cmake").args(args).output().expect("FAILING: cmake is needed (tests/setup.sh --tests installs it)");
        assert!(out.status.success(), "cmake {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    };
    let tc = format!("-DCMAKE_TOOLCHAIN_FILE={}", toolchain.display());
    cmd(&["-S", src.to_str().unwrap(), "-B", build.to_str().unwrap(), &tc]);
    cmd(&["--build", build.to_str().unwrap()]);
    build
}

/// Runs a Cortex-M4 ELF under QEMU on the model's golden inputs; its output.bin.
fn run_golden_elf(elf: &Path, cases: &[common::Golden]) -> Vec<i8> {
    let work = tempfile::tempdir().unwrap();
    let input: Vec<u8> = cases.iter().flat_map(|c| c.input.iter().map(|&v| v as u8)).collect();
    std::fs::write(work.path().join("input.bin"), input).unwrap();
    let t = hybridc_core::target::load("cortex-m4").unwrap();
    hybridc_verify::firmware::run(&t, elf, work.path(), &[], std::time::Duration::from_secs(120)).unwrap();
    std::fs::read(work.path().join("output.bin")).unwrap().into_iter().map(|b| b as i8).collect()
}

/// The generated CMakeLists.txt: the standalone firmware (with the generated
/// toolchain file) and a firmware project that adds the model with
/// `add_subdirectory` and its own toolchain file both give TFLite Micro's
/// outputs under QEMU, as the Makefile build does.
#[test]
fn cmake_builds_the_model_standalone_and_as_a_subdirectory() {
    let dir = tempfile::tempdir().unwrap();
    let proj = compile(dir.path(), "kws_dscnn", "cortex-m4", &[]);
    let cases = common::golden_cases("kws_dscnn");
    let want: Vec<i8> = cases.iter().flat_map(|c| c.output.clone()).collect();

    let make_elf = hybridc_verify::firmware::build(&proj, "plain", "").unwrap();
    assert_eq!(run_golden_elf(&make_elf, &cases), want, "Makefile build vs TFLite Micro");

    let build = cmake_build(&proj, &proj.join("cmake/arm-none-eabi-gcc.cmake"));
    assert_eq!(run_golden_elf(&build.join("model.elf"), &cases), want, "CMake standalone build vs TFLite Micro");

    // A firmware project of its own: its toolchain file carries the CPU
    // flags, its sources give main, the I/O and the startup code.
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let m = proj.display();
    std::fs::write(
        app.join("toolchain.cmake"),
        "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_SYSTEM_PROCESSOR arm)\nset(CMAKE_C_COMPILER arm-none-eabi-gcc)\n\
         set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n\
         set(CMAKE_C_FLAGS_INIT \"-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16\")\n\
         set(CMAKE_EXE_LINKER_FLAGS_INIT \"-nostartfiles --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections\")\n",
    )
    .unwrap();
    std::fs::write(
        app.join("CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\nproject(app C)\nset(CMAKE_BUILD_TYPE Debug)\n\
             add_subdirectory({m} hybridc_model)\n\
             add_executable(app.elf {m}/main.c {m}/runtime/semihost.c {m}/runtime/startup.c)\n\
             target_link_libraries(app.elf PRIVATE hybridc_model)\n\
             target_link_options(app.elf PRIVATE -T{m}/runtime/link.ld)\n"
        ),
    )
    .unwrap();
    let build = cmake_build(&app, &app.join("toolchain.cmake"));
    assert_eq!(run_golden_elf(&build.join("app.elf"), &cases), want, "add_subdirectory build vs TFLite Micro");
}

/// Loads a page in headless Chromium: the DOM after its script ran, and the
/// console messages (any is a failure: the page logs nothing).
fn chromium(page: &Path, screenshot: &Path) -> String {
    let url = format!("file://{}", page.display());
    let base = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--window-size=1100,2600"];
    let run = |extra: &str| {
        Command::new("chromium").args(base).arg(extra).arg(&url).output().expect("FAILING: chromium is needed for the report test (tests/setup.sh --tests installs it)")
    };
    let out = run("--dump-dom");
    let console: Vec<String> = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    assert!(console.is_empty(), "the report logged to the console:\n{}", console.join("\n"));
    let shot = run(&format!("--screenshot={}", screenshot.display()));
    assert!(shot.status.success() && screenshot.exists(), "no screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// report.html, as a browser shows it, holds the figures of report.json and
/// of the profile `run --profile` added: the summary, one row and one bar per
/// layer, one rectangle per buffer of the arena plan and its lower bound.
#[test]
fn report_html_shows_report_json_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let proj = compile(dir.path(), "kws_dscnn", "cortex-m4", &[]);
    let prof = profile(&proj, "ref/kws_dscnn_seed0_input_int8.npy", dir.path(), "p");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(proj.join("report.json")).unwrap()).unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let dom = chromium(&proj.join("report.html"), &artifacts.join("report-kws_dscnn.png"));

    let layers = report["layers"].as_array().unwrap();
    assert!(dom.contains(&format!("data-ready=\"{}\"", layers.len())), "the page's script did not run to its end");
    let shown = |key: &str, v: &serde_json::Value| {
        let cell = format!("data-key=\"{key}\" data-value=\"{v}\"");
        assert!(dom.contains(&cell), "the page does not show {key} = {v}");
    };
    for key in ["arena_bytes", "arena_lower_bound_bytes", "weights_bytes", "macs"] {
        shown(key, &report[key]);
    }
    shown("firmware.flash_bytes", &report["firmware"]["flash_bytes"]);
    shown("profile.cycles_estimate", &prof["cycles_estimate"]);
    for (i, l) in layers.iter().enumerate() {
        let row = format!("data-layer=\"{i}\"><td class=\"num\">{i}</td>");
        assert!(dom.contains(&row), "no row for layer {i}");
        let bar = format!("class=\"bar\" data-layer=\"{i}\" data-value=\"{}\"", prof["layers"][i]["cycles_estimate"]);
        assert!(dom.contains(&bar), "no cycles bar for layer {i} ({})", l["name"]);
    }
    let plan = report["plan"].as_array().unwrap();
    assert!(!plan.is_empty());
    for (k, b) in plan.iter().enumerate() {
        let rect = format!("data-block=\"{k}\" data-first=\"{}\" data-last=\"{}\" data-offset=\"{}\" data-bytes=\"{}\"", b["first_step"], b["last_step"], b["offset"], b["bytes"]);
        assert!(dom.contains(&rect), "buffer {k} of the plan is not drawn as report.json places it");
    }
    assert_eq!(dom.matches("data-block=").count(), plan.len());
    assert!(dom.contains(&format!("id=\"lower-bound\" data-value=\"{}\"", report["arena_lower_bound_bytes"])));
}

/// The DSP build compiles at every optimisation level firmware teams use
/// (-O0 and -Og are the Debug configurations) and gives TFLite Micro's
/// outputs under QEMU at each: MobileNetV1 (first-layer, 3x3 depthwise and
/// live-channel kernels) at five levels, DS-CNN and ResNet-8 at -O0 and -Og.
#[test]
fn dsp_build_at_every_gcc_optimisation_level() {
    let dir = tempfile::tempdir().unwrap();
    for (model, levels) in [("vww_mbnv1", &["-O0", "-Og", "-Os", "-O2", "-O3"][..]), ("kws_dscnn", &["-O0", "-Og"]), ("ic_resnet8", &["-O0", "-Og"])] {
        let proj = compile(dir.path(), model, "cortex-m4", &[]);
        let cases = common::golden_cases(model);
        let want: Vec<i8> = cases.iter().flat_map(|c| c.output.clone()).collect();
        for level in levels {
            let elf = hybridc_verify::firmware::build(&proj, &format!("opt{level}"), level).unwrap_or_else(|e| panic!("{model} at {level}: {e:#}"));
            assert_eq!(run_golden_elf(&elf, &cases), want, "{model} built at {level} vs TFLite Micro");
        }
    }
}

/// The generated clang toolchain file and the Makefile's HYB_CC=clang (clang
/// compiles, arm-none-eabi-gcc links) build the portable firmware, which
/// gives TFLite Micro's outputs.
#[test]
fn cmake_with_clang_builds_the_portable_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let proj = compile(dir.path(), "kws_dscnn", "cortex-m4", &["--kernels", "portable"]);
    let cases = common::golden_cases("kws_dscnn");
    let want: Vec<i8> = cases.iter().flat_map(|c| c.output.clone()).collect();
    assert!(
        Command::new("clang").arg("--version").output().is_ok_and(|o| o.status.success()),
        "FAILING: clang is needed (tests/setup.sh --tests installs it)"
    );
    let build = cmake_build(&proj, &proj.join("cmake/arm-none-eabi-clang.cmake"));
    // Compilers sign their objects in .comment.
    let elf = std::fs::read(build.join("model.elf")).unwrap();
    assert!(elf.windows(13).any(|w| w == b"clang version"), "model.elf holds no clang-compiled code");
    assert_eq!(run_golden_elf(&build.join("model.elf"), &cases), want, "clang build vs TFLite Micro");
    // The Makefile's HYB_CC=clang, the same way.
    let elf = hybridc_verify::firmware::build_with(&proj, "clang", "", &["HYB_CC=clang".to_string()]).unwrap();
    assert!(std::fs::read(&elf).unwrap().windows(13).any(|w| w == b"clang version"));
    assert_eq!(run_golden_elf(&elf, &cases), want, "make HYB_CC=clang vs TFLite Micro");
}
