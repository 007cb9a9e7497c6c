//! `hybridc gateway`: devices connect over TCP (QEMU's `-serial tcp:...`)
//! and send query frames; each query is dequantized, sent to the cloud
//! model's KServe v2 URL, and answered with a reply frame (label = argmax,
//! score = its softmax probability) or an error frame, so that the device
//! can fall back to its own answer. Nothing a device sends ends the
//! connection or the process.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::frame::{ErrorCode, ErrorFrame, Frame, FrameError, FrameReader, Parsed, Query, Reply};
use super::kserve::{self, DataType};
use super::{stopped, Running, StopSignal};

/// How often the counters are printed while they change.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What the gateway has seen, over all connections.
#[derive(Default, Debug)]
pub struct Counters {
    pub connections: AtomicU64,
    /// Queries answered with a reply.
    pub frames_ok: AtomicU64,
    /// Rejected frames (CRC, version, length, shape, type).
    pub bad_frames: AtomicU64,
    /// Bytes outside any frame.
    pub skipped_bytes: AtomicU64,
    /// Queries answered with an error because the cloud failed.
    pub cloud_errors: AtomicU64,
}

impl Counters {
    fn total(&self) -> u64 {
        [&self.connections, &self.frames_ok, &self.bad_frames, &self.skipped_bytes, &self.cloud_errors]
            .iter()
            .map(|c| c.load(Relaxed))
            .sum()
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections, {} frames ok, {} bad frames, {} bytes skipped, {} cloud errors",
            self.connections.load(Relaxed),
            self.frames_ok.load(Relaxed),
            self.bad_frames.load(Relaxed),
            self.skipped_bytes.load(Relaxed),
            self.cloud_errors.load(Relaxed)
        )
    }
}

/// A running gateway: its address and counters; stops on `stop` or drop.
pub struct Gateway {
    pub server: Running,
    pub counters: Arc<Counters>,
}

impl Gateway {
    pub fn port(&self) -> u16 {
        self.server.port()
    }
}

/// Starts a gateway on `listen` ("127.0.0.1:0" picks a port) for the cloud
/// model at `cloud_url` (`http://HOST:PORT/v2/models/NAME`). `input_name`
/// names the model's input in requests; without it the gateway reads it
/// from the model's metadata, which custom predictors (KServe's Python
/// `ModelServer`) often leave empty.
pub fn spawn(listen: &str, cloud_url: &str, timeout: Duration, input_name: Option<&str>) -> Result<Gateway> {
    let cloud = Arc::new(Cloud::new(cloud_url, timeout, input_name)?);
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let server = Running::start("gateway", listen, move |listener, stop| accept_loop(listener, cloud, c, stop))?;
    Ok(Gateway { server, counters })
}

/// `hybridc gateway`: runs until SIGINT or SIGTERM, then prints the counters.
pub fn run(listen: &str, cloud_url: &str, timeout: Duration, input_name: Option<&str>) -> Result<()> {
    let g = spawn(listen, cloud_url, timeout, input_name)?;
    let input = input_name.map(|n| format!(", input '{n}'")).unwrap_or_default();
    eprintln!("hybridc: gateway listening on {} for {cloud_url} (timeout {} ms{input})", g.server.addr, timeout.as_millis());
    let counters = g.counters.clone();
    g.server.wait_for_signal()?;
    eprintln!("hybridc gateway: {counters}");
    Ok(())
}

async fn accept_loop(listener: tokio::net::TcpListener, cloud: Arc<Cloud>, counters: Arc<Counters>, stop: StopSignal) {
    tokio::spawn(report(counters.clone()));
    let accepting = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    counters.connections.fetch_add(1, Relaxed);
                    tokio::spawn(serve_device(stream, cloud.clone(), counters.clone()));
                }
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    };
    tokio::select! {
        _ = accepting => {}
        _ = stopped(stop) => {}
    }
}

async fn report(counters: Arc<Counters>) {
    let mut last = 0;
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        let now = counters.total();
        if now != last {
            eprintln!("hybridc gateway: {counters}");
            last = now;
        }
    }
}

