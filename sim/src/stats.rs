//! Per-connection counters.

use std::fmt::Write as _;

use crate::model::push_json_str;

/// What one upgraded channel connection has sent. A message counts once its send
/// completed (the frame was written to the socket).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// 1, 2, ... in upgrade order.
    pub id: u64,
    /// The request target, e.g. `/piwebapi/streams/F1DP.../channel?includeInitialValues=true`.
    pub path_and_query: String,
    pub data_messages_sent: u64,
    pub heartbeats_sent: u64,
    pub initial_messages_sent: u64,
    /// Frames sent by fault injection (`send_not_json`, `send_oversize`).
    pub fault_frames_sent: u64,
    /// Values in data and initial messages.
    pub values_sent: u64,
    /// Payload bytes of all text frames sent.
    pub bytes_sent: u64,
    /// False once the connection ended, whoever ended it.
    pub open: bool,
    /// Every text frame sent, in order (only with `record_frames`).
    pub frames: Vec<String>,
    /// When the connection was upgraded (to measure how reconnects spread).
    pub upgraded_at: Option<std::time::Instant>,
}

impl ConnStats {
    /// All text frames sent.
    pub fn messages_sent(&self) -> u64 {
        self.data_messages_sent
            + self.heartbeats_sent
            + self.initial_messages_sent
            + self.fault_frames_sent
    }

    /// JSON object without `frames` (for `/_sim/stats`).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, r#"{{"id":{},"path_and_query":"#, self.id);
        push_json_str(&mut s, &self.path_and_query);
        let _ = write!(
            s,
            r#","data_messages_sent":{},"heartbeats_sent":{},"initial_messages_sent":{},"fault_frames_sent":{},"values_sent":{},"bytes_sent":{},"open":{}}}"#,
            self.data_messages_sent,
            self.heartbeats_sent,
            self.initial_messages_sent,
            self.fault_frames_sent,
            self.values_sent,
            self.bytes_sent,
            self.open
        );
        s
    }
}

/// JSON array of connections, without frames.
pub fn stats_json(conns: &[ConnStats]) -> String {
    let mut s = String::from("[");
    for (i, c) in conns.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&c.to_json());
    }
    s.push(']');
    s
}
