//! Kerberos single sign-on (`auth=negotiate`) against real servers from Debian packages: a
//! private MIT realm (krb5-kdc) and Apache httpd with mod_auth_gssapi and mod_proxy_wstunnel
//! in front of the simulator, each started by the test on free loopback ports from a temporary
//! directory and stopped at its end, also when it fails.
//!
//! With a ticket (kinit into a private cache): open, stream, update, close, nothing lost; from
//! a client keytab without kinit; no ticket, a wrong service name, a service the server has no
//! key for, a server offering only Basic: `ErrorKind::Auth` with the cause; a ticket that
//! expires during a channel: the server restarted after the host renewed the cache (the
//! channel reconnects with a fresh token) and without renewal (the channel ends with
//! `ErrorKind::Auth` after one attempt).
//!
//! The tests set process-wide variables (`KRB5_CONFIG`, `KRB5CCNAME`), so they run one at a
//! time (`SERIAL`). They are `#[ignore]`d in a plain `cargo test` (they need the Debian
//! packages scripts/install-deps.sh installs): `make test-kerberos` runs them, and fails where
//! the packages are missing.
// POSIX process groups and signals, Debian's servers: a native test (under Wine the Windows
// side is exercised by running a Windows program against these same servers instead).
#![cfg(unix)]

mod common;
#[path = "common/process.rs"]
mod process;
mod tls_common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::ports::{free_port, process_listens_on, wait_until_port_free};
use common::*;
use piwebasync::{Channel, ChannelConfig, ChannelState, ErrorKind, Message};
use piwebasync_sim::{SimConfig, Simulator};
use process::stop_process_group;
use tls_common::TempDir;

const REALM: &str = "PIWEBASYNC.TEST";
const USER: &str = "pwauser";
const PW_USER: &str = "pwapw";
const PW_PASSWORD: &str = "Krb-pw-7d2e9f";
const IGNORED: &str = "needs krb5-kdc and Apache (make test-kerberos)";

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A program of the Debian packages; a test that needs it fails where it is missing.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: scripts/install-deps.sh (make deps) installs krb5-kdc, \
                 krb5-admin-server, krb5-user, apache2 and libapache2-mod-auth-gssapi"
            )
        })
}

/// Run a command to its end; panics with its output when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// A server process the test started, in its own process group; stopped when dropped.
struct Daemon {
    name: &'static str,
    child: Option<Child>,
    logs: Vec<PathBuf>,
}

impl Daemon {
    /// Start `cmd` and wait until the process itself listens on 127.0.0.1:`port`. `None` when
    /// it exited first (the caller may try another port).
    fn start(
        name: &'static str,
        mut cmd: Command,
        port: u16,
        stderr: &Path,
        logs: Vec<PathBuf>,
    ) -> Option<Daemon> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let pid = child.id();
        let mut logs = logs;
        logs.push(stderr.to_path_buf());
        let mut d = Daemon {
            name,
            child: Some(child),
            logs,
        };
        let deadline = Instant::now() + SOON;
        while !process_listens_on(pid, port) {
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                eprintln!(
                    "{name} exited ({status}) before listening:\n{}",
                    d.diagnostics()
                );
                d.child = None;
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen on 127.0.0.1:{port} within {SOON:?}:\n{}",
                d.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(d)
    }

    fn diagnostics(&self) -> String {
        self.logs
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {}:\n{}", p.display(), tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM to the process group, SIGKILL after 10 s, and reap.
    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_process_group(child);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!("{} logs:\n{}", self.name, self.diagnostics());
        }
        self.stop();
    }
}

/// A private MIT Kerberos realm on loopback: a KDC, the principals `pwauser` and
/// `HTTP/localhost`, their keytabs, and a credential cache of the test's own. Makes this
/// process use it (`KRB5_CONFIG`, `KRB5CCNAME`).
struct Realm {
    dir: TempDir,
    kdc: Daemon,
    user_keytab: String,
    http_keytab: String,
    ccache: PathBuf,
}

