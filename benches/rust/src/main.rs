//! `pwa-bench`: the Rust side of `make bench` (scripts/bench.sh runs it).
//!
//! Baselines, all bare tokio-tungstenite (no piwebasync) unless said otherwise:
//!   pwa-bench frames  URL N          raw TCP after the upgrade, frame headers skipped, payloads
//!                                    ignored: the simulator's send ceiling
//!   pwa-bench discard URL N          WebSocket reader that discards each frame (transport limit)
//!   pwa-bench value   URL N          ... that parses each frame into a serde_json::Value
//!   pwa-bench latency URL N SKIP     ... that reads the first value's Timestamp of each frame
//!   pwa-bench scale   URL N IDLE_S   N idle WebSocket connections: open time, RSS, idle CPU
//! Tools:
//!   pwa-bench capture URL FILE       write a data frame of a channel to FILE (one with Errors if seen)
//!   pwa-bench parse   FILE SECS      piwebasync::Message::from_json + content() + every value,
//!                                    and serde_json::Value, on the message in FILE
//!
//! Each prints one JSON object on stdout. Throughput is timed from the first frame to the N-th
//! (the connection set-up is not counted): rate = (N - 1) / elapsed.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn usage() -> ! {
    eprintln!("usage: pwa-bench (frames|discard|value) URL N | latency URL N SKIP | scale URL N IDLE_S | capture URL FILE | parse FILE SECS | subset BASE WEBIDS_FILE SECS (set|channels)");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or_else(|| usage());
    let r = match cmd {
        "frames" => current(frames(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
        )),
        "discard" => current(reader(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
            false,
        )),
        "value" => current(reader(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
            true,
        )),
        "latency" => current(latency(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
            arg(&args, 3),
        )),
        "scale" => multi(scale(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
            arg(&args, 3),
        )),
        "capture" => current(capture(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            args.get(2).cloned().unwrap_or_else(|| usage()),
        )),
        "subset" => subset(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            args.get(2).cloned().unwrap_or_else(|| usage()),
            arg(&args, 3),
            args.get(4).cloned().unwrap_or_else(|| usage()),
        ),
        "parse" => parse(
            args.get(1).cloned().unwrap_or_else(|| usage()),
            arg(&args, 2),
        ),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("pwa-bench {cmd}: {e}");
        std::process::exit(1);
    }
}

fn current(f: impl std::future::Future<Output = R<()>>) -> R<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Two workers, like the library's runtime.
fn multi(f: impl std::future::Future<Output = R<()>>) -> R<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(f)
}

/// tungstenite's defaults (as the library uses them: 64 MiB message limit, 128 KiB read
/// buffer), except that `PWA_BENCH_READ_BUFFER=BYTES` sets the read buffer size (to show what
/// it costs per idle connection).
fn ws_config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    if let Some(n) = std::env::var("PWA_BENCH_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        c = c.read_buffer_size(n);
    }
    c
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn connect(url: &str) -> R<Ws> {
    let u = url.strip_prefix("ws://").ok_or("only ws:// URLs")?;
    let authority = u.split('/').next().unwrap_or_default();
    let tcp = TcpStream::connect(authority).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(ws_config())).await?;
    Ok(ws)
}

