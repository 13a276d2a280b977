//! The simulated PI/AF objects: streams (PI points and AF attributes), elements,
//! their WebIds 2.0, value generation and the JSON of channel messages.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::b64::encode_url;
use crate::config::{PointKind, SimConfig, SimPoint};
use crate::timefmt::{format_ticks, now_ticks};

/// The `webIdType` query parameter: which form of WebId messages carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebIdType {
    Full,
    IdOnly,
    PathOnly,
    LocalIdOnly,
    /// Treated as `Full`.
    DefaultIdOnly,
}

impl WebIdType {
    /// Parses the query parameter value (case-insensitive).
    pub fn parse(s: &str) -> Option<WebIdType> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Some(WebIdType::Full),
            "idonly" => Some(WebIdType::IdOnly),
            "pathonly" => Some(WebIdType::PathOnly),
            "localidonly" => Some(WebIdType::LocalIdOnly),
            "defaultidonly" => Some(WebIdType::DefaultIdOnly),
            _ => None,
        }
    }

    fn slot(self) -> usize {
        match self {
            WebIdType::Full | WebIdType::DefaultIdOnly => 0,
            WebIdType::IdOnly => 1,
            WebIdType::PathOnly => 2,
            WebIdType::LocalIdOnly => 3,
        }
    }
}

/// The four stored forms of one object's WebId, indexed by [`WebIdType::slot`].
#[derive(Debug, Clone)]
struct WebIds([String; 4]);

impl WebIds {
    /// `marker` is the 2-letter object kind (`DP`, `Ab`, `Em`); `ids` the binary ID
    /// parts in order; `path` the full path with its leading `\\`.
    fn new(marker: &str, ids: &[&[u8]], path: &str) -> WebIds {
        let id_part: String = ids.iter().map(|b| encode_url(b)).collect();
        let path_part = encode_url(path.trim_start_matches('\\').to_uppercase().as_bytes());
        let local = encode_url(ids.last().copied().unwrap_or(&[]));
        WebIds([
            format!("F1{marker}{id_part}{path_part}"),
            format!("I1{marker}{id_part}"),
            format!("P1{marker}{path_part}"),
            format!("L1{marker}{local}"),
        ])
    }
    fn get(&self, t: WebIdType) -> &str {
        &self.0[t.slot()]
    }
}

/// A stream: a PI point or an AF attribute.
#[derive(Debug, Clone)]
pub struct StreamDef {
    pub name: String,
    /// Full path, e.g. `\\PISRV01\SINUSOID` or `\\AFSRV01\SimDatabase\Pump01|Flow`.
    pub path: String,
    pub units: String,
    pub kind: PointKind,
    /// True for an element attribute, false for a PI point.
    pub is_attribute: bool,
    webids: WebIds,
}

impl StreamDef {
    /// The Full WebId.
    pub fn web_id(&self) -> &str {
        self.webids.get(WebIdType::Full)
    }
    pub fn web_id_as(&self, t: WebIdType) -> &str {
        self.webids.get(t)
    }
}

/// An AF element; its attributes are streams.
#[derive(Debug, Clone)]
pub struct ElementDef {
    pub name: String,
    pub path: String,
    /// Indices into [`Model::streams`].
    pub attributes: Vec<usize>,
    webids: WebIds,
}

impl ElementDef {
    pub fn web_id(&self) -> &str {
        self.webids.get(WebIdType::Full)
    }
    pub fn web_id_as(&self, t: WebIdType) -> &str {
        self.webids.get(t)
    }
}

/// What a WebId in a request designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stream(usize),
    Element(usize),
}

/// All objects the simulator serves. Immutable once built.
#[derive(Debug)]
pub struct Model {
    streams: Vec<StreamDef>,
    n_points: usize,
    elements: Vec<ElementDef>,
    /// Every accepted WebId form -> object.
    index: HashMap<String, Target>,
}

/// A fixed "server GUID" for the simulated PI Data Archive.
const SERVER_GUID: [u8; 16] = [
    0x12, 0x9a, 0xe8, 0xa2, 0x8f, 0xdb, 0x41, 0x57, 0xb3, 0x8a, 0x57, 0x2d, 0x71, 0xf7, 0xd6, 0x98,
];

fn fnv1a(seed: u64, data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A stable pseudo-GUID derived from a path, so WebIds do not change between runs.
fn guid_for(path: &str) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[..8].copy_from_slice(&fnv1a(1, path.as_bytes()).to_le_bytes());
    g[8..].copy_from_slice(&fnv1a(2, path.as_bytes()).to_le_bytes());
    g
}

