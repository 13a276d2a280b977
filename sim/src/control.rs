//! The control endpoint: plain HTTP `GET /_sim/<command>?args` on the server's port,
//! one request per connection, answering `200 text/plain` "ok\n" (JSON for stats).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::http::Request;
use crate::state::{lock, Shared};
use crate::stats::stats_json;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

pub const USAGE: &str = "\
GET /_sim/reset                      abort every channel connection with a TCP RST
GET /_sim/close?code=1000            send Close(code) on every channel connection, then end it
GET /_sim/refuse?ms=2000             stop listening for ms (connects are refused)
GET /_sim/restart?ms=1000            stop listening, reset all, listen again after ms
GET /_sim/stall?on=1                 stall (on=1) or resume (on=0) all connections
GET /_sim/malformed                  write an invalid WebSocket frame, then only read
GET /_sim/notjson                    send a text frame that is not JSON
GET /_sim/oversize?bytes=N           send a valid JSON text frame of N bytes
GET /_sim/reject?status=503&ms=3000  answer every upgrade with status for ms
GET /_sim/recorded_fault?mode=500    the recorded endpoints answer with that status (or
                                     mode=hang: never answer; mode=off: answer again)
GET /_sim/stats                      JSON array of per-connection counters
GET /_sim/summary                    JSON object of totals
";

fn num<T: std::str::FromStr>(req: &Request, name: &str, default: Option<T>) -> Result<T, String> {
    match req.param(name) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("bad value for {name}: {v}\n")),
        None => default.ok_or_else(|| format!("missing parameter {name}\n")),
    }
}

fn flag(req: &Request, name: &str) -> Result<bool, String> {
    match req.param(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(true),
        Some(v) if v == "1" || v == "true" || v == "on" || v == "yes" => Ok(true),
        Some(v) if v == "0" || v == "false" || v == "off" || v == "no" => Ok(false),
        Some(v) => Err(format!("bad value for {name}: {v}\n")),
    }
}

/// Runs a blocking fault operation off the runtime's worker threads.
async fn blocking(shared: &Arc<Shared>, f: impl FnOnce(&Shared) + Send + 'static) {
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || f(&s)).await;
}

pub(crate) async fn handle(shared: &Arc<Shared>, req: &Request) -> (u16, &'static str, String) {
    match run(shared, req).await {
        Ok(Some((ctype, body))) => (200, ctype, body),
        Ok(None) => (200, TEXT, "ok\n".to_string()),
        Err((status, msg)) => (status, TEXT, msg),
    }
}

async fn run(
    shared: &Arc<Shared>,
    req: &Request,
) -> Result<Option<(&'static str, String)>, (u16, String)> {
    let cmd = req.path.trim_start_matches("/_sim").trim_matches('/');
    let bad = |m: String| (400, m);
    match cmd {
        "reset" => {
            blocking(shared, |s| {
                s.reset_all();
            })
            .await
        }
        "close" => {
            let code: u16 = num(req, "code", Some(1000)).map_err(bad)?;
            blocking(shared, move |s| {
                s.close_all(code);
            })
            .await
        }
        "refuse" => {
            let ms: u64 = num(req, "ms", None).map_err(bad)?;
            blocking(shared, move |s| s.refuse_for(Duration::from_millis(ms))).await
        }
        "restart" => {
            let ms: u64 = num(req, "ms", Some(1000)).map_err(bad)?;
            blocking(shared, move |s| s.restart(Duration::from_millis(ms))).await
        }
        "stall" => {
            let on = flag(req, "on").map_err(bad)?;
            shared.stall_on(on);
        }
        "malformed" => {
            blocking(shared, |s| {
                s.send_malformed();
            })
            .await
        }
        "notjson" => {
            blocking(shared, |s| {
                s.send_not_json();
            })
            .await
        }
        "oversize" => {
            let bytes: usize = num(req, "bytes", None).map_err(bad)?;
            blocking(shared, move |s| {
                s.send_oversize(bytes);
            })
            .await
        }
        "reject" => {
            let status: u16 = num(req, "status", None).map_err(bad)?;
            let ms: u64 = num(req, "ms", None).map_err(bad)?;
            if !(200..=599).contains(&status) {
                return Err(bad(format!("status out of range: {status}\n")));
            }
            shared.reject_upgrades_for(status, Duration::from_millis(ms));
        }
        "recorded_fault" => {
            let Some(a) = shared.archive.as_ref() else {
                return Err((
                    409,
                    "the simulator keeps no archive (start it with --archive)\n".to_string(),
                ));
            };
            let mode = req
                .param("mode")
                .unwrap_or("off")
                .trim()
                .to_ascii_lowercase();
            let fault = match mode.as_str() {
                "off" | "none" => None,
                "hang" => Some(crate::archive::RecordedFault::Hang),
                m => match m.parse::<u16>() {
                    Ok(s) if (400..=599).contains(&s) => {
                        Some(crate::archive::RecordedFault::Status(s))
                    }
                    _ => {
                        return Err(bad(format!(
                            "bad value for mode: {m} (a status 400..599, hang or off)\n"
                        )))
                    }
                },
            };
            a.fault.send_replace(fault);
        }
        "stats" => return Ok(Some((JSON, stats_json(&lock(&shared.conns))))),
        "summary" => {
            let conns = lock(&shared.conns);
            let open = conns.iter().filter(|c| c.open).count();
            let body = format!(
                r#"{{"connections":{},"open_connections":{},"total_messages_sent":{},"upgrade_requests":{},"stalled":{}}}"#,
                conns.len(),
                open,
                shared.total_messages_sent(),
                shared.upgrade_requests.load(Ordering::Relaxed),
                shared.is_stalled()
            );
            return Ok(Some((JSON, body)));
        }
        "" | "help" => return Ok(Some((TEXT, USAGE.to_string()))),
        _ => return Err((404, format!("unknown command '{cmd}'\n{USAGE}"))),
    }
    Ok(None)
}