fn report(kind: &str, n: u64, first: Option<Instant>, last: Option<Instant>, bytes: u64) {
    let secs = match (first, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if secs > 0.0 {
        (n.saturating_sub(1)) as f64 / secs
    } else {
        0.0
    };
    println!(
        "{{\"kind\":\"{kind}\",\"messages\":{n},\"bytes\":{bytes},\"secs\":{secs:.6},\"msg_per_s\":{rate:.1},\"avg_bytes\":{}}}",
        bytes.checked_div(n).unwrap_or(0)
    );
}

/// A WebSocket reader: discard each frame, or parse it into a serde_json::Value.
async fn reader(url: String, n: u64, parse: bool) -> R<()> {
    let mut ws = connect(&url).await?;
    let (mut count, mut bytes, mut first, mut last) = (0u64, 0u64, None, None);
    let mut sink = 0usize;
    while count < n {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let now = Instant::now();
                first.get_or_insert(now);
                count += 1;
                bytes += t.len() as u64;
                if parse {
                    let v: serde_json::Value = serde_json::from_str(t.as_str())?;
                    sink += v.as_object().map_or(0, |o| o.len());
                    last = Some(Instant::now());
                } else {
                    last = Some(now);
                }
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
    std::hint::black_box(sink);
    report(
        if parse { "value" } else { "discard" },
        count,
        first,
        last,
        bytes,
    );
    Ok(())
}

/// Raw TCP after a hand-made upgrade; frame headers are parsed, payloads skipped unread.
async fn frames(url: String, n: u64) -> R<()> {
    let u = url.strip_prefix("ws://").ok_or("only ws:// URLs")?;
    let (authority, path) = u
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((u, "/".into()));
    let mut tcp = TcpStream::connect(authority).await?;
    tcp.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; 1 << 20];
    // Read the response head.
    let mut have = 0usize;
    let head_end = loop {
        let r = tcp.read(&mut buf[have..]).await?;
        if r == 0 {
            return Err("closed during the upgrade".into());
        }
        have += r;
        if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return Err("upgrade refused".into());
    }
    let (mut count, mut bytes, mut first, mut last) = (0u64, 0u64, None, None);
    // pos: start of the unparsed data in buf[..have]; skip: payload bytes still to skip.
    let mut pos = head_end;
    let mut skip: u64 = 0;
    'outer: loop {
        // Consume what is buffered.
        loop {
            if skip > 0 {
                let take = skip.min((have - pos) as u64);
                skip -= take;
                pos += take as usize;
                if skip > 0 {
                    break;
                }
            }
            let avail = &buf[pos..have];
            if avail.len() < 2 {
                break;
            }
            let opcode = avail[0] & 0x0f;
            let len7 = (avail[1] & 0x7f) as u64;
            let (hlen, plen) = match len7 {
                126 if avail.len() >= 4 => (4, u16::from_be_bytes([avail[2], avail[3]]) as u64),
                127 if avail.len() >= 10 => {
                    (10, u64::from_be_bytes(avail[2..10].try_into().unwrap()))
                }
                126 | 127 => break,
                l => (2, l),
            };
            pos += hlen;
            skip = plen;
            if opcode == 0x8 {
                break 'outer;
            }
            if opcode == 0x1 || opcode == 0x2 {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                count += 1;
                bytes += plen;
                if count >= n {
                    break 'outer;
                }
            }
        }
        // Keep the unparsed tail, read more.
        buf.copy_within(pos..have, 0);
        have -= pos;
        pos = 0;
        let r = tcp.read(&mut buf[have..]).await?;
        if r == 0 {
            break;
        }
        have += r;
    }
    report("frames", count, first, last, bytes);
    Ok(())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Percentiles (nearest rank) of latencies in ns, printed as JSON fields in µs.
fn percentiles(mut v: Vec<i64>) -> String {
    v.sort_unstable();
    let p = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    };
    format!(
        "\"samples\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1}",
        v.len(),
        p(0.5),
        p(0.99),
        p(0.999),
        v.last().copied().unwrap_or(0) as f64 / 1000.0
    )
}

