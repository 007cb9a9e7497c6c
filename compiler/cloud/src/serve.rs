//! `hybridc serve`: one ONNX model behind the KServe v2 / Open Inference
//! Protocol REST API (axum on tokio). Every client error is a 4xx with a
//! JSON `{"error": ...}`; nothing a client sends can stop the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Semaphore;

use super::kserve::{self, DataType, InferRequest, InferResponse, ModelMetadata, ResponseOutput};
use super::model::ServedModel;
use super::{stopped, Running};

/// Largest request body (JSON tensors are verbose: ~10 bytes a number).
pub const MAX_BODY: usize = 64 << 20;
/// Largest input tensor, in elements.
const MAX_ELEMENTS: usize = 16 << 20;
/// The one version of the served model.
const MODEL_VERSION: &str = "1";

struct App {
    name: String,
    model: ServedModel,
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
    let model = ServedModel::load(model_path)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let app = Arc::new(App { name: name.to_string(), model, busy: Semaphore::new(workers) });
    Running::start("serve", addr, move |listener, stop| async move {
        let served = axum::serve(listener, router(app)).with_graceful_shutdown(stopped(stop));
        if let Err(e) = served.await {
            eprintln!("hybridc serve: {e}");
        }
    })
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
        .layer(DefaultBodyLimit::max(MAX_BODY))
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

async fn infer(
    State(app): State<Arc<App>>,
    UrlPath(p): Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    app.check(&p)?;
    let body = body.map_err(|r| ApiError { status: r.status(), message: r.body_text() })?;
    let (json_part, binary) = split_body(&headers, &body)?;
    let req: InferRequest =
        serde_json::from_slice(json_part).map_err(|e| bad(format!("invalid inference request: {e}")))?;
    let inputs = read_inputs(&app.model, &req, binary)?;
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

/// Splits a body into its JSON part and the binary tensor data after it.
fn split_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let Some(v) = headers.get(kserve::HEADER_JSON_LEN) else { return Ok((body, &[])) };
    let n: usize = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| bad(format!("{} must be a byte count", kserve::HEADER_JSON_LEN)))?;
    if n > body.len() {
        return Err(bad(format!("{} is {n} but the body has only {} bytes", kserve::HEADER_JSON_LEN, body.len())));
    }
    Ok(body.split_at(n))
}

/// Checks every request input against the model and returns them in model
/// order as (shape, values).
fn read_inputs(model: &ServedModel, req: &InferRequest, mut binary: &[u8]) -> Result<Vec<(Vec<usize>, Vec<f64>)>, ApiError> {
    let names = || model.inputs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut slots: Vec<Option<(Vec<usize>, Vec<f64>)>> = vec![None; model.inputs.len()];
    for input in &req.inputs {
        let name = &input.name;
        let index = model
            .inputs
            .iter()
            .position(|s| &s.name == name)
            .ok_or_else(|| bad(format!("unknown input '{name}'; the model's inputs are: {}", names())))?;
        if slots[index].is_some() {
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
        let values = match input.parameters.as_ref().and_then(|p| p.get("binary_data_size")) {
            Some(size) => {
                let size = size.as_u64().ok_or_else(|| bad(format!("input '{name}': binary_data_size must be a byte count")))? as usize;
                if size != count * dt.size() {
                    return Err(bad(format!("input '{name}': {size} bytes of binary data, shape {shape:?} of {} needs {}", dt.name(), count * dt.size())));
                }
                if size > binary.len() {
                    return Err(bad(format!("input '{name}': {size} bytes of binary data announced, {} left in the body", binary.len())));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                dt.from_le_bytes(mine)
            }
            None => {
                let data = input.data.as_ref().ok_or_else(|| bad(format!("input '{name}' has no data")))?;
                let mut values = Vec::with_capacity(count);
                kserve::flatten(data, dt, &mut values).map_err(|e| bad(format!("input '{name}': {e}")))?;
                if values.len() != count {
                    return Err(bad(format!("input '{name}' has {} values, its shape {shape:?} needs {count}", values.len())));
                }
                values
            }
        };
        // Converting to the model's own type (e.g. UINT8 pixels into an FP32 input).
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
