//! The cloud side of a hybrid classifier: the offload frames a device sends
//! (`frame`), a KServe v2 / Open Inference Protocol server for the cloud
//! model (`serve`), and the gateway that turns device frames into protocol
//! requests (`gateway`). Both servers run on their own thread and tokio
//! runtime, so that `hybridc run` can start them in-process.

pub mod frame;
pub mod gateway;
pub mod kserve;
pub mod model;
pub mod serve;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;

/// How long a stopping server lets requests in flight finish.
const GRACE: Duration = Duration::from_secs(1);

/// A server on its own thread; stopped (and its port closed) by `stop` or drop.
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// Resolves once the server is asked to stop.
pub type StopSignal = watch::Receiver<bool>;

pub async fn stopped(mut stop: StopSignal) {
    // An error means the handle is gone, which also means stop.
    let _ = stop.wait_for(|&s| s).await;
}

impl Running {
    /// Binds `addr` now (so port 0 reports the real port) and runs
    /// `serve(listener, stop)` on a new multi-threaded runtime.
    pub fn start<F, Fut>(what: &str, addr: &str, serve: F) -> Result<Running>
    where
        F: FnOnce(tokio::net::TcpListener, StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let std_listener = TcpListener::bind(addr).with_context(|| format!("{what}: cannot listen on {addr}"))?;
        std_listener.set_nonblocking(true)?;
        let local = std_listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("hybridc-{what}"))
            .enable_all()
            .build()?;
        let (tx, rx) = watch::channel(false);
        let thread = std::thread::Builder::new().name(format!("hybridc-{what}")).spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => return eprintln!("hybridc: {e}"),
                };
                let grace = {
                    let rx = rx.clone();
                    async move {
                        stopped(rx).await;
                        tokio::time::sleep(GRACE).await;
                    }
                };
                tokio::select! {
                    _ = serve(listener, rx) => {}
                    _ = grace => {}
                }
            });
            // Whatever still runs (a stuck client, a long inference) is dropped.
            rt.shutdown_timeout(Duration::from_millis(100));
        })?;
        Ok(Running { addr: local, stop: tx, thread: Some(thread) })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops the server and waits until its port is closed.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until SIGINT or SIGTERM, then stops.
    pub fn wait_for_signal(self) -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    r = tokio::signal::ctrl_c() => r?,
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            tokio::signal::ctrl_c().await?;
            anyhow::Ok(())
        })?;
        self.stop();
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.halt();
    }
}