/// Send-to-receive latency of a bare reader: the first value's Timestamp (stamped by the
/// simulator right before the send) vs the clock when the frame was returned.
async fn latency(url: String, n: u64, skip: u64) -> R<()> {
    let mut ws = connect(&url).await?;
    let mut lat = Vec::with_capacity(n as usize);
    let mut count = 0u64;
    while count < n + skip {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let now = now_ns();
                count += 1;
                if count <= skip {
                    continue;
                }
                let s = t.as_str();
                let key = "\"Timestamp\":\"";
                let at = s.find(key).ok_or("no Timestamp")? + key.len();
                let end = s[at..].find('"').ok_or("bad Timestamp")? + at;
                let ts = piwebasync::model::parse_timestamp(&s[at..end])
                    .map_err(|e| format!("{e:?}"))?;
                lat.push(now - ts);
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
    println!("{{\"kind\":\"latency\",{}}}", percentiles(lat));
    Ok(())
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn cpu_secs() -> f64 {
    // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the call to fill.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// N idle connections, each read by a task of its own (answering pings, discarding
/// heartbeats), as a bare client would hold them.
async fn scale(url: String, n: usize, idle_secs: f64) -> R<()> {
    // Warm up the runtime and allocator with one connection (not counted).
    let warm = connect(&url).await?;
    let keep_warm = tokio::spawn(drain(warm));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let ws = connect(&url).await?;
        tasks.push(tokio::spawn(drain(ws)));
    }
    let open_secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c0 = cpu_secs();
    let w0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(idle_secs)).await;
    let cpu = (cpu_secs() - c0) / w0.elapsed().as_secs_f64() * 100.0;
    let rss1 = rss_kib();
    println!(
        "{{\"kind\":\"scale\",\"channels\":{n},\"open_secs\":{open_secs:.4},\"rss_before_kib\":{rss0},\"rss_after_kib\":{rss1},\"kib_per_channel\":{:.2},\"idle_cpu_pct\":{cpu:.3}}}",
        (rss1 as f64 - rss0 as f64) / n as f64
    );
    let _ = std::io::stdout().flush();
    // Exit without closing them one by one.
    std::process::exit(if keep_warm.is_finished() { 1 } else { 0 });
}

async fn drain(mut ws: Ws) {
    while let Some(Ok(_)) = ws.next().await {}
}

/// A data frame (one with values) of a channel, preferably one with value errors.
async fn capture(url: String, file: String) -> R<()> {
    let mut ws = connect(&url).await?;
    // The simulator's mix: most messages carry a few values with `Errors` (and digital
    // states); take the first such one seen within 16 data frames, else the first data frame.
    let mut first: Option<String> = None;
    let mut seen = 0;
    let chosen = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"Timestamp\"") => {
                seen += 1;
                if t.as_str().contains("\"Errors\"") {
                    break t.as_str().to_string();
                }
                let first = first.get_or_insert_with(|| t.as_str().to_string());
                if seen == 16 {
                    break first.clone();
                }
            }
            Some(Ok(_)) => {}
            _ => break first.ok_or("channel ended before a data frame")?,
        }
    };
    std::fs::write(&file, &chosen)?;
    println!("{{\"kind\":\"capture\",\"bytes\":{}}}", chosen.len());
    Ok(())
}

/// Typed parsing with the Rust API, and serde_json::Value, of the message in FILE, each for
/// about SECS seconds.
fn parse(file: String, secs: f64) -> R<()> {
    let text = std::fs::read_to_string(&file)?;
    let values_per_msg = piwebasync::Message::from_json(&text)
        .content()
        .value_count();
    if values_per_msg == 0 {
        return Err("no values in the message".into());
    }
    let run = |f: &dyn Fn() -> usize| -> (u64, f64) {
        let t0 = Instant::now();
        let mut n = 0u64;
        let mut acc = 0usize;
        while t0.elapsed().as_secs_f64() < secs {
            for _ in 0..16 {
                acc = acc.wrapping_add(f());
                n += 1;
            }
        }
        std::hint::black_box(acc);
        (n, t0.elapsed().as_secs_f64())
    };
    let (n1, s1) = run(&|| {
        let m = piwebasync::Message::from_json(std::hint::black_box(&text));
        let c = m.content();
        let mut acc = 0usize;
        for v in c.values() {
            if let piwebasync::model::Timestamp::Valid(ns) = v.value.timestamp {
                acc = acc.wrapping_add(ns as usize);
            }
            acc =
                acc.wrapping_add(
                    matches!(v.value.value, piwebasync::model::Value::Double(_)) as usize
                );
        }
        acc
    });
    let (n2, s2) = run(&|| {
        let v: serde_json::Value = serde_json::from_str(std::hint::black_box(&text)).unwrap();
        v.as_object().map_or(0, |o| o.len())
    });
    let vps = |n: u64, s: f64| n as f64 * values_per_msg as f64 / s;
    println!(
        "{{\"kind\":\"parse\",\"bytes\":{},\"values_per_msg\":{values_per_msg},\"rust_typed_msg_per_s\":{:.1},\"rust_typed_values_per_s\":{:.1},\"serde_value_msg_per_s\":{:.1},\"serde_value_values_per_s\":{:.1}}}",
        text.len(),
        n1 as f64 / s1,
        vps(n1, s1),
        n2 as f64 / s2,
        vps(n2, s2)
    );
    Ok(())
}

