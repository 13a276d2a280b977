//! Gap fill (`gap_fill`): what a channel delivered, per stream, and the backfill of a seam.
//!
//! The channel remembers, per stream (WebId), the newest timestamp it delivered and the values
//! at exactly that timestamp. After a reconnect, or after an update for the streams both
//! endpoints share, it asks the endpoint's `recorded` resource (`streams/{webId}/recorded`,
//! `streamsets/recorded?webId=...`, `streamsets/{webId}/recorded`, with the channel's filters)
//! for what was archived since, page by page, and delivers it before reading the new live
//! connection (which waits in the socket meanwhile: no live value is read, so none can come
//! first, and memory stays within the queue bounds). Each stream's backfill starts *at* its
//! newest delivered timestamp (`boundaryType=Inside`), so values sharing that timestamp are not
//! lost; those already delivered are taken out by their key.
//!
//! A value's key is (WebId, Timestamp, Value, quality flags). Keys are counted, not merely
//! remembered: PI may store the same value twice at one timestamp, and both are delivered.
//! The live connection and the backfill overlap (the backfill's end is the server's "now",
//! after the live connection opened): live values whose key the backfill (or, after an update,
//! the old endpoint) already delivered are taken out, one for one.

use std::collections::{HashMap, HashSet};

use super::options::GapFillOptions;
use crate::events::MissingRange;
pub use crate::model::ValueKey;
use crate::model::{Content, Stream, TimedValue};

/// Keys with their counts.
#[derive(Debug, Clone, Default)]
pub struct KeyCounts(HashMap<ValueKey, u32>);

impl KeyCounts {
    pub fn add(&mut self, k: ValueKey) {
        *self.0.entry(k).or_default() += 1;
    }

    /// Takes one `k` out; false when there was none.
    pub fn take(&mut self, k: &ValueKey) -> bool {
        match self.0.get_mut(k) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.0.remove(k);
                true
            }
            None => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn max_ts(&self) -> Option<i64> {
        self.0.keys().map(|k| k.ts).max()
    }

    fn merge(&mut self, other: KeyCounts) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_default() += n;
        }
    }
}

/// The newest value delivered of one stream.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    pub newest: i64,
    /// The values delivered at exactly `newest`.
    pub at_newest: KeyCounts,
}

/// Live values that may repeat what was delivered, per stream.
#[derive(Debug, Default)]
struct Skip {
    keys: KeyCounts,
    /// The newest key's timestamp: a live value later than this ends the stream's filter.
    max_ts: i64,
}

/// What one channel remembers for gap fill.
#[derive(Debug)]
pub struct GapFill {
    pub opts: GapFillOptions,
    marks: HashMap<String, Mark>,
    /// During an update: every key delivered since it started (the new endpoint may send
    /// them again). `None` when no update is under way.
    retained: Option<HashMap<String, KeyCounts>>,
    /// After a backfill: keys the live connection may repeat.
    skip: HashMap<String, Skip>,
    /// When the current endpoint started streaming (client clock, ns): the start for streams
    /// that delivered nothing yet.
    pub endpoint_since: i64,
    /// The streams of the current endpoint: named by its URL, or seen on it.
    on_endpoint: HashSet<String>,
    /// After a switch: the streams of the old endpoint (the update's backfill is for those the
    /// new one shares).
    old_endpoint: Option<HashSet<String>>,
}

impl GapFill {
    /// `url_ids`: the WebIds the channel URL names (none for a stream set of an element).
    pub fn new(opts: GapFillOptions, now_ns: i64, url_ids: Vec<String>) -> GapFill {
        GapFill {
            opts,
            marks: HashMap::new(),
            retained: None,
            skip: HashMap::new(),
            endpoint_since: now_ns,
            on_endpoint: url_ids.into_iter().collect(),
            old_endpoint: None,
        }
    }

    /// The channel moved to an endpoint whose URL names `url_ids`: the streams of the old one
    /// are kept for the update's backfill.
    pub fn switched(&mut self, url_ids: Vec<String>) {
        let old = std::mem::replace(&mut self.on_endpoint, url_ids.into_iter().collect());
        self.old_endpoint = Some(old);
    }

    /// Whether `web_id` belongs to the current endpoint (named by its URL or seen on it).
    pub fn on_endpoint(&self, web_id: &str) -> bool {
        self.on_endpoint.contains(web_id)
    }

    /// After a switch: the streams of the old endpoint (taken).
    pub fn take_old_endpoint(&mut self) -> Option<HashSet<String>> {
        self.old_endpoint.take()
    }

