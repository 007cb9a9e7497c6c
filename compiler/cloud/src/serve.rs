//! `hybridc serve`: one ONNX model behind the KServe v2 / Open Inference
//! Protocol REST API (axum on tokio). Every client error is a 4xx with a
//! JSON `{"error": ...}`; nothing a client sends can stop the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::kserve::{self, DataType, InferRequest, InferResponse, ModelMetadata, ResponseOutput};
use super::model::ServedModel;
use super::{stopped, Running, StopSignal};

/// Largest request body (JSON tensors are verbose: ~10 bytes a number); a
/// model whose inputs all have a fixed shape takes at most `BYTES_PER_VALUE`
/// per input element plus `BODY_SLACK`.
pub const MAX_BODY: usize = 64 << 20;
/// Room per input element in a request body: a long JSON number, its comma
/// and some indentation.
pub const BYTES_PER_VALUE: usize = 64;
/// Room in a request body for everything but the tensor data.
pub const BODY_SLACK: usize = 64 << 10;
/// Largest input tensor, in elements.
const MAX_ELEMENTS: usize = 16 << 20;
/// The one version of the served model.
const MODEL_VERSION: &str = "1";

/// What one client may take of the server (docs/cloud.md).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To send a request's headers; also how long an idle keep-alive
    /// connection stays open (the wait for the next request's headers).
    pub header_timeout: Duration,
    /// To send a request's body, from the end of its headers.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { header_timeout: Duration::from_secs(10), body_timeout: Duration::from_secs(30), max_connections: 256 }
    }
}

struct App {
    name: String,
    model: ServedModel,
    /// The largest body a request for this model can need.
    max_body: usize,
    body_timeout: Duration,
    /// Bounds the inferences running at once (each holds a blocking thread).
    busy: Semaphore,
}

/// An error answered as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Loads the model and starts serving it on `addr` ("127.0.0.1:0" picks a port).
pub fn spawn(model_path: &Path, name: &str, addr: &str) -> Result<Running> {
    spawn_with(model_path, name, addr, Limits::default())
}

/// `spawn` with other limits.
pub fn spawn_with(model_path: &Path, name: &str, addr: &str, limits: Limits) -> Result<Running> {
    let model = ServedModel::load(model_path)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let max_body = body_limit(&model);
    let app = Arc::new(App { name: name.to_string(), model, max_body, body_timeout: limits.body_timeout, busy: Semaphore::new(workers) });
    Running::start("serve", addr, move |listener, stop| serve_http(listener, router(app), limits, stop))
}

/// The largest body a request can need: every input element as a long JSON
/// number, when every input's shape is fixed; else `MAX_BODY`.
fn body_limit(model: &ServedModel) -> usize {
    let counts: Option<Vec<usize>> = model.inputs.iter().map(|s| s.dims.iter().try_fold(1usize, |n, d| n.checked_mul((*d)?))).collect();
    counts
        .and_then(|c| c.iter().try_fold(BODY_SLACK, |sum, n| n.checked_mul(BYTES_PER_VALUE)?.checked_add(sum)))
        .map_or(MAX_BODY, |n| n.min(MAX_BODY))
}

/// HTTP/1.1 on hyper, with a header (and keep-alive idle) timeout and a
/// bound on the connections served at once.
async fn serve_http(listener: tokio::net::TcpListener, app: Router, limits: Limits, stop: StopSignal) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let accepting = async {
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())));
            tokio::spawn(async move {
                let _ = conn.await;
                drop(slot);
            });
        }
    };
    tokio::select! {
        _ = accepting => {}
        _ = stopped(stop) => {}
    }
    // Requests in flight finish (within the grace `Running` gives).
    graceful.shutdown().await;
}

/// The URL of model `name` on a server bound to `addr` (what the gateway takes).
pub fn model_url(addr: SocketAddr, name: &str) -> String {
    format!("http://{addr}/v2/models/{name}")
}