/// Subscription sets: subscribe every WebId of `ids_file` under `base` — as one subscription
/// set (`set`), or by hand as separate ad hoc channels split under the same URL limit, each
/// with its own message callback (`channels`) — then let values flow for `secs` seconds. Both
/// count the values of every message (parsed). Prints the time to subscribe, the process RSS,
/// and the CPU (% of one core) and values/s over the steady period.
fn subset(base: String, ids_file: String, secs: f64, mode: String) -> R<()> {
    use piwebasync::urls::{ChannelUrls, UrlOptions};
    use piwebasync::{Callbacks, Channel, ChannelConfig, Subscription, SubscriptionCallbacks};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let ids: Vec<String> = std::fs::read_to_string(&ids_file)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let mut config = ChannelConfig::default();
    config.set("max_channels", "5000")?;
    let values = Arc::new(AtomicU64::new(0));
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let mut keep_set = None;
    let mut keep_channels = Vec::new();
    let shards;
    match mode.as_str() {
        "set" => {
            let v = values.clone();
            let set = Subscription::open(
                &base,
                &config,
                UrlOptions::default(),
                SubscriptionCallbacks {
                    on_message: Some(Box::new(move |m| {
                        v.fetch_add(m.message.content().value_count() as u64, Ordering::Relaxed);
                    })),
                    on_state: None,
                },
            )?;
            let report = set.add(&ids)?;
            if report.added != ids.len() {
                return Err(format!("{} of {} subscribed", report.added, ids.len()).into());
            }
            shards = set.stats().shards;
            keep_set = Some(set);
        }
        "channels" => {
            let urls = ChannelUrls::new(&base)?.ad_hoc_split(&ids, &UrlOptions::default(), 0)?;
            shards = urls.len();
            for url in urls {
                let v = values.clone();
                let callbacks = Callbacks {
                    on_message: Some(Box::new(move |m: piwebasync::Message| {
                        v.fetch_add(m.content().value_count() as u64, Ordering::Relaxed);
                    })),
                    on_state: None,
                };
                keep_channels.push(Channel::open_with_callbacks(&url, &config, callbacks)?);
            }
        }
        _ => usage(),
    }
    let subscribe_secs = t0.elapsed().as_secs_f64();
    // Settle (the first second's values arrive), then measure a steady period.
    std::thread::sleep(Duration::from_secs(2));
    let c0 = cpu_secs();
    let v0 = values.load(Ordering::Relaxed);
    let w0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let wall = w0.elapsed().as_secs_f64();
    let cpu = (cpu_secs() - c0) / wall * 100.0;
    let rate = (values.load(Ordering::Relaxed) - v0) as f64 / wall;
    let rss1 = rss_kib();
    println!(
        "{{\"kind\":\"subset\",\"mode\":\"{mode}\",\"streams\":{},\"channels\":{shards},\"subscribe_secs\":{subscribe_secs:.3},\"rss_before_kib\":{rss0},\"rss_kib\":{rss1},\"cpu_pct\":{cpu:.3},\"values_per_sec\":{rate:.1}}}",
        ids.len()
    );
    let _ = std::io::stdout().flush();
    drop(keep_set);
    drop(keep_channels);
    std::process::exit(0);
}
