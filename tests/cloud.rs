//! The cloud side: `serve` (KServe v2 REST) checked against tract's float
//! run (FloatRunner) and against hostile clients; the gateway end to end with
//! a device-side TCP client speaking v1 frames; the CLI with the official
//! Python client (tritonclient[http]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{free_port, Proc};
use hybridc_cloud::frame::{self, ErrorCode, Frame, FrameReader, Parsed, Query};
use hybridc_cloud::{gateway, serve};
use hybridc_core::frontend::float_oracle::FloatRunner;
use hybridc_core::npy;
use serde_json::{json, Value};
use tract_onnx::prelude::*;

const NAME: &str = "cnn";

fn mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mnist")
}

fn model_path() -> PathBuf {
    mnist().join("cnn_small.onnx")
}

/// The first test images, uint8 [1, 28, 28] each.
fn images(n: usize) -> Vec<Vec<u8>> {
    let a = npy::read(&mnist().join("test_x_u8.npy")).unwrap();
    assert_eq!(a.descr, "|u1");
    a.data.chunks_exact(784).take(n).map(<[u8]>::to_vec).collect()
}

fn to_float(img: &[u8]) -> Vec<f32> {
    img.iter().map(|&p| p as f32 / 255.0).collect()
}

/// tract's logits through the project's float oracle.
fn tract_logits(x: &[f32]) -> Vec<f32> {
    static RUNNER: OnceLock<FloatRunner> = OnceLock::new();
    let r = RUNNER.get_or_init(|| {
        let proto = tract_onnx::onnx().proto_model_for_path(model_path()).unwrap();
        FloatRunner::new(&proto, &["logits".to_string()]).unwrap()
    });
    r.run(x).unwrap().remove(0)
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{what}: {got:?} vs tract {want:?}");
    }
}

/// A blocking HTTP client for the tests.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Http { rt, client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap() }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        self.rt.block_on(async {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
    }

    fn get(&self, url: &str) -> (u16, Value) {
        self.send(self.client.get(url))
    }

    fn post(&self, url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.send(self.client.post(url).header("content-type", "application/json").body(body))
    }
}

fn infer_body(x: &[f32]) -> String {
    json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": x }] }).to_string()
}

fn logits_of(v: &Value) -> Vec<f32> {
    v["outputs"][0]["data"].as_array().expect("output data").iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn start_serve() -> (hybridc_cloud::Running, String) {
    let s = serve::spawn(&model_path(), NAME, "127.0.0.1:0").expect("serve");
    let base = format!("http://127.0.0.1:{}", s.port());
    (s, base)
}

#[test]
fn serve_answers_like_tract() {
    let (_server, base) = start_serve();
    let http = Http::new();
    assert_eq!(http.get(&format!("{base}/v2/health/live")).0, 200);
    assert_eq!(http.get(&format!("{base}/v2/health/ready")).0, 200);
    assert_eq!(http.get(&format!("{base}/v2/models/{NAME}/ready")).0, 200);
    let (status, meta) = http.get(&format!("{base}/v2/models/{NAME}"));
    assert_eq!(status, 200);
    assert_eq!(meta["name"], NAME);
    assert_eq!(meta["platform"], "onnx");
    assert_eq!(meta["inputs"], json!([{ "name": "image", "datatype": "FP32", "shape": [1, 1, 28, 28] }]));
    assert_eq!(meta["outputs"], json!([{ "name": "logits", "datatype": "FP32", "shape": [1, 10] }]));

    let url = format!("{base}/v2/models/{NAME}/infer");
    for (i, img) in images(6).iter().enumerate() {
        let x = to_float(img);
        let (status, out) = http.post(&url, infer_body(&x));
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["model_name"], NAME);
        assert_eq!(out["outputs"][0]["name"], "logits");
        assert_eq!(out["outputs"][0]["datatype"], "FP32");
        assert_eq!(out["outputs"][0]["shape"], json!([1, 10]));
        assert_close(&logits_of(&out), &tract_logits(&x), &format!("image {i}"));
    }

    // Nested data, a requested output, an id, the versioned URL.
    let img = &images(1)[0];
    let x = to_float(img);
    let nested: Vec<Vec<f32>> = x.chunks(28).map(<[f32]>::to_vec).collect();
    let body = json!({ "id": "q1", "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [[nested]] }],
                       "outputs": [{ "name": "logits" }] });
    let (status, out) = http.post(&format!("{base}/v2/models/{NAME}/versions/1/infer"), body.to_string());
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["id"], "q1");
    assert_close(&logits_of(&out), &tract_logits(&x), "nested");

    // Other datatypes are converted to the model's FP32.
    let raw: Vec<f32> = img.iter().map(|&p| p as f32).collect();
    let want = tract_logits(&raw);
    for dt in ["UINT8", "INT32", "INT64", "FP64"] {
        let body = json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": dt, "data": img }] });
        let (status, out) = http.post(&url, body.to_string());
        assert_eq!(status, 200, "{dt}: {out}");
        assert_close(&logits_of(&out), &want, dt);
    }

    // Binary tensor data (Triton's extension) both ways.
    let header = json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "parameters": { "binary_data_size": 784 * 4 } }],
                         "parameters": { "binary_data_output": true } })
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend(x.iter().flat_map(|v| v.to_le_bytes()));
    let resp = http.rt.block_on(async {
        http.client.post(&url).header("inference-header-content-length", header.len()).body(body).send().await.unwrap()
    });
    assert_eq!(resp.status(), 200);
    let json_len: usize = resp.headers()["inference-header-content-length"].to_str().unwrap().parse().unwrap();
    let bytes = http.rt.block_on(resp.bytes()).unwrap();
    let head: Value = serde_json::from_slice(&bytes[..json_len]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 40);
    let got: Vec<f32> = bytes[json_len..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_close(&got, &tract_logits(&x), "binary");
}

