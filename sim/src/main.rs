//! `piwebasync-sim`: run the PI Web API channel simulator from the command line.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use piwebasync_sim::{SimConfig, SimTls, Simulator, TestPki, CONTROL_USAGE};

const USAGE: &str = "\
usage: piwebasync-sim [options]

  --bind ADDR              listen address (default 127.0.0.1:0 = a free port)
  --root PATH              API root (default /piwebapi)
  --interval-ms N          time between data messages per connection (default 100; 0 = as fast as possible)
  --points N               number of PI points (default 7)
  --streams-per-message N  streams carrying values in each data message (default all)
  --values-per-stream N    values per stream in each data message (default 1)
  --max-messages N         data messages per connection, then only heartbeats
  --quiet                  send no data (only initial values and heartbeats)
  --archive                keep a recorded history (one writer for all channels) and serve
                           streams/{webId}/recorded, streamsets/recorded, streamsets/{webId}/recorded
  --archive-equal-values   the values of one archived tick of a stream are equal
  --no-next-links          recorded pages carry no Links.Next (only cut at maxCount)
  --close-after N          after N data messages per connection, send Close(1000) and end it
  --prebuilt K             benchmark: build K distinct data messages once per connection, then
                           send them in a loop as fast as possible (with --max-messages or
                           --close-after to end); prints an `adhoc-all URL` line (every point)
  --rate N                 benchmark: N data messages per second per connection, each stamped
                           (first value's Timestamp) right before its send; prints `adhoc-all`
  --stream-period-ms N     event mode: every stream gets a value (its event number) every N ms,
                           made once server-wide and sent on every channel that has the stream
  --events-per-period N    event mode: a burst of N events per stream and period
  --events-per-timestamp N event mode: N consecutive events of a stream share a timestamp
  --upgrade-delay-ms N     wait N ms (channel started) before each 101: a slow server
  --max-url-length N       answer 414 to a request target longer than N bytes
  --max-channels-per-user N  answer 503 to a channel past N open ones of one user
  --per-stream-errors      accept ad hoc sets with unknown WebIds and report those with a
                           stream-level WebException (default: refuse the set with 404)
  --web-ids-file PATH      write the Full WebId of every point to PATH, one a line
  --user U --password P    require HTTP Basic authentication
  --bearer TOKEN           require a Bearer token
  --tls-cert PEM --tls-key PEM   serve wss:// with this certificate chain and key
  --tls-generate DIR       serve wss:// with a fresh test CA: writes DIR/ca.pem (trust it in the
                           client) and DIR/server.pem, DIR/server-key.pem (for localhost, 127.0.0.1, ::1)
  --port-file PATH         write the bound port to PATH
  --help                   this text

Prints `listening ws://HOST:PORT/ROOT` as its first line, then example channel
URLs, and runs until SIGINT or SIGTERM. Control endpoint (plain HTTP, same port):
";

fn value<'a>(args: &'a [String], i: &mut usize, name: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(|s| s.as_str())
        .ok_or_else(|| format!("{name} needs a value"))
}

fn number<T: std::str::FromStr>(args: &[String], i: &mut usize, name: &str) -> Result<T, String> {
    let v = value(args, i, name)?;
    v.parse()
        .map_err(|_| format!("{name}: not a valid number: {v}"))
}

struct Cli {
    cfg: SimConfig,
    port_file: Option<String>,
    web_ids_file: Option<String>,
}

