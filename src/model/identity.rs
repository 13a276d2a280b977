//! The seam rule: when two values of one stream are the same event. Gap fill takes out, at
//! the seam of a backfill, values already delivered; a subscription set takes out, while a
//! shard switches endpoints, the second copy of an event both endpoints sent. Both compare
//! values by this key: (timestamp, value, quality flags), the WebId being the caller's map
//! key; not the timestamp alone, since PI stores several values at one timestamp.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::{TimedValue, Value};

/// How a value is recognised: its timestamp and a digest of its value and quality flags (per
/// stream, so the WebId is the caller's map key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueKey {
    pub ts: i64,
    digest: u64,
}

impl ValueKey {
    /// `None` for a value without a valid timestamp (never matched: always delivered).
    pub fn of(v: &TimedValue) -> Option<ValueKey> {
        let ts = v.timestamp.unix_ns()?;
        let mut h = DefaultHasher::new();
        match &v.value {
            Value::Null => 0u8.hash(&mut h),
            Value::Double(d) => {
                1u8.hash(&mut h);
                d.to_bits().hash(&mut h);
            }
            Value::Int(n) => {
                2u8.hash(&mut h);
                n.hash(&mut h);
            }
            Value::String(s) => {
                3u8.hash(&mut h);
                s.hash(&mut h);
            }
            Value::Bool(b) => {
                4u8.hash(&mut h);
                b.hash(&mut h);
            }
            Value::Digital(d) => {
                5u8.hash(&mut h);
                d.name.hash(&mut h);
                d.code.hash(&mut h);
                d.is_system.hash(&mut h);
            }
            Value::Other(raw) => {
                6u8.hash(&mut h);
                raw.hash(&mut h);
            }
        }
        (v.good(), v.questionable(), v.substituted(), v.annotated()).hash(&mut h);
        Some(ValueKey {
            ts,
            digest: h.finish(),
        })
    }
}