#[test]
fn serve_handles_concurrent_clients() {
    let (_server, base) = start_serve();
    let url = format!("{base}/v2/models/{NAME}/infer");
    let imgs = images(16);
    let http = Http::new();
    let answers = http.rt.block_on(async {
        let requests = imgs.iter().map(|img| {
            let req = http.client.post(&url).header("content-type", "application/json").body(infer_body(&to_float(img)));
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        });
        // All sent at once, each on its own connection as the pool allows.
        let handles: Vec<_> = requests.map(tokio::spawn).collect();
        let mut out = vec![];
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    for (img, out) in imgs.iter().zip(&answers) {
        assert_close(&logits_of(out), &tract_logits(&to_float(img)), "concurrent");
    }
}

#[test]
fn serve_rejects_malformed_requests_and_keeps_serving() {
    let (_server, base) = start_serve();
    let http = Http::new();
    let url = format!("{base}/v2/models/{NAME}/infer");
    let x = to_float(&images(1)[0]);
    let input = |fields: Value| {
        let mut i = json!({ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": x });
        for (k, v) in fields.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "inputs": [i] }).to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("not JSON", "{\"inputs\": [".into(), 400, "invalid inference request"),
        ("no inputs", "{}".into(), 400, "inputs"),
        ("inputs not a list", "{\"inputs\": 3}".into(), 400, "invalid inference request"),
        ("wrong shape", input(json!({ "shape": [1, 784] })), 400, "shape"),
        ("negative dim", input(json!({ "shape": [1, 1, -28, 28] })), 400, "negative"),
        ("too few values", input(json!({ "data": [1.0, 2.0] })), 400, "needs 784"),
        ("unknown datatype", input(json!({ "datatype": "BYTES" })), 400, "BYTES"),
        ("string data", input(json!({ "data": ["a"] })), 400, "string"),
        ("no data", input(json!({ "data": null })), 400, "no data"),
        ("out of range", input(json!({ "datatype": "UINT8", "data": vec![300; 784] })), 400, "UINT8"),
        ("unknown input", input(json!({ "name": "pixels" })), 400, "unknown input 'pixels'"),
        ("twice", json!({ "inputs": [
            { "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": x },
            { "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": x }] }).to_string(), 400, "twice"),
        ("missing input", json!({ "inputs": [] }).to_string(), 400, "missing input 'image'"),
        ("unknown output", json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": x }],
                                    "outputs": [{ "name": "probs" }] }).to_string(), 400, "unknown output"),
        ("binary size lies", input(json!({ "data": null, "parameters": { "binary_data_size": 3136 } })), 400, "binary"),
        ("huge shape", input(json!({ "shape": [1, 1, 2_000_000_000_000i64, 28] })), 400, "shape"),
        ("deep nesting", format!("{{\"inputs\": [{{\"name\": \"image\", \"shape\": [1, 1, 28, 28], \"datatype\": \"FP32\", \"data\": {}1{}}}]}}",
            "[".repeat(10_000), "]".repeat(10_000)), 400, "recursion"),
        ("bad header length", String::new(), 400, "inference-header-content-length"),
    ];
    for (what, body, status, needle) in &cases {
        let mut req = http.client.post(&url).body(body.clone());
        if *what == "bad header length" {
            req = req.header("inference-header-content-length", "12abc");
        }
        let (got, v) = http.send(req);
        assert_eq!(got, *status, "{what}: {v}");
        let msg = v["error"].as_str().unwrap_or_else(|| panic!("{what}: no error message in {v}"));
        assert!(msg.contains(needle), "{what}: '{msg}' does not mention '{needle}'");
    }
    let not_found = [
        format!("{base}/v2/models/other/infer"),
        format!("{base}/v2/models/{NAME}/versions/7/infer"),
        format!("{base}/nothing/here"),
    ];
    for u in &not_found {
        let (got, v) = http.post(u, input(json!({})));
        assert_eq!(got, 404, "{u}: {v}");
        assert!(v["error"].is_string(), "{u}: {v}");
    }
    assert_eq!(http.get(&format!("{base}/v2/models/other")).0, 404);
    assert_eq!(http.get(&url).0, 405);
    // A body over the limit is refused (the server may hang up before it is all sent).
    let addr = base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let len = serve::MAX_BODY + 1;
        let head = format!("POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n");
        let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&vec![b' '; len]));
    });
    let mut answer = vec![];
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).expect("an answer to an oversized body");
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer));
    let _ = s.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    // Garbage on the socket, a request cut short.
    for raw in [&b"\x00\xff garbage\r\n\r\n"[..], b"POST /v2/models/cnn/infer HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"in"] {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(raw).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut sink = vec![];
        let _ = s.read_to_end(&mut sink);
    }
    // Still serving.
    let (status, out) = http.post(&url, input(json!({})));
    assert_eq!(status, 200, "{out}");
    assert_close(&logits_of(&out), &tract_logits(&x), "after abuse");
}

