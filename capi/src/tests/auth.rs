//! Basic and Bearer on the upgrade, over wss:// to the simulator: wrong and right
//! credentials, a token or password replaced on a live channel (used by the next reconnect,
//! as the simulator checks), the refusal of credentials over ws://, every channel's own copy of
//! its credentials, and no secret in any message, log line or Debug output.

use super::common;
use super::tls_common;

use std::ffi::CString;
use std::io::{Read, Write};
use std::time::Duration;

use crate::*;
use common::*;
use piwebasync::{Channel, ChannelConfig, ChannelState, ErrorKind};
use piwebasync_sim::{SimConfig, Simulator};
use tls_common::*;

const USER: &str = "piuser";
const PASSWORD: &str = "Pw-4-secret-Zq9";
const WRONG_PASSWORD: &str = "Wrong-pw-77Xy";
const TOKEN: &str = "tok-first-8a7b6c5d";
const TOKEN2: &str = "tok-second-1f2e3d4c";
const WRONG_TOKEN: &str = "tok-wrong-0000aaaa";

/// Every secret of these tests, and the forms they take on the wire.
fn secrets() -> Vec<String> {
    let mut v: Vec<String> = [PASSWORD, WRONG_PASSWORD, TOKEN, TOKEN2, WRONG_TOKEN]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for pw in [PASSWORD, WRONG_PASSWORD] {
        v.push(b64(format!("{USER}:{pw}").as_bytes()));
    }
    v
}

fn b64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "{what} contains a secret: {text}");
    }
}

struct TlsSim {
    sim: Simulator,
    pki: Pki,
}

impl TlsSim {
    fn start(cfg: SimConfig) -> TlsSim {
        let pki = Pki::new("auth");
        let sim = sim(cfg
            .interval(Duration::from_millis(10))
            .tls(pki.pki.server(LOOPBACK)));
        TlsSim { sim, pki }
    }

    fn url(&self) -> String {
        self.sim.stream_url(&self.sim.point_web_ids()[0])
    }

    fn config(&self, pairs: &[(&str, &str)]) -> ChannelConfig {
        let mut c = config(pairs);
        c.set("tls_ca_file", &self.pki.ca_file).unwrap();
        c
    }
}

fn basic(password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("auth", "basic".into()),
        ("username", USER.into()),
        ("password", password.into()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn reconnecting() -> Vec<(&'static str, String)> {
    vec![
        ("reconnect", "true".into()),
        ("reconnect_initial_delay", "0.05".into()),
        ("reconnect_max_delay", "0.2".into()),
    ]
}

#[test]
fn basic_wrong_password_is_refused_and_the_right_one_streams() {
    let _logs = logs();
    let t = TlsSim::start(SimConfig::default().basic_auth(USER, PASSWORD));
    let e = Channel::open(&t.url(), &t.config(&pairs(&basic(WRONG_PASSWORD))))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.http_status(), Some(401));
    assert!(
        e.message().contains("401") && e.message().contains(&t.url()),
        "{e}"
    );
    assert!(e.message().contains(USER), "names the user: {e}");
    assert_no_secret("the error", &format!("{e} {e:?}"));

    let ch = Channel::open(&t.url(), &t.config(&pairs(&basic(PASSWORD)))).unwrap();
    take(&ch, 3);
}

#[test]
fn bearer_wrong_token_is_refused_and_the_right_one_streams() {
    let _logs = logs();
    let t = TlsSim::start(SimConfig::default().bearer_token(TOKEN));
    let e = Channel::open(
        &t.url(),
        &t.config(&[("auth", "bearer"), ("bearer_token", WRONG_TOKEN)]),
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("bearer token"), "{e}");
    assert_no_secret("the error", &format!("{e} {e:?}"));
    let ch = Channel::open(
        &t.url(),
        &t.config(&[("auth", "bearer"), ("bearer_token", TOKEN)]),
    )
    .unwrap();
    take(&ch, 3);
}

#[test]
fn a_replaced_token_is_used_by_the_next_reconnect() {
    let _logs = logs();
    let t = TlsSim::start(SimConfig::default().bearer_token(TOKEN));
    let mut p = reconnecting();
    p.extend([("auth", "bearer".into()), ("bearer_token", TOKEN.into())]);
    let cfg = t.config(&pairs(&p));
    let ch = Channel::open(&t.url(), &cfg).unwrap();
    take(&ch, 2);

    // The server rotates the token; the live connection stays up.
    t.sim.set_bearer_token(Some(TOKEN2));
    take(&ch, 2);
    ch.set_bearer_token(TOKEN2).unwrap();
    let refused_before = t.sim.auth_failures();
    t.sim.reset_all();
    assert!(
        wait_until(SOON, || ch.stats().reconnects >= 1
            && ch.state() == ChannelState::Open),
        "reconnected"
    );
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 2);
    assert_eq!(
        t.sim.auth_failures(),
        refused_before,
        "the new token was accepted at once"
    );

    // The server rotates again and the channels keep TOKEN2: the next reconnect is refused
    // once and the channel ends with Auth (no retry loop).
    let other = Channel::open(
        &t.url(),
        &t.config(&pairs(
            &[
                reconnecting(),
                vec![("auth", "bearer".into()), ("bearer_token", TOKEN2.into())],
            ]
            .concat(),
        )),
    )
    .unwrap();
    take(&other, 1);
    t.sim.set_bearer_token(Some(TOKEN));
    let requests_before = t.sim.upgrade_requests();
    t.sim.reset_all();
    for c in [&ch, &other] {
        let (_, end) = drain(c);
        assert_eq!(end, ErrorKind::Auth);
        let why = c.last_error().unwrap_or_default();
        assert!(why.contains("401"), "{why}");
        assert_no_secret("last_error", &why);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        t.sim.upgrade_requests() - requests_before,
        2,
        "one refused attempt per channel, no retry"
    );
}