impl Realm {
    fn start() -> Realm {
        let dir = TempDir::new("krb5");
        let d = dir.path().to_path_buf();
        // Apache's workers run as www-data when the test runs as root.
        set_mode(&d, 0o755);
        let ds = d.display().to_string();
        for attempt in 1..=5 {
            let port = free_port();
            // clockskew = 1: an expired ticket is refused at once, not for 5 more minutes.
            dir.write(
                "krb5.conf",
                &format!(
                    "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n \
                     dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n \
                     udp_preference_limit = 1\n clockskew = 1\n forwardable = true\n\
                     [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
                ),
            );
            dir.write(
                "kdc.conf",
                &format!(
                    "[kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n\
                     [realms]\n {REALM} = {{\n  database_name = {ds}/principal\n  \
                     key_stash_file = {ds}/stash\n  acl_file = {ds}/kadm5.acl\n  \
                     max_life = 1h\n  max_renewable_life = 1h\n }}\n\
                     [logging]\n kdc = FILE:{ds}/kdc.log\n"
                ),
            );
            if !d.join("principal").exists() {
                run(Command::new(tool("kdb5_util"))
                    .envs(realm_env(&d))
                    .args(["create", "-s", "-r", REALM, "-W", "-P"])
                    .arg(format!("master-{}", std::process::id())));
                for query in [
                    format!("addprinc -randkey {USER}@{REALM}"),
                    // An account with a password, for SSPI's explicit credentials.
                    format!("addprinc -pw {PW_PASSWORD} {PW_USER}@{REALM}"),
                    format!("addprinc -randkey HTTP/localhost@{REALM}"),
                    // A service the KDC knows but Apache has no key for.
                    format!("addprinc -randkey HTTP/elsewhere@{REALM}"),
                    format!("ktadd -k {ds}/user.keytab {USER}@{REALM}"),
                    format!("ktadd -k {ds}/http.keytab HTTP/localhost@{REALM}"),
                ] {
                    run(Command::new(tool("kadmin.local"))
                        .envs(realm_env(&d))
                        .args(["-r", REALM, "-q", &query]));
                }
            }
            let mut cmd = Command::new(tool("krb5kdc"));
            cmd.envs(realm_env(&d))
                .args(["-n", "-r", REALM, "-P"])
                .arg(d.join("kdc.pid"));
            if let Some(kdc) = Daemon::start(
                "krb5kdc",
                cmd,
                port,
                &d.join("kdc.stderr"),
                vec![d.join("kdc.log")],
            ) {
                set_mode(&d.join("http.keytab"), 0o644);
                let realm = Realm {
                    user_keytab: format!("{ds}/user.keytab"),
                    http_keytab: format!("{ds}/http.keytab"),
                    ccache: d.join("ccache"),
                    dir,
                    kdc,
                };
                // This process's Kerberos library reads these for every new context.
                std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
                std::env::set_var("KRB5CCNAME", format!("FILE:{}", realm.ccache.display()));
                return realm;
            }
            eprintln!(
                "krb5kdc could not listen on port {port} (attempt {attempt}), choosing another"
            );
        }
        panic!("krb5kdc: 5 ports in a row could not be used");
    }