/// Issue 17: inputs that are not finite in their type, or ragged, get a 400
/// naming the input.
#[test]
fn serve_rejects_non_finite_and_ragged_inputs() {
    let (_server, base) = start_serve();
    let http = Http::new();
    let url = format!("{base}/v2/models/{NAME}/infer");
    let body = |datatype: &str, data: String| {
        format!("{{\"inputs\": [{{\"name\": \"image\", \"shape\": [1, 1, 28, 28], \"datatype\": \"{datatype}\", \"data\": {data}}}]}}")
    };
    let flat = |v: &str| format!("[{v}{}]", ", 0".repeat(783));
    let row = format!("[{}]", vec!["0"; 28].join(", "));
    let short_row = format!("[{}]", vec!["0"; 27].join(", "));
    let mut rows = vec![row.clone(); 28];
    rows[5] = short_row;
    let cases = [
        ("FP32 beyond its range", body("FP32", flat("1e39")), "FP32"),
        ("FP64 beyond FP32", body("FP64", flat("1e300")), "FP32"),
        ("ragged rows", body("FP32", format!("[[[{}]]]", rows.join(", "))), "ragged"),
        ("numbers beside arrays", body("FP32", format!("[[[{}, 0]]]", vec![row; 28].join(", "))), "ragged"),
        ("too many values", body("FP32", flat("0, 0")), "needs 784"),
    ];
    for (what, body, needle) in cases {
        let (status, v) = http.post(&url, body);
        assert_eq!(status, 400, "{what}: {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains("'image'") && msg.contains(needle), "{what}: '{msg}'");
    }
    // NaN and infinity in binary data.
    for bad in [f32::NAN, f32::INFINITY] {
        let json = json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                        "parameters": { "binary_data_size": 3136 } }] }).to_string();
        let mut all = json.clone().into_bytes();
        let mut x = vec![0f32; 784];
        x[7] = bad;
        all.extend(x.iter().flat_map(|v| v.to_le_bytes()));
        let (status, v) = http.send(http.client.post(&url).header("inference-header-content-length", json.len()).body(all));
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"].as_str().unwrap().contains("'image'"), "{v}");
    }
}

