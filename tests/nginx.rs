//! Channels through a real reverse proxy: nginx (the Debian package, installed by
//! `scripts/install-deps.sh`) terminating TLS with a test CA in front of the simulator.
//! Open, stream, Bearer checked by the simulator behind the proxy, the proxy restarted
//! mid-stream (the channel reconnects and streams again), a wrong CA. nginx runs in the
//! foreground as a child of the test, on a free loopback port, from a temporary directory,
//! and is stopped at the end, also when the test fails.
//!
//! Without nginx on the machine the tests fail: `make test` installs it (scripts/install-deps.sh).

mod common;
#[path = "common/process.rs"]
mod process;
mod tls_common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::ports::{free_port, process_listens_on, wait_until_port_free};
use common::*;
use piwebasync::{Channel, ChannelConfig, ChannelState, ErrorKind};
use piwebasync_sim::{SimConfig, Simulator};
use process::stop_process_group;
use tls_common::*;

fn nginx_binary() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nginx"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    from_path
        .into_iter()
        .chain(
            [
                "/usr/sbin/nginx",
                "/usr/local/sbin/nginx",
                "/usr/local/nginx/sbin/nginx",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}

/// nginx; a test that needs it fails where it is missing (a skipped test proves nothing).
fn need_nginx() -> Option<PathBuf> {
    match nginx_binary() {
        Some(p) => Some(p),
        None => panic!("nginx is not installed: scripts/install-deps.sh (make deps) installs it"),
    }
}

/// Why a start of nginx did not come up.
enum SpawnError {
    /// Another socket took the port between `free_port` and nginx's bind.
    PortTaken,
}

/// A running nginx. Dropping it stops it (SIGTERM to its process group, then SIGKILL).
struct Nginx {
    bin: PathBuf,
    dir: TempDir,
    cert: String,
    key: String,
    upstream: std::net::SocketAddr,
    port: u16,
    child: Option<Child>,
}

impl Nginx {
    /// Write the configuration and certificates, start nginx, wait until it listens. A port
    /// taken by someone else between choosing it and nginx's bind is chosen again.
    fn start(bin: PathBuf, pki: &Pki, upstream: std::net::SocketAddr) -> Nginx {
        let dir = TempDir::new("nginx");
        let server = pki.pki.server_cert(LOOPBACK);
        let cert = dir.write("server.pem", &server.cert_pem);
        let key = dir.write("server-key.pem", &server.key_pem);
        // Workers run as another user when the test runs as root: let them into the directory.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        }
        let mut n = Nginx {
            bin,
            dir,
            cert,
            key,
            upstream,
            port: 0,
            child: None,
        };
        for attempt in 1..=5 {
            n.port = free_port();
            n.write_conf();
            match n.try_spawn() {
                Ok(()) => return n,
                Err(SpawnError::PortTaken) => {
                    eprintln!("nginx: port {} was taken before nginx bound it (attempt {attempt}), choosing another", n.port)
                }
            }
        }
        panic!("nginx: 5 ports in a row were taken before nginx bound them");
    }

    fn write_conf(&self) {
        let d = self.dir.path().display().to_string();
        let (port, cert, key, upstream) = (self.port, &self.cert, &self.key, self.upstream);
        let conf = format!(
            r#"daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
        }}
    }}
}}
"#
        );
        self.dir.write("nginx.conf", &conf);
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// Start nginx again on the same port (after `stop`).
    fn spawn(&mut self) {
        if let Err(SpawnError::PortTaken) = self.try_spawn() {
            panic!(
                "nginx could not bind its port {} again: another socket took it while nginx was stopped:\n{}",
                self.port,
                self.diagnostics()
            );
        }
    }

    /// Start nginx and wait until the nginx master itself listens on the port.
    ///
    /// Ready means "nginx's own process holds the listening socket", not "something accepts a
    /// TCP connection on the port": the port comes from `free_port`, which lets it go again
    /// before nginx binds it, and in that window any other socket on the machine (another test,
    /// another build's test suite: bind(0) hands out the same odd ports) may take it. A probe by
    /// connect then reports "ready" while nginx is not listening yet or failed to bind, and the
    /// test's first connection meets a refused port or a server that resets the TLS handshake.
    fn try_spawn(&mut self) -> Result<(), SpawnError> {
        let d = self.dir.path();
        let stderr = std::fs::File::create(d.join("stderr.log")).unwrap();
        let child = Command::new(&self.bin)
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: the workers can be found and stopped with the master.
            .process_group(0)
            .spawn()
            .expect("nginx starts");
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + SOON;
        while !process_listens_on(pid, self.port) {
            // nginx retries a bind that fails with EADDRINUSE for a few seconds before it
            // gives up: notice the first failure at once.
            let port_taken = self.log_says_address_in_use();
            if port_taken {
                self.kill();
                return Err(SpawnError::PortTaken);
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "nginx exited ({status}) before listening:\n{}",
                    self.diagnostics()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on 127.0.0.1:{} within {SOON:?}:\n{}",
                self.port,
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn log_says_address_in_use(&self) -> bool {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let needle = format!("127.0.0.1:{}", self.port);
        [read("error.log"), read("stderr.log")].iter().any(|log| {
            log.lines()
                .any(|l| l.contains(&needle) && l.contains("Address already in use"))
        })
    }

    fn diagnostics(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let master = match &self.child {
            Some(c) => format!(
                "master pid {}, listening on 127.0.0.1:{}: {}",
                c.id(),
                self.port,
                process_listens_on(c.id(), self.port)
            ),
            None => "stopped".to_string(),
        };
        format!(
            "{master}\nstderr:\n{}\nerror.log:\n{}",
            read("stderr.log"),
            read("error.log")
        )
    }

    /// Stop nginx (fast shutdown: every connection is dropped) and wait until it is gone.
    fn stop(&mut self) {
        let was_running = self.child.is_some();
        self.kill();
        if !was_running {
            return;
        }
        wait_until_port_free(self.port);
    }

    /// Stop nginx's processes and reap the master.
    fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            stop_process_group(child);
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The simulator's channel URL as seen through the proxy.
    fn url(&self, sim: &Simulator, path_and_query: &str) -> String {
        let base = sim.base_url();
        let upstream = base
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let direct = format!("ws://{upstream}");
        assert!(path_and_query.starts_with(&direct));
        path_and_query.replacen(&direct, &format!("wss://127.0.0.1:{}", self.port), 1)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("nginx logs:\n{}", self.diagnostics());
        }
        self.stop();
    }
}

fn proxy_config(pki: &Pki, extra: &[(&str, &str)]) -> ChannelConfig {
    let mut c = config(extra);
    c.set("tls_ca_file", &pki.ca_file).unwrap();
    c
}

#[test]
fn channels_stream_through_nginx_and_survive_its_restart() {
    let Some(bin) = need_nginx() else { return };
    let _logs = logs();
    let pki = Pki::new("nginx");
    let token = "nginx-bearer-tok-31415";
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(20))
        .bearer_token(token));
    let mut nginx = Nginx::start(bin, &pki, sim.addr());
    let url = nginx.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let cfg = proxy_config(
        &pki,
        &[
            ("auth", "bearer"),
            ("bearer_token", token),
            ("reconnect", "true"),
            ("reconnect_initial_delay", "0.1"),
            ("reconnect_max_delay", "0.5"),
            ("ping_interval", "1"),
            ("ping_timeout", "2"),
            ("dead_channel_timeout", "60"),
        ],
    );
    let ch = Channel::open(&url, &cfg).unwrap();
    for m in take(&ch, 5) {
        let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
        assert!(
            v["Items"].is_array(),
            "PI-shaped JSON through the proxy: {}",
            m.json()
        );
        assert_eq!(m.url(), url);
    }
    assert_eq!(sim.open_connection_count(), 1);

    // The proxy goes away mid-stream and comes back on the same port.
    nginx.stop();
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Reconnecting),
        "the drop is noticed"
    );
    nginx.spawn();
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Open
            && ch.stats().reconnects >= 1),
        "reconnected"
    );
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 5);

    // Once more, with a real restart in one go.
    let before = ch.stats().reconnects;
    nginx.restart();
    assert!(
        wait_until(SOON, || ch.stats().reconnects > before
            && ch.state() == ChannelState::Open),
        "reconnected again"
    );
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 3);

    ch.close();
    assert_eq!(drain(&ch).1, ErrorKind::Closed);
}

