//! TLS serving (`wss://`), and a throwaway test PKI to serve with.
//!
//! ```no_run
//! use piwebasync_sim::{SimConfig, Simulator, TestPki};
//! let pki = TestPki::new("piwebasync test CA");
//! let sim = Simulator::start(SimConfig::default().tls(pki.server(&["localhost", "127.0.0.1"]))).unwrap();
//! // sim.base_url() is wss://127.0.0.1:PORT/piwebapi; trust pki.ca_pem() in the client.
//! ```

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

use crate::socket::SharedTcp;

/// What the simulator serves TLS with: PEM text, as a test generates it or reads it.
#[derive(Clone)]
pub struct SimTls {
    /// The server certificate, then its intermediates (PEM).
    pub cert_chain_pem: String,
    /// The server certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// Require a client certificate issued by one of these CAs (PEM); `None` = no client
    /// certificates asked for.
    pub client_ca_pem: Option<String>,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &"***")
            .field(
                "client_ca_pem",
                &self.client_ca_pem.as_ref().map(|p| p.len()),
            )
            .finish()
    }
}

impl SimTls {
    pub fn new(cert_chain_pem: impl Into<String>, key_pem: impl Into<String>) -> SimTls {
        SimTls {
            cert_chain_pem: cert_chain_pem.into(),
            key_pem: key_pem.into(),
            client_ca_pem: None,
        }
    }

    /// Require client certificates issued by `ca_pem`.
    pub fn require_client_cert(mut self, ca_pem: impl Into<String>) -> SimTls {
        self.client_ca_pem = Some(ca_pem.into());
        self
    }

    pub(crate) fn acceptor(&self) -> io::Result<tokio_rustls::TlsAcceptor> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
        };
        let chain = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("TLS certificate", &e))?;
        if chain.is_empty() {
            return Err(bad("TLS certificate", &"no PEM certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad("TLS key", &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS", &e))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots
                        .add(c.map_err(|e| bad("client CA", &e))?)
                        .map_err(|e| bad("client CA", &e))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| bad("client CA", &e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| bad("TLS certificate/key", &e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// A certificate authority for tests, with the certificates a TLS test needs: a good server
/// certificate, an expired one, one for other names, a client certificate. Keys are
/// generated fresh (ECDSA P-256) and live only in memory.
pub struct TestPki {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("key_pem", &"***")
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// A new CA named `name`. Panics only if key generation fails (a broken crypto library).
    pub fn new(name: &str) -> TestPki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        TestPki {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate (PEM), what a client trusts.
    pub fn ca_pem(&self) -> String {
        self.issuer.pem()
    }

    fn issue(&self, names: &[&str], client: bool, expired: bool) -> CertAndKey {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("certificate names");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "client".into()),
        );
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        } else {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2099, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        CertAndKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server_cert(&self, names: &[&str]) -> CertAndKey {
        self.issue(names, false, false)
    }

    /// The same, expired in 2001.
    pub fn expired_server_cert(&self, names: &[&str]) -> CertAndKey {
        self.issue(names, false, true)
    }

    /// A client certificate with common name `name`.
    pub fn client_cert(&self, name: &str) -> CertAndKey {
        self.issue(&[name], true, false)
    }

    /// What the simulator serves with: a server certificate for `names`.
    pub fn server(&self, names: &[&str]) -> SimTls {
        let c = self.server_cert(names);
        SimTls::new(c.cert_pem, c.key_pem)
    }

    /// What the simulator serves with: an expired server certificate for `names`.
    pub fn expired_server(&self, names: &[&str]) -> SimTls {
        let c = self.expired_server_cert(names);
        SimTls::new(c.cert_pem, c.key_pem)
    }
}

/// A server-side connection: plain TCP or TLS over it.
pub(crate) enum SimStream {
    Plain(SharedTcp),
    Tls(Box<TlsStream<SharedTcp>>),
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_flush(cx),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SimStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            SimStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
