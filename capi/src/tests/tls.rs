//! wss:// against the simulator serving TLS: the right CA, a wrong CA, an expired certificate,
//! a name mismatch, the insecure opt-in (one warning per channel), client certificates, and the
//! same failures through the C ABI.

use super::common;
use super::tls_common;

use std::ffi::CString;
use std::time::Duration;

use crate::*;
use common::*;
use piwebasync::{Channel, ErrorKind};
use piwebasync_sim::{SimConfig, Simulator};
use tls_common::*;

fn fast() -> SimConfig {
    SimConfig::default().interval(Duration::from_millis(10))
}

fn tls_sim(tls: piwebasync_sim::SimTls) -> Simulator {
    sim(fast().tls(tls))
}

fn open_err(url: &str, pairs: &[(&str, &str)]) -> piwebasync::Error {
    match Channel::open(url, &config(pairs)) {
        Ok(_) => panic!("{url} opened, expected a failure"),
        Err(e) => e,
    }
}

#[test]
fn wss_with_the_right_ca_streams_by_ip_and_by_host_name() {
    let pki = Pki::new("right-ca");
    let sim = tls_sim(pki.pki.server(LOOPBACK));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let cfg = config(&[("tls_ca_file", &pki.ca_file)]);
    let ch = Channel::open(&url, &cfg).unwrap();
    take(&ch, 3);
    // A DNS name: sent as SNI, checked against the certificate's DNS names.
    let by_name = url.replacen("127.0.0.1", "localhost", 1);
    let ch2 = Channel::open(&by_name, &cfg).unwrap();
    take(&ch2, 3);
    // https:// means wss:// as http:// means ws://.
    let https = url.replacen("wss://", "https://", 1);
    take(&Channel::open(&https, &cfg).unwrap(), 1);
    ch.close();
    assert_eq!(drain(&ch).1, ErrorKind::Closed);
}

#[test]
fn a_wrong_ca_is_an_unknown_issuer() {
    let pki = Pki::new("server-ca");
    let other = Pki::new("other-ca");
    let sim = tls_sim(pki.pki.server(LOOPBACK));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let e = open_err(&url, &[("tls_ca_file", &other.ca_file)]);
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("unknown issuer"), "{e}");
    assert!(e.message().contains(&url), "names the URL: {e}");
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let pki = Pki::new("expired");
    let sim = tls_sim(pki.pki.expired_server(LOOPBACK));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let e = open_err(&url, &[("tls_ca_file", &pki.ca_file)]);
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("expired"), "{e}");
    assert!(e.message().contains(&url), "{e}");
}

#[test]
fn a_certificate_for_another_name_is_a_name_mismatch() {
    let pki = Pki::new("wrong-name");
    let sim = tls_sim(pki.pki.server(&["pi.example.com"]));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let e = open_err(&url, &[("tls_ca_file", &pki.ca_file)]);
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("name mismatch"), "{e}");
    assert!(e.message().contains("127.0.0.1"), "{e}");
    let e = open_err(
        &url.replacen("127.0.0.1", "localhost", 1),
        &[("tls_ca_file", &pki.ca_file)],
    );
    assert!(
        e.message().contains("name mismatch") && e.message().contains("'localhost'"),
        "{e}"
    );
}

#[test]
fn tls_to_a_plain_server_and_plain_to_a_tls_server_fail_clearly() {
    let pki = Pki::new("mixed");
    // A plain HTTP server (as a real one does) answers the ClientHello with a 400.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "wss://{}/piwebapi/streams/x/channel",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let e = open_err(
        &url,
        &[("tls_ca_file", &pki.ca_file), ("open_timeout", "5")],
    );
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message().contains("speaking TLS") && e.message().contains(&url),
        "{e}"
    );

    let tls = tls_sim(pki.pki.server(LOOPBACK));
    let url = tls
        .stream_url(&tls.point_web_ids()[0])
        .replacen("wss://", "ws://", 1);
    let e = open_err(&url, &[("open_timeout", "5")]);
    assert_ne!(
        e.kind(),
        ErrorKind::Tls,
        "plain ws:// does not speak TLS at all: {e}"
    );
}