    fn krb5_conf(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// A ticket for `pwauser` from its keytab into the test's cache, valid for `lifetime`
    /// (kinit's syntax: "10m", "8s").
    fn kinit(&self, lifetime: &str) {
        run(Command::new(tool("kinit"))
            .envs(realm_env(self.dir.path()))
            .env("KRB5CCNAME", format!("FILE:{}", self.ccache.display()))
            .args(["-l", lifetime, "-k", "-t", &self.user_keytab])
            .arg(format!("{USER}@{REALM}")));
    }

    /// Wait until the cache's ticket has expired, and then past the clock skew the client
    /// and the server allow (`clockskew = 1`), so that nothing accepts it any more.
    fn wait_for_expiry(&self) {
        assert!(
            wait_until(Duration::from_secs(60), || !self.has_valid_ticket()),
            "the ticket did not expire within 60 s"
        );
        std::thread::sleep(Duration::from_secs(2));
    }

    fn kdestroy(&self) {
        let _ = std::fs::remove_file(&self.ccache);
    }

    /// Whether the cache holds a ticket that has not expired (`klist -s`).
    fn has_valid_ticket(&self) -> bool {
        Command::new(tool("klist"))
            .envs(realm_env(self.dir.path()))
            .env("KRB5CCNAME", format!("FILE:{}", self.ccache.display()))
            .arg("-s")
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Realm {
    fn drop(&mut self) {
        self.kdc.stop();
    }
}

fn realm_env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("KRB5_CONFIG", dir.join("krb5.conf")),
        ("KRB5_KDC_PROFILE", dir.join("kdc.conf")),
    ]
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Apache httpd: `/piwebapi/` needs Kerberos (mod_auth_gssapi with the realm's
/// `HTTP/localhost` key) and is tunnelled to the simulator (mod_proxy_wstunnel); `/basic/`
/// offers only Basic.
struct Apache {
    dir: TempDir,
    port: u16,
    daemon: Option<Daemon>,
    krb5_conf: PathBuf,
}

impl Apache {
    fn start(realm: &Realm, upstream: std::net::SocketAddr) -> Apache {
        let dir = TempDir::new("apache");
        set_mode(dir.path(), 0o755);
        let rcache = dir.path().join("rcache");
        std::fs::create_dir(&rcache).unwrap();
        set_mode(&rcache, 0o777);
        dir.write("users", "");
        let delegated = dir.path().join("delegated");
        std::fs::create_dir(&delegated).unwrap();
        set_mode(&delegated, 0o777);
        let mut a = Apache {
            dir,
            port: 0,
            daemon: None,
            krb5_conf: realm.krb5_conf(),
        };
        for attempt in 1..=5 {
            a.port = free_port();
            a.write_conf(&realm.http_keytab, upstream);
            if a.try_spawn() {
                return a;
            }
            eprintln!(
                "apache2 could not listen on port {} (attempt {attempt}), choosing another",
                a.port
            );
        }
        panic!("apache2: 5 ports in a row could not be used");
    }

    fn write_conf(&self, keytab: &str, upstream: std::net::SocketAddr) {
        let d = self.dir.path().display().to_string();
        let m = "/usr/lib/apache2/modules";
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            "User www-data\nGroup www-data\n"
        } else {
            ""
        };
        let port = self.port;
        let conf = format!(
            r#"ServerRoot {d}
PidFile {d}/httpd.pid
Listen 127.0.0.1:{port}
ServerName localhost
{user}LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule authz_user_module {m}/mod_authz_user.so
LoadModule authn_core_module {m}/mod_authn_core.so
LoadModule authn_file_module {m}/mod_authn_file.so
LoadModule auth_basic_module {m}/mod_auth_basic.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_http_module {m}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {m}/mod_proxy_wstunnel.so
LoadModule auth_gssapi_module {m}/mod_auth_gssapi.so
ErrorLog {d}/error.log
LogLevel info auth_gssapi:debug
LogFormat "%u %>s \"%r\"" short
CustomLog {d}/access.log short
<Location "/piwebapi/">
    AuthType GSSAPI
    AuthName "PI Web API"
    GssapiCredStore keytab:{keytab}
    GssapiDelegCcacheDir {d}/delegated
    Require valid-user
    # HTTP with WebSocket upgrades: the channels, and gap fill's recorded-value GETs.
    ProxyPass "http://{upstream}/piwebapi/" upgrade=websocket
</Location>
<Location "/basic/">
    AuthType Basic
    AuthName "PI Web API"
    AuthBasicProvider file
    AuthUserFile {d}/users
    Require valid-user
</Location>
"#
        );
        self.dir.write("httpd.conf", &conf);
    }

    fn try_spawn(&mut self) -> bool {
        let d = self.dir.path();
        let mut cmd = Command::new(tool("apache2"));
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5RCACHEDIR", d.join("rcache"))
            .arg("-f")
            .arg(d.join("httpd.conf"))
            .arg("-DFOREGROUND");
        self.daemon = Daemon::start(
            "apache2",
            cmd,
            self.port,
            &d.join("stderr.log"),
            vec![d.join("error.log"), d.join("access.log")],
        );
        self.daemon.is_some()
    }

    fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
        wait_until_port_free(self.port);
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Start again on the same port (after `stop`).
    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "apache2 could not listen on its port {} again",
            self.port
        );
    }