    pub fn mark(&self, web_id: &str) -> Option<&Mark> {
        self.marks.get(web_id)
    }

    pub fn marks(&self) -> impl Iterator<Item = (&String, &Mark)> {
        self.marks.iter()
    }

    /// An update started: remember what is delivered from now on.
    pub fn start_update(&mut self) {
        self.retained.get_or_insert_with(HashMap::new);
    }

    /// The update failed or was rolled back: nothing to remember.
    pub fn end_update(&mut self) {
        self.retained = None;
    }

    /// A new seam: what the previous connection's live values could repeat is moot.
    pub fn clear_skip(&mut self) {
        self.skip.clear();
    }

    /// The keys delivered since the update started (taken: the update is done).
    pub fn take_retained(&mut self) -> HashMap<String, KeyCounts> {
        self.retained.take().unwrap_or_default()
    }

    /// Record the values of a delivered message.
    pub fn observe(&mut self, content: &Content) {
        for s in content.streams() {
            if s.web_id.is_empty() || s.values.is_empty() {
                continue;
            }
            self.observe_stream(&s.web_id, &s.values);
        }
    }

    fn observe_stream(&mut self, web_id: &str, values: &[TimedValue]) {
        if !self.on_endpoint.contains(web_id) {
            self.on_endpoint.insert(web_id.to_string());
        }
        let mark = self.marks.entry(web_id.to_string()).or_insert(Mark {
            newest: i64::MIN,
            at_newest: KeyCounts::default(),
        });
        let mut retained = self
            .retained
            .as_mut()
            .map(|r| r.entry(web_id.to_string()).or_default());
        for v in values {
            let Some(k) = ValueKey::of(v) else { continue };
            if k.ts > mark.newest {
                mark.newest = k.ts;
                mark.at_newest = KeyCounts::default();
            }
            if k.ts == mark.newest {
                mark.at_newest.add(k);
            }
            if let Some(r) = retained.as_mut() {
                r.add(k);
            }
        }
    }

    /// Live values from now on are checked against `keys` (what the backfill and the old
    /// endpoint delivered), per stream.
    pub fn arm(&mut self, keys: HashMap<String, KeyCounts>) {
        for (w, k) in keys {
            if k.is_empty() {
                continue;
            }
            let e = self.skip.entry(w).or_default();
            e.keys.merge(k);
            e.max_ts = e.keys.max_ts().unwrap_or(i64::MIN);
        }
    }

    /// A live message: `None` when it may be delivered as it is; `Some(streams)` when values
    /// already delivered were taken out (the streams left; empty: nothing is left to deliver).
    pub fn filter_live(&mut self, content: &Content) -> Option<Vec<Stream>> {
        if self.skip.is_empty() {
            return None;
        }
        let mut out: Option<Vec<Stream>> = None;
        for (i, s) in content.streams().iter().enumerate() {
            let Some(skip) = self.skip.get_mut(&s.web_id) else {
                if let Some(o) = out.as_mut() {
                    o.push(s.clone());
                }
                continue;
            };
            let mut kept = Vec::with_capacity(s.values.len());
            let mut later = true;
            for v in &s.values {
                let k = ValueKey::of(v);
                if let Some(k) = k {
                    if k.ts <= skip.max_ts {
                        later = false;
                    }
                    if skip.keys.take(&k) {
                        continue;
                    }
                } else {
                    later = false;
                }
                kept.push(v.clone());
            }
            if later || skip.keys.is_empty() {
                // Live data went past everything it could repeat.
                self.skip.remove(&s.web_id);
            }
            if kept.len() != s.values.len() && out.is_none() {
                out = Some(content.streams()[..i].to_vec());
            }
            if let Some(o) = out.as_mut() {
                if !kept.is_empty() || s.web_exception.is_some() {
                    o.push(Stream {
                        values: kept,
                        ..s.clone()
                    });
                }
            }
        }
        out
    }
}

/// What a backfill of a seam is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seam {
    /// The connection came back at the same endpoint: every stream.
    Reconnect,
    /// The channel moved to another endpoint: the streams both share (those with a mark).
    Update,
}

/// The request plan of a backfill: the `recorded` requests, derived from the channel URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Path and query of each first request (without startTime and the other range
    /// parameters, which [`Plan::with_range`] adds).
    pub requests: Vec<PlannedRequest>,
    /// `.../piwebapi/` of the channel URL: where `streamsets/recorded` is.
    pub root: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    pub path_and_query: String,
    /// The WebIds the request names (empty for a stream set of an element).
    pub web_ids: Vec<String>,
    /// A single stream's `recorded` (the answer names no stream).
    pub single: bool,
}

