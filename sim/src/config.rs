//! Simulator configuration: what the server serves and how fast.

use std::net::SocketAddr;
use std::time::Duration;

use crate::tls::SimTls;

/// What kind of values a stream produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointKind {
    /// Float64: a sine wave plus noise.
    Float,
    /// Int32 counter-like values.
    Integer,
    /// String values (batch phase names).
    Text,
    /// Digital states `{"Name":"Active","Value":1,"IsSystem":false}` alternating.
    Digital,
    /// Float that regularly sends bad values: system digital states with
    /// `Good: false`, or `Value: null` with `Errors`, and some questionable values.
    Flaky,
}

/// A PI point (also used to describe an element's attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPoint {
    pub name: String,
    pub kind: PointKind,
    /// `UnitsAbbreviation`, may be empty.
    pub units: String,
}

impl SimPoint {
    pub fn new(name: impl Into<String>, kind: PointKind, units: impl Into<String>) -> Self {
        SimPoint {
            name: name.into(),
            kind,
            units: units.into(),
        }
    }
}

/// An AF element whose attributes form a stream set (`streamsets/{webId}/channel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimElement {
    pub name: String,
    pub attributes: Vec<SimPoint>,
}

impl SimElement {
    pub fn new(name: impl Into<String>, attributes: Vec<SimPoint>) -> Self {
        SimElement {
            name: name.into(),
            attributes,
        }
    }
}

/// Configuration of a [`crate::Simulator`]. `Default` gives 7 PI points of varied
/// kinds and 2 elements with 3 attributes each, 100 ms interval, no auth.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    /// API root path, default `/piwebapi` (slashes around it are optional).
    pub root: String,
    /// PI Data Archive server name used in point paths (`\\PISRV01\SINUSOID`).
    pub data_server: String,
    /// AF server and database used in element paths (`\\AFSRV01\SimDatabase\Pump01`).
    pub af_server: String,
    pub af_database: String,
    pub points: Vec<SimPoint>,
    pub elements: Vec<SimElement>,
    /// Time between data messages on each connection. `ZERO` = as fast as possible
    /// (heartbeat ticks are then 100 ms).
    pub interval: Duration,
    /// How many streams carry values in each data message (rotating through the
    /// channel's streams); `None` = all of them.
    pub streams_per_message: Option<usize>,
    /// Values per stream in each data message (consecutive timestamps).
    pub values_per_stream: usize,
    /// After this many data messages a connection sends no more data (heartbeats go on).
    pub max_messages_per_connection: Option<u64>,
    /// After this many data messages the server sends Close(1000) and ends the connection.
    pub close_after_messages: Option<u64>,
    /// Send no data at all: only initial values and heartbeats.
    pub quiet: bool,
    /// Benchmark: build this many distinct data messages once per connection and send them
    /// in a loop as fast as possible (`interval` is ignored for data). See `bench.rs`.
    pub prebuilt: Option<usize>,
    /// Benchmark: send this many data messages per second per connection, each built (and
    /// stamped) right before its send (`interval` is ignored for data). See `bench.rs`.
    pub rate: Option<u64>,
    /// Require HTTP Basic with these credentials.
    pub basic_credentials: Option<(String, String)>,
    /// Require `Authorization: Bearer <token>` (if both are set, either is accepted).
    pub bearer_token: Option<String>,
    /// Keep every text frame sent, per connection, in [`crate::ConnStats::frames`].
    pub record_frames: bool,
    /// Serve TLS (`wss://`) with this certificate; `None` = plain `ws://`. Over TLS,
    /// `send_malformed` corrupts the TLS stream (raw bytes under it) instead of the frames.
    pub tls: Option<SimTls>,
    /// Keep a recorded history: one writer archives a tick of values for every stream each
    /// `interval` (`values_per_stream` values per stream, all at one timestamp), channels send
    /// what is archived after they opened (instead of values of their own), and the recorded
    /// endpoints serve the history (see `archive.rs`). Default off.
    pub archive: bool,
    /// With `archive`: the values of one tick of a stream are equal (PI may store the same
    /// value twice at one timestamp).
    pub archive_equal_values: bool,
    /// The recorded endpoints page with `Links.Next` (default); false: they only cut at
    /// `maxCount`.
    pub recorded_next_links: bool,
    /// Answer 414 to a request whose target (path and query) is longer than this many bytes
    /// (IIS, in front of PI Web API, has such a limit; the real one is configurable).
    pub max_url_length: Option<usize>,
    /// At most this many channels open at once per user (the `Authorization` header, or
    /// anonymous); one more is answered 503 with an `Errors` body naming the limit.
    pub max_channels_per_user: Option<usize>,
    /// An ad hoc stream set naming an unknown WebId (or a point of `failing_points`) is
    /// accepted, and the first message reports that stream with a stream-level
    /// `WebException` (404, or 403 for a failing point) instead of refusing the whole
    /// request with 404 (the default, `false`).
    pub per_stream_errors: bool,
    /// PI points (by name) a channel cannot read: with `per_stream_errors` they are reported
    /// in the first message with a `WebException` (403); without, the request is refused 403.
    pub failing_points: Vec<String>,
    /// Event mode: every stream gets one value per this period, made once server-wide and
    /// sent on every channel that has the stream (as a real server does: two channels of
    /// one point carry the same events). Phases are spread over the period. The value is
    /// the stream's event number (1, 2, ...), so a client can check it got each exactly
    /// once; see [`crate::Simulator::event_count`]. `interval`, `prebuilt`, `rate` are then
    /// ignored for data.
    pub stream_period: Option<Duration>,
    /// Event mode: events each stream gets per period, made together (a burst; default 1).
    /// Their timestamps are 100 ns apart.
    pub events_per_period: u32,
    /// Event mode: this many consecutive events of a stream share one timestamp (that of the
    /// first of them; default 1), as PI stores several values at one time. They differ in
    /// value (their event numbers).
    pub events_per_timestamp: u32,
    /// An upgrade waits this long before its `101` (a slow server), its channel already started
    /// (in event mode subscribed to the events). A client's make-before-break switch then
    /// overlaps at least this long: both connections carry what is made meanwhile. The initial
    /// value of [`Simulator::delay_upgrades`](crate::Simulator::delay_upgrades).
    pub upgrade_delay: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            root: "/piwebapi".to_string(),
            data_server: "PISRV01".to_string(),
            af_server: "AFSRV01".to_string(),
            af_database: "SimDatabase".to_string(),
            points: default_points(),
            elements: default_elements(),
            interval: Duration::from_millis(100),
            streams_per_message: None,
            values_per_stream: 1,
            max_messages_per_connection: None,
            close_after_messages: None,
            quiet: false,
            prebuilt: None,
            rate: None,
            basic_credentials: None,
            bearer_token: None,
            record_frames: false,
            tls: None,
            archive: false,
            archive_equal_values: false,
            recorded_next_links: true,
            max_url_length: None,
            max_channels_per_user: None,
            per_stream_errors: false,
            failing_points: Vec::new(),
            stream_period: None,
            events_per_period: 1,
            events_per_timestamp: 1,
            upgrade_delay: None,
        }
    }
}