/// Cheap deterministic noise source.
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_add(0x632b_e59b_d9b4_e019);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 29)
}

impl Model {
    pub fn new(cfg: &SimConfig) -> Model {
        let mut streams = Vec::with_capacity(cfg.points.len());
        for (i, p) in cfg.points.iter().enumerate() {
            let path = format!("\\\\{}\\{}", cfg.data_server, p.name);
            let id = (i as u32 + 1).to_le_bytes();
            let w = WebIds::new("DP", &[&SERVER_GUID, &id], &path);
            streams.push(stream_def(p, path, false, w));
        }
        let n_points = streams.len();
        let mut elements = Vec::new();
        for e in &cfg.elements {
            let path = format!("\\\\{}\\{}\\{}", cfg.af_server, cfg.af_database, e.name);
            let eguid = guid_for(&path);
            let mut attributes = Vec::new();
            for a in &e.attributes {
                let apath = format!("{path}|{}", a.name);
                let aguid = guid_for(&apath);
                let w = WebIds::new("Ab", &[&eguid, &aguid], &apath);
                attributes.push(streams.len());
                streams.push(stream_def(a, apath, true, w));
            }
            let webids = WebIds::new("Em", &[&eguid], &path);
            elements.push(ElementDef {
                name: e.name.clone(),
                path,
                attributes,
                webids,
            });
        }
        let mut index = HashMap::new();
        for (i, s) in streams.iter().enumerate() {
            for w in &s.webids.0 {
                index.insert(w.clone(), Target::Stream(i));
            }
        }
        for (i, e) in elements.iter().enumerate() {
            for w in &e.webids.0 {
                index.insert(w.clone(), Target::Element(i));
            }
        }
        Model {
            streams,
            n_points,
            elements,
            index,
        }
    }

    /// All streams: the PI points, then the attributes of every element.
    pub fn streams(&self) -> &[StreamDef] {
        &self.streams
    }
    pub fn points(&self) -> &[StreamDef] {
        &self.streams[..self.n_points]
    }
    pub fn attributes(&self) -> &[StreamDef] {
        &self.streams[self.n_points..]
    }
    pub fn elements(&self) -> &[ElementDef] {
        &self.elements
    }
    /// A PI point by name (case-insensitive).
    pub fn point(&self, name: &str) -> Option<&StreamDef> {
        self.points()
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
    /// An element by name (case-insensitive).
    pub fn element(&self, name: &str) -> Option<&ElementDef> {
        self.elements
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }
    /// Resolves a WebId in any of the forms Full, IDOnly, PathOnly, LocalIDOnly.
    pub fn lookup(&self, web_id: &str) -> Option<Target> {
        self.index.get(web_id).copied()
    }
}

fn stream_def(p: &SimPoint, path: String, is_attribute: bool, webids: WebIds) -> StreamDef {
    StreamDef {
        name: p.name.clone(),
        path,
        units: p.units.clone(),
        kind: p.kind,
        is_attribute,
        webids,
    }
}

/// `*` and `?` wildcard match, case-insensitive (PI's `nameFilter`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The bytes of a heartbeat (an empty message).
pub const HEARTBEAT: &str = r#"{"Links":{},"Items":[]}"#;

const PHASES: [&str; 6] = [
    "Idle",
    "Charging",
    "Heating \"stage 2\"",
    "Reacting",
    "Cooling \\ venting",
    "Discharging – done",
];

/// Per-connection message generator: the channel's streams and the clock.
#[derive(Debug)]
pub struct ChannelGen {
    streams: Vec<usize>,
    webid_type: WebIdType,
    last_ticks: u64,
    seq: u64,
    cursor: usize,
}

impl ChannelGen {
    pub fn new(streams: Vec<usize>, webid_type: WebIdType) -> ChannelGen {
        ChannelGen {
            streams,
            webid_type,
            last_ticks: 0,
            seq: 0,
            cursor: 0,
        }
    }

    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The channel's streams (indices into [`Model::streams`]).
    pub fn streams(&self) -> &[usize] {
        &self.streams
    }

    pub fn webid_type(&self) -> WebIdType {
        self.webid_type
    }

    /// Strictly increasing per connection, so no two data messages are equal.
    fn next_ticks(&mut self, now: u64) -> u64 {
        self.last_ticks = now.max(self.last_ticks + 1);
        self.last_ticks
    }