/// Parameters of a channel URL that a `recorded` request takes as well.
const KEPT_PARAMS: &[&str] = &[
    "webidtype",
    "namefilter",
    "categoryname",
    "templatename",
    "searchfullhierarchy",
    "showexcluded",
    "showhidden",
];

/// Values per stream a page asks for at most (`maxCount`), PI Web API's default.
pub const PAGE_SIZE: usize = 1000;

/// Values a page of a stream set holds at most (about 2 MB of JSON): `maxCount` is this over
/// the streams asked for, within `MIN_PAGE_SIZE..=PAGE_SIZE`, so one page in memory stays small
/// however many streams a channel has.
pub const PAGE_VALUES: usize = 10_000;
const MIN_PAGE_SIZE: usize = 10;

/// `maxCount` for a request of `streams` streams (0: not known, a stream set of an element).
pub fn page_size(streams: usize) -> usize {
    (PAGE_VALUES / streams.max(1)).clamp(MIN_PAGE_SIZE, PAGE_SIZE)
}

/// Split lists of WebIds so that every request stays under this many bytes of path and query.
pub const MAX_URL_LEN: usize = crate::urls::DEFAULT_MAX_URL_LEN;

impl Plan {
    /// From the path and query of a channel URL (`.../streams/{webId}/channel`,
    /// `.../streamsets/{webId}/channel`, `.../streamsets/channel?webId=...`).
    pub fn for_channel(request_target: &str) -> Result<Plan, String> {
        let (path, query) = request_target
            .split_once('?')
            .unwrap_or((request_target, ""));
        let trimmed = path.trim_end_matches('/');
        let Some(base) = trimmed
            .strip_suffix("/channel")
            .or_else(|| trimmed.strip_suffix("/Channel"))
        else {
            return Err(format!(
                "the channel path '{path}' does not end with /channel: no recorded resource to ask"
            ));
        };
        let mut web_ids = Vec::new();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            if name == "webid" {
                web_ids.push(pair.split_once('=').map_or("", |(_, v)| v).to_string());
            } else if KEPT_PARAMS.contains(&name.as_str()) {
                kept.push(pair.to_string());
            }
        }
        let segments: Vec<&str> = base.rsplitn(3, '/').collect();
        // base = <root>/streams/<webId>, <root>/streamsets/<webId> or <root>/streamsets
        let (root, requests) = match segments.as_slice() {
            [last, ..] if last.eq_ignore_ascii_case("streamsets") => {
                let root = &base[..base.len() - last.len()];
                if web_ids.is_empty() {
                    return Err("an ad hoc channel URL without webId".to_string());
                }
                let prefix = format!("{root}streamsets/recorded?");
                let requests = split_ids(&prefix, &web_ids, &kept)
                    .into_iter()
                    .map(|(pq, ids)| PlannedRequest {
                        path_and_query: pq,
                        web_ids: ids,
                        single: false,
                    })
                    .collect();
                (root.to_string(), requests)
            }
            [id, kind, root] if kind.eq_ignore_ascii_case("streams") => {
                let mut pq = format!("{root}/streams/{id}/recorded?");
                push_params(&mut pq, &kept);
                (
                    format!("{root}/"),
                    vec![PlannedRequest {
                        path_and_query: pq,
                        web_ids: vec![id.to_string()],
                        single: true,
                    }],
                )
            }
            [id, kind, root] if kind.eq_ignore_ascii_case("streamsets") => {
                let mut pq = format!("{root}/streamsets/{id}/recorded?");
                push_params(&mut pq, &kept);
                (
                    format!("{root}/"),
                    vec![PlannedRequest {
                        path_and_query: pq,
                        web_ids: Vec::new(),
                        single: false,
                    }],
                )
            }
            _ => {
                return Err(format!(
                    "the channel path '{path}' is not streams/{{webId}}/channel, streamsets/{{webId}}/channel or streamsets/channel"
                ))
            }
        };
        Ok(Plan { requests, root })
    }

    /// `streamsets/recorded` for `web_ids` (continuations of single streams), split under
    /// the URL limit; `kept` parameters as the channel had them.
    pub fn ad_hoc(&self, web_ids: &[String], kept: &[String]) -> Vec<PlannedRequest> {
        let prefix = format!("{}streamsets/recorded?", self.root);
        split_ids(&prefix, web_ids, kept)
            .into_iter()
            .map(|(pq, ids)| PlannedRequest {
                path_and_query: pq,
                web_ids: ids,
                single: false,
            })
            .collect()
    }
}