/// `hybridc serve`: serves until SIGINT or SIGTERM.
pub fn run(model_path: &Path, name: &str, addr: &str) -> Result<()> {
    let running = spawn(model_path, name, addr)?;
    eprintln!("hybridc: serving {} at {}", model_path.display(), model_url(running.addr, name));
    running.wait_for_signal()
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(|| async { Json(json!({ "live": true })) }))
        .route("/v2/health/ready", get(|| async { Json(json!({ "ready": true })) }))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/versions/{version}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer))
        .fallback(|method: Method, uri: Uri| async move { not_found(format!("no route for {method} {uri}")) })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError { status: StatusCode::METHOD_NOT_ALLOWED, message: format!("{method} is not allowed on {uri}") }
        })
        .with_state(app)
}

type Params = UrlPath<HashMap<String, String>>;

impl App {
    /// The served model, if the URL names it (and its version, if any).
    fn check(&self, params: &HashMap<String, String>) -> Result<(), ApiError> {
        let name = params.get("name").map(String::as_str).unwrap_or("");
        if name != self.name {
            return Err(not_found(format!("unknown model '{name}'; this server serves '{}'", self.name)));
        }
        match params.get("version") {
            Some(v) if v != MODEL_VERSION => Err(not_found(format!("model '{name}' has no version '{v}' (only {MODEL_VERSION})"))),
            _ => Ok(()),
        }
    }
}

async fn server_metadata() -> Json<serde_json::Value> {
    Json(json!({ "name": "hybridc", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }))
}

async fn model_metadata(State(app): State<Arc<App>>, UrlPath(p): Params) -> Result<Json<ModelMetadata>, ApiError> {
    app.check(&p)?;
    Ok(Json(ModelMetadata {
        name: app.name.clone(),
        versions: vec![MODEL_VERSION.to_string()],
        platform: "onnx",
        inputs: app.model.inputs.iter().map(|s| s.metadata()).collect(),
        outputs: app.model.outputs.iter().map(|s| s.metadata()).collect(),
    }))
}

async fn model_ready(State(app): State<Arc<App>>, UrlPath(p): Params) -> Result<Json<serde_json::Value>, ApiError> {
    app.check(&p)?;
    Ok(Json(json!({ "name": app.name, "ready": true })))
}

async fn infer(State(app): State<Arc<App>>, UrlPath(p): Params, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    app.check(&p)?;
    let json_len = json_len(&headers)?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > app.max_body as u64) {
        return Err(too_large(n, app.max_body));
    }
    let mut body = BodyReader { body, held: vec![], read: 0, max: app.max_body, deadline: Instant::now() + app.body_timeout };
    // The JSON part first: shapes are checked before binary data is read.
    let json_part = body.take(json_len.unwrap_or(usize::MAX)).await?;
    if let Some(n) = json_len.filter(|&n| n > json_part.len()) {
        return Err(bad(format!("{} is {n} but the body has only {} bytes", kserve::HEADER_JSON_LEN, json_part.len())));
    }
    let req = parse_request(&json_part)?;
    let plans = plan_inputs(&app.model, &req)?;
    let binary = body.take(usize::MAX).await?;
    let inputs = read_inputs(&app.model, &req, plans, &binary)?;
    let wanted = wanted_outputs(&app.model, &req)?;

    let _permit = app.busy.acquire().await.map_err(|_| bad("the server is stopping"))?;
    let worker = app.clone();
    let outputs = tokio::task::spawn_blocking(move || worker.model.run(inputs))
        .await
        .map_err(|_| ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: "inference failed inside tract".into() })?
        .map_err(|e| bad(format!("the model cannot run on this input: {e:#}")))?;

    let mut tail = vec![];
    let mut response = InferResponse { model_name: app.name.clone(), id: req.id.clone(), outputs: vec![] };
    for (index, binary) in wanted {
        let (shape, values) = &outputs[index];
        let mut out = ResponseOutput {
            name: app.model.outputs[index].name.clone(),
            datatype: values.datatype().name(),
            shape: shape.clone(),
            parameters: None,
            data: None,
        };
        if binary {
            let bytes = values.to_le_bytes();
            out.parameters = Some(json!({ "binary_data_size": bytes.len() }));
            tail.extend(bytes);
        } else {
            out.data = Some(values.clone());
        }
        response.outputs.push(out);
    }
    let json_bytes = serde_json::to_vec(&response).map_err(|e| bad(e.to_string()))?;
    if tail.is_empty() {
        return Ok(([(header::CONTENT_TYPE, "application/json")], json_bytes).into_response());
    }
    let json_len = json_bytes.len().to_string();
    let mut all = json_bytes;
    all.extend(tail);
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (HeaderName::from_static(kserve::HEADER_JSON_LEN), json_len),
    ];
    Ok((headers, all).into_response())
}