/// The default PI points: one of every kind, names as on PI demo systems.
pub fn default_points() -> Vec<SimPoint> {
    vec![
        SimPoint::new("SINUSOID", PointKind::Float, ""),
        SimPoint::new("CDT158", PointKind::Float, "°C"),
        SimPoint::new("BA:TEMP.1", PointKind::Float, "°C"),
        SimPoint::new("BA:ACTIVE.1", PointKind::Digital, ""),
        SimPoint::new("BA:PHASE.1", PointKind::Text, ""),
        SimPoint::new("BA:COUNT.1", PointKind::Integer, "count"),
        SimPoint::new("BA:CONC.1", PointKind::Flaky, "g/l"),
    ]
}

/// The default elements: a pump and a tank with three attributes each.
pub fn default_elements() -> Vec<SimElement> {
    vec![
        SimElement::new(
            "Pump01",
            vec![
                SimPoint::new("Flow", PointKind::Float, "m3/h"),
                SimPoint::new("Status", PointKind::Digital, ""),
                SimPoint::new("Temperature", PointKind::Flaky, "°C"),
            ],
        ),
        SimElement::new(
            "Tank01",
            vec![
                SimPoint::new("Level", PointKind::Float, "%"),
                SimPoint::new("Mode", PointKind::Text, ""),
                SimPoint::new("Batches", PointKind::Integer, "count"),
            ],
        ),
    ]
}

/// `n` points: the default points first, then `SIM.TAG.00001`... cycling through kinds.
pub fn generated_points(n: usize) -> Vec<SimPoint> {
    let mut v = default_points();
    v.truncate(n);
    const KINDS: [PointKind; 5] = [
        PointKind::Float,
        PointKind::Float,
        PointKind::Integer,
        PointKind::Digital,
        PointKind::Text,
    ];
    let mut i = v.len();
    while v.len() < n {
        let kind = KINDS[i % KINDS.len()];
        v.push(SimPoint::new(
            format!("SIM.TAG.{:05}", i + 1),
            kind,
            if kind == PointKind::Float { "m" } else { "" },
        ));
        i += 1;
    }
    v
}

