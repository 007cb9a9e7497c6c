//! Load: the `hybridc serve` and `hybridc gateway` commands (subprocesses, as
//! users run them) under many concurrent HTTP clients and devices at once,
//! with idle connections held open beside them; every answer checked against
//! tract. Nothing here is timed: the figures are printed (`--nocapture`) for
//! docs/reliability.md, and the sizes scale with LOAD_CLIENTS, LOAD_REQUESTS,
//! LOAD_DEVICES and LOAD_QUERIES for a long run.

use super::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The peak resident memory of a process, in MiB (Linux's VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).expect("VmHWM");
    kb / 1024.0
}

/// The p-th percentile of some latencies, in ms.
fn percentile_ms(lat: &mut [Duration], p: f64) -> f64 {
    lat.sort();
    let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
    lat[i].as_secs_f64() * 1e3
}

fn connect_when_listening(port: u16) -> TcpStream {
    let t = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(_) if t.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("nothing listens on {port}: {e}"),
        }
    }
}

#[test]
fn load_many_clients_and_devices_at_once() {
    let (clients, requests) = (env_or("LOAD_CLIENTS", 48), env_or("LOAD_REQUESTS", 10));
    let (devices, queries) = (env_or("LOAD_DEVICES", 24), env_or("LOAD_QUERIES", 10));
    let imgs = images(32);
    let want: Vec<Vec<f32>> = imgs.iter().map(|i| tract_logits(&to_float(i))).collect();

    let port = free_port();
    let server = hybridc(&["serve", model_path().to_str().unwrap(), "--port", &port.to_string(), "--name", NAME]);
    let base = format!("http://127.0.0.1:{port}");
    let http = Http::new();
    wait_ready(&http, &format!("{base}/v2/models/{NAME}/ready"));
    let gport = free_port();
    let gateway = hybridc(&["gateway", "--listen", &format!("127.0.0.1:{gport}"), "--cloud", &cloud_url(&base, NAME), "--timeout-ms", "20000"]);
    drop(connect_when_listening(gport));

    // Connections that connect and say nothing, held through the whole run.
    let idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();

    let url = format!("{base}/v2/models/{NAME}/infer");
    let t = Instant::now();
    let (http_lat, device_lat) = std::thread::scope(|s| {
        // The devices, each a thread asking its queries one after another.
        let device_threads: Vec<_> = (0..devices)
            .map(|d| {
                let imgs = &imgs;
                s.spawn(move || {
                    let mut dev = Device::connect(gport);
                    let mut lat = vec![];
                    for k in 0..queries {
                        let q = query((d * queries + k) as u32, &imgs[(d + k) % imgs.len()]);
                        let t = Instant::now();
                        let f = dev.ask(&q);
                        lat.push(t.elapsed());
                        assert_reply(f, &q);
                    }
                    lat
                })
            })
            .collect();

        // The HTTP clients, each with its own connection pool.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        let http_lat: Vec<Duration> = rt.block_on(async {
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let (url, imgs, want) = (url.clone(), imgs.clone(), want.clone());
                    tokio::spawn(async move {
                        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
                        let mut lat = vec![];
                        for k in 0..requests {
                            let i = (c * 7 + k) % imgs.len();
                            let t = Instant::now();
                            let resp = client.post(&url).header("content-type", "application/json").body(infer_body(&to_float(&imgs[i]))).send().await;
                            let resp = resp.unwrap_or_else(|e| panic!("client {c} request {k}: {e}"));
                            assert_eq!(resp.status(), 200, "client {c} request {k}");
                            let v: Value = resp.json().await.unwrap();
                            lat.push(t.elapsed());
                            assert_close(&logits_of(&v), &want[i], &format!("client {c} request {k}"));
                        }
                        lat
                    })
                })
                .collect();
            let mut all = vec![];
            for task in tasks {
                all.extend(task.await.expect("a client failed"));
            }
            all
        });
        let device_lat: Vec<Duration> = device_threads.into_iter().flat_map(|h| h.join().expect("a device failed")).collect();
        (http_lat, device_lat)
    });
    let wall = t.elapsed().as_secs_f64();
    drop(idle);

    let (mut http_lat, mut device_lat) = (http_lat, device_lat);
    assert_eq!(http_lat.len(), clients * requests);
    assert_eq!(device_lat.len(), devices * queries);
    // Every request and every query answered, and right; the server still serves.
    let (status, _) = http.post(&url, infer_body(&to_float(&imgs[0])));
    assert_eq!(status, 200);
    println!(
        "load: {clients} HTTP clients x {requests} requests and {devices} devices x {queries} queries at once, 64 idle connections, in {wall:.2} s\n\
         serve: {:.0} requests/s (HTTP and gateway), HTTP p50 {:.1} ms p99 {:.1} ms, peak RSS {:.1} MiB\n\
         gateway: device p50 {:.1} ms p99 {:.1} ms, peak RSS {:.1} MiB",
        (clients * requests + devices * queries) as f64 / wall,
        percentile_ms(&mut http_lat, 0.50),
        percentile_ms(&mut http_lat, 0.99),
        peak_rss_mib(server.0.id()),
        percentile_ms(&mut device_lat, 0.50),
        percentile_ms(&mut device_lat, 0.99),
        peak_rss_mib(gateway.0.id()),
    );
}