#[test]
fn a_replaced_password_is_used_by_the_next_reconnect_through_the_c_abi() {
    let _logs = logs();
    let t = TlsSim::start(SimConfig::default().basic_auth(USER, PASSWORD));
    let url = CString::new(t.url()).unwrap();
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe {
        let cfg = pwa_config_new();
        let set = |k: &str, v: &str| {
            let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
            pwa_config_set(cfg, k.as_ptr(), v.as_ptr())
        };
        for (k, v) in [
            ("tls_ca_file", t.pki.ca_file.as_str()),
            ("auth", "basic"),
            ("username", USER),
            ("password", PASSWORD),
            ("reconnect", "true"),
            ("reconnect_initial_delay", "0.05"),
        ] {
            assert_eq!(set(k, v), PWA_OK, "{k}");
        }
        let mut h: pwa_channel_t = 0;
        assert_eq!(
            pwa_channel_open(url.as_ptr(), cfg, std::ptr::null(), &mut h),
            PWA_OK
        );
        pwa_config_free(cfg);

        let new_pw = CString::new("New-pw-rotated-42").unwrap();
        assert_eq!(pwa_channel_set_password(h, new_pw.as_ptr()), PWA_OK);
        let token = CString::new("x").unwrap();
        assert_eq!(
            pwa_channel_set_bearer_token(h, token.as_ptr()),
            PWA_ERR_INVALID_ARGUMENT,
            "not a bearer channel"
        );
        assert_eq!(
            pwa_channel_set_password(h, std::ptr::null()),
            PWA_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            pwa_channel_set_password(0, new_pw.as_ptr()),
            PWA_ERR_INVALID_HANDLE
        );
        let bad = CString::new("a\rb").unwrap();
        assert_eq!(
            pwa_channel_set_password(h, bad.as_ptr()),
            PWA_ERR_INVALID_ARGUMENT
        );

        t.sim
            .set_basic_credentials(Some((USER, "New-pw-rotated-42")));
        let refused_before = t.sim.auth_failures();
        t.sim.reset_all();
        let mut stats: pwa_stats = std::mem::zeroed();
        assert!(wait_until(SOON, || {
            pwa_channel_stats(h, &mut stats);
            stats.reconnects >= 1
        }));
        let mut msg: *mut pwa_message = std::ptr::null_mut();
        assert_eq!(pwa_channel_poll_next(h, 20_000, &mut msg), PWA_OK);
        pwa_message_free(msg);
        assert_eq!(t.sim.auth_failures(), refused_before);
        assert_eq!(pwa_channel_free(h), PWA_OK);
    }
}

