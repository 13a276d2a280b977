//! The `piwebasync-sim` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_piwebasync-sim");

#[tokio::test]
async fn binary_prints_urls_serves_and_stops_on_sigterm() {
    let port_file =
        std::env::temp_dir().join(format!("piwebasync-sim-port-{}", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new(BIN)
        .args(["--interval-ms", "20", "--root", "/piwebapi", "--port-file"])
        .arg(&port_file)
        .stdin(Stdio::null()) // stdin closed must not stop it
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("listening ")
        .expect(&first)
        .to_string();
    assert!(
        base.starts_with("ws://127.0.0.1:") && base.ends_with("/piwebapi"),
        "{base}"
    );
    let port: u16 = base["ws://127.0.0.1:".len()..base.len() - "/piwebapi".len()]
        .parse()
        .unwrap();
    let written = std::fs::read_to_string(&port_file).unwrap();
    assert_eq!(written.trim().parse::<u16>().unwrap(), port);
    let _ = std::fs::remove_file(&port_file);

    let mut lines = Vec::new();
    for _ in 0..11 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l.trim().to_string());
    }
    let url = |kind: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{kind} ")))
            .unwrap_or_else(|| panic!("no {kind} line in {lines:?}"))
            .to_string()
    };
    for kind in ["stream", "streamset", "adhoc"] {
        let u = url(kind);
        assert!(u.starts_with(&base), "{u}");
        let mut ws = connect(&u).await;
        check_message(&json(&mut ws, SEC).await);
    }
    assert!(url("control").ends_with("/_sim/stats"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "{s:?}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_auth_options_and_help() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--interval-ms") && text.contains("/_sim/reset"));

    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["--user", "u"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
