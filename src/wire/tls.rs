//! TLS for `wss://`: rustls on the `ring` provider (no process-wide default provider is
//! installed, so a host application's own rustls setup is left alone).
//!
//! Trust: by default the operating system's store (read with rustls-native-certs, at most once
//! a minute for all channels; where the environment sets `SSL_CERT_FILE` / `SSL_CERT_DIR`, only
//! those are read). `tls_ca_file` replaces it (`tls_ca_file_mode=replace`, the default) or is
//! added to it (`add`).
//! `tls_insecure_skip_verify` accepts any certificate and logs a warning once per channel.
//! SNI and name verification use the URL's host. A failed handshake is `ErrorKind::Tls` with
//! the verifier's reason (unknown issuer, expired, name mismatch, ...) and the URL.

use std::ffi::OsString;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind};
use crate::logging::{log_line, LogLevel};

use super::options::{CaFileMode, TlsOptions};
use super::Target;

/// A channel's TLS state: the client configuration, built at its first `wss://` connection
/// and reused by every reconnect and update; whether the insecure warning was logged.
#[derive(Default)]
pub struct TlsState {
    config: Mutex<Option<Arc<ClientConfig>>>,
    warned_insecure: AtomicBool,
}

/// The byte stream under the WebSocket: plain TCP or TLS over it.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Run the TLS handshake over `tcp`.
pub async fn connect(
    target: &Target,
    cfg: &TlsOptions,
    tcp: TcpStream,
) -> Result<Transport, Error> {
    let config = client_config(cfg, target)?;
    if cfg.insecure_skip_verify && !cfg.state.warned_insecure.swap(true, Ordering::Relaxed) {
        log_line!(
            LogLevel::Warn,
            "{}: TLS certificate verification is OFF (tls_insecure_skip_verify=true): the server is not authenticated \
             and the connection can be intercepted",
            target.display()
        );
    }
    let name = ServerName::try_from(target.connect_host()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{}: '{}' is not a valid TLS server name: {e}",
                target.display(),
                target.connect_host()
            ),
        )
    })?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_error(target, e))?;
    Ok(Transport::Tls(Box::new(tls)))
}

/// The channel's client configuration, built once and kept in its `TlsState`. A failure to
/// build it (an unreadable CA file) is not kept: the next connection tries again.
fn client_config(cfg: &TlsOptions, target: &Target) -> Result<Arc<ClientConfig>, Error> {
    let mut slot = cfg.state.config.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.as_ref() {
        return Ok(c.clone());
    }
    let c = Arc::new(
        build(cfg)
            .map_err(|e| Error::new(e.kind(), format!("{}: {}", target.display(), e.message())))?,
    );
    *slot = Some(c.clone());
    Ok(c)
}

fn tls_error(msg: String) -> Error {
    Error::new(ErrorKind::Tls, msg)
}

fn build(cfg: &TlsOptions) -> Result<ClientConfig, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?;
    let builder = if cfg.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(roots(cfg)?)
    };
    let mut config = match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs("tls_client_cert", cert)?;
            let key = read_key("tls_client_key", key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                tls_error(format!(
                    "the client certificate (tls_client_cert, tls_client_key) is not usable: {e}"
                ))
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    // The upgrade is HTTP/1.1; say so, so that a proxy offering h2 does not pick it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn roots(cfg: &TlsOptions) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let use_system = cfg.ca_file.is_none() || cfg.ca_file_mode == CaFileMode::Add;
    let mut system_problems = String::new();
    if use_system {
        (roots, system_problems) = system_roots();
    }
    if let Some(path) = &cfg.ca_file {
        let certs = read_certs("tls_ca_file", path)?;
        let (added, ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("tls_ca_file '{}': none of its {ignored} certificate(s) is a usable CA certificate", path.display()),
            ));
        }
    }
    if roots.is_empty() {
        return Err(tls_error(format!(
            "no trusted CA certificates: the system's trust store is empty or unreadable{system_problems}; \
             set tls_ca_file"
        )));
    }
    Ok(roots)
}

/// How long the system's trust store, once read, serves new channels: many channels opened
/// together parse it once, and a CA installed while the process runs counts within a minute.
const SYSTEM_ROOTS_TTL: Duration = Duration::from_secs(60);

