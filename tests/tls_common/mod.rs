//! Helpers of the TLS, authentication and nginx tests: temporary directories with PEM files,
//! and the library's log lines captured at the most verbose level.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use piwebasync::LogLevel;
use piwebasync_sim::{CertAndKey, TestPki};

/// A directory under the system's temp dir, removed with everything in it on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "piwebasync-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `text` to `name` in the directory; the path as a string (for config values).
    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write temp file");
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test CA with its certificate written out, and the files a test points the library at.
pub struct Pki {
    pub pki: TestPki,
    pub dir: TempDir,
    /// Path of the CA certificate (PEM).
    pub ca_file: String,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let pki = TestPki::new(&format!("piwebasync {tag} test CA"));
        let dir = TempDir::new(tag);
        let ca_file = dir.write("ca.pem", &pki.ca_pem());
        Pki { pki, dir, ca_file }
    }

    /// Write a certificate and key; returns (cert path, key path).
    pub fn write_pair(&self, name: &str, c: &CertAndKey) -> (String, String) {
        (
            self.dir.write(&format!("{name}.pem"), &c.cert_pem),
            self.dir.write(&format!("{name}-key.pem"), &c.key_pem),
        )
    }
}

/// The names the simulator's loopback URLs use.
pub const LOOPBACK: &[&str] = &["localhost", "127.0.0.1"];

/// Every log line of the library in this test process, at the most verbose level. The sink is
/// process-wide: installed once, shared by the tests of one binary.
pub fn logs() -> Arc<Mutex<Vec<String>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            piwebasync::set_log_sink(
                LogLevel::Trace,
                Some(Box::new(move |level: LogLevel, line: &str| {
                    sink.lock().unwrap().push(format!("{level:?} {line}"));
                })),
            )
            .expect("log sink");
            lines
        })
        .clone()
}

pub fn log_lines() -> Vec<String> {
    logs().lock().unwrap().clone()
}