/// The range parameters of a request: from `start_ns` (inclusive) to the server's now,
/// `max_count` values per stream and page.
pub fn with_range(path_and_query: &str, start_ns: i64, max_count: usize) -> String {
    let sep = if path_and_query.ends_with('?') || path_and_query.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!(
        "{path_and_query}{sep}startTime={}&endTime=*&boundaryType=Inside&maxCount={max_count}",
        crate::model::format_timestamp(start_ns, 7)
    )
}

fn push_params(pq: &mut String, kept: &[String]) {
    for p in kept {
        if !pq.ends_with('?') {
            pq.push('&');
        }
        pq.push_str(p);
    }
}

/// The range parameters' room in a URL: `&startTime=<28>&endTime=*&boundaryType=Inside&maxCount=NNNN`.
const RANGE_LEN: usize = 100;

/// Requests of `prefix` + `webId=` lists, each under [`MAX_URL_LEN`] with the kept parameters
/// and the range; every WebId exactly once, in order.
fn split_ids(prefix: &str, web_ids: &[String], kept: &[String]) -> Vec<(String, Vec<String>)> {
    let mut tail = String::new();
    for p in kept {
        tail.push('&');
        tail.push_str(p);
    }
    let fixed = prefix.len() + tail.len() + RANGE_LEN;
    let mut out = Vec::new();
    let mut start = 0;
    while start < web_ids.len() {
        let mut len = fixed;
        let mut end = start;
        while end < web_ids.len() {
            let add = "webId=".len() + web_ids[end].len() + usize::from(end > start);
            // At least one WebId per request, however long.
            if end > start && len + add > MAX_URL_LEN {
                break;
            }
            len += add;
            end += 1;
        }
        let mut pq = prefix.to_string();
        for (i, id) in web_ids[start..end].iter().enumerate() {
            if i > 0 {
                pq.push('&');
            }
            pq.push_str("webId=");
            pq.push_str(id);
        }
        pq.push_str(&tail);
        out.push((pq, web_ids[start..end].to_vec()));
        start = end;
    }
    out
}

/// The WebIds a channel URL names: its `webId` parameters, or the `{webId}` of
/// `streams/{webId}/channel` (none for a stream set of an element).
pub fn url_web_ids(request_target: &str) -> Vec<String> {
    match Plan::for_channel(request_target) {
        Ok(p) => p.requests.into_iter().flat_map(|r| r.web_ids).collect(),
        Err(_) => Vec::new(),
    }
}

/// The kept parameters of a channel URL (for continuation requests).
pub fn kept_params(request_target: &str) -> Vec<String> {
    let query = request_target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("").to_ascii_lowercase();
            KEPT_PARAMS.contains(&name.as_str())
        })
        .map(str::to_string)
        .collect()
}