/// Writes a request head (and `body`) on a new connection; returns the
/// status line of the answer, or what happened, and how long it took.
fn raw_request(addr: &str, head: &str, body: &[u8], wait: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let t0 = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = vec![];
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) => return ("closed".into(), t0.elapsed()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => return (format!("no answer: {e}"), t0.elapsed()),
        }
    }
    let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_string();
    (line, t0.elapsed())
}

/// Issue 17: memory per request is bounded by the model's input: a body
/// over what the input can need, or a declared shape the model does not
/// take, is refused before the body is read.
#[test]
fn serve_refuses_oversized_requests_before_reading_them() {
    let (_server, base) = start_serve();
    let addr = base.trim_start_matches("http://");
    let post = |extra: &str, len: usize| {
        format!("POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: {len}\r\n\r\n")
    };
    // A 63 MB JSON body: refused on its Content-Length, with no byte of it sent.
    let (status, took) = raw_request(addr, &post("", 63_000_000), b"", Duration::from_secs(5));
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Binary data announced for a shape the model does not take: refused
    // once the JSON part is read, without waiting for the data.
    let json = json!({ "inputs": [{ "name": "image", "shape": [1, 1, 28_000, 28], "datatype": "FP32",
                                    "parameters": { "binary_data_size": 3_136_000 } }] }).to_string();
    let head = post(&format!("Inference-Header-Content-Length: {}\r\n", json.len()), json.len() + 3_136_000);
    let (status, _) = raw_request(addr, &head, json.as_bytes(), Duration::from_secs(5));
    assert!(status.starts_with("HTTP/1.1 4"), "{status}");
    let json = json.replace("28000", "28").replace("3136000", "3136");
    let head = post(&format!("Inference-Header-Content-Length: {}\r\n", json.len()), json.len() + 3136);
    let (status, _) = raw_request(addr, &head, json.as_bytes(), Duration::from_secs(5));
    assert!(status.starts_with("no answer"), "a good head waits for its data: {status}");
}

