//! Secrets: passwords, bearer tokens and the `Authorization` header built from them.
//!
//! A `Secret` wipes its bytes when dropped, never prints them (`Debug` and `Display` show
//! `***`), and is the only place a credential is kept. `Credentials` holds the ones a channel
//! sends, behind locks, so that a live channel can be given a new password or token that its
//! next connection (reconnect or update) uses. `redact` removes known secrets from any text
//! that came from outside (a server's error body) before it reaches a message.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use zeroize::{Zeroize, Zeroizing};

/// A credential. Wiped on drop; shown as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: &str) -> Secret {
        // Exact capacity: a String that grows leaves copies behind in freed buffers.
        let mut s = String::with_capacity(value.len());
        s.push_str(value);
        Secret(Zeroizing::new(s))
    }

    /// Takes ownership of a buffer that is already wiped on drop.
    pub fn from_zeroizing(value: Zeroizing<String>) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret is checked like a header value; the error never shows it.
pub fn check_secret(key: &str, value: &str) -> Result<(), crate::error::Error> {
    if value.bytes().any(|b| b.is_ascii_control()) {
        return Err(crate::error::Error::new(
            crate::error::ErrorKind::InvalidArgument,
            format!(
                "bad value for '{key}': the value contains control characters (CR, LF, NUL, ...)"
            ),
        ));
    }
    Ok(())
}

/// The replaceable credentials of one configuration or channel.
#[derive(Default)]
pub struct Credentials {
    password: Mutex<Option<Secret>>,
    bearer_token: Mutex<Option<Secret>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Credentials {
    pub fn password(&self) -> Option<Secret> {
        lock(&self.password).clone()
    }

    pub fn bearer_token(&self) -> Option<Secret> {
        lock(&self.bearer_token).clone()
    }

    /// The old value is dropped, and so wiped.
    pub fn set_password(&self, value: Option<Secret>) {
        *lock(&self.password) = value;
    }

    pub fn set_bearer_token(&self, value: Option<Secret>) {
        *lock(&self.bearer_token) = value;
    }

    /// An independent copy: replacing a secret in one never changes the other.
    pub fn deep_copy(&self) -> Credentials {
        Credentials {
            password: Mutex::new(self.password()),
            bearer_token: Mutex::new(self.bearer_token()),
        }
    }

    /// Every secret held, for `redact`.
    pub fn all(&self) -> Vec<Secret> {
        self.password()
            .into_iter()
            .chain(self.bearer_token())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: Option<Secret>| if s.is_some() { "***" } else { "(none)" };
        f.debug_struct("Credentials")
            .field("password", &format_args!("{}", shown(self.password())))
            .field(
                "bearer_token",
                &format_args!("{}", shown(self.bearer_token())),
            )
            .finish()
    }
}

/// `text` with every occurrence of each secret (and of its base64 form, as in a Basic header)
/// replaced by `***`. Secrets shorter than 4 bytes are still replaced: a leak is worse than an
/// odd-looking message.
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.is_empty() {
            continue;
        }
        let mut encoded = base64_std(s.expose().as_bytes());
        for needle in [s.expose(), encoded.as_str()] {
            if out.contains(needle) {
                out = out.replace(needle, "***");
            }
        }
        encoded.zeroize();
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, written into a buffer of exactly the right size.
pub fn base64_std(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    push_base64(&mut out, input);
    out
}

/// Append the base64 of `input` to `out` (which should have room: see `Zeroizing` use).
pub fn push_base64(out: &mut String, input: &[u8]) {
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Decode standard base64 (padding optional, no whitespace inside) into a buffer wiped on drop;
/// `None` for anything else.
pub fn base64_decode(input: &str) -> Option<Zeroizing<Vec<u8>>> {
    let text = input.trim().trim_end_matches('=');
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 3 / 4));
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover symbol (6 bits) cannot end valid base64.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        let c = Credentials::default();
        c.set_password(Some(Secret::new("hunter2")));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn copies_are_independent() {
        let a = Credentials::default();
        a.set_bearer_token(Some(Secret::new("one")));
        let b = a.deep_copy();
        b.set_bearer_token(Some(Secret::new("two")));
        assert_eq!(a.bearer_token().unwrap().expose(), "one");
        assert_eq!(b.bearer_token().unwrap().expose(), "two");
    }

    #[test]
    fn base64_and_redaction() {
        assert_eq!(
            base64_std(b"piuser:pi-secret-pw"),
            "cGl1c2VyOnBpLXNlY3JldC1wdw=="
        );
        assert_eq!(base64_std(b"a"), "YQ==");
        assert_eq!(base64_std(b"ab"), "YWI=");
        assert_eq!(base64_std(b"abc"), "YWJj");
        for plain in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10piwebasync"] {
            assert_eq!(&base64_decode(&base64_std(plain)).unwrap()[..], plain);
        }
        assert!(base64_decode("YW!j").is_none());
        assert!(base64_decode("Y").is_none());
        let secrets = [Secret::new("tok-123")];
        let text = format!("echo: Bearer tok-123 / {}", base64_std(b"tok-123"));
        assert_eq!(redact(&text, &secrets), "echo: Bearer *** / ***");
    }
}