impl SimConfig {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
    /// API root, e.g. `/piwebapi`; a leading `/` is added and a trailing one removed
    /// (`/` serves the channels at the top level).
    pub fn root(mut self, root: impl Into<String>) -> Self {
        self.root = root.into();
        self
    }

    /// The root as used in paths: `/piwebapi`, or empty for `/`.
    pub fn root_path(&self) -> String {
        let r = self.root.trim_matches('/');
        if r.is_empty() {
            String::new()
        } else {
            format!("/{r}")
        }
    }
    pub fn points(mut self, points: Vec<SimPoint>) -> Self {
        self.points = points;
        self
    }
    /// Serve `n` PI points (see [`generated_points`]).
    pub fn point_count(mut self, n: usize) -> Self {
        self.points = generated_points(n);
        self
    }
    pub fn elements(mut self, elements: Vec<SimElement>) -> Self {
        self.elements = elements;
        self
    }
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }
    pub fn streams_per_message(mut self, n: usize) -> Self {
        self.streams_per_message = Some(n.max(1));
        self
    }
    pub fn values_per_stream(mut self, n: usize) -> Self {
        self.values_per_stream = n.max(1);
        self
    }
    pub fn max_messages_per_connection(mut self, n: u64) -> Self {
        self.max_messages_per_connection = Some(n);
        self
    }
    pub fn close_after_messages(mut self, n: u64) -> Self {
        self.close_after_messages = Some(n);
        self
    }
    /// See [`SimConfig::prebuilt`].
    pub fn prebuilt(mut self, k: usize) -> Self {
        self.prebuilt = Some(k.max(1));
        self
    }
    /// See [`SimConfig::rate`].
    pub fn rate(mut self, per_second: u64) -> Self {
        self.rate = Some(per_second);
        self
    }
    pub fn quiet(mut self, on: bool) -> Self {
        self.quiet = on;
        self
    }
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_credentials = Some((user.into(), password.into()));
        self
    }
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }
    /// Serve `wss://` (see [`crate::TestPki`] for certificates).
    pub fn tls(mut self, tls: SimTls) -> Self {
        self.tls = Some(tls);
        self
    }
    /// See [`SimConfig::archive`].
    pub fn archive(mut self, on: bool) -> Self {
        self.archive = on;
        self
    }
    /// See [`SimConfig::archive_equal_values`].
    pub fn archive_equal_values(mut self, on: bool) -> Self {
        self.archive_equal_values = on;
        self
    }
    /// See [`SimConfig::recorded_next_links`].
    pub fn recorded_next_links(mut self, on: bool) -> Self {
        self.recorded_next_links = on;
        self
    }
    /// See [`SimConfig::max_url_length`].
    pub fn max_url_length(mut self, bytes: usize) -> Self {
        self.max_url_length = Some(bytes);
        self
    }
    /// See [`SimConfig::max_channels_per_user`].
    pub fn max_channels_per_user(mut self, n: usize) -> Self {
        self.max_channels_per_user = Some(n);
        self
    }
    /// See [`SimConfig::per_stream_errors`].
    pub fn per_stream_errors(mut self, on: bool) -> Self {
        self.per_stream_errors = on;
        self
    }
    /// See [`SimConfig::failing_points`].
    pub fn failing_points(mut self, names: &[&str]) -> Self {
        self.failing_points = names.iter().map(|n| n.to_string()).collect();
        self
    }
    /// See [`SimConfig::stream_period`].
    pub fn stream_period(mut self, d: Duration) -> Self {
        self.stream_period = Some(d);
        self
    }
    /// See [`SimConfig::events_per_period`].
    pub fn events_per_period(mut self, n: u32) -> Self {
        self.events_per_period = n.max(1);
        self
    }
    /// See [`SimConfig::events_per_timestamp`].
    pub fn events_per_timestamp(mut self, n: u32) -> Self {
        self.events_per_timestamp = n.max(1);
        self
    }
    /// See [`SimConfig::upgrade_delay`].
    pub fn upgrade_delay(mut self, d: Duration) -> Self {
        self.upgrade_delay = Some(d);
        self
    }
    pub fn record_frames(mut self, on: bool) -> Self {
        self.record_frames = on;
        self
    }
}