/// Issue 17: slow and idle clients are disconnected, and the connection
/// limit holds others back only until then.
#[test]
fn serve_times_out_slow_and_idle_clients() {
    let limits = serve::Limits { header_timeout: Duration::from_secs(1), body_timeout: Duration::from_secs(1), max_connections: 3 };
    let server = serve::spawn_with(&model_path(), NAME, "127.0.0.1:0", limits).unwrap();
    let addr = server.addr.to_string();
    // Slowloris: a header byte every 100 ms never finishes within the timeout.
    let mut s = TcpStream::connect(&addr).unwrap();
    let t0 = Instant::now();
    let head = format!("POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(100));
    let mut cut = false;
    for b in head.bytes() {
        if s.write_all(&[b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if t0.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let took = t0.elapsed();
    assert!(cut || { s.set_read_timeout(Some(Duration::from_secs(1))).unwrap(); matches!(s.read(&mut [0; 64]), Ok(0) | Err(_)) });
    assert!(took < Duration::from_secs(5), "slowloris kept its connection for {took:?}");
    // A body that stops coming: 408 after the body timeout.
    let head = format!("POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    let (status, took) = raw_request(&addr, &head, b"{\"inputs\": [", Duration::from_secs(5));
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // Idle connections fill the limit, then are closed after the timeout,
    // and the waiting request is served.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let (status, took) = raw_request(&addr, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", b"", Duration::from_secs(5));
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(took > Duration::from_millis(500) && took < Duration::from_secs(4), "{took:?}");
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert!(matches!(c.read(&mut [0; 64]), Ok(0) | Err(_)), "an idle connection stayed open");
    }
}

// ---- The gateway, seen from a device ----

/// An image as a device would send it: int8 with scale 1/255, zero point -128.
fn query(seq: u32, img: &[u8]) -> Query {
    Query {
        model_id: frame::model_id(NAME),
        seq,
        scale: 1.0 / 255.0,
        zero_point: -128,
        dims: vec![1, 1, 28, 28],
        data: img.iter().map(|&p| (p as i32 - 128) as i8).collect(),
    }
}

struct Device {
    stream: TcpStream,
    reader: FrameReader,
}

impl Device {
    fn connect(port: u16) -> Device {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Device { stream, reader: FrameReader::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn receive(&mut self) -> Frame {
        let mut buf = [0u8; 4096];
        loop {
            match self.reader.next_parsed() {
                Some(Parsed::Frame(f)) => return f,
                Some(bad) => panic!("the gateway sent a bad frame: {bad:?}"),
                None => {}
            }
            let n = self.stream.read(&mut buf).expect("no answer from the gateway");
            assert!(n > 0, "the gateway closed the connection");
            self.reader.push(&buf[..n]);
        }
    }

    fn ask(&mut self, q: &Query) -> Frame {
        self.send(&Frame::Query(q.clone()).encode());
        self.receive()
    }
}

/// Label and score tract gives the dequantized query.
fn expected(q: &Query) -> (i32, f32) {
    let logits = tract_logits(&q.dequantize());
    let k = argmax(&logits);
    let sum: f32 = logits.iter().map(|v| (v - logits[k]).exp()).sum();
    (k as i32, 1.0 / sum)
}

fn assert_reply(f: Frame, q: &Query) {
    let Frame::Reply(r) = f else { panic!("query {}: expected a reply, got {f:?}", q.seq) };
    let (label, score) = expected(q);
    assert_eq!((r.model_id, r.seq, r.label), (q.model_id, q.seq, label));
    let s = r.score.expect("a score");
    assert!((s - score).abs() < 1e-3, "score {s} vs {score}");
}

fn assert_error(f: Frame, seq: u32, code: ErrorCode) {
    let Frame::Error(e) = f else { panic!("expected an error frame, got {f:?}") };
    assert_eq!((e.seq, e.code), (seq, code as u16), "{}", e.message);
    assert!(!e.message.is_empty());
}

fn cloud_url(base: &str, name: &str) -> String {
    format!("{base}/v2/models/{name}")
}

/// The model served and a gateway in front of it (both stop when dropped).
fn start_serve_and_gateway() -> (hybridc_cloud::Running, gateway::Gateway) {
    let (server, _) = start_serve();
    let g = gateway::spawn("127.0.0.1:0", &serve::model_url(server.addr, NAME), Duration::from_secs(10), None).unwrap();
    (server, g)
}

#[test]
fn gateway_end_to_end() {
    let (_server, g) = start_serve_and_gateway();
    let imgs = images(8);
    let mut dev = Device::connect(g.port());
    for (i, img) in imgs.iter().enumerate() {
        let q = query(i as u32, img);
        let f = dev.ask(&q);
        assert_reply(f, &q);
    }

    // Several devices at once.
    let port = g.port();
    std::thread::scope(|s| {
        for d in 0..3u32 {
            let imgs = &imgs;
            s.spawn(move || {
                let mut dev = Device::connect(port);
                for (i, img) in imgs.iter().enumerate().skip(d as usize).step_by(3) {
                    let q = query(100 * (d + 1) + i as u32, img);
                    assert_reply(dev.ask(&q), &q);
                }
            });
        }
    });
    assert_eq!(g.counters.frames_ok.load(std::sync::atomic::Ordering::Relaxed), 16);
}

#[test]
fn gateway_survives_bad_frames() {
    let (_server, g) = start_serve_and_gateway();
    let img = &images(1)[0];
    let mut dev = Device::connect(g.port());

    // Noise, then a query: the noise is skipped.
    dev.send(b"boot: hello\r\nH\x00HY");
    let q = query(1, img);
    assert_reply(dev.ask(&q), &q);

    // A flipped bit in the payload: CRC error, answered as a bad frame (code 3).
    let mut bad = Frame::Query(query(2, img)).encode();
    bad[100] ^= 0x10;
    dev.send(&bad);
    assert_error(dev.receive(), 2, ErrorCode::BadFrame);

    // Valid CRC, impossible query: rank 0, then data shorter than the dims (code 4).
    let mut p = Frame::Query(query(3, img)).encode()[8..][..20].to_vec();
    p[9] = 0;
    dev.send(&frame::seal(frame::TYPE_QUERY, &p));
    assert_error(dev.receive(), 3, ErrorCode::BadQuery);
    let full = Frame::Query(query(4, img)).encode();
    dev.send(&frame::seal(frame::TYPE_QUERY, &full[8..full.len() - 5]));
    assert_error(dev.receive(), 4, ErrorCode::BadQuery);
    // A reply sent by a device is not a query (code 4).
    dev.send(&Frame::Reply(frame::Reply { model_id: 1, seq: 5, label: 0, score: None }).encode());
    assert_error(dev.receive(), 5, ErrorCode::BadQuery);

    // Unknown version, oversized length: no sequence to answer, only counted.
    let mut v2 = Frame::Query(query(6, img)).encode();
    v2[2] = 2;
    dev.send(&v2);
    dev.send(&[0x48, 0x59, 1, 1, 0xff, 0xff, 0xff, 0x7f]);
    // A header that promises more than ever comes: given up after a pause.
    dev.send(&[0x48, 0x59, 1, 1, 0x00, 0x10, 0x00, 0x00, 1, 2, 3]);
    std::thread::sleep(Duration::from_millis(800));
    let q = query(7, img);
    assert_reply(dev.ask(&q), &q);
    let c = &g.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&c.frames_ok), 2);
    assert!(load(&c.bad_frames) >= 7, "{c}");
    assert!(load(&c.skipped_bytes) > 0, "{c}");

    // A device that hangs up in the middle of a frame does not disturb others.
    let mut quitter = Device::connect(g.port());
    quitter.send(&Frame::Query(query(8, img)).encode()[..50]);
    drop(quitter);
    let q = query(9, img);
    assert_reply(dev.ask(&q), &q);
}

/// Pseudo-random noise, with false headers in it, between real queries: every
/// query still gets its reply.
#[test]
fn gateway_finds_queries_in_noise() {
    let (_server, g) = start_serve_and_gateway();
    let imgs = images(6);
    let mut dev = Device::connect(g.port());
    let mut state = 0x2545_f491_u32;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for (i, img) in imgs.iter().enumerate() {
        let mut noise = vec![];
        for _ in 0..(rand() % 3000) {
            noise.push(rand() as u8);
            if rand() % 200 == 0 {
                // A false header: a query of up to 2 KB that will fail its CRC.
                noise.extend_from_slice(&[0x48, 0x59, 1, 1]);
                noise.extend_from_slice(&(rand() % 2048).to_le_bytes());
            }
        }
        dev.send(&noise);
        let q = query(1000 + i as u32, img);
        dev.send(&Frame::Query(q.clone()).encode());
        // Error frames for the false headers may come first.
        let reply = loop {
            match dev.receive() {
                Frame::Error(e) if e.seq != q.seq => continue,
                f => break f,
            }
        };
        assert_reply(reply, &q);
    }
}

/// Issue 17: a CRC-valid query whose zero point overflows `q - zero_point`
/// in i32 is answered (code 4, naming the zero point); the connection lives on.
#[test]
fn gateway_rejects_zero_points_outside_int8() {
    let (_server, g) = start_serve_and_gateway();
    let img = &images(1)[0];
    let mut dev = Device::connect(g.port());
    for (seq, zero_point) in [(1, i32::MIN), (2, i32::MAX), (3, 128), (4, -129)] {
        let mut q = query(seq, img);
        q.zero_point = zero_point;
        q.data[0] = -128;
        let Frame::Error(e) = dev.ask(&q) else { panic!("zero point {zero_point}: expected an error frame") };
        assert_eq!((e.seq, e.code), (seq, ErrorCode::BadQuery as u16), "{}", e.message);
        assert!(e.message.contains(&zero_point.to_string()), "{}", e.message);
    }
    let q = query(5, img);
    assert_reply(dev.ask(&q), &q);
}

/// Sends `noise`, then a query, while `trickle` keeps sending noise bytes
/// after it; returns how long the reply took.
fn reply_time_after(noise: &[u8], trickle: bool) -> Duration {
    let (_server, g) = start_serve_and_gateway();
    let img = &images(1)[0];
    let mut dev = Device::connect(g.port());
    // Warm up (the model's metadata, the first inference).
    let q = query(1, img);
    assert_reply(dev.ask(&q), &q);
    dev.send(noise);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut w = dev.stream.try_clone().unwrap();
    let (stop2, q) = (stop.clone(), query(2, img));
    let query_bytes = Frame::Query(q.clone()).encode();
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        w.write_all(&query_bytes).unwrap();
        while trickle && !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = w.write_all(b"\x00");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let reply = loop {
        match dev.receive() {
            Frame::Error(e) if e.seq != q.seq => continue,
            f => break f,
        }
    };
    let took = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_reply(reply, &q);
    took
}

/// Issue 17: false headers cost no wait. Before, each stalled the
/// connection 500 ms (16 of them: 8 s), and one announcing 1 MiB followed by
/// a trickle held the query for as long as the trickle lasted.
#[test]
fn gateway_answers_at_once_after_false_headers() {
    let mut noise = vec![];
    for i in 0..16u8 {
        // Each announces a 4 KiB query: more than will ever come.
        noise.extend_from_slice(&[0x48, 0x59, 1, 1, i, 0x10, 0, 0]);
        noise.extend_from_slice(b"noise\r\n");
    }
    let took = reply_time_after(&noise, false);
    assert!(took < Duration::from_secs(2), "16 false headers delayed the reply {took:?}");
    let took = reply_time_after(&[0x48, 0x59, 1, 1, 0, 0, 0x10, 0], true);
    assert!(took < Duration::from_secs(2), "a 1 MiB false header and a trickle delayed the reply {took:?}");
}

#[test]
fn gateway_answers_quickly_when_the_cloud_fails() {
    let img = &images(1)[0];
    let timeout = Duration::from_millis(400);
    let ask_within = |url: &str, seq: u32, code: ErrorCode, limit: Duration| {
        let g = gateway::spawn("127.0.0.1:0", url, timeout, None).unwrap();
        let mut dev = Device::connect(g.port());
        let t = Instant::now();
        assert_error(dev.ask(&query(seq, img)), seq, code);
        assert!(t.elapsed() < limit, "{:?} for {code:?}", t.elapsed());
        assert_eq!(g.counters.cloud_errors.load(std::sync::atomic::Ordering::Relaxed), 1);
    };

    // Nobody listening: code 1, at once.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ask_within(&format!("http://127.0.0.1:{closed}/v2/models/{NAME}"), 1, ErrorCode::CloudUnavailable, Duration::from_millis(300));

    // A cloud that accepts and never answers: code 2, after the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/v2/models/{NAME}", silent.local_addr().unwrap());
    ask_within(&silent_url, 2, ErrorCode::CloudTimeout, timeout + Duration::from_millis(600));
    drop(silent);

    // A cloud that does not know the model: code 5.
    let (server, base) = start_serve();
    ask_within(&cloud_url(&base, "nope"), 3, ErrorCode::CloudError, Duration::from_secs(5));

    // The cloud stops in the middle of a run: code 1, then it is back.
    let g = gateway::spawn("127.0.0.1:0", &cloud_url(&base, NAME), timeout, None).unwrap();
    let mut dev = Device::connect(g.port());
    let q = query(10, img);
    assert_reply(dev.ask(&q), &q);
    let port = server.port();
    server.stop();
    let t = Instant::now();
    assert_error(dev.ask(&query(11, img)), 11, ErrorCode::CloudUnavailable);
    assert!(t.elapsed() < Duration::from_millis(300), "{:?}", t.elapsed());
    let _again = serve::spawn(&model_path(), NAME, &format!("127.0.0.1:{port}")).unwrap();
    let q = query(12, img);
    assert_reply(dev.ask(&q), &q);
}

/// A given input name is used as it is, whatever the metadata says.
#[test]
fn gateway_input_name_overrides_the_metadata() {
    let (_server, base) = start_serve();
    let img = &images(1)[0];
    let ask = |name: &str| {
        let g = gateway::spawn("127.0.0.1:0", &cloud_url(&base, NAME), Duration::from_secs(10), Some(name)).unwrap();
        Device::connect(g.port()).ask(&query(1, img))
    };
    assert_reply(ask("image"), &query(1, img));
    let f = ask("pixels");
    let Frame::Error(e) = &f else { panic!("expected an error frame, got {f:?}") };
    assert!(e.code == ErrorCode::CloudError as u16 && e.message.contains("unknown input 'pixels'"), "{f:?}");
}

// ---- The command line ----

/// A `hybridc` subprocess, killed when dropped.
fn hybridc(args: &[&str]) -> Proc {
    Proc(Command::new(env!("CARGO_BIN_EXE_hybridc")).args(args).stdin(Stdio::null()).spawn().expect("hybridc"))
}

fn wait_ready(http: &Http, url: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if http.rt.block_on(async { http.client.get(url).send().await }).is_ok_and(|r| r.status() == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} never became ready");
}

#[test]
fn cli_serve_with_the_official_triton_client_and_cli_gateway() {
    let port = free_port();
    let _serve = hybridc(&["serve", model_path().to_str().unwrap(), "--port", &port.to_string()]);
    let http = Http::new();
    // The default name is the file stem.
    let model_url = format!("http://127.0.0.1:{port}/v2/models/cnn_small");
    wait_ready(&http, &format!("{model_url}/ready"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/triton_client.py");
    let images_npy = mnist().join("test_x_u8.npy");
    let index = 3;
    let out = Command::new("python3")
        .args([script.to_str().unwrap(), &format!("127.0.0.1:{port}"), "cnn_small", images_npy.to_str().unwrap(), &index.to_string(), model_path().to_str().unwrap()])
        .output()
        .expect("FAILING: python3 is needed for the tritonclient interop test (tests/run.sh installs what it needs)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'tritonclient'"),
        "FAILING: tritonclient is not installed: python3 -m pip install 'tritonclient[http]' numpy (tests/run.sh does it)"
    );
    assert!(out.status.success(), "triton_client.py failed:\n{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let x = to_float(&images(index + 1)[index]);
    let want = tract_logits(&x);
    // onnxruntime, when installed, is a second oracle for the served model.
    let oracles = if v.get("onnxruntime").is_some() { &["json", "binary", "onnxruntime"][..] } else { &["json", "binary"][..] };
    for &mode in oracles {
        let got: Vec<f32> = v[mode].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_close(&got, &want, mode);
    }
    assert_eq!(v["argmax"], argmax(&want));

    // The gateway command, in front of the served model.
    let gport = free_port();
    let _gateway = hybridc(&["gateway", "--listen", &format!("127.0.0.1:{gport}"), "--cloud", &model_url, "--timeout-ms", "5000", "--input-name", "image"]);
    let t = Instant::now();
    let mut dev = loop {
        match TcpStream::connect(("127.0.0.1", gport)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                break Device { stream: s, reader: FrameReader::new() };
            }
            Err(_) if t.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("the gateway never listened: {e}"),
        }
    };
    let q = query(42, &images(1)[0]);
    assert_reply(dev.ask(&q), &q);
}

#[path = "cloud/load.rs"]
mod load;