struct SystemRoots {
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` when read: a change reads the store again.
    env: (Option<OsString>, Option<OsString>),
    read_at: Instant,
    roots: RootCertStore,
    problems: String,
}

/// The operating system's trust store, and what went wrong reading it (for a message).
fn system_roots() -> (RootCertStore, String) {
    static CACHE: Mutex<Option<SystemRoots>> = Mutex::new(None);
    let env = (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    );
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = cache.as_ref() {
        if c.env == env && c.read_at.elapsed() < SYSTEM_ROOTS_TTL {
            return (c.roots.clone(), c.problems.clone());
        }
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    let problems = if added == 0 && !found.errors.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        format!(" ({})", errors.join("; "))
    } else {
        String::new()
    };
    *cache = Some(SystemRoots {
        env,
        read_at: Instant::now(),
        roots: roots.clone(),
        problems: problems.clone(),
    });
    (roots, problems)
}

fn read_certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{key} '{}': {why}", path.display()),
        )
    };
    let file = File::open(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let certs = CertificateDer::pem_reader_iter(BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("is not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "contains no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string(),
        ));
    }
    Ok(certs)
}

fn read_key(key: &str, path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bad = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{key} '{}': {why}", path.display()),
        )
    };
    let file = File::open(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    // The error of the PEM reader never contains key material, only its position and kind.
    PrivateKeyDer::from_pem_reader(BufReader::new(file)).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            bad("contains no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_string())
        }
        other => bad(format!("is not a valid PEM private key: {other}")),
    })
}

/// `tls_ca_file` must be readable PEM with at least one certificate (checked when set).
pub fn check_ca_file(key: &str, path: &Path) -> Result<(), Error> {
    read_certs(key, path).map(|_| ())
}

pub fn check_cert_file(key: &str, path: &Path) -> Result<(), Error> {
    read_certs(key, path).map(|_| ())
}

pub fn check_key_file(key: &str, path: &Path) -> Result<(), Error> {
    read_key(key, path).map(|_| ())
}

/// A failed handshake, with the verifier's reason in words.
fn handshake_error(target: &Target, e: std::io::Error) -> Error {
    let url = target.display();
    let why = match rustls_error(&e) {
        Some(tls) => describe(tls, &target.connect_host()),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".to_string()
        }
        None => e.to_string(),
    };
    tls_error(format!("TLS handshake with {url} failed: {why}"))
}

/// The TLS error inside an I/O error of a TLS stream, if that is what it is.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A TLS failure after the handshake (TLS 1.3 reports a refused client certificate then):
/// `ErrorKind::Tls` with the reason, for an I/O error that carries one.
pub fn io_failure(e: &std::io::Error, what: &str) -> Option<Error> {
    rustls_error(e).map(|tls| {
        tls_error(format!(
            "TLS failure {what}: {}",
            describe(tls, "the server")
        ))
    })
}

/// The reason of a TLS failure in words; `host` is the name the certificate was checked for.
fn describe(tls: &rustls::Error, host: &str) -> String {
    match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => format!(
                "certificate verification failed: unknown issuer (the certificate of {host} is not signed by a \
                 trusted CA; set tls_ca_file to the CA that issued it)"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("certificate verification failed: the certificate of {host} has expired ({tls})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("certificate verification failed: the certificate of {host} is not valid yet ({tls})")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("certificate verification failed: name mismatch, the certificate is not valid for '{host}' ({tls})")
            }
            CertificateError::Revoked => format!("certificate verification failed: the certificate of {host} is revoked"),
            CertificateError::BadSignature => {
                format!("certificate verification failed: bad signature on the certificate of {host}")
            }
            other => format!("certificate verification failed: {other:?} ({tls})"),
        },
        rustls::Error::AlertReceived(alert) => {
            let hint = match alert {
                rustls::AlertDescription::CertificateRequired
                | rustls::AlertDescription::BadCertificate
                | rustls::AlertDescription::UnknownCA => {
                    " (the server did not accept our client certificate: see tls_client_cert)"
                }
                _ => "",
            };
            format!("the server sent TLS alert {alert:?}{hint}")
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("{tls} (is this port speaking TLS? use ws:// for a plain server)")
        }
        other => other.to_string(),
    }
}

/// `tls_insecure_skip_verify`: any certificate is accepted; handshake signatures are still
/// checked (so the peer holds the key of the certificate it shows, whatever that is).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