fn too_large(n: u64, max: usize) -> ApiError {
    ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, message: format!("a body of {n} bytes is over this model's limit of {max}") }
}

/// The JSON part's length when binary data follows it.
fn json_len(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(v) = headers.get(kserve::HEADER_JSON_LEN) else { return Ok(None) };
    let n = v.to_str().ok().and_then(|s| s.trim().parse().ok());
    n.map(Some).ok_or_else(|| bad(format!("{} must be a byte count", kserve::HEADER_JSON_LEN)))
}

/// A request body read in parts, within a size limit and a deadline.
struct BodyReader {
    body: Body,
    /// Bytes read past the last part taken.
    held: Vec<u8>,
    read: usize,
    max: usize,
    deadline: Instant,
}

impl BodyReader {
    /// The next `n` bytes, or fewer at the end of the body.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, ApiError> {
        let mut out = std::mem::take(&mut self.held);
        while out.len() < n {
            let frame = tokio::time::timeout_at(self.deadline, self.body.frame()).await.map_err(|_| ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                message: format!("the request body did not arrive in time ({} of it came)", self.read),
            })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| bad(format!("cannot read the request body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            self.read += data.len();
            if self.read > self.max {
                return Err(too_large(self.read as u64, self.max));
            }
            out.extend_from_slice(&data);
        }
        if out.len() > n {
            self.held = out.split_off(n);
        }
        Ok(out)
    }
}

/// The model's inputs, in model order, as (shape, values).
pub type Inputs = Vec<(Vec<usize>, Vec<f64>)>;

/// A request input checked against the model, before its data is read.
struct Plan {
    index: usize,
    dt: DataType,
    shape: Vec<usize>,
    count: usize,
    /// Bytes of binary data, if it comes that way.
    binary: Option<usize>,
}

/// Checks every request input's name, datatype, shape and binary size
/// against the model, in request order.
fn plan_inputs(model: &ServedModel, req: &InferRequest) -> Result<Vec<Plan>, ApiError> {
    let names = || model.inputs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut seen = vec![false; model.inputs.len()];
    let mut plans = vec![];
    for input in &req.inputs {
        let name = &input.name;
        let index = model
            .inputs
            .iter()
            .position(|s| &s.name == name)
            .ok_or_else(|| bad(format!("unknown input '{name}'; the model's inputs are: {}", names())))?;
        if std::mem::replace(&mut seen[index], true) {
            return Err(bad(format!("input '{name}' is given twice")));
        }
        let spec = &model.inputs[index];
        let dt = DataType::parse(&input.datatype).ok_or_else(|| {
            let all: Vec<&str> = DataType::ALL.iter().map(|d| d.name()).collect();
            bad(format!("input '{name}': datatype '{}' is not supported ({})", input.datatype, all.join(", ")))
        })?;
        let shape: Vec<usize> = input
            .shape
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| bad(format!("input '{name}': shape {:?} has a negative dimension", input.shape)))?;
        if !spec.accepts(&shape) {
            return Err(bad(format!("input '{name}' has shape {:?}, the model takes {:?}", input.shape, spec.metadata().shape)));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| bad(format!("input '{name}': shape {shape:?} is too large")))?;
        let binary = match input.parameters.as_ref().and_then(|p| p.get("binary_data_size")) {
            Some(size) => {
                let size = size.as_u64().ok_or_else(|| bad(format!("input '{name}': binary_data_size must be a byte count")))?;
                if size != (count * dt.size()) as u64 {
                    return Err(bad(format!("input '{name}': {size} bytes of binary data, shape {shape:?} of {} needs {}", dt.name(), count * dt.size())));
                }
                Some(size as usize)
            }
            None => None,
        };
        plans.push(Plan { index, dt, shape, count, binary });
    }
    Ok(plans)
}