/// One device connection: frames in, answers out, in order.
async fn serve_device(stream: TcpStream, cloud: Arc<Cloud>, counters: Arc<Counters>) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // A partial frame is given up at its deadline, which runs from its
        // first byte: a trickle of bytes cannot hold later frames back.
        let read = match reader.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), rd.read(&mut buf)).await,
            None => Ok(rd.read(&mut buf).await),
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => reader.push(&buf[..n]),
            Err(_) => {}
        }
        for parsed in reader.poll(std::time::Instant::now()) {
            let Some(answer) = answer(parsed, &cloud, &counters, &peer).await else { continue };
            if wr.write_all(&answer.encode()).await.is_err() {
                return;
            }
        }
        counters.skipped_bytes.fetch_add(std::mem::take(&mut reader.skipped), Relaxed);
    }
}

/// The frame that answers what the reader found, if any.
async fn answer(parsed: Parsed, cloud: &Cloud, counters: &Counters, peer: &str) -> Option<Frame> {
    let (error, ids) = match parsed {
        Parsed::Frame(Frame::Query(q)) => {
            return Some(match cloud.ask(&q).await {
                Ok((label, score)) => {
                    counters.frames_ok.fetch_add(1, Relaxed);
                    Frame::Reply(Reply { model_id: q.model_id, seq: q.seq, label, score: Some(score) })
                }
                Err((code, message)) => {
                    counters.cloud_errors.fetch_add(1, Relaxed);
                    eprintln!("hybridc gateway: {peer}: query {}: {message}", q.seq);
                    Frame::Error(ErrorFrame::new(q.model_id, q.seq, code, message))
                }
            });
        }
        Parsed::Frame(Frame::Reply(r)) => (FrameError::UnexpectedType("reply"), Some((r.model_id, r.seq))),
        Parsed::Frame(Frame::Error(e)) => (FrameError::UnexpectedType("error"), Some((e.model_id, e.seq))),
        Parsed::Bad { error, ids } => (error, ids),
    };
    counters.bad_frames.fetch_add(1, Relaxed);
    eprintln!("hybridc gateway: {peer}: bad frame: {error}");
    let (model_id, seq) = ids?;
    Some(Frame::Error(ErrorFrame::new(model_id, seq, error.code(), error.to_string())))
}

type CloudError = (ErrorCode, String);

/// The cloud model, reached over the KServe v2 REST API.
struct Cloud {
    http: reqwest::Client,
    /// The model's URL, `.../v2/models/NAME`.
    url: String,
    timeout: Duration,
    /// The input name given by the user, if any: used as it is.
    given_input: Option<String>,
    /// The model's input name, read once from its metadata.
    input: Mutex<Option<String>>,
}