#[test]
fn insecure_skip_verify_connects_and_warns_once_per_channel() {
    let logs = logs();
    let pki = Pki::new("insecure");
    // Expired and from an unknown CA: verification would fail twice over.
    let sim = tls_sim(pki.pki.expired_server(&["nowhere.example"]));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let cfg = config(&[
        ("tls_insecure_skip_verify", "true"),
        ("reconnect", "true"),
        ("reconnect_initial_delay", "0.05"),
    ]);
    let ch = Channel::open(&url, &cfg).unwrap();
    take(&ch, 2);
    let warnings = || {
        logs.lock()
            .unwrap()
            .iter()
            .filter(|l| {
                l.starts_with("Warn") && l.contains("verification is OFF") && l.contains(&url)
            })
            .count()
    };
    assert!(wait_until(SOON, || warnings() >= 1), "a warning is logged");
    sim.reset_all();
    assert!(
        wait_until(SOON, || ch.stats().reconnects >= 1),
        "reconnected"
    );
    take(&ch, 2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(warnings(), 1, "one warning per channel, not per connection");

    // A second channel warns for itself.
    let ch2 = Channel::open(&url, &cfg).unwrap();
    take(&ch2, 1);
    assert!(wait_until(SOON, || warnings() >= 2));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(warnings(), 2);
}

#[test]
fn ca_file_mode_add_keeps_the_file_trusted() {
    let pki = Pki::new("add-mode");
    let sim = tls_sim(pki.pki.server(LOOPBACK));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let ch = Channel::open(
        &url,
        &config(&[("tls_ca_file", &pki.ca_file), ("tls_ca_file_mode", "add")]),
    )
    .unwrap();
    take(&ch, 1);
}

#[test]
fn client_certificates_are_presented_when_configured() {
    let pki = Pki::new("mtls");
    let sim = tls_sim(
        pki.pki
            .server(LOOPBACK)
            .require_client_cert(pki.pki.ca_pem()),
    );
    let url = sim.stream_url(&sim.point_web_ids()[0]);

    let e = open_err(
        &url,
        &[("tls_ca_file", &pki.ca_file), ("open_timeout", "5")],
    );
    assert_eq!(e.kind(), ErrorKind::Tls, "no client certificate: {e}");
    assert!(
        e.message().contains("client certificate") && e.message().contains(&url),
        "{e}"
    );

    let (cert, key) = pki.write_pair("client", &pki.pki.client_cert("historian-01"));
    let ch = Channel::open(
        &url,
        &config(&[
            ("tls_ca_file", &pki.ca_file),
            ("tls_client_cert", &cert),
            ("tls_client_key", &key),
        ]),
    )
    .unwrap();
    take(&ch, 2);

    // A certificate without its key (or the reverse) is refused at open, before connecting.
    let e = open_err(
        &url,
        &[("tls_ca_file", &pki.ca_file), ("tls_client_cert", &cert)],
    );
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("tls_client_key"), "{e}");
}

#[test]
fn tls_settings_are_checked_when_set() {
    let pki = Pki::new("settings");
    let mut c = piwebasync::ChannelConfig::default();
    let missing = pki.dir.path().join("missing.pem");
    let e = c.set("tls_ca_file", missing.to_str().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message().contains("tls_ca_file") && e.message().contains("missing.pem"),
        "{e}"
    );
    let not_pem = pki.dir.write("not.pem", "hello");
    let e = c.set("tls_ca_file", &not_pem).unwrap_err();
    assert!(e.message().contains("no PEM certificate"), "{e}");
    let e = c.set("tls_client_key", &pki.ca_file).unwrap_err();
    assert!(
        e.message().contains("tls_client_key") && e.message().contains("no PEM private key"),
        "{e}"
    );
    assert!(c.set("tls_ca_file_mode", "merge").is_err());
    c.set("tls_ca_file_mode", "ADD").unwrap();
    assert_eq!(c.tls_ca_file_mode, piwebasync::CaFileMode::Add);
    c.set("tls_ca_file", &pki.ca_file).unwrap();
    c.set("tls_ca_file", "").unwrap();
    assert!(c.tls_ca_file.is_none());
}

fn c_last_error() -> String {
    let mut buf = vec![0u8; 2048];
    let mut needed = 0usize;
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe { pwa_last_error(buf.as_mut_ptr().cast(), buf.len(), &mut needed) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[test]
fn the_c_abi_reports_pwa_err_tls_with_the_reason() {
    let pki = Pki::new("c-abi");
    let other = Pki::new("c-abi-other");
    let sim = tls_sim(pki.pki.server(LOOPBACK));
    let url = CString::new(sim.stream_url(&sim.point_web_ids()[0])).unwrap();
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe {
        let cfg = pwa_config_new();
        let set = |k: &str, v: &str| {
            let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
            pwa_config_set(cfg, k.as_ptr(), v.as_ptr())
        };
        assert_eq!(set("tls_ca_file", &other.ca_file), PWA_OK);
        let mut h: pwa_channel_t = 0;
        assert_eq!(
            pwa_channel_open(url.as_ptr(), cfg, std::ptr::null(), &mut h),
            PWA_ERR_TLS
        );
        let msg = c_last_error();
        assert!(
            msg.contains("unknown issuer") && msg.contains(url.to_str().unwrap()),
            "{msg}"
        );
        assert_eq!(h, 0);

        assert_eq!(set("tls_ca_file", &pki.ca_file), PWA_OK);
        assert_eq!(
            pwa_channel_open(url.as_ptr(), cfg, std::ptr::null(), &mut h),
            PWA_OK
        );
        pwa_config_free(cfg);
        let mut msg: *mut pwa_message = std::ptr::null_mut();
        assert_eq!(pwa_channel_poll_next(h, 20_000, &mut msg), PWA_OK);
        pwa_message_free(msg);
        assert_eq!(pwa_channel_free(h), PWA_OK);
    }
}