#[test]
fn each_channel_has_its_own_copy_of_the_credentials() {
    let _logs = logs();
    let t = TlsSim::start(SimConfig::default().bearer_token(TOKEN));
    let mut p = reconnecting();
    p.extend([("auth", "bearer".into()), ("bearer_token", TOKEN.into())]);
    let cfg = t.config(&pairs(&p));
    let a = Channel::open(&t.url(), &cfg).unwrap();
    let b = Channel::open(&t.url(), &cfg).unwrap();
    take(&a, 1);
    take(&b, 1);
    a.set_bearer_token(WRONG_TOKEN).unwrap();
    t.sim.reset_all();
    assert_eq!(drain(&a).1, ErrorKind::Auth, "a uses its replaced token");
    assert!(
        wait_until(SOON, || b.stats().reconnects >= 1
            && b.state() == ChannelState::Open),
        "b keeps the original"
    );
    // The caller's configuration still holds the original token: a new channel opens.
    take(&Channel::open(&t.url(), &cfg).unwrap(), 1);
    assert!(
        a.set_password("x").is_err(),
        "a bearer channel has no password"
    );
    assert!(
        b.set_bearer_token("  ").is_err(),
        "an empty token is refused"
    );
}

#[test]
fn credentials_over_plain_ws_are_refused_without_the_opt_in() {
    let _logs = logs();
    let plain = sim(SimConfig::default()
        .interval(Duration::from_millis(10))
        .basic_auth(USER, PASSWORD));
    let url = plain.stream_url(&plain.point_web_ids()[0]);
    let before = plain.upgrade_requests();
    for p in [
        basic(PASSWORD),
        vec![("auth", "bearer".into()), ("bearer_token", TOKEN.into())],
        vec![("header.Authorization", format!("Bearer {TOKEN}"))],
    ] {
        let e = Channel::open(&url, &config(&pairs(&p))).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(
            e.message().contains("allow_insecure_auth") && e.message().contains("wss://"),
            "{e}"
        );
        assert!(e.message().contains(&url), "{e}");
        assert_no_secret("the refusal", e.message());
    }
    assert_eq!(plain.upgrade_requests(), before, "nothing was sent");

    let mut p = basic(PASSWORD);
    p.push(("allow_insecure_auth", "true".into()));
    let ch = Channel::open(&url, &config(&pairs(&p))).unwrap();
    take(&ch, 2);

    // An update of a wss:// channel to a ws:// URL is refused the same way; the channel goes on.
    let t = TlsSim::start(SimConfig::default().basic_auth(USER, PASSWORD));
    let ch = Channel::open(&t.url(), &t.config(&pairs(&basic(PASSWORD)))).unwrap();
    let e = ch.update(&url, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    take(&ch, 2);
}

#[test]
fn incomplete_or_conflicting_auth_settings_are_refused_at_open() {
    let t = TlsSim::start(SimConfig::default());
    let mut cases = vec![
        (
            vec![("auth", "basic"), ("username", USER)],
            "username' and 'password",
        ),
        (vec![("auth", "bearer")], "bearer_token"),
        (vec![("password", PASSWORD)], "auth=none"),
        (
            vec![
                ("auth", "bearer"),
                ("bearer_token", TOKEN),
                ("header.Authorization", "Bearer x"),
            ],
            "header.Authorization",
        ),
        (vec![("negotiate_delegate", "true")], "set auth=negotiate"),
    ];
    // On Linux Negotiate takes no password (GSSAPI: a ticket or a keytab); on Windows a
    // username and password are SSPI's explicit credentials.
    if cfg!(unix) {
        cases.push((
            vec![
                ("auth", "negotiate"),
                ("username", USER),
                ("password", PASSWORD),
            ],
            "auth=negotiate takes no username, password",
        ));
    }
    for (p, needle) in cases {
        let e = Channel::open(&t.url(), &t.config(&p)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(needle), "{needle}: {e}");
        assert_no_secret("the refusal", e.message());
    }
    let mut c = ChannelConfig::default();
    assert!(c
        .set("auth", "digest")
        .unwrap_err()
        .message()
        .contains("expected none, basic, bearer or negotiate"));
    assert!(c.set("username", "a:b").is_err());
    assert!(c.set("origin", "x\r\nEvil: 1").is_err());
    assert!(
        c.set("header.Origin", "x").is_err(),
        "Origin has its own key"
    );
    c.set("origin", "https://historian.plant").unwrap();
}

/// A server that answers every upgrade with a 401 whose body echoes the request head,
/// credentials included (some misconfigured proxies do).
fn echoing_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = String::from_utf8_lossy(&head).replace("\r\n", " | ");
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"echo\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    format!("ws://{addr}/piwebapi/streams/x/channel")
}