impl Cloud {
    fn new(url: &str, timeout: Duration, input_name: Option<&str>) -> Result<Cloud> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("cloud URL '{url}'"))?;
        if !matches!(parsed.scheme(), "http" | "https") || !parsed.path().contains("/v2/models/") {
            bail!("cloud URL '{url}' is not a model URL of the form http://HOST:PORT/v2/models/NAME");
        }
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        let given_input = input_name.map(String::from);
        Ok(Cloud { http, url: url.trim_end_matches('/').to_string(), timeout, given_input, input: Mutex::new(None) })
    }

    /// Asks the cloud about one query: (label, score) or why not.
    async fn ask(&self, q: &Query) -> Result<(i32, f32), CloudError> {
        let asked = tokio::time::timeout(self.timeout, self.infer(q)).await;
        let result = asked.unwrap_or_else(|_| Err((ErrorCode::CloudTimeout, format!("the cloud took over {} ms", self.timeout.as_millis()))));
        if result.is_err() {
            // The cloud may come back with another model: read its metadata again.
            *self.input.lock().await = None;
        }
        result
    }

    async fn infer(&self, q: &Query) -> Result<(i32, f32), CloudError> {
        let input = self.input_name().await?;
        let body = json!({
            "id": q.seq.to_string(),
            "inputs": [{ "name": input, "shape": q.dims, "datatype": "FP32", "data": q.dequantize() }],
        });
        let answer = self.call(self.http.post(format!("{}/infer", self.url)).json(&body)).await?;
        let data = answer["outputs"][0]
            .get("data")
            .ok_or_else(|| (ErrorCode::CloudError, "the cloud's answer has no output data".to_string()))?;
        let values = kserve::read_data(data, DataType::Fp64, usize::MAX).map_err(|e| (ErrorCode::CloudError, format!("the cloud's output: {e}")))?;
        let (label, score) = classify(&values)
            .ok_or_else(|| (ErrorCode::CloudError, "the cloud's output is empty or not finite".to_string()))?;
        Ok((label as i32, score))
    }

    async fn input_name(&self) -> Result<String, CloudError> {
        if let Some(name) = &self.given_input {
            return Ok(name.clone());
        }
        let mut cached = self.input.lock().await;
        if let Some(name) = cached.as_ref() {
            return Ok(name.clone());
        }
        let meta = self.call(self.http.get(&self.url)).await?;
        let name = meta["inputs"][0]["name"].as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
            let why = format!("the cloud model's metadata ({}) names no input: pass the model's input name with --input-name (hybridc run: --cloud-input-name)", self.url);
            (ErrorCode::CloudError, why)
        })?;
        let name = name.to_string();
        *cached = Some(name.clone());
        Ok(name)
    }

    /// Sends a request and reads a JSON answer, sorting failures by code.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, CloudError> {
        let transport = |e: reqwest::Error| {
            let code = if e.is_timeout() { ErrorCode::CloudTimeout } else if e.is_decode() { ErrorCode::CloudError } else { ErrorCode::CloudUnavailable };
            (code, format!("cloud {}: {e}", self.url))
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
        if !status.is_success() {
            let why = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or(text);
            return Err((ErrorCode::CloudError, format!("cloud answered {status}: {why}")));
        }
        serde_json::from_str(&text).map_err(|e| (ErrorCode::CloudError, format!("the cloud's answer is not JSON: {e}")))
    }
}

/// Top-1 class and its probability: the outputs themselves when they are
/// already a distribution, else their softmax. None if empty or not finite.
pub fn classify(outputs: &[f64]) -> Option<(usize, f32)> {
    if outputs.is_empty() || outputs.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // The first of equal maxima, as numpy's argmax.
    let (best, &max) = outputs.iter().enumerate().fold((0, &outputs[0]), |b, (i, v)| if *v > *b.1 { (i, v) } else { b });
    let sum: f64 = outputs.iter().sum();
    let is_distribution = outputs.iter().all(|&v| (0.0..=1.0).contains(&v)) && (sum - 1.0).abs() < 1e-3;
    let score = if is_distribution { max } else { 1.0 / outputs.iter().map(|v| (v - max).exp()).sum::<f64>() };
    Some((best, score as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_logits_and_probabilities() {
        let (label, score) = classify(&[1.0, 3.0, 2.0]).unwrap();
        assert_eq!(label, 1);
        let e = [1f64.exp(), 3f64.exp(), 2f64.exp()];
        assert!((score as f64 - e[1] / e.iter().sum::<f64>()).abs() < 1e-6);
        assert_eq!(classify(&[0.2, 0.5, 0.3]), Some((1, 0.5)));
        assert_eq!(classify(&[4.0, 4.0]), Some((0, 0.5)));
        assert_eq!(classify(&[]), None);
        assert_eq!(classify(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn cloud_url_must_name_a_model() {
        assert!(Cloud::new("http://127.0.0.1:1/v2/models/m", Duration::from_secs(1), None).is_ok());
        assert!(Cloud::new("127.0.0.1:1", Duration::from_secs(1), None).is_err());
        assert!(Cloud::new("ftp://h/v2/models/m", Duration::from_secs(1), None).is_err());
        assert!(Cloud::new("http://h:1/v2/health/ready", Duration::from_secs(1), None).is_err());
    }
}