/// The missing range of a stream from its mark (exclusive) or `start` (inclusive) to `end`.
pub fn missing_from(web_id: &str, mark: Option<&Mark>, start: i64, end: i64) -> MissingRange {
    match mark {
        Some(m) if m.newest >= start => MissingRange {
            web_id: web_id.to_string(),
            from_ns: m.newest,
            from_exclusive: true,
            to_ns: end,
        },
        _ => MissingRange {
            web_id: web_id.to_string(),
            from_ns: start,
            from_exclusive: false,
            to_ns: end,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(text: &str) -> Content {
        let c = Content::parse(text);
        assert!(!c.is_unparsable(), "{:?}", c.parse_error());
        c
    }

    fn opts() -> GapFillOptions {
        GapFillOptions {
            max_span: None,
            max_values: None,
        }
    }

    #[test]
    fn plans_follow_the_three_channel_urls() {
        let p = Plan::for_channel(
            "/piwebapi/streams/F1DPa/channel?includeInitialValues=true&webIdType=IDOnly",
        )
        .unwrap();
        assert_eq!(p.root, "/piwebapi/");
        assert_eq!(p.requests.len(), 1);
        assert_eq!(
            p.requests[0].path_and_query,
            "/piwebapi/streams/F1DPa/recorded?webIdType=IDOnly"
        );
        assert!(p.requests[0].single);
        let p =
            Plan::for_channel("/piwebapi/streamsets/F1Em/channel?nameFilter=F%2A&heartbeatRate=2")
                .unwrap();
        assert_eq!(
            p.requests[0].path_and_query,
            "/piwebapi/streamsets/F1Em/recorded?nameFilter=F%2A"
        );
        assert!(p.requests[0].web_ids.is_empty());
        let p = Plan::for_channel(
            "/piwebapi/streamsets/channel?webId=A&webId=B&includeInitialValues=false",
        )
        .unwrap();
        assert_eq!(
            p.requests[0].path_and_query,
            "/piwebapi/streamsets/recorded?webId=A&webId=B"
        );
        assert_eq!(p.requests[0].web_ids, vec!["A", "B"]);
        assert!(Plan::for_channel("/piwebapi/streams/F1/value").is_err());
        assert_eq!(page_size(1), 1000);
        assert_eq!(page_size(0), 1000);
        assert_eq!(page_size(40), 250);
        assert_eq!(page_size(5000), 10);
        assert!(Plan::for_channel("/piwebapi/streamsets/channel").is_err());
        assert_eq!(
            with_range("/x/recorded?", 0, PAGE_SIZE),
            "/x/recorded?startTime=1970-01-01T00:00:00.0000000Z&endTime=*&boundaryType=Inside&maxCount=1000"
        );
    }

    #[test]
    fn long_lists_are_split_under_the_url_limit_each_id_once() {
        let ids: Vec<String> = (0..400).map(|i| format!("F1DP{i:040}")).collect();
        let q: String = ids.iter().map(|i| format!("webId={i}&")).collect();
        let p =
            Plan::for_channel(&format!("/piwebapi/streamsets/channel?{q}webIdType=Full")).unwrap();
        assert!(p.requests.len() > 1);
        let mut all = Vec::new();
        for r in &p.requests {
            let full = with_range(&r.path_and_query, 1_700_000_000_000_000_000, PAGE_SIZE);
            assert!(full.len() <= MAX_URL_LEN, "{}", full.len());
            assert!(r.path_and_query.ends_with("&webIdType=Full"));
            all.extend(r.web_ids.clone());
        }
        assert_eq!(all, ids);
    }

    #[test]
    fn marks_count_equal_values_at_one_timestamp_and_the_filter_takes_them_one_for_one() {
        let mut g = GapFill::new(opts(), 0, Vec::new());
        let two = r#"{"Items":[{"WebId":"A","Items":[
            {"Timestamp":"2024-01-01T00:00:01Z","Value":1.0},
            {"Timestamp":"2024-01-01T00:00:02Z","Value":2.0},
            {"Timestamp":"2024-01-01T00:00:02Z","Value":2.0}]}]}"#;
        g.observe(&content(two));
        let m = g.mark("A").unwrap();
        assert_eq!(m.newest, 1_704_067_202_000_000_000);
        assert_eq!(m.at_newest.0.values().sum::<u32>(), 2);

        // The backfill delivered one 3.0 at :03; the live message repeats it and brings a
        // second, equal one (PI stored two): exactly one is taken out.
        let mut keys = HashMap::new();
        let backfilled = content(
            r#"{"Items":[{"WebId":"A","Items":[{"Timestamp":"2024-01-01T00:00:03Z","Value":3.0}]}]}"#,
        );
        let mut k = KeyCounts::default();
        k.add(ValueKey::of(&backfilled.streams()[0].values[0]).unwrap());
        keys.insert("A".to_string(), k);
        g.arm(keys);
        let live = content(
            r#"{"Items":[{"WebId":"A","Items":[
            {"Timestamp":"2024-01-01T00:00:03Z","Value":3.0},
            {"Timestamp":"2024-01-01T00:00:03Z","Value":3.0}]},
            {"WebId":"B","Items":[{"Timestamp":"2024-01-01T00:00:03Z","Value":7}]}]}"#,
        );
        let left = g.filter_live(&live).expect("one value taken out");
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].values.len(), 1);
        assert_eq!(left[1].web_id, "B");
        // A different flag is a different value.
        g.arm(HashMap::from([("A".to_string(), {
            let mut k = KeyCounts::default();
            k.add(ValueKey::of(&backfilled.streams()[0].values[0]).unwrap());
            k
        })]));
        let questionable = content(
            r#"{"Items":[{"WebId":"A","Items":[{"Timestamp":"2024-01-01T00:00:03Z","Value":3.0,"Questionable":true}]}]}"#,
        );
        assert!(g.filter_live(&questionable).is_none());
    }
}