fn parse(args: &[String]) -> Result<Option<Cli>, String> {
    let mut cfg = SimConfig::default();
    let mut port_file = None;
    let mut web_ids_file = None;
    let (mut user, mut password) = (None, None);
    let (mut tls_cert, mut tls_key, mut tls_generate) = (None, None, None);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--help" | "-h" => return Ok(None),
            "--bind" => {
                let v = value(args, &mut i, a)?;
                cfg.bind = v
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("--bind: not an address: {v}"))?;
            }
            "--root" => cfg = cfg.root(value(args, &mut i, a)?),
            "--interval-ms" => cfg.interval = Duration::from_millis(number(args, &mut i, a)?),
            "--points" => cfg = cfg.point_count(number(args, &mut i, a)?),
            "--streams-per-message" => cfg = cfg.streams_per_message(number(args, &mut i, a)?),
            "--values-per-stream" => cfg = cfg.values_per_stream(number(args, &mut i, a)?),
            "--max-messages" => cfg.max_messages_per_connection = Some(number(args, &mut i, a)?),
            "--quiet" => cfg.quiet = true,
            "--archive" => cfg.archive = true,
            "--archive-equal-values" => cfg.archive_equal_values = true,
            "--no-next-links" => cfg.recorded_next_links = false,
            "--close-after" => cfg.close_after_messages = Some(number(args, &mut i, a)?),
            "--prebuilt" => cfg = cfg.prebuilt(number(args, &mut i, a)?),
            "--rate" => cfg = cfg.rate(number(args, &mut i, a)?),
            "--user" => user = Some(value(args, &mut i, a)?.to_string()),
            "--password" => password = Some(value(args, &mut i, a)?.to_string()),
            "--bearer" => cfg.bearer_token = Some(value(args, &mut i, a)?.to_string()),
            "--port-file" => port_file = Some(value(args, &mut i, a)?.to_string()),
            "--web-ids-file" => web_ids_file = Some(value(args, &mut i, a)?.to_string()),
            "--stream-period-ms" => {
                cfg = cfg.stream_period(Duration::from_millis(number(args, &mut i, a)?))
            }
            "--events-per-period" => cfg = cfg.events_per_period(number(args, &mut i, a)?),
            "--events-per-timestamp" => cfg = cfg.events_per_timestamp(number(args, &mut i, a)?),
            "--upgrade-delay-ms" => {
                cfg = cfg.upgrade_delay(Duration::from_millis(number(args, &mut i, a)?))
            }
            "--max-url-length" => cfg = cfg.max_url_length(number(args, &mut i, a)?),
            "--max-channels-per-user" => cfg = cfg.max_channels_per_user(number(args, &mut i, a)?),
            "--per-stream-errors" => cfg = cfg.per_stream_errors(true),
            "--tls-cert" => tls_cert = Some(value(args, &mut i, a)?.to_string()),
            "--tls-key" => tls_key = Some(value(args, &mut i, a)?.to_string()),
            "--tls-generate" => tls_generate = Some(value(args, &mut i, a)?.to_string()),
            _ => return Err(format!("unknown argument: {a}")),
        }
        i += 1;
    }
    match (user, password) {
        (Some(u), Some(p)) => cfg.basic_credentials = Some((u, p)),
        (None, None) => {}
        _ => return Err("--user and --password go together".to_string()),
    }
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    match (tls_cert, tls_key, tls_generate) {
        (None, None, None) => {}
        (Some(c), Some(k), None) => cfg.tls = Some(SimTls::new(read(&c)?, read(&k)?)),
        (None, None, Some(dir)) => cfg.tls = Some(generate_tls(&dir)?),
        _ => return Err("use --tls-cert with --tls-key, or --tls-generate alone".to_string()),
    }
    Ok(Some(Cli {
        cfg,
        port_file,
        web_ids_file,
    }))
}

/// A fresh test CA and a server certificate for the loopback names, written to `dir`.
fn generate_tls(dir: &str) -> Result<SimTls, String> {
    let pki = TestPki::new("piwebasync-sim test CA");
    let server = pki.server_cert(&["localhost", "127.0.0.1", "::1"]);
    let write = |name: &str, text: &str| {
        let path = std::path::Path::new(dir).join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    write("ca.pem", &pki.ca_pem())?;
    write("server.pem", &server.cert_pem)?;
    write("server-key.pem", &server.key_pem)?;
    Ok(SimTls::new(server.cert_pem, server.key_pem))
}

/// Installs the SIGINT/SIGTERM handlers now (inside a runtime context) and returns
/// a future that completes on either signal.
fn signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse(&args) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{USAGE}{CONTROL_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("piwebasync-sim: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Signal handlers first, so a signal right after "listening" is not lost.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("piwebasync-sim: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let signalled = {
        let _guard = rt.enter();
        match signals() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("piwebasync-sim: signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let mut sim = match Simulator::start(cli.cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("piwebasync-sim: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &cli.port_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", sim.addr().port())) {
            eprintln!("piwebasync-sim: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &cli.web_ids_file {
        let ids: String = sim
            .point_web_ids()
            .iter()
            .map(|w| format!("{w}\n"))
            .collect();
        if let Err(e) = std::fs::write(path, ids) {
            eprintln!("piwebasync-sim: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening {}", sim.base_url());
    let _ = out.flush();
    let model = sim.model();
    for p in model.points().iter().take(10) {
        let _ = writeln!(out, "stream {}", sim.stream_url(p.web_id()));
    }
    for e in model.elements() {
        let _ = writeln!(out, "streamset {}", sim.streamset_url(e.web_id()));
    }
    // Benchmark modes: one channel of every point (printed before `adhoc`, which scripts wait for).
    let bench = sim.config().prebuilt.is_some() || sim.config().rate.is_some();
    if bench && !model.points().is_empty() {
        let _ = writeln!(
            out,
            "adhoc-all {}",
            sim.adhoc_url(model.points().iter().map(|p| p.web_id()))
        );
    }
    if !model.points().is_empty() {
        let _ = writeln!(
            out,
            "adhoc {}",
            sim.adhoc_url(model.points().iter().take(10).map(|p| p.web_id()))
        );
    }
    let _ = writeln!(out, "control {}", sim.control_url("stats"));
    let _ = out.flush();
    drop(out);
    rt.block_on(signalled);
    sim.stop();
    ExitCode::SUCCESS
}
