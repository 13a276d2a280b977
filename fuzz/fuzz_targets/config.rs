//! Configuration by key (`ChannelConfig::set` / `get`), as the C ABI and the bindings use it:
//! a sequence of sets on every key (and `header.<Name>`), with values from a list of edge
//! cases or arbitrary text. Never a panic; a refused set leaves the configuration as it was
//! (every key as `get` and `Debug` show it); a value `get` gives back is accepted by `set` and
//! changes nothing; no secret ever shows in `get`, `Debug` or an error message.
//!
//! Secret values are marked (they all contain MARK, and no other value or key may), so a leak
//! is any MARK in what the configuration shows. What cannot be checked from outside the crate:
//! that a refused set leaves a stored secret's value (not just its presence) unchanged.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use piwebasync_rust::{ChannelConfig, KEY_SPECS};

const MARK: &str = "pwaSECRET";
const HEADERS: &[&str] = &[
    "Authorization",
    "authorization",
    "Proxy-Authorization",
    "Cookie",
    "X-Requested-With",
    "Origin",
    "Host",
    "Sec-WebSocket-Key",
    "X Bad",
    "",
];
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "true",
    "false",
    "TRUE",
    "yes",
    "0.25",
    "1e3",
    "1e309",
    "NaN",
    "inf",
    "-0",
    " 10 ",
    "0.0000000001",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "auto",
    "none",
    "basic",
    "bearer",
    "negotiate",
    "append",
    "replace",
    "/nonexistent.pem",
    "a\r\nb",
    "x\0y",
    "\u{e9}",
    "https://o",
];

fn is_secret(key: &str) -> bool {
    match key.strip_prefix("header.") {
        Some(name) => SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()),
        None => KEY_SPECS.iter().any(|s| s.name == key && s.secret),
    }
}

/// Everything the configuration shows: `Debug` (every key and every header name) and `get`
/// of the keys used so far.
fn shown(c: &ChannelConfig, used: &[String]) -> String {
    let mut out = format!("{c:?}");
    for key in KEY_SPECS
        .iter()
        .map(|s| s.name)
        .chain(used.iter().map(String::as_str))
    {
        out.push_str(&format!(
            "\n{key}={:?}",
            c.get(key).map_err(|e| e.message().to_string())
        ));
    }
    out
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut c = ChannelConfig::default();
    let mut used: Vec<String> = Vec::new();
    for _ in 0..u.int_in_range(1..=12)? {
        let key = match u.int_in_range(0..=9)? {
            0..=6 => {
                let spec = u.choose(KEY_SPECS)?;
                if spec.name.starts_with("header.") {
                    format!("header.{}", u.choose(HEADERS)?)
                } else {
                    spec.name.to_string()
                }
            }
            7 => format!("header.{}", u.arbitrary::<&str>()?),
            _ => u.arbitrary::<String>()?,
        };
        let mut value = if u.ratio(2, 3)? {
            u.choose(VALUES)?.to_string()
        } else {
            u.arbitrary::<String>()?
        };
        let secret = is_secret(&key);
        if secret {
            value = format!("{MARK}{value}");
        } else if (key.clone() + &value)
            .to_ascii_lowercase()
            .contains(&MARK.to_ascii_lowercase())
        {
            continue;
        }
        used.push(key.clone());
        let before = shown(&c, &used);
        match c.set(&key, &value) {
            Err(e) => {
                assert!(
                    !e.message().contains(MARK),
                    "a refusal shows the secret: {}",
                    e.message()
                );
                assert_eq!(
                    shown(&c, &used),
                    before,
                    "refused set({key:?}, {value:?}) changed the configuration"
                );
            }
            Ok(()) => {
                let got = c.get(&key).expect("a key that was set can be read");
                if secret {
                    assert!(got == "***" || got.is_empty(), "get({key:?}) = {got:?}");
                } else {
                    // What get gives back, set takes, and nothing changes.
                    let now = shown(&c, &used);
                    c.set(&key, &got).unwrap_or_else(|e| {
                        panic!(
                            "set({key:?}, {got:?}) refuses what get gave after set({value:?}): {}",
                            e.message()
                        )
                    });
                    assert_eq!(
                        shown(&c, &used),
                        now,
                        "set({key:?}, get()) changed the configuration"
                    );
                }
            }
        }
        let all = shown(&c, &used);
        assert!(!all.contains(MARK), "a secret is shown:\n{all}");
        let _ = c.clone();
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