#[test]
fn nginx_with_a_wrong_ca_or_refused_credentials_fails_clearly() {
    let Some(bin) = need_nginx() else { return };
    let pki = Pki::new("nginx-fail");
    let other = Pki::new("nginx-other");
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(20))
        .bearer_token("right-token-2718"));
    let nginx = Nginx::start(bin, &pki, sim.addr());
    let url = nginx.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));

    let e = Channel::open(
        &url,
        &proxy_config(
            &other,
            &[("auth", "bearer"), ("bearer_token", "right-token-2718")],
        ),
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message().contains("unknown issuer") && e.message().contains(&url),
        "{e}"
    );

    let e = Channel::open(
        &url,
        &proxy_config(
            &pki,
            &[("auth", "bearer"), ("bearer_token", "wrong-token-1618")],
        ),
    )
    .err()
    .unwrap();
    assert_eq!(
        e.kind(),
        ErrorKind::Auth,
        "the simulator's 401 passes through the proxy: {e}"
    );
    assert!(!e.message().contains("wrong-token-1618"), "{e}");

    let ok = Channel::open(
        &url,
        &proxy_config(
            &pki,
            &[("auth", "bearer"), ("bearer_token", "right-token-2718")],
        ),
    )
    .unwrap();
    take(&ok, 2);
    assert!(Path::new(&nginx.dir.path().join("access.log")).exists());
}