    /// One value of every stream. Returns (json, number of values).
    pub fn initial_message(&mut self, model: &Model) -> (String, u64) {
        let all: Vec<usize> = self.streams.clone();
        self.message(model, &all, 1)
    }

    /// The next data message: `per_message` streams (rotating), `values` each.
    pub fn data_message(
        &mut self,
        model: &Model,
        per_message: Option<usize>,
        values: usize,
    ) -> (String, u64) {
        let n = self.streams.len();
        let k = per_message.unwrap_or(n).min(n);
        let chosen: Vec<usize> = if k == n {
            self.streams.clone()
        } else {
            let v = (0..k)
                .map(|i| self.streams[(self.cursor + i) % n])
                .collect();
            self.cursor = (self.cursor + k) % n;
            v
        };
        self.message(model, &chosen, values.max(1))
    }

    fn message(&mut self, model: &Model, chosen: &[usize], values: usize) -> (String, u64) {
        let now = now_ticks();
        let mut out = String::with_capacity(64 + chosen.len() * (200 + values * 180));
        out.push_str(r#"{"Links":{},"Items":["#);
        let mut count = 0u64;
        for (i, &si) in chosen.iter().enumerate() {
            let s = &model.streams[si];
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"WebId":"#);
            push_json_str(&mut out, s.web_id_as(self.webid_type));
            out.push_str(r#","Name":"#);
            push_json_str(&mut out, &s.name);
            out.push_str(r#","Path":"#);
            push_json_str(&mut out, &s.path);
            out.push_str(r#","Links":{},"UnitsAbbreviation":"#);
            push_json_str(&mut out, &s.units);
            out.push_str(r#","Items":["#);
            for v in 0..values {
                if v > 0 {
                    out.push(',');
                }
                let ticks = self.next_ticks(now);
                self.seq += 1;
                timed_value(&mut out, si, s, self.seq, ticks);
                count += 1;
            }
            out.push_str("]}");
        }
        out.push_str("]}");
        (out, count)
    }
}

impl Model {
    /// Event mode: one message with these events (grouped by stream, in order), each value
    /// the event's number. Returns (json, number of values).
    pub(crate) fn event_message(
        &self,
        events: &[crate::events::Event],
        webid_type: WebIdType,
    ) -> (String, u64) {
        let mut order: Vec<u32> = Vec::new();
        let mut by_stream: HashMap<u32, Vec<(u64, u64)>> = HashMap::new();
        for e in events {
            by_stream
                .entry(e.stream)
                .or_insert_with(|| {
                    order.push(e.stream);
                    Vec::new()
                })
                .push((e.seq, e.ticks));
        }
        let mut out = String::with_capacity(64 + events.len() * 400);
        out.push_str(r#"{"Links":{},"Items":["#);
        for (i, si) in order.iter().enumerate() {
            let s = &self.streams[*si as usize];
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"WebId":"#);
            push_json_str(&mut out, s.web_id_as(webid_type));
            out.push_str(r#","Name":"#);
            push_json_str(&mut out, &s.name);
            out.push_str(r#","Path":"#);
            push_json_str(&mut out, &s.path);
            out.push_str(r#","Links":{},"UnitsAbbreviation":"#);
            push_json_str(&mut out, &s.units);
            out.push_str(r#","Items":["#);
            for (k, (seq, ticks)) in by_stream[si].iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"Timestamp":""#);
                out.push_str(&format_ticks(*ticks));
                let _ = write!(out, r#"","Value":{seq},"UnitsAbbreviation":"#);
                push_json_str(&mut out, &s.units);
                out.push_str(
                    r#","Good":true,"Questionable":false,"Substituted":false,"Annotated":false}"#,
                );
            }
            out.push_str("]}");
        }
        out.push_str("]}");
        (out, events.len() as u64)
    }
}

/// Appends one TimedValue object.
pub(crate) fn timed_value(out: &mut String, si: usize, s: &StreamDef, seq: u64, ticks: u64) {
    let r = mix(si as u64, seq);
    let mut good = true;
    let mut questionable = false;
    let mut errors: Option<&str> = None;
    let mut value = String::new();
    let float = |out: &mut String| {
        let t = ticks as f64 / 1e7;
        let period = 60.0 + (si % 11) as f64 * 7.0;
        let offset = 50.0 + (si % 7) as f64 * 10.0;
        let noise = ((r >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
        let v = offset + 25.0 * (std::f64::consts::TAU * t / period).sin() + noise;
        let _ = write!(out, "{}", (v * 1e5).round() / 1e5);
    };
    match s.kind {
        PointKind::Float => float(&mut value),
        PointKind::Integer => {
            let _ = write!(value, "{}", (si as u64 * 1000 + seq) % 2_000_000_000);
        }
        PointKind::Text => push_json_str(
            &mut value,
            PHASES[((seq + si as u64) % PHASES.len() as u64) as usize],
        ),
        PointKind::Digital => {
            if r % 20 == 0 {
                value.push_str(r#"{"Name":"Shutdown","Value":254,"IsSystem":true}"#);
                good = false;
            } else if seq % 2 == 0 {
                value.push_str(r#"{"Name":"Active","Value":1,"IsSystem":false}"#);
            } else {
                value.push_str(r#"{"Name":"Inactive","Value":0,"IsSystem":false}"#);
            }
        }
        PointKind::Flaky => match r % 10 {
            0 => {
                value.push_str(r#"{"Name":"I/O Timeout","Value":246,"IsSystem":true}"#);
                good = false;
            }
            1 => {
                value.push_str("null");
                good = false;
                errors = Some(r#"[{"FieldName":"Value","Message":["Simulated read failure."]}]"#);
            }
            2 => {
                float(&mut value);
                questionable = true;
            }
            _ => float(&mut value),
        },
    }
    out.push_str(r#"{"Timestamp":""#);
    out.push_str(&format_ticks(ticks));
    out.push_str(r#"","Value":"#);
    out.push_str(&value);
    out.push_str(r#","UnitsAbbreviation":"#);
    push_json_str(out, &s.units);
    let _ = write!(
        out,
        r#","Good":{good},"Questionable":{questionable},"Substituted":false,"Annotated":false"#
    );
    if let Some(e) = errors {
        out.push_str(r#","Errors":"#);
        out.push_str(e);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webid_forms() {
        let m = Model::new(&SimConfig::default());
        let p = m.point("SINUSOID").unwrap();
        assert_eq!(p.path, "\\\\PISRV01\\SINUSOID");
        let full = p.web_id();
        assert!(full.starts_with("F1DP"));
        // guid (22) + id (6) + path
        assert_eq!(&full[4..26], encode_url(&SERVER_GUID));
        assert_eq!(&full[26..32], encode_url(&1u32.to_le_bytes()));
        assert_eq!(&full[32..], encode_url(b"PISRV01\\SINUSOID"));
        assert_eq!(
            p.web_id_as(WebIdType::IdOnly),
            format!("I1DP{}", &full[4..32])
        );
        assert_eq!(
            p.web_id_as(WebIdType::PathOnly),
            format!("P1DP{}", &full[32..])
        );
        assert_eq!(p.web_id_as(WebIdType::DefaultIdOnly), full);
        for t in [
            WebIdType::Full,
            WebIdType::IdOnly,
            WebIdType::PathOnly,
            WebIdType::LocalIdOnly,
        ] {
            assert_eq!(m.lookup(p.web_id_as(t)), Some(Target::Stream(0)));
            assert!(p
                .web_id_as(t)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        let e = m.element("Pump01").unwrap();
        assert!(e.web_id().starts_with("F1Em"));
        assert_eq!(m.lookup(e.web_id()), Some(Target::Element(0)));
        let a = &m.streams()[e.attributes[0]];
        assert!(a.web_id().starts_with("F1Ab"));
        assert_eq!(a.path, "\\\\AFSRV01\\SimDatabase\\Pump01|Flow");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "Flow"));
        assert!(wildcard_match("fl*", "Flow"));
        assert!(wildcard_match("F?ow", "Flow"));
        assert!(wildcard_match("*e*", "Temperature"));
        assert!(!wildcard_match("F?w", "Flow"));
        assert!(!wildcard_match("Level", "Flow"));
    }

    #[test]
    fn messages_increase() {
        let m = Model::new(&SimConfig::default());
        let mut g = ChannelGen::new((0..m.streams().len()).collect(), WebIdType::Full);
        let (a, n) = g.data_message(&m, Some(2), 3);
        assert_eq!(n, 6);
        let (b, _) = g.data_message(&m, Some(2), 3);
        assert_ne!(a, b);
        assert!(a.starts_with(r#"{"Links":{},"Items":[{"WebId":"F1DP"#));
    }
}
