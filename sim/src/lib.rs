//! A PI Web API *channel* simulator: a WebSocket server that imitates
//! `streams/{webId}/channel`, `streamsets/{webId}/channel` and
//! `streamsets/channel?webId=...`, with fault injection, for piwebasync's tests,
//! benchmarks and demo.
//!
//! ```no_run
//! use piwebasync_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).unwrap();
//! let url = sim.stream_url(&sim.point_web_id("SINUSOID").unwrap());
//! // ... connect a client to `url` ...
//! sim.reset_all();
//! ```
//!
//! The server runs on its own thread with its own tokio runtime, so it can be used
//! from synchronous tests and from any async runtime. Fault methods return once the
//! fault has taken effect (waiting at most a few seconds).

mod archive;
mod b64;
mod channel;
mod config;
mod control;
mod events;
mod faults;
mod http;
mod model;
mod server;
mod socket;
mod state;
mod stats;
mod timefmt;
mod tls;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use archive::{Archived, RecordedFault};
pub use config::{
    default_elements, default_points, generated_points, PointKind, SimConfig, SimElement, SimPoint,
};
pub use control::USAGE as CONTROL_USAGE;
pub use model::{ElementDef, Model, StreamDef, Target, WebIdType, HEARTBEAT};
pub use stats::ConnStats;
pub use timefmt::format_ticks;
pub use tls::{CertAndKey, SimTls, TestPki};

use state::{lock, Shared};

/// A running simulator. Dropping it stops the server and closes every connection.
pub struct Simulator {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr())
            .finish()
    }
}

impl Simulator {
    /// Starts the server on its own thread; returns once it is listening.
    pub fn start(config: SimConfig) -> io::Result<Simulator> {
        let r = server::start(config)?;
        Ok(Simulator {
            shared: r.shared,
            thread: Some(r.thread),
            shutdown: Some(r.shutdown),
        })
    }

    /// Starts with [`SimConfig::default`].
    pub fn start_default() -> io::Result<Simulator> {
        Self::start(SimConfig::default())
    }