    /// The simulator's URL as reached through Apache, by the name of its service principal.
    fn url(&self, sim: &Simulator, sim_url: &str) -> String {
        let direct = format!("ws://{}", sim.addr());
        assert!(sim_url.starts_with(&direct), "{sim_url}");
        sim_url.replacen(&direct, &format!("ws://localhost:{}", self.port), 1)
    }

    /// The credential caches clients delegated to Apache (`GssapiDelegCcacheDir`).
    fn delegated(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("delegated"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The access log: `<user> <status> "<request line>"` per request.
    fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `auth=negotiate` over ws:// to Apache on loopback, plus `extra`.
fn negotiate(extra: &[(&str, &str)]) -> ChannelConfig {
    let mut pairs = vec![("auth", "negotiate"), ("allow_insecure_auth", "true")];
    pairs.extend_from_slice(extra);
    config(&pairs)
}

fn open_err(url: &str, cfg: &ChannelConfig) -> piwebasync::Error {
    match Channel::open(url, cfg) {
        Ok(_) => panic!("{url} opened"),
        Err(e) => e,
    }
}

fn sim_recording() -> Simulator {
    sim(SimConfig::default()
        .interval(Duration::from_millis(20))
        .record_frames(true))
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn with_a_ticket_a_channel_opens_streams_updates_and_closes_without_loss() {
    let _serial = serial();
    let _ = IGNORED;
    let realm = Realm::start();
    realm.kinit("10m");
    let sim = sim_recording();
    let apache = Apache::start(&realm, sim.addr());
    let ids = sim.point_web_ids();
    let a = apache.url(&sim, &sim.stream_url(&ids[0]));
    let b = apache.url(&sim, &sim.adhoc_url(&ids[1..3]));

    let ch = Channel::open(&a, &negotiate(&[])).unwrap();
    let mut polled: Vec<Message> = take(&ch, 5);
    ch.update(&b, false).unwrap();
    polled.extend(take(&ch, 5));
    assert!(
        polled.iter().any(|m| m.url() == b),
        "messages of the new endpoint"
    );
    ch.close();
    let (rest, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Closed);
    polled.extend(rest);

    assert!(sim.wait_until(SOON, |s| s.connections().iter().all(|c| !c.open)));
    let sent: Vec<String> = sim
        .connections()
        .into_iter()
        .flat_map(|c| c.frames)
        .collect();
    let got: Vec<&str> = polled.iter().map(|m| m.json()).collect();
    assert_eq!(
        got,
        sent.iter().map(String::as_str).collect::<Vec<_>>(),
        "every message once, in order"
    );

    // Two connections, each answered 401 Negotiate first, then authenticated as the user
    // with a token of its own (Apache's replay cache would refuse a second use).
    // Apache logs a tunnelled request when the tunnel has closed.
    assert!(wait_until(SOON, || apache
        .access_log()
        .iter()
        .filter(|l| l.contains(" 101 "))
        .count()
        == 2));
    let log = apache.access_log();
    let upgraded: Vec<&String> = log.iter().filter(|l| l.contains(" 101 ")).collect();
    assert_eq!(upgraded.len(), 2, "{log:#?}");
    assert!(
        upgraded
            .iter()
            .all(|l| l.starts_with(&format!("{USER}@{REALM} "))),
        "{log:#?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.contains(" 401 ")).count(),
        2,
        "{log:#?}"
    );
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn from_a_client_keytab_without_kinit() {
    let _serial = serial();
    let realm = Realm::start();
    realm.kdestroy();
    let sim = sim_recording();
    let apache = Apache::start(&realm, sim.addr());
    let url = apache.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));

    let e = open_err(&url, &negotiate(&[]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");

    for principal in ["", &format!("{USER}@{REALM}")] {
        let ch = Channel::open(
            &url,
            &negotiate(&[
                ("negotiate_keytab", &realm.user_keytab),
                ("negotiate_principal", principal),
            ]),
        )
        .unwrap_or_else(|e| panic!("principal '{principal}': {e}"));
        take(&ch, 3);
        ch.close();
        assert_eq!(drain(&ch).1, ErrorKind::Closed);
    }
    assert!(!realm.ccache.exists(), "the user's cache is not written");
    let authenticated = || {
        apache
            .access_log()
            .iter()
            .filter(|l| l.starts_with(&format!("{USER}@{REALM} 101 ")))
            .count()
    };
    // Apache logs a tunnelled request when the tunnel has closed.
    assert!(
        wait_until(SOON, || authenticated() == 2),
        "{:#?}",
        apache.access_log()
    );

    let e = open_err(
        &url,
        &negotiate(&[
            ("negotiate_keytab", &realm.user_keytab),
            ("negotiate_principal", &format!("nobody@{REALM}")),
        ]),
    );
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("nobody@"), "{e}");
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn every_failure_is_an_auth_error_with_its_cause() {
    let _serial = serial();
    let realm = Realm::start();
    let sim = sim_recording();
    let apache = Apache::start(&realm, sim.addr());
    let url = apache.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));

    // No ticket.
    realm.kdestroy();
    let e = open_err(&url, &negotiate(&[]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("HTTP/localhost"), "{e}");
    assert!(
        e.message().contains("No Kerberos credentials available")
            && e.message().contains("run kinit"),
        "Kerberos's own cause, and what to do: {e}"
    );

    // A service the KDC does not know.
    realm.kinit("10m");
    let e = open_err(
        &url,
        &negotiate(&[("negotiate_service", "HTTP/nosuchhost")]),
    );
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("HTTP/nosuchhost"), "{e}");
    assert!(
        e.message().contains("not found in Kerberos database"),
        "{e}"
    );

    // A service the server has no key for: a token is made, the server answers 401 again
    // after it with Kerberos's error token, which says why; refused once, no second try.
    let before = apache.access_log().len();
    let e = open_err(&url, &negotiate(&[("negotiate_service", "HTTP@elsewhere")]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(
        e.message()
            .contains("service HTTP/elsewhere failed: the server refused the token")
            && e.message().contains("The ticket isn't for us"),
        "{e}"
    );
    let after = apache.access_log();
    assert_eq!(
        after.len() - before,
        2,
        "one request without, one with a token: {after:#?}"
    );

    // A server that offers only Basic.
    let basic = url.replacen("/piwebapi/", "/basic/", 1);
    let e = open_err(&basic, &negotiate(&[]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(
        e.message().contains("does not offer Negotiate") && e.message().contains("only Basic"),
        "{e}"
    );

    // Apache's tunnel does not pass the final token on: accepted by default, refused when
    // mutual authentication is required.
    let e = open_err(&url, &negotiate(&[("negotiate_require_mutual", "true")]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("did not prove its identity"), "{e}");
    let ch = Channel::open(&url, &negotiate(&[])).unwrap();
    take(&ch, 1);
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn a_ticket_that_expires_during_a_channel() {
    let _serial = serial();
    let realm = Realm::start();
    let sim = sim_recording();
    let mut apache = Apache::start(&realm, sim.addr());
    let url = apache.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));
    let cfg = negotiate(&[
        ("reconnect", "true"),
        ("reconnect_initial_delay", "0.1"),
        ("reconnect_max_delay", "0.5"),
        ("dead_channel_timeout", "60"),
    ]);

    // The ticket expires, the host renews the cache, then the server restarts: the channel
    // reconnects with a fresh token from the renewed cache.
    realm.kinit("6s");
    let ch = Channel::open(&url, &cfg).unwrap();
    take(&ch, 3);
    realm.wait_for_expiry();
    realm.kinit("6s");
    apache.restart();
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Open
            && ch.stats().reconnects >= 1),
        "reconnected with the renewed ticket: {:?}",
        ch.last_error()
    );
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 3);

    // Not renewed: the reconnect fails once (a dying or a restarted Apache answers it), and
    // the channel ends with Auth.
    realm.wait_for_expiry();
    let before = apache.access_log().len();
    apache.restart();
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Closed),
        "the channel ends: {:?}",
        ch.last_error()
    );
    let (_, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Auth, "{:?}", ch.last_error());
    let message = ch.last_error().unwrap_or_default();
    assert!(message.contains("Ticket expired"), "{message}");
    // (The tunnel of the connection that was dropped is logged when it closed: a 101.)
    let after = apache.access_log();
    let attempts: Vec<&String> = after[before..]
        .iter()
        .filter(|l| !l.contains(" 101 "))
        .collect();
    assert_eq!(attempts.len(), 1, "one attempt, no loop: {after:#?}");
    assert!(attempts[0].contains(" 401 "), "{after:#?}");
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn gap_fill_fetches_recorded_values_with_negotiate() {
    let _serial = serial();
    let realm = Realm::start();
    realm.kinit("10m");
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(20))
        .archive(true));
    let apache = Apache::start(&realm, sim.addr());
    let ids = sim.point_web_ids();
    let url = apache.url(&sim, &sim.adhoc_url(&ids[..2]));
    let ch = Channel::open(
        &url,
        &negotiate(&[
            ("gap_fill", "true"),
            ("reconnect", "true"),
            ("reconnect_initial_delay", "0.1"),
        ]),
    )
    .unwrap();
    take(&ch, 3);
    // The simulator is down for 2 s; after the reconnect, what it archived meanwhile comes
    // from its recorded endpoint, through Apache, with a Negotiate token of its own.
    sim.restart(Duration::from_secs(2));
    let mut backfilled = 0;
    let deadline = Instant::now() + SOON;
    while backfilled == 0 && Instant::now() < deadline {
        if let Ok(m) = ch.poll_next(Some(Duration::from_secs(1))) {
            if m.is_backfilled() {
                backfilled += m.content().value_count();
            }
        }
    }
    assert!(
        backfilled > 0,
        "no backfilled value; last error: {:?}",
        ch.last_error()
    );
    ch.close();
    let log = apache.access_log();
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("{USER}@{REALM} 200 ")) && l.contains("/recorded")),
        "Apache served a recorded GET to the user: {log:#?}"
    );
}