#[test]
fn no_secret_appears_in_any_message_log_line_or_debug_output() {
    let logs = logs();
    let mut seen: Vec<String> = Vec::new();

    // A server that echoes the credentials back in its error body.
    let echo = echoing_server();
    for p in [
        basic(WRONG_PASSWORD),
        vec![
            ("auth", "bearer".into()),
            ("bearer_token", WRONG_TOKEN.into()),
        ],
        vec![("header.Authorization", format!("Bearer {TOKEN}"))],
    ] {
        let mut p = p;
        p.push(("allow_insecure_auth", "true".into()));
        let e = Channel::open(&echo, &config(&pairs(&p))).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
        assert!(
            e.message().contains("Authorization: ") && e.message().contains("***"),
            "the echo is there, redacted: {e}"
        );
        seen.push(format!("{e} {e:?}"));
    }

    // Failures over TLS: open refused, refused on reconnect, Debug of configurations.
    let t = TlsSim::start(SimConfig::default().bearer_token(TOKEN));
    let mut p = reconnecting();
    p.extend([("auth", "bearer".into()), ("bearer_token", TOKEN.into())]);
    let cfg = t.config(&pairs(&p));
    seen.push(format!("{cfg:?}"));
    let ch = Channel::open(&t.url(), &cfg).unwrap();
    take(&ch, 1);
    ch.set_bearer_token(WRONG_TOKEN).unwrap();
    t.sim.reset_all();
    let (_, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Auth);
    seen.push(ch.last_error().unwrap_or_default());
    let e = ch.poll_next(Some(Duration::ZERO)).unwrap_err();
    seen.push(format!("{e} {e:?}"));
    let e = ch.set_bearer_token("bad\nvalue").unwrap_err();
    seen.push(format!("{e} {e:?}"));
    let mut c = ChannelConfig::default();
    c.set("auth", "basic").unwrap();
    c.set("username", USER).unwrap();
    c.set("password", PASSWORD).unwrap();
    c.set("header.Cookie", &format!("s={TOKEN2}")).unwrap();
    seen.push(format!("{c:?} {:?}", c.clone()));
    let e = c.set("password", &format!("{PASSWORD}\r\n")).unwrap_err();
    seen.push(e.to_string());

    // Through the C ABI: pwa_last_error and pwa_channel_last_error.
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe {
        let ccfg = pwa_config_new();
        let set = |k: &str, v: &str| {
            let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
            pwa_config_set(ccfg, k.as_ptr(), v.as_ptr())
        };
        set("tls_ca_file", &t.pki.ca_file);
        set("auth", "bearer");
        set("bearer_token", WRONG_TOKEN);
        let url = CString::new(t.url()).unwrap();
        let mut h = 0;
        assert_eq!(
            pwa_channel_open(url.as_ptr(), ccfg, std::ptr::null(), &mut h),
            PWA_ERR_AUTH
        );
        seen.push(c_last_error());
        assert_eq!(
            set("bearer_token", &format!("{TOKEN}\n")),
            PWA_ERR_INVALID_ARGUMENT
        );
        seen.push(c_last_error());
        pwa_config_free(ccfg);
    }

    // Wait until the log thread handed over what it has, then look at everything.
    std::thread::sleep(Duration::from_millis(300));
    let lines = logs.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Trace") && l.contains("Authorization: ***")),
        "trace lines show the request"
    );
    for l in &lines {
        assert_no_secret("a log line", l);
    }
    for s in &seen {
        assert_no_secret("a message", s);
    }
}

fn c_last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe { pwa_last_error(buf.as_mut_ptr().cast(), buf.len(), std::ptr::null_mut()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
