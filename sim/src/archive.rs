//! The archive (with `SimConfig::archive`): one writer for the whole server appends values to
//! a recorded history per stream, channels send what is archived after they opened, and the
//! recorded endpoints serve the history:
//!
//! | request | answer |
//! |---|---|
//! | `streams/{webId}/recorded` | `{"Links":{..},"Items":[TimedValue..],"UnitsAbbreviation":..}` |
//! | `streamsets/recorded?webId=A&webId=B` | `{"Links":{..},"Items":[{"WebId",..,"Items":[..]}..]}` |
//! | `streamsets/{webId}/recorded` (an element) | the same, for its attributes (`nameFilter`) |
//!
//! Parameters: `startTime` (default `*-1d`), `endTime` (default `*`), both ISO-8601 UTC or
//! PI's relative syntax (`*`, `*-10m`, `*+1h`, with `s`, `m`, `h`, `d`); `boundaryType`
//! (`Inside`, the default, only); `maxCount` (default 1000, per stream); `startIndex` (the
//! paging of `Links.Next`); `webIdType`. When a stream has more values in the range than
//! `startIndex + maxCount`, the answer carries `Links.Next`: the same request as an absolute
//! URL with the next `startIndex` (as the fixture `17-mcp-recorded-paged-page1.json` of the
//! corpus pages). `SimConfig::recorded_next_links = false` leaves it out (a server that only
//! truncates at `maxCount`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::http::Request;
use crate::model::{push_json_str, timed_value, Model, Target, WebIdType};
use crate::state::{lock, Shared};
use crate::timefmt::{format_ticks, now_ticks, parse_iso_ticks};

/// One archived value: its time and its TimedValue object as JSON.
#[derive(Debug, Clone)]
pub struct Archived {
    pub ticks: u64,
    pub json: String,
}

/// The recorded history of every stream (index = the model's stream index).
#[derive(Debug, Default)]
pub struct Archive {
    pub streams: Vec<Vec<Archived>>,
    seq: u64,
    last_ticks: u64,
}

/// How the recorded endpoints misbehave (`Simulator::recorded_fault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedFault {
    /// Answer with this HTTP status and an `{"Errors":[...]}` body.
    Status(u16),
    /// Never answer (until the fault is cleared or the client goes).
    Hang,
}

/// The archive's shared state.
pub(crate) struct ArchiveState {
    pub archive: std::sync::Mutex<Archive>,
    /// Woken on every write.
    pub written: Notify,
    pub fault: tokio::sync::watch::Sender<Option<RecordedFault>>,
    pub requests: std::sync::atomic::AtomicU64,
}

