//! What the wire needs to connect: headers, authentication, TLS, frame limits. The API layer
//! builds a `ConnectOptions` from the channel configuration once per channel; the wire never
//! sees the configuration itself.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::secret::{check_secret, Credentials, Secret};

use super::negotiate::NegotiateOptions;
use super::tls::TlsState;
use super::Target;

/// How the upgrade request authenticates (`auth` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// No `Authorization` header (unless one is given as `header.Authorization`).
    #[default]
    None,
    /// HTTP Basic: `username` and `password`.
    Basic,
    /// `Authorization: Bearer <bearer_token>` (OpenID Connect access tokens).
    Bearer,
    /// HTTP Negotiate (Kerberos through SPNEGO), with the `negotiate_*` settings.
    Negotiate,
}

impl AuthMethod {
    /// The method as the `auth` key names it.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Basic => "basic",
            AuthMethod::Bearer => "bearer",
            AuthMethod::Negotiate => "negotiate",
        }
    }
}

/// What `tls_ca_file` does to the trusted roots (`tls_ca_file_mode` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaFileMode {
    /// Trust only the certificates of `tls_ca_file` (the default: explicit trust).
    #[default]
    Replace,
    /// Trust the operating system's store and the certificates of `tls_ca_file`.
    Add,
}

/// Trust and client identity for `wss://`.
#[derive(Default)]
pub struct TlsOptions {
    /// PEM bundle of CA certificates; none = the operating system's store.
    pub ca_file: Option<PathBuf>,
    pub ca_file_mode: CaFileMode,
    /// Accept any server certificate (logs a warning once per channel).
    pub insecure_skip_verify: bool,
    /// PEM certificate chain and private key of a client certificate.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The client configuration built at the first `wss://` connection, reused after.
    pub(crate) state: TlsState,
}

/// Everything `wire::open` needs, for every connection of one channel (reconnects and
/// updates included).
#[derive(Default)]
pub struct ConnectOptions {
    /// `Origin` header of the upgrade.
    pub origin: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Request headers whose values are credentials (`Authorization`, `Cookie`, ...).
    pub secret_headers: Vec<(String, Secret)>,
    pub auth: AuthMethod,
    /// Basic user name.
    pub username: String,
    /// Password and bearer token, replaceable while the channel runs.
    pub credentials: Arc<Credentials>,
    /// Kerberos settings (`auth=negotiate`).
    pub negotiate: NegotiateOptions,
    /// Allow credentials over unencrypted `ws://`.
    pub allow_insecure_auth: bool,
    pub tls: TlsOptions,
    /// Largest accepted message and frame; `None` = no limit.
    pub max_message_size: Option<usize>,
}

impl ConnectOptions {
    /// Whether the upgrade carries credentials (an auth method, or a credential header).
    pub fn sends_credentials(&self) -> bool {
        self.auth != AuthMethod::None || !self.secret_headers.is_empty()
    }

    /// The one rule on clear text: credentials go over TLS only, unless `allow_insecure_auth`
    /// says otherwise. `open` applies it to every connection; the API checks it up front
    /// (open, update) to refuse before anything is sent.
    pub fn check_target(&self, target: &Target) -> Result<(), Error> {
        if self.sends_credentials() && !target.is_tls() && !self.allow_insecure_auth {
            let what = match self.auth {
                AuthMethod::Basic => "a Basic password".to_string(),
                AuthMethod::Bearer => "a bearer token".to_string(),
                AuthMethod::Negotiate => "Kerberos (Negotiate) tokens".to_string(),
                AuthMethod::None => {
                    let names: Vec<String> = self
                        .secret_headers
                        .iter()
                        .map(|(n, _)| format!("header.{n}"))
                        .collect();
                    format!("the credentials of {}", names.join(", "))
                }
            };
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "refusing to send {what} over unencrypted {}: use wss:// (https://), or set \
                     allow_insecure_auth=true to allow it",
                    target.display()
                ),
            ));
        }
        Ok(())
    }

    /// Replace the Basic password: the next connection sends it.
    pub fn set_password(&self, password: &str) -> Result<(), Error> {
        self.expect_method(AuthMethod::Basic, "password")?;
        check_secret("password", password)?;
        self.credentials.set_password(Some(Secret::new(password)));
        Ok(())
    }

    /// Replace the bearer token: the next connection sends it.
    pub fn set_bearer_token(&self, token: &str) -> Result<(), Error> {
        self.expect_method(AuthMethod::Bearer, "token")?;
        check_secret("bearer_token", token)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "bad value for 'bearer_token': the token is empty",
            ));
        }
        self.credentials.set_bearer_token(Some(Secret::new(token)));
        Ok(())
    }

    fn expect_method(&self, method: AuthMethod, what: &str) -> Result<(), Error> {
        if self.auth != method {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "this channel uses auth={}, not {}: it has no {what} to replace",
                    self.auth.name(),
                    method.name()
                ),
            ));
        }
        Ok(())
    }

    /// Every secret these options may send, for `redact`.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let mut all = self.credentials.all();
        all.extend(self.secret_headers.iter().map(|(_, v)| v.clone()));
        all
    }
}