/// Reads every request input's data (`plans`, from `plan_inputs`) and
/// returns them in model order as (shape, values).
fn read_inputs(model: &ServedModel, req: &InferRequest, plans: Vec<Plan>, mut binary: &[u8]) -> Result<Inputs, ApiError> {
    let mut slots: Vec<Option<(Vec<usize>, Vec<f64>)>> = vec![None; model.inputs.len()];
    for (input, Plan { index, dt, shape, count, binary: size }) in req.inputs.iter().zip(plans) {
        let name = &input.name;
        let values = match size {
            Some(size) => {
                if size > binary.len() {
                    return Err(bad(format!("input '{name}': {size} bytes of binary data announced, {} left in the body", binary.len())));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                let values = dt.from_le_bytes(mine);
                if let Some(v) = values.iter().find(|&&v| !dt.admits(v)) {
                    return Err(bad(format!("input '{name}': {v} is not a finite {} value", dt.name())));
                }
                values
            }
            None => {
                let data = input.data.ok_or_else(|| bad(format!("input '{name}' has no data")))?;
                let values = kserve::read_raw(data, dt, count).map_err(|e| {
                    let e = if e.starts_with("more than") { format!("{e}, its shape {shape:?} needs {count}") } else { e };
                    bad(format!("input '{name}': {e}"))
                })?;
                if values.len() != count {
                    return Err(bad(format!("input '{name}' has {} values, its shape {shape:?} needs {count}", values.len())));
                }
                values
            }
        };
        // Converting to the model's own type (e.g. UINT8 pixels into an FP32 input).
        let spec = &model.inputs[index];
        if spec.datatype != dt && values.iter().any(|&v| !spec.datatype.admits(v)) {
            return Err(bad(format!("input '{name}': a {} value does not fit the model's {}", dt.name(), spec.datatype.name())));
        }
        slots[index] = Some((shape, values));
    }
    if !binary.is_empty() {
        return Err(bad(format!("{} bytes of binary data follow the JSON, but no input claims them", binary.len())));
    }
    slots
        .into_iter()
        .zip(&model.inputs)
        .map(|(slot, spec)| slot.ok_or_else(|| bad(format!("missing input '{}'", spec.name))))
        .collect()
}

/// Checks and reads a request as `infer` does, short of running the model:
/// its JSON part and the binary data after it. For tests and fuzzing.
pub fn decode_request(model: &ServedModel, json_part: &[u8], binary: &[u8]) -> Result<Inputs, ApiError> {
    let req: InferRequest = parse_request(json_part)?;
    let plans = plan_inputs(model, &req)?;
    wanted_outputs(model, &req)?;
    read_inputs(model, &req, plans, binary)
}

fn parse_request(json_part: &[u8]) -> Result<InferRequest<'_>, ApiError> {
    serde_json::from_slice(json_part).map_err(|e| bad(format!("invalid inference request: {e}")))
}

/// The outputs to answer (indices into the model's outputs) and whether
/// each goes back as binary data.
fn wanted_outputs(model: &ServedModel, req: &InferRequest) -> Result<Vec<(usize, bool)>, ApiError> {
    let all_binary = kserve::flag(&req.parameters, "binary_data_output");
    let Some(requested) = req.outputs.as_ref().filter(|o| !o.is_empty()) else {
        return Ok((0..model.outputs.len()).map(|i| (i, all_binary)).collect());
    };
    requested
        .iter()
        .map(|o| {
            let index = model.outputs.iter().position(|s| s.name == o.name).ok_or_else(|| {
                let names: Vec<&str> = model.outputs.iter().map(|s| s.name.as_str()).collect();
                bad(format!("unknown output '{}'; the model's outputs are: {}", o.name, names.join(", ")))
            })?;
            let binary = o.parameters.as_ref().and_then(|p| p.get("binary_data")).and_then(|v| v.as_bool());
            Ok((index, binary.unwrap_or(all_binary)))
        })
        .collect()
}
