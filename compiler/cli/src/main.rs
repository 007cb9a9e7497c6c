//! The `hybridc` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};

use hybridc_cloud as cloud;
use hybridc_core::codegen::{Emit, Kernels};
use hybridc_core::ir::Route;
use hybridc_core::lower::{self, CompileOptions};
use hybridc_core::{npy, target};
use hybridc_verify::report::{write_file, write_json};
use hybridc_verify::{self as verify, html, tune, RunOptions};

#[derive(Parser)]
#[command(name = "hybridc", version, about = "Compile hybrid edge/cloud classifiers (ONNX) to int8 firmware for Arm Cortex-M")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile an ONNX model (int8 QDQ, or float with --calib) or an int8 TensorFlow Lite model (optionally with a router) into a C project or a Rust crate for a target.
    Compile {
        /// The ONNX or TensorFlow Lite (.tflite) model.
        model: PathBuf,
        /// Target name (a TOML file in targets/): host, cortex-m4, cortex-m7, cortex-m33, cortex-m55.
        #[arg(long, default_value = "host")]
        target: String,
        /// Output project directory.
        #[arg(short, long)]
        out: PathBuf,
        /// Make these tensors the outputs (comma-separated ONNX tensor names).
        #[arg(long, value_delimiter = ',')]
        outputs: Vec<String>,
        /// Calibration inputs for a float model (.npy float32, leading dim = samples).
        #[arg(long)]
        calib: Option<PathBuf>,
        /// How activation ranges are chosen from the calibration data.
        #[arg(long, default_value = "percentile", value_parser = ["minmax", "percentile", "mse"])]
        calib_method: String,
        /// Keep int8 at the model's input and output (float32 otherwise, for float models).
        #[arg(long)]
        int8_io: bool,
        /// A router to compile with the edge model into one program (a hybrid).
        #[arg(long)]
        router: Option<PathBuf>,
        /// A router-less hybrid scoring the edge's uncertainty: max-softmax or entropy.
        #[arg(long, value_parser = PossibleValuesParser::new(Route::BASELINES.map(Route::as_str)).try_map(|s| Route::parse_baseline(&s)))]
        route: Option<Route>,
        /// Bind a router input to an edge tensor: ROUTER_INPUT=EDGE_TENSOR (repeatable).
        #[arg(long, value_parser = hybridc_core::hybrid::parse_bind)]
        bind: Vec<(String, String)>,
        /// The edge output holding the class scores, when the edge has several outputs (e.g. logits and features).
        #[arg(long)]
        scores: Option<String>,
        /// Router layers in float32: auto (those int8 would lose too much in), int8, or float (all).
        #[arg(long, default_value = "auto", value_parser = ["auto", "int8", "float"])]
        router_precision: String,
        /// Query the cloud when the router's score exceeds this (the float model's units).
        #[arg(long)]
        threshold: Option<f32>,
        /// Take the threshold chosen by `hybridc tune --json`.
        #[arg(long, conflicts_with = "threshold")]
        tuned: Option<PathBuf>,
        /// Override the target's SRAM budget, e.g. 64KiB.
        #[arg(long, value_parser = parse_size)]
        sram: Option<u64>,
        /// Override the target's flash budget, e.g. 1MiB.
        #[arg(long, value_parser = parse_size)]
        flash: Option<u64>,
        /// Arena bytes to fit (DSP kernels): per layer the fastest kernel variants whose scratch keeps the arena within it; default --sram when given, else the smallest arena at about the fastest estimated cycles.
        #[arg(long, value_parser = parse_size)]
        arena_budget: Option<u64>,
        /// Kernels: portable C, per-layer DSP kernels (cores with the DSP extension), or auto (dsp when the target has it).
        #[arg(long, default_value = "auto")]
        kernels: Kernels,
        /// What to write: a C project, or a no_std Rust crate.
        #[arg(long, default_value = "c")]
        emit: Emit,
    },
    /// Build a compiled project and run it over a batch of inputs.
    Run {
        /// The project directory written by `hybridc compile`.
        project: PathBuf,
        /// Inputs: an .npy whose leading dimension is the batch.
        #[arg(long)]
        input: PathBuf,
        /// Outputs: an .npy file, or a directory of NAME.npy when the model has several outputs.
        #[arg(long)]
        output: PathBuf,
        /// Count instructions per layer under QEMU and write the profile (JSON) here.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Compare the (single) output with this .npy, byte for byte; fail on any difference.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Hybrids: the cloud for the device's queries: a model URL
        /// (http://HOST:PORT/v2/models/NAME) or a CLOUD.onnx to serve for the run.
        #[arg(long)]
        cloud: Option<String>,
        /// Hybrids: give up on a cloud answer after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        cloud_timeout_ms: u64,
        /// Hybrids: the cloud model's input name, for servers whose model
        /// metadata lists no input (custom KServe predictors); overrides the metadata.
        #[arg(long)]
        cloud_input_name: Option<String>,
        /// Hybrids: true labels (.npy int64 [N]); prints the top-1 accuracy of the final labels.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Hybrids: write each input's label, source and router score here (JSON).
        #[arg(long)]
        details: Option<PathBuf>,
        /// Kill the program after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Plan the activation arena of models and print it against its lower bounds.
    Plan {
        /// The ONNX or TensorFlow Lite models.
        #[arg(required = true)]
        models: Vec<PathBuf>,
    },
    /// Choose a hybrid's router threshold for a device and a network link.
    Tune {
        #[arg(long)]
        edge: PathBuf,
        #[arg(long)]
        router: PathBuf,
        #[arg(long)]
        cloud: PathBuf,
        /// Bind a router input to an edge tensor: ROUTER_INPUT=EDGE_TENSOR (repeatable), as for compile.
        #[arg(long, value_parser = hybridc_core::hybrid::parse_bind)]
        bind: Vec<(String, String)>,
        /// The edge output holding the class scores, when the edge has several outputs.
        #[arg(long)]
        scores: Option<String>,
        /// Labelled validation inputs (.npy float32 [N, ...]).
        #[arg(long)]
        data: PathBuf,
        /// Their labels (.npy int64 [N]).
        #[arg(long)]
        labels: PathBuf,
        #[arg(long, default_value = "cortex-m7")]
        target: String,
        /// nbiot, ltem, lte, wifi, or KBPS,RTT_MS.
        #[arg(long, default_value = "nbiot", value_parser = |s: &str| tune::latency::parse_link(s).map_err(|e| e.to_string()))]
        link: tune::latency::Link,
        /// match-cloud, max-acc-at-latency=MS or max-acc-at-query=Q.
        #[arg(long, default_value = "match-cloud", value_parser = |s: &str| tune::sweep::parse_goal(s).map_err(|e| e.to_string()))]
        goal: tune::sweep::Goal,
        /// Calibration inputs (default: the first 200 of --data).
        #[arg(long)]
        calib: Option<PathBuf>,
        /// Use this edge latency (ms) instead of profiling the firmware under QEMU.
        #[arg(long)]
        edge_ms: Option<f64>,
        /// The cloud model's inference time per input (ms).
        #[arg(long, default_value_t = 10.0)]
        cloud_ms: f64,
        /// Report the operating point of this threshold instead of choosing one
        /// (e.g. evaluate on test data the threshold tuned on validation data).
        #[arg(long)]
        at_threshold: Option<f64>,
        #[arg(long)]
        json: Option<PathBuf>,
        /// Accuracy against latency as an SVG figure.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Re-render a compiled project's report.html (from report.json, and its
    /// profile and tuning when given or kept from earlier runs).
    Report {
        /// The project directory written by `hybridc compile`.
        project: PathBuf,
        /// A profile from `hybridc run --profile`, kept in the project.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// A `hybridc tune --json` file, kept in the project.
        #[arg(long)]
        tune: Option<PathBuf>,
    },
    /// Profile models on a Cortex-M target under QEMU and print a table.
    Bench {
        /// The ONNX or TensorFlow Lite models.
        #[arg(required = true)]
        models: Vec<PathBuf>,
        #[arg(long, default_value = "cortex-m4")]
        target: String,
        /// Kernels to measure against the portable build (auto: dsp when the target has it).
        #[arg(long, default_value = "auto")]
        kernels: Kernels,
        /// Also write every profile as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Serve a (cloud) ONNX model over the KServe v2 / Open Inference Protocol REST API.
    Serve {
        /// The ONNX model.
        model: PathBuf,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The model's name in URLs (default: the file stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// Relay device offload frames (TCP, e.g. QEMU's -serial tcp:...) to a cloud model.
    Gateway {
        /// Where devices connect, HOST:PORT.
        #[arg(long)]
        listen: String,
        /// The cloud model's URL: http://HOST:PORT/v2/models/NAME.
        #[arg(long)]
        cloud: String,
        /// Give up on the cloud after this many milliseconds (the device gets an error frame).
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
        /// The model's input name, for servers whose model metadata lists no
        /// input (custom KServe predictors); overrides the metadata.
        #[arg(long)]
        input_name: Option<String>,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    target::parse_size(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    // Behave like other command-line tools when the reader goes away (`| head`).
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // A panic is a bug of ours (or of a library on input it did not
    // expect): no backtrace, one line naming the command and where, exit 2.
    // Panics caught on the way (tract's, see hybridc_core::guard) stay quiet.
    let place = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let at = place.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let (Ok(mut p), Some(l)) = (at.lock(), info.location()) {
            *p = format!("{}:{}", l.file(), l.line());
        }
    }));
    match std::panic::catch_unwind(|| real_main(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("hybridc: error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
        Err(payload) => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            let at = place.lock().map(|p| p.clone()).unwrap_or_default();
            eprintln!(
                "hybridc: internal error: {} (at {at}) while running `hybridc {}`; please report it with the input files",
                hybridc_core::guard::panic_message(&payload),
                args.join(" ")
            );
            ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Compile { model, target, out, outputs, calib, calib_method, int8_io, router, route, bind, scores, router_precision, threshold, tuned, sram, flash, arena_budget, kernels, emit } => {
            let threshold = match &tuned {
                Some(p) => Some(tune::tuned_threshold(p)?),
                None => threshold,
            };
            let quant = lower::QuantOptions { calib, method: calib_method.parse().map_err(anyhow::Error::msg)?, int8_io, ..Default::default() };
            let precision = router_precision.parse().map_err(anyhow::Error::msg)?;
            let hybrid = (router.is_some() || route.is_some() || !bind.is_empty() || threshold.is_some() || scores.is_some())
                .then_some(lower::HybridOptions { router, route, binds: bind, threshold, scores, precision });
            let (m, report) = verify::compile::compile_reported(&CompileOptions { model, target, out: out.clone(), outputs, sram, flash, arena_budget, quant, hybrid, kernels }, emit)?;
            if let Some(t) = &tuned {
                // A full `tune --json` file puts the operating curve in the report.
                if serde_json::from_slice::<tune::TuneReport>(&std::fs::read(t)?).is_ok() {
                    std::fs::copy(t, out.join(html::TUNE_FILE)).with_context(|| format!("cannot copy {} into {}", t.display(), out.display()))?;
                    html::render(&out)?;
                }
            }
            let macs: u64 = m.layers.iter().map(|l| l.macs).sum();
            println!(
                "hybridc: compiled {} for {}: {} layers, {} MACs, arena {} bytes -> {}",
                m.model, m.target, m.layers.len(), macs, m.arena_bytes, out.display()
            );
            for o in &m.outputs {
                println!("  output {} {:?} {}", o.name, o.shape, o.dtype);
            }
            if let Some(h) = &m.hybrid {
                println!("  hybrid: route {}, query the cloud when the score > {}", h.route, h.threshold);
                let float: Vec<&str> = report.layers.iter().filter(|l| l.name.starts_with(hybridc_core::hybrid::PREFIX) && l.float_op().is_some()).map(|l| l.name.as_str()).collect();
                if !float.is_empty() {
                    println!("  router layers in float32: {}", float.join(", "));
                }
            }
            for w in &report.warnings {
                eprintln!("hybridc: warning: {w}");
            }
            // Float models: where accuracy is lost, layer by layer.
            let layers = &report.layers;
            let float: Vec<String> = layers.iter().filter_map(|l| Some(format!("{} ({})", l.name, l.float_op()?))).collect();
            if !float.is_empty() {
                println!("  {} ops run in float32 (no int8 kernel, or all their readers run in float): {}", float.len(), float.join(", "));
            }
            if layers.iter().any(|l| l.sqnr_db.is_some()) {
                println!("  SQNR of the int8 reference against tract's float result on the calibration data:");
                // An infinite or NaN SQNR is null in report.json: not printed either.
                for l in layers {
                    if let Some(db) = l.sqnr_db.filter(|db| db.is_finite()) {
                        println!("    {:>7.2} dB  {:<16} {}", db, l.op, l.output);
                    }
                }
            }
            println!("  report: {}", out.join(html::FILE).display());
        }
        Cmd::Run { project, input, output, profile, expect, cloud, cloud_timeout_ms, cloud_input_name, labels, details, timeout } => {
            let arr = npy::read(&input)?;
            // A cloud for the device: serve the given ONNX, or use the URL; a
            // gateway in between turns device frames into requests.
            let mut served = None;
            let mut gateway = None;
            if let Some(c) = &cloud {
                let url = if c.starts_with("http://") || c.starts_with("https://") {
                    c.clone()
                } else {
                    let path = PathBuf::from(c);
                    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("cloud").to_string();
                    let s = cloud::serve::spawn(&path, &name, "127.0.0.1:0")?;
                    let url = cloud::serve::model_url(s.addr, &name);
                    served = Some(s);
                    url
                };
                let timeout = Duration::from_millis(cloud_timeout_ms);
                gateway = Some(cloud::gateway::spawn("127.0.0.1:0", &url, timeout, cloud_input_name.as_deref())?);
            }
            let gw_addr = gateway.as_ref().map(|g| format!("127.0.0.1:{}", g.port()));
            let opts_project = project.clone();
            let opts = RunOptions { project, trace: false, profile: profile.is_some(), timeout: Duration::from_secs(timeout), gateway: gw_addr };
            let r = verify::run_project(&opts, &arr, &input)?;
            if let Some(g) = gateway {
                eprintln!("hybridc gateway: {}", g.counters);
            }
            drop(served);
            let files = verify::run::write_outputs(&r, &output)?;
            println!("hybridc: ran {} items on {}", r.batch, r.manifest.target);
            if let (Some(path), Some(p)) = (&profile, &r.profile) {
                write_json(path, p)?;
                // The project's report gains the cycles.
                if opts_project.join("report.json").exists() {
                    write_json(&opts_project.join(html::PROFILE_FILE), p)?;
                    html::render(&opts_project)?;
                }
                println!(
                    "  {} instructions, ~{} cycles, {:.3} MAC/cycle, ~{:.2} ms at {} MHz, flash {} B, RAM {} B (profile: {})",
                    p.instructions, p.cycles_estimate, p.mac_per_cycle, p.latency_ms, p.clock_hz / 1_000_000, p.flash_bytes, p.ram_bytes,
                    path.display()
                );
            }
            for f in files {
                println!("  wrote {}", f.display());
            }
            if let Some(path) = details {
                let rows: Vec<serde_json::Value> = r
                    .decisions
                    .iter()
                    .map(|d| serde_json::json!({"label": d.label, "source": d.source_name(), "router_score": d.router_score}))
                    .collect();
                write_json(&path, &rows)?;
            }
            if !r.decisions.is_empty() {
                let count = |s: i32| r.decisions.iter().filter(|d| d.source == s).count();
                println!("  decisions: {} edge, {} cloud, {} edge fallback", count(0), count(1), count(2));
            }
            if let Some(path) = labels {
                let y = npy::read(&path)?;
                if y.descr != "<i8" || y.data.len() / 8 != r.decisions.len() {
                    anyhow::bail!("{} must hold {} int64 labels", path.display(), r.decisions.len());
                }
                let right = y.data.chunks_exact(8).zip(&r.decisions).filter(|(c, d)| i64::from_le_bytes((*c).try_into().unwrap()) == d.label as i64).count();
                println!("  top-1 accuracy {:.2} % ({right} of {})", 100.0 * right as f64 / r.decisions.len() as f64, r.decisions.len());
            }
            if let Some(path) = expect {
                let want = npy::read(&path)?;
                let got = &r.outputs[0];
                if want.data.len() != got.len() {
                    anyhow::bail!("{} holds {} bytes, the outputs {}", path.display(), want.data.len(), got.len());
                }
                let differ = want.data.iter().zip(got).filter(|(a, b)| a != b).count();
                if differ > 0 {
                    anyhow::bail!("{differ} of {} output bytes differ from {}", got.len(), path.display());
                }
                println!("  all {} output bytes equal {}", got.len(), path.display());
            }
        }
        Cmd::Tune { edge, router, cloud, data, labels, target, link, goal, calib, edge_ms, cloud_ms, at_threshold, json, plot, bind, scores } => {
            let o = tune::TuneOptions { edge, router, cloud, data, labels, target, link, goal, calib, edge_ms, cloud_ms, at_threshold, binds: bind, scores };
            let r = tune::tune(&o)?;
            print!("{}", tune::table(&r));
            let m = &r.latency_model;
            println!(
                "latency model: edge {:.2} ms on {}, query {} bytes over {} ({:?} kbit/s, {:?} ms round trip), cloud {:?} ms; {} inputs",
                m.edge_ms, o.target, m.payload_bytes, m.link.name, m.link.uplink_kbps, m.link.rtt_ms, m.cloud_ms, r.inputs
            );
            if let Some(p) = json {
                write_json(&p, &r)?;
            }
            if let Some(p) = plot {
                write_file(&p, tune::figure(&r))?;
            }
        }
        Cmd::Plan { models } => print!("{}", lower::plan_table(&models)?),
        Cmd::Report { project, profile, tune: tuned } => {
            let keep = |from: &Option<PathBuf>, name: &str, check: fn(&[u8]) -> bool| -> Result<()> {
                if let Some(f) = from {
                    let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                    if !check(&bytes) {
                        anyhow::bail!("{} is not a file hybridc wrote for {name}", f.display());
                    }
                    write_file(&project.join(name), bytes)?;
                }
                Ok(())
            };
            if !project.join("report.json").exists() {
                anyhow::bail!("{} holds no report.json: give a folder `hybridc compile` wrote", project.display());
            }
            keep(&profile, html::PROFILE_FILE, |b| serde_json::from_slice::<verify::profile::Profile>(b).is_ok())?;
            keep(&tuned, html::TUNE_FILE, |b| serde_json::from_slice::<tune::TuneReport>(b).is_ok())?;
            html::render(&project)?;
            println!("hybridc: wrote {}", project.join(html::FILE).display());
        }
        Cmd::Bench { models, target, kernels, json } => {
            let rows = verify::bench::bench(&models, &target, kernels)?;
            println!("{}", verify::bench::table(&rows));
            if rows.iter().any(|r| !r.pareto.is_empty()) {
                println!("DSP builds under arena budgets (the least arena any kernel choice allows, two between, the default):\n\n{}", verify::bench::pareto_table(&rows));
            }
            println!("Instructions are counted under QEMU; cycles are estimated from them with the cost table in docs/performance.md, not measured on a board.");
            if let Some(path) = json {
                write_json(&path, &verify::bench::by_model(&rows))?;
            }
        }
        Cmd::Serve { model, port, host, name } => {
            let name = match name {
                Some(n) => n,
                None => model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()),
            };
            let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            cloud::serve::run(&model, &name, &addr)?;
        }
        Cmd::Gateway { listen, cloud, timeout_ms, input_name } => {
            cloud::gateway::run(&listen, &cloud, Duration::from_millis(timeout_ms), input_name.as_deref())?;
        }
    }
    Ok(())
}
