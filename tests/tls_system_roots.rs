//! Without `tls_ca_file` the operating system's trust store is used. These machines point
//! `SSL_CERT_FILE` at a bundle, and the store reader then reads only that file: this test sets
//! it itself. It is the only test of its binary, so changing the environment races with nothing.

mod common;
mod tls_common;

use std::time::Duration;

use common::*;
use piwebasync::{Channel, ChannelConfig, ErrorKind};
use piwebasync_sim::SimConfig;
use tls_common::*;

#[test]
fn the_system_store_is_the_default_trust() {
    let pki = Pki::new("system-store");
    let other = Pki::new("system-store-other");
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(10))
        .tls(pki.pki.server(LOOPBACK)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);

    std::env::remove_var("SSL_CERT_DIR");
    std::env::set_var("SSL_CERT_FILE", &pki.ca_file);
    let ch =
        Channel::open(&url, &ChannelConfig::default()).expect("trusted through the system store");
    take(&ch, 2);

    std::env::set_var("SSL_CERT_FILE", &other.ca_file);
    let e = Channel::open(&url, &ChannelConfig::default())
        .err()
        .expect("not trusted");
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("unknown issuer"), "{e}");

    // `add`: the system store (the other CA) plus the file (ours).
    let cfg = config(&[("tls_ca_file", &pki.ca_file), ("tls_ca_file_mode", "add")]);
    take(&Channel::open(&url, &cfg).unwrap(), 1);
    // `replace` (the default): only the file; the system store no longer counts.
    std::env::set_var("SSL_CERT_FILE", &pki.ca_file);
    let e = Channel::open(&url, &config(&[("tls_ca_file", &other.ca_file)]))
        .err()
        .unwrap();
    assert!(e.message().contains("unknown issuer"), "{e}");

    // An empty store: a clear error rather than a handshake that cannot succeed.
    let empty = pki.dir.write("empty.pem", "");
    std::env::set_var("SSL_CERT_FILE", &empty);
    let e = Channel::open(&url, &ChannelConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("no trusted CA certificates"), "{e}");
}