    /// The bound address (stays the same across `refuse_for` and `restart`).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Host:port to connect to (an unspecified bind address becomes loopback).
    fn authority(&self) -> String {
        let a = self.addr();
        match a.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), a.port()).to_string()
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), a.port()).to_string()
            }
            _ => a.to_string(),
        }
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    /// `ws://127.0.0.1:PORT/piwebapi` (`wss://` when serving TLS)
    pub fn base_url(&self) -> String {
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.authority(), self.shared.root)
    }

    /// `http://127.0.0.1:PORT/piwebapi` (`https://` when serving TLS: what a client
    /// configured like for a real server would get; it derives `ws://` from it).
    pub fn http_base_url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.shared.root)
    }

    /// `http://127.0.0.1:PORT/_sim/<command>` (command may include `?args`; `https://`
    /// when serving TLS).
    pub fn control_url(&self, command: &str) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!(
            "{scheme}://{}/_sim/{}",
            self.authority(),
            command.trim_start_matches('/')
        )
    }

    /// Accept this bearer token from now on (`None`: no token is accepted; with no Basic
    /// credentials either, no authentication is asked for). Connections already up stay.
    pub fn set_bearer_token(&self, token: Option<&str>) {
        lock(&self.shared.auth).bearer = token.map(str::to_string);
    }

    /// Accept these Basic credentials from now on (`None`: Basic is not accepted).
    pub fn set_basic_credentials(&self, credentials: Option<(&str, &str)>) {
        lock(&self.shared.auth).basic = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
    }

    /// Upgrade requests refused with 401 for missing or wrong credentials.
    pub fn auth_failures(&self) -> u64 {
        self.shared.auth_failures.load(Ordering::Relaxed)
    }

    /// TLS handshakes that failed (the client refused our certificate, or spoke no TLS).
    pub fn tls_failures(&self) -> u64 {
        self.shared.tls_failures.load(Ordering::Relaxed)
    }

    /// `ws://.../piwebapi/streams/{webId}/channel`
    pub fn stream_url(&self, web_id: &str) -> String {
        format!("{}/streams/{web_id}/channel", self.base_url())
    }

    /// `ws://.../piwebapi/streamsets/{webId}/channel` (webId of an element).
    pub fn streamset_url(&self, web_id: &str) -> String {
        format!("{}/streamsets/{web_id}/channel", self.base_url())
    }

    /// `ws://.../piwebapi/streamsets/channel?webId=A&webId=B...`
    pub fn adhoc_url<S: AsRef<str>>(&self, web_ids: impl IntoIterator<Item = S>) -> String {
        let q: Vec<String> = web_ids
            .into_iter()
            .map(|w| format!("webId={}", w.as_ref()))
            .collect();
        format!("{}/streamsets/channel?{}", self.base_url(), q.join("&"))
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }

    /// The served objects (points, elements, attributes and their WebIds).
    pub fn model(&self) -> &Model {
        &self.shared.model
    }

    /// Full WebId of a PI point, by name (case-insensitive).
    pub fn point_web_id(&self, name: &str) -> Option<String> {
        self.model().point(name).map(|p| p.web_id().to_string())
    }

    /// Full WebId of an element, by name (case-insensitive).
    pub fn element_web_id(&self, name: &str) -> Option<String> {
        self.model().element(name).map(|e| e.web_id().to_string())
    }

    /// Full WebIds of all PI points.
    pub fn point_web_ids(&self) -> Vec<String> {
        self.model()
            .points()
            .iter()
            .map(|p| p.web_id().to_string())
            .collect()
    }

    /// Every upgraded connection so far (open or not), in upgrade order.
    pub fn connections(&self) -> Vec<ConnStats> {
        lock(&self.shared.conns).clone()
    }

    /// One connection's counters (ids start at 1).
    pub fn connection(&self, id: u64) -> Option<ConnStats> {
        lock(&self.shared.conns)
            .get((id as usize).checked_sub(1)?)
            .cloned()
    }

    /// Takes the frames recorded so far on connection `id` (with `record_frames`), leaving its
    /// list empty, and whether the connection had ended then (if so, these are its last
    /// frames). For long runs: recorded frames are otherwise kept for the simulator's life.
    /// `None` for an unknown id.
    pub fn take_frames(&self, id: u64) -> Option<(Vec<String>, bool)> {
        let mut conns = lock(&self.shared.conns);
        let c = conns.get_mut((id as usize).checked_sub(1)?)?;
        Some((std::mem::take(&mut c.frames), !c.open))
    }

    /// Ids of the connections still open.
    pub fn open_connection_ids(&self) -> Vec<u64> {
        lock(&self.shared.conns)
            .iter()
            .filter(|c| c.open)
            .map(|c| c.id)
            .collect()
    }

    /// Whether connection `id` is still open (`false` for an unknown id).
    pub fn is_connection_open(&self, id: u64) -> bool {
        lock(&self.shared.conns)
            .get((id as usize).wrapping_sub(1))
            .is_some_and(|c| c.open)
    }

    /// Number of connections upgraded so far (open or not).
    pub fn connection_count(&self) -> usize {
        lock(&self.shared.conns).len()
    }

    /// Number of connections still open.
    pub fn open_connection_count(&self) -> usize {
        lock(&self.shared.conns).iter().filter(|c| c.open).count()
    }

    /// Requests to channel paths received, whatever the answer (101, 401, 404, ...).
    pub fn upgrade_requests(&self) -> u64 {
        self.shared.upgrade_requests.load(Ordering::Relaxed)
    }

    /// Event mode (`SimConfig::stream_period`): how many events the stream with this WebId
    /// (any form) has had so far; each channel that had the stream since before an event
    /// was made sends it. `None` without event mode or for an unknown WebId.
    pub fn event_count(&self, web_id: &str) -> Option<u64> {
        let bus = self.shared.bus.as_ref()?;
        match self.model().lookup(web_id)? {
            Target::Stream(i) => Some(bus.count(i)),
            Target::Element(_) => None,
        }
    }

    /// All text frames sent on all connections.
    pub fn total_messages_sent(&self) -> u64 {
        self.shared.total_messages_sent()
    }

    /// Blocks until `pred` holds (polled every 5 ms) or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(&Simulator) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Blocks until at least `n` connections have been upgraded in total.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.connection_count() >= n)
    }

    /// Async form of [`Self::wait_for_connections`] (needs a tokio runtime with time).
    pub async fn wait_for_connections_async(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.conn_notify.notified();
            if self.connection_count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.connection_count() >= n;
            }
        }
    }

    /// Aborts every live connection with a TCP RST. Returns how many.
    pub fn reset_all(&self) -> usize {
        self.shared.reset_all()
    }

    /// Sends Close(code) on every live connection, then ends it. Returns how many.
    pub fn close_all(&self, code: u16) -> usize {
        self.shared.close_all(code)
    }

    /// Stops listening (connects are refused) and listens on the same port again
    /// after `d`. Live connections stay. Returns once the listener is closed.
    pub fn refuse_for(&self, d: Duration) {
        self.shared.refuse_for(d)
    }

    /// `true`: live and new connections send nothing and read nothing (new upgrade
    /// requests are read but left unanswered; the control endpoint still works).
    /// `false`: resume.
    pub fn stall(&self, on: bool) {
        self.shared.stall_on(on)
    }

    /// Writes an invalid WebSocket frame (reserved opcode 0x3) on every live
    /// connection, then writes nothing more and reads until the client goes.
    pub fn send_malformed(&self) -> usize {
        self.shared.send_malformed()
    }

    /// Sends a text frame that is not JSON on every live connection.
    pub fn send_not_json(&self) -> usize {
        self.shared.send_not_json()
    }

    /// Sends a valid JSON text frame of `bytes` bytes on every live connection.
    pub fn send_oversize(&self, bytes: usize) -> usize {
        self.shared.send_oversize(bytes)
    }

    /// Answers every upgrade request with `status` for `d`.
    pub fn reject_upgrades_for(&self, status: u16, d: Duration) {
        self.shared.reject_upgrades_for(status, d)
    }

    /// Stops listening, resets every connection, and listens again after `down`.
    pub fn restart(&self, down: Duration) {
        self.shared.restart(down)
    }

    /// With `SimConfig::archive`: the recorded history of stream `index` (of
    /// [`Model::streams`]) so far, in time order.
    pub fn history(&self, index: usize) -> Vec<Archived> {
        match self.shared.archive.as_ref() {
            Some(a) => lock(&a.archive)
                .streams
                .get(index)
                .cloned()
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// With `SimConfig::archive`: archive one tick now (besides the writer's), as the writer
    /// does. Returns its timestamp in 100 ns ticks.
    pub fn archive_tick(&self) -> Option<u64> {
        let a = self.shared.archive.as_ref()?;
        Some(a.write_tick(
            &self.shared.model,
            self.shared.cfg.values_per_stream,
            self.shared.cfg.archive_equal_values,
        ))
    }

    /// Answer every accepted upgrade only after `d` (zero: at once). With the archive, the
    /// channel starts when the request is accepted, so what is archived meanwhile reaches the
    /// client on the new channel *and* on any channel it still has open: the overlap of a
    /// make-before-break update.
    pub fn delay_upgrades(&self, d: Duration) {
        *lock(&self.shared.upgrade_delay) = d;
    }

    /// Make the recorded endpoints fail (`Some`) or answer again (`None`).
    pub fn recorded_fault(&self, fault: Option<RecordedFault>) {
        if let Some(a) = self.shared.archive.as_ref() {
            a.fault.send_replace(fault);
        }
    }

    /// Requests to the recorded endpoints so far (answered or not).
    pub fn recorded_requests(&self) -> u64 {
        self.shared
            .archive
            .as_ref()
            .map_or(0, |a| a.requests.load(Ordering::Relaxed))
    }

    /// Stops the server and closes every connection. Idempotent; also done on drop.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            // Bounded: the runtime shuts down with a 1 s timeout; never hang a test.
            let deadline = Instant::now() + Duration::from_secs(3);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}