impl ArchiveState {
    pub fn new(n_streams: usize) -> ArchiveState {
        ArchiveState {
            archive: std::sync::Mutex::new(Archive {
                streams: vec![Vec::new(); n_streams],
                ..Archive::default()
            }),
            written: Notify::new(),
            fault: tokio::sync::watch::channel(None).0,
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Archive one tick: `values_per_tick` values of every stream, all at one timestamp
    /// (equal to each other with `equal`). Returns the timestamp.
    pub fn write_tick(&self, model: &Model, values_per_tick: usize, equal: bool) -> u64 {
        let mut a = lock(&self.archive);
        let ticks = now_ticks().max(a.last_ticks + 1);
        a.last_ticks = ticks;
        for (si, s) in model.streams().iter().enumerate() {
            a.seq += 1;
            let seq = a.seq;
            for k in 0..values_per_tick.max(1) {
                let mut json = String::with_capacity(200);
                timed_value(
                    &mut json,
                    si,
                    s,
                    if equal { seq } else { seq + k as u64 * 7919 },
                    ticks,
                );
                a.streams[si].push(Archived { ticks, json });
            }
        }
        drop(a);
        self.written.notify_waiters();
        ticks
    }

    /// Per stream, how many values are archived now (a channel's starting cursor).
    pub fn lengths(&self, streams: &[usize]) -> Vec<usize> {
        let a = lock(&self.archive);
        streams.iter().map(|&s| a.streams[s].len()).collect()
    }

    /// The values archived after `cursors` for `streams` (advancing the cursors): the JSON of
    /// a channel message, and the number of values (`None` when there are none).
    pub fn news(
        &self,
        model: &Model,
        streams: &[usize],
        cursors: &mut [usize],
        webid_type: WebIdType,
    ) -> Option<(String, u64)> {
        let ends: Vec<usize> = {
            let a = lock(&self.archive);
            streams.iter().map(|&s| a.streams[s].len()).collect()
        };
        self.news_upto(model, streams, cursors, &ends, webid_type)
    }

    /// As [`ArchiveState::news`], up to `ends` (exclusive) per stream.
    pub fn news_upto(
        &self,
        model: &Model,
        streams: &[usize],
        cursors: &mut [usize],
        ends: &[usize],
        webid_type: WebIdType,
    ) -> Option<(String, u64)> {
        let a = lock(&self.archive);
        let mut out = String::from(r#"{"Links":{},"Items":["#);
        let mut count = 0u64;
        let mut first = true;
        for (i, &si) in streams.iter().enumerate() {
            let end = ends[i].min(a.streams[si].len());
            let values = &a.streams[si][cursors[i].min(end)..end];
            if values.is_empty() {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            stream_head(&mut out, model, si, webid_type);
            for (k, v) in values.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&v.json);
            }
            out.push_str("]}");
            count += values.len() as u64;
            cursors[i] = end;
        }
        out.push_str("]}");
        (count > 0).then_some((out, count))
    }
}

/// `{"WebId":..,"Name":..,"Path":..,"Links":{},"UnitsAbbreviation":..,"Items":[` of a stream.
fn stream_head(out: &mut String, model: &Model, si: usize, webid_type: WebIdType) {
    let s = &model.streams()[si];
    out.push_str(r#"{"WebId":"#);
    push_json_str(out, s.web_id_as(webid_type));
    out.push_str(r#","Name":"#);
    push_json_str(out, &s.name);
    out.push_str(r#","Path":"#);
    push_json_str(out, &s.path);
    out.push_str(r#","Links":{},"UnitsAbbreviation":"#);
    push_json_str(out, &s.units);
    out.push_str(r#","Items":["#);
}

/// The archive writer: one tick per `interval` (100 ms when it is zero) while the server runs.
pub(crate) async fn writer(shared: Arc<Shared>) {
    let Some(state) = shared.archive.as_ref() else {
        return;
    };
    let every = if shared.cfg.interval.is_zero() {
        Duration::from_millis(100)
    } else {
        shared.cfg.interval
    };
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        state.write_tick(
            &shared.model,
            shared.cfg.values_per_stream,
            shared.cfg.archive_equal_values,
        );
    }
}

/// Whether the request is for a recorded endpoint (under the API root).
pub(crate) fn is_recorded(shared: &Shared, req: &Request) -> bool {
    let root = shared.root.as_str();
    req.path
        .get(..root.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(root))
        && req
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .is_some_and(|last| last.eq_ignore_ascii_case("recorded"))
}

/// Answer a recorded request: (status, body). Waits while a `Hang` fault is on.
pub(crate) async fn handle(shared: &Arc<Shared>, req: &Request) -> (u16, String) {
    let Some(state) = shared.archive.as_ref() else {
        return (
            404,
            crate::http::errors_body("The simulator keeps no archive (SimConfig::archive is off)."),
        );
    };
    state
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut fault = state.fault.subscribe();
    loop {
        let now = *fault.borrow_and_update();
        match now {
            None => break,
            Some(RecordedFault::Status(status)) => {
                return (
                    status,
                    crate::http::errors_body("Simulated failure of the recorded endpoint."),
                )
            }
            Some(RecordedFault::Hang) => {
                if fault.changed().await.is_err() {
                    return (503, crate::http::errors_body("Shutting down."));
                }
            }
        }
    }
    match answer(shared, state, req) {
        Ok(body) => (200, body),
        Err((status, msg)) => (status, crate::http::errors_body(&msg)),
    }
}

type Failure = (u16, String);

fn answer(shared: &Shared, state: &ArchiveState, req: &Request) -> Result<String, Failure> {
    let model = &shared.model;
    let rest = &req.path[shared.root.len()..];
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let is = |s: &str, lit: &str| s.eq_ignore_ascii_case(lit);
    let unknown = |w: &str| (404, format!("Unknown or invalid WebId '{w}'."));
    let now = now_ticks();
    let start = match req.param("startTime") {
        Some(t) => parse_time(t, now)
            .ok_or_else(|| (400, format!("The value '{t}' is not valid for startTime.")))?,
        None => now.saturating_sub(864_000_000_000),
    };
    let end = match req.param("endTime") {
        Some(t) => parse_time(t, now)
            .ok_or_else(|| (400, format!("The value '{t}' is not valid for endTime.")))?,
        None => now,
    };
    if let Some(b) = req.param("boundaryType") {
        if !b.eq_ignore_ascii_case("inside") {
            return Err((
                400,
                format!("The simulator serves boundaryType=Inside only, not '{b}'."),
            ));
        }
    }
    let max_count: usize = match req.param("maxCount") {
        Some(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| (400, format!("The value '{v}' is not valid for maxCount.")))?,
        None => 1000,
    };
    let start_index: usize = match req.param("startIndex") {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| (400, format!("The value '{v}' is not valid for startIndex.")))?,
        None => 0,
    };
    let webid_type = match req.param("webIdType") {
        None => WebIdType::Full,
        Some(v) => WebIdType::parse(v)
            .ok_or_else(|| (400, format!("The value '{v}' is not valid for webIdType.")))?,
    };
    let (single, streams): (bool, Vec<usize>) = match segs.as_slice() {
        [s, w, r] if is(s, "streams") && is(r, "recorded") => match model.lookup(w) {
            Some(Target::Stream(i)) => (true, vec![i]),
            Some(Target::Element(_)) => {
                return Err((400, format!("The WebId '{w}' does not designate a stream.")))
            }
            None => return Err(unknown(w)),
        },
        [s, r] if is(s, "streamsets") && is(r, "recorded") => {
            let ids = req.params("webId");
            if ids.is_empty() {
                return Err((400, "At least one webId is required.".to_string()));
            }
            let mut v = Vec::new();
            for w in ids {
                match model.lookup(w) {
                    Some(Target::Stream(i)) => v.push(i),
                    Some(Target::Element(_)) => {
                        return Err((400, format!("The WebId '{w}' does not designate a stream.")))
                    }
                    None => return Err(unknown(w)),
                }
            }
            (false, v)
        }
        [s, w, r] if is(s, "streamsets") && is(r, "recorded") => match model.lookup(w) {
            Some(Target::Element(e)) => {
                let filter = req.param("nameFilter").filter(|f| !f.is_empty());
                (
                    false,
                    model.elements()[e]
                        .attributes
                        .iter()
                        .copied()
                        .filter(|&a| {
                            filter.is_none_or(|f| {
                                crate::model::wildcard_match(f, &model.streams()[a].name)
                            })
                        })
                        .collect(),
                )
            }
            Some(Target::Stream(_)) => {
                return Err((400, format!("The WebId '{w}' has no child attributes.")))
            }
            None => return Err(unknown(w)),
        },
        _ => {
            return Err((
                404,
                format!("The requested path '{}' was not found.", req.path),
            ))
        }
    };
    let a = lock(&state.archive);
    let mut more = false;
    let mut items = String::new();
    for (n, &si) in streams.iter().enumerate() {
        let all = &a.streams[si];
        // Inside: start <= t <= end. The history is in time order.
        let lo = all.partition_point(|v| v.ticks < start);
        let hi = all.partition_point(|v| v.ticks <= end);
        let range = if lo < hi { &all[lo..hi] } else { &[][..] };
        let page = range.iter().skip(start_index).take(max_count);
        more |= range.len() > start_index + max_count;
        if !single {
            if n > 0 {
                items.push(',');
            }
            stream_head(&mut items, model, si, webid_type);
        }
        for (k, v) in page.enumerate() {
            if k > 0 {
                items.push(',');
            }
            items.push_str(&v.json);
        }
        if !single {
            items.push_str("]}");
        }
    }
    drop(a);
    let mut out = String::from(r#"{"Links":{"#);
    if more && shared.cfg.recorded_next_links {
        out.push_str(r#""Next":"#);
        push_json_str(
            &mut out,
            &next_link(shared, req, start, end, start_index + max_count),
        );
    }
    out.push_str(r#"},"Items":["#);
    out.push_str(&items);
    out.push(']');
    if single {
        out.push_str(r#","UnitsAbbreviation":"#);
        push_json_str(&mut out, &model.streams()[streams[0]].units);
    }
    out.push('}');
    Ok(out)
}

/// The absolute URL of the next page: the request with fixed times and the next `startIndex`.
fn next_link(shared: &Shared, req: &Request, start: u64, end: u64, index: usize) -> String {
    let scheme = if shared.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = req
        .header("Host")
        .map(str::to_string)
        .unwrap_or_else(|| shared.addr.to_string());
    let mut q = String::new();
    for (k, v) in &req.query {
        let lower = k.to_ascii_lowercase();
        if ["starttime", "endtime", "startindex"].contains(&lower.as_str()) {
            continue;
        }
        let _ = write!(q, "{}={}&", encode(k), encode(v));
    }
    let _ = write!(
        q,
        "startTime={}&endTime={}&startIndex={index}",
        format_ticks(start),
        format_ticks(end)
    );
    format!("{scheme}://{host}{}?{q}", req.path)
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// PI time: ISO-8601 UTC (`2024-06-01T11:00:00.1234567Z`), or `*` with an optional offset
/// (`*-10m`, `*+1h`; units `s`, `m`, `h`, `d`). In 100 ns ticks.
pub fn parse_time(text: &str, now: u64) -> Option<u64> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('*') {
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(now);
        }
        let (sign, amount) = match rest.as_bytes()[0] {
            b'-' => (-1i64, &rest[1..]),
            b'+' => (1, &rest[1..]),
            _ => return None,
        };
        let amount = amount.trim();
        let unit = amount.chars().last()?;
        let n: f64 = amount[..amount.len() - unit.len_utf8()]
            .trim()
            .parse()
            .ok()?;
        let secs = match unit {
            's' => n,
            'm' => n * 60.0,
            'h' => n * 3600.0,
            'd' => n * 86_400.0,
            _ => return None,
        };
        let delta = (secs * 1e7) as i64 * sign;
        return u64::try_from(now as i64 + delta).ok();
    }
    parse_iso_ticks(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_times() {
        let now = 17_000_000_000_000_000u64;
        assert_eq!(parse_time("*", now), Some(now));
        assert_eq!(parse_time("*-10m", now), Some(now - 6_000_000_000));
        assert_eq!(parse_time("*+1h", now), Some(now + 36_000_000_000));
        assert_eq!(parse_time("*-1d", now), Some(now - 864_000_000_000));
        assert_eq!(parse_time("yesterday", now), None);
        let t = parse_time("2022-12-09T14:06:38.4350128Z", now).unwrap();
        assert_eq!(format_ticks(t), "2022-12-09T14:06:38.4350128Z");
        assert_eq!(
            parse_time("2022-12-09T14:06:38Z", now)
                .map(format_ticks)
                .as_deref(),
            Some("2022-12-09T14:06:38.0000000Z")
        );
    }
}