/// Whether examples-c/stream.c printed its third message (`#3 ...`): its closing
/// "received N messages" counts what the channel took in, which may already be a fourth.
fn streamed_3(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("#3 "))
}

/// The Windows DLL (SSPI) under Wine against the same realm and Apache: `make test-kerberos`
/// (scripts/test-kerberos.sh) builds examples-c/stream.c for Windows against the x64 DLL and
/// a private Wine prefix, and names the program in `PWA_KERBEROS_WINE_STREAM`. Wine's Kerberos
/// provider reads the host's MIT configuration and credential cache (`KRB5_CONFIG`,
/// `KRB5CCNAME`, set by `Realm::start`).
#[test]
#[ignore = "needs krb5-kdc, Apache and Wine (make test-kerberos)"]
fn windows_sspi_under_wine() {
    let _serial = serial();
    let Some(exe) = std::env::var_os("PWA_KERBEROS_WINE_STREAM") else {
        panic!(
            "PWA_KERBEROS_WINE_STREAM is not set: make test-kerberos (scripts/test-kerberos.sh) \
             builds the Windows program and its Wine prefix"
        );
    };
    let realm = Realm::start();
    let sim = sim_recording();
    let apache = Apache::start(&realm, sim.addr());
    let url = apache.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));
    // Output to a file, not a pipe: Wine's helper processes (wineserver, winedevice) inherit
    // the program's handles and would keep a pipe open long after it exited.
    let out_path = realm.dir.path().join("wine-stream.out");
    let stream = |extra: &[&str]| {
        let out = std::fs::File::create(&out_path).unwrap();
        let status = Command::new("timeout")
            .arg("120")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/wine-run.sh"))
            .arg(&exe)
            .arg(&url)
            .args([
                "-n",
                "3",
                "-c",
                "auth=negotiate",
                "-c",
                "allow_insecure_auth=true",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        (
            status.success(),
            std::fs::read_to_string(&out_path).unwrap_or_default(),
        )
    };

    realm.kinit("10m");
    let (ok, text) = stream(&[]);
    assert!(ok && streamed_3(&text), "{text}");
    assert!(
        wait_until(SOON, || apache
            .access_log()
            .iter()
            .any(|l| l.starts_with(&format!("{USER}@{REALM} 101 ")))),
        "Apache authenticated the Windows program as the user: {:#?}",
        apache.access_log()
    );

    // No ticket, and a service the KDC does not know: PWA_ERR_AUTH with SSPI's cause.
    let (ok, text) = stream(&["-c", "negotiate_service=HTTP/nosuchhost"]);
    assert!(!ok && text.contains("PWA_ERR_AUTH"), "{text}");
    assert!(text.contains("HTTP/nosuchhost"), "{text}");
    realm.kdestroy();
    let (ok, text) = stream(&[]);
    assert!(!ok && text.contains("PWA_ERR_AUTH"), "{text}");
    eprintln!("under Wine without a ticket: {text}");

    // Explicit credentials (username, password), no ticket: SSPI gets one itself. The
    // DOMAIN\user form: Wine 8.0's provider refuses a user@REALM name (0xc0000001) that
    // Windows takes as a UPN.
    let user = format!("username={REALM}\\{PW_USER}");
    let password = format!("password={PW_PASSWORD}");
    let (ok, text) = stream(&["-c", &user, "-c", &password]);
    assert!(ok && streamed_3(&text), "{text}");
    assert!(!text.contains(PW_PASSWORD), "{text}");
    assert!(
        wait_until(SOON, || apache
            .access_log()
            .iter()
            .any(|l| l.starts_with(&format!("{PW_USER}@{REALM} 101 ")))),
        "Apache authenticated the explicit account: {:#?}",
        apache.access_log()
    );
}

/// A scripted server on loopback (no Apache): its first 401 closes the connection, so the
/// token goes on a new connection; then a 101 whose final Negotiate token does not verify is
/// refused with `ErrorKind::Auth` (mutual authentication), never accepted.
#[test]
#[ignore = "needs krb5-kdc (make test-kerberos)"]
fn a_final_token_that_does_not_verify_is_refused() {
    use std::io::{BufRead, BufReader, Write};
    let _serial = serial();
    let realm = Realm::start();
    realm.kinit("10m");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut requests: Vec<Vec<String>> = Vec::new();
        for (n, conn) in listener.incoming().take(2).enumerate() {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let key = head
                .iter()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap_or("")
                .to_string();
            requests.push(head);
            if n == 0 {
                conn.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
            } else {
                let accept =
                    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                // A well-formed base64 token that is no Kerberos AP-REP.
                let reply = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\
                     WWW-Authenticate: Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg==\r\n\r\n"
                );
                conn.write_all(reply.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        requests
    });
    let url = format!("ws://localhost:{port}/piwebapi/streams/F1DP/channel");
    let e = open_err(&url, &negotiate(&[]));
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(
        e.message()
            .contains("mutual authentication of HTTP/localhost failed"),
        "{e}"
    );
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 2, "the token went on a new connection");
    assert!(!requests[0].iter().any(|l| l.starts_with("Authorization:")));
    assert!(
        requests[1]
            .iter()
            .any(|l| l.starts_with("Authorization: Negotiate ")),
        "{:?}",
        requests[1]
    );
}

#[test]
#[ignore = "needs krb5-kdc and Apache (make test-kerberos)"]
fn credentials_are_delegated_only_when_asked() {
    let _serial = serial();
    let realm = Realm::start();
    realm.kinit("10m");
    let sim = sim_recording();
    let apache = Apache::start(&realm, sim.addr());
    let url = apache.url(&sim, &sim.stream_url(&sim.point_web_ids()[0]));

    let ch = Channel::open(&url, &negotiate(&[])).unwrap();
    take(&ch, 1);
    assert!(apache.delegated().is_empty(), "{:?}", apache.delegated());
    drop(ch);
    let ch = Channel::open(&url, &negotiate(&[("negotiate_delegate", "true")])).unwrap();
    take(&ch, 1);
    assert!(
        apache
            .delegated()
            .iter()
            .any(|f| f.contains(&format!("{USER}@{REALM}"))),
        "Apache stored the user's delegated ticket: {:?}",
        apache.delegated()
    );
}
