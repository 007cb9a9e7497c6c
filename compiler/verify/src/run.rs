//! `hybridc run`: feeds a batch of inputs to a compiled project, item by item,
//! and collects the outputs (and, on request, every layer's output).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{elf, firmware, host, profile};
use hybridc_core::npy;
use hybridc_core::codegen::{IoInfo, Manifest};

pub struct RunOptions {
    pub project: PathBuf,
    pub trace: bool,
    /// Count instructions per layer under QEMU (Cortex-M targets).
    pub profile: bool,
    pub timeout: Duration,
    /// Hybrids: the gateway (host:port) the device's offloads go to.
    pub gateway: Option<String>,
}

/// One hybrid decision, as the device reports it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Decision {
    pub label: i32,
    /// 0 edge, 1 cloud, 2 edge fallback.
    pub source: i32,
    pub router_score: f32,
}

impl Decision {
    pub fn source_name(&self) -> &'static str {
        match self.source {
            0 => "edge",
            1 => "cloud",
            _ => "edge-fallback",
        }
    }
}

pub struct RunResult {
    pub manifest: Manifest,
    pub batch: usize,
    /// Per output: the bytes of all items, back to back.
    pub outputs: Vec<Vec<u8>>,
    /// With `trace`: per item, per layer, the layer's output bytes.
    pub trace: Vec<Vec<Vec<u8>>>,
    /// With `profile`: the per-inference figures.
    pub profile: Option<profile::Profile>,
    /// Hybrids: the device's decision for every item.
    pub decisions: Vec<Decision>,
}

/// Checks an input array against the model input; returns the batch size.
pub fn batch_of(arr: &npy::Array, io: &IoInfo, path: &Path) -> Result<usize> {
    if arr.descr != io.dtype {
        bail!(
            "{} holds dtype {}, but model input '{}' is {}; convert it (e.g. np.int8)",
            path.display(), arr.descr, io.name, io.dtype
        );
    }
    // The model's shape is batch 1; the file's leading dim is the batch.
    let item: &[usize] = if io.shape.first() == Some(&1) { &io.shape[1..] } else { &io.shape };
    if arr.shape.len() == item.len() + 1 && arr.shape[1..] == *item {
        Ok(arr.shape[0])
    } else if arr.shape == io.shape {
        Ok(1)
    } else {
        bail!(
            "{} has shape {:?}, but model input '{}' needs [N, {}] (N items of {:?})",
            path.display(), arr.shape, io.name,
            item.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "), io.shape
        )
    }
}

/// Runs `exe` in `dir`, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, what: &str, timeout: Duration) -> Result<std::process::Output> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("cannot start {what}"))?;
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return Ok(child.wait_with_output()?);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {} s and was killed (hung firmware?)", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run_project(opts: &RunOptions, input: &npy::Array, input_path: &Path) -> Result<RunResult> {
    let m = Manifest::read(&opts.project)?;
    if m.inputs.len() != 1 {
        bail!("this model has {} inputs; `hybridc run` feeds single-input models", m.inputs.len());
    }
    let batch = batch_of(input, &m.inputs[0], input_path)?;
    let dir = tempfile::Builder::new().prefix("hybridc-run").tempdir()?;
    std::fs::write(dir.path().join("input.bin"), &input.data)?;

    // Absolute, since the program runs in a scratch directory.
    let project = opts.project.canonicalize()?;
    let mut prof = None;
    if m.target == "host" {
        if opts.profile {
            bail!("--profile counts instructions under QEMU: compile for a Cortex-M target (e.g. --target cortex-m4)");
        }
        let defines: &[&str] = if opts.gateway.is_some() { &["HYB_OFFLOAD_TCP"] } else { &[] };
        let exe = if super::rust::is_crate(&project) {
            super::rust::build(&project, true, if opts.trace { "model-trace" } else { "model" }, &[])?
        } else {
            host::build_with(&project, &m, opts.trace, defines)?
        };
        let mut cmd = Command::new(&exe);
        cmd.current_dir(dir.path());
        if let Some(gw) = &opts.gateway {
            cmd.env("HYB_GATEWAY", gw);
        }
        let out = run_with_timeout(cmd, &format!("{}", exe.display()), opts.timeout)?;
        if !out.status.success() {
            bail!("the compiled model exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
    } else {
        let t = hybridc_core::target::load(&m.target)?;
        let mut flags = vec![];
        if opts.trace {
            flags.push("-DHYB_TRACE");
        }
        if opts.profile {
            flags.push("-DHYB_PROFILE");
        }
        if opts.gateway.is_some() {
            flags.push("-DHYB_OFFLOAD_UART");
        }
        let variant = flags.iter().map(|f| f.trim_start_matches("-DHYB_").to_ascii_lowercase()).collect::<Vec<_>>().join("-");
        let variant = if variant.is_empty() { "plain".to_string() } else { variant };
        let elf_path = if super::rust::is_crate(&project) {
            let bin = if opts.trace { "model-trace" } else if opts.profile { "model-profile" } else { "model" };
            let uart: &[&str] = if opts.gateway.is_some() { &["uart"] } else { &[] };
            super::rust::build(&project, false, bin, uart)?
        } else {
            firmware::build(&project, &variant, &flags.join(" "))?
        };
        let mut extra = vec![];
        if let Some(gw) = &opts.gateway {
            // The board's UART0 carries the frames to the gateway.
            extra.extend(["-serial".to_string(), format!("tcp:{gw}")]);
        }
        let counts = dir.path().join("profile.txt");
        if opts.profile {
            let so = profile::build_plugin(&project.join("build/plugin"))?;
            extra.extend(["-plugin".to_string(), profile::plugin_arg(&so, &elf_path, &counts)?]);
        }
        firmware::run(&t, &elf_path, dir.path(), &extra, opts.timeout)?;
        if opts.profile {
            let text = std::fs::read_to_string(&counts).context("the profiler plugin wrote no counts")?;
            let regions = profile::parse(&text)?;
            let memory = elf::memory(&elf_path)?;
            let mut p = profile::summarize(&regions, &m, &t, batch, &memory);
            if let Some(used) = std::fs::read_to_string(dir.path().join("stack.txt")).ok().and_then(|s| s.trim().parse().ok()) {
                p.set_stack(used);
            }
            prof = Some(p);
        }
    }
    let mut r = collect(m, batch, dir.path(), opts.trace)?;
    r.profile = prof;
    Ok(r)
}

/// Splits output.bin (and trace.bin) into per-output and per-layer arrays.
pub fn collect(m: Manifest, batch: usize, dir: &Path, trace: bool) -> Result<RunResult> {
    let raw = std::fs::read(dir.join("output.bin")).context("the model wrote no output.bin")?;
    if m.hybrid.is_some() {
        if raw.len() != 12 * batch {
            bail!("the hybrid wrote {} bytes of decisions, expected {}", raw.len(), 12 * batch);
        }
        let w = |c: &[u8]| [c[0], c[1], c[2], c[3]];
        let decisions = raw
            .chunks_exact(12)
            .map(|c| Decision {
                label: i32::from_le_bytes(w(&c[0..4])),
                source: i32::from_le_bytes(w(&c[4..8])),
                router_score: f32::from_le_bytes(w(&c[8..12])),
            })
            .collect();
        return Ok(RunResult { manifest: m, batch, outputs: vec![], trace: vec![], profile: None, decisions });
    }
    let per_item: usize = m.outputs.iter().map(|o| o.bytes).sum();
    if raw.len() != per_item * batch {
        bail!("the model wrote {} output bytes, expected {} ({} items)", raw.len(), per_item * batch, batch);
    }
    let mut outputs = vec![Vec::with_capacity(batch); m.outputs.len()];
    for item in raw.chunks_exact(per_item.max(1)) {
        let mut at = 0;
        for (k, o) in m.outputs.iter().enumerate() {
            outputs[k].extend_from_slice(&item[at..at + o.bytes]);
            at += o.bytes;
        }
    }
    let mut traces = vec![];
    if trace {
        let raw = std::fs::read(dir.join("trace.bin")).context("the model wrote no trace.bin")?;
        let per: usize = m.layers.iter().map(|l| l.bytes).sum();
        if raw.len() != per * batch {
            bail!("trace.bin has {} bytes, expected {}", raw.len(), per * batch);
        }
        for item in raw.chunks_exact(per.max(1)) {
            let mut at = 0;
            let mut layers = vec![];
            for l in &m.layers {
                layers.push(item[at..at + l.bytes].to_vec());
                at += l.bytes;
            }
            traces.push(layers);
        }
    }
    Ok(RunResult { manifest: m, batch, outputs, trace: traces, profile: None, decisions: vec![] })
}

/// File name for an output tensor: every character outside [A-Za-z0-9._-]
/// becomes '_' (so `model/dense/MatMul;model/dense/BiasAdd` becomes
/// `model_dense_MatMul_model_dense_BiasAdd.npy`).
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with('.') { format!("_{s}") } else { s }
}

/// Writes the outputs: one `.npy` at `path`, or one per output in directory `path`.
pub fn write_outputs(r: &RunResult, path: &Path) -> Result<Vec<PathBuf>> {
    crate::report::create_parent(path)?;
    if r.manifest.hybrid.is_some() {
        // A hybrid's output is its final label per input (int64).
        let data: Vec<u8> = r.decisions.iter().flat_map(|d| (d.label as i64).to_le_bytes()).collect();
        npy::write(path, &[r.batch], "<i8", &data)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let shape_of = |o: &IoInfo| -> Vec<usize> {
        let item: &[usize] = if o.shape.first() == Some(&1) { &o.shape[1..] } else { &o.shape };
        std::iter::once(r.batch).chain(item.iter().copied()).collect()
    };
    if r.manifest.outputs.len() == 1 {
        let o = &r.manifest.outputs[0];
        npy::write(path, &shape_of(o), &o.dtype, &r.outputs[0])?;
        return Ok(vec![path.to_path_buf()]);
    }
    std::fs::create_dir_all(path).with_context(|| format!("cannot create output directory {}", path.display()))?;
    let mut written = vec![];
    for (o, data) in r.manifest.outputs.iter().zip(&r.outputs) {
        let p = path.join(format!("{}.npy", sanitize(&o.name)));
        npy::write(&p, &shape_of(o), &o.dtype, data)?;
        written.push(p);
    }
    Ok(written)
}
