//! Authentication of the upgrade request.
//!
//! An `Authenticator` runs one handshake: it gives the `Authorization` value of the first
//! request, may answer a `401` challenge with the value of the next request *on the same
//! connection*, and checks the `101`. Basic and Bearer are preemptive: their first request
//! carries the credentials, and a 401 means they were refused. HTTP Negotiate (Kerberos) fits
//! the same shape: no (or an initial) token first, `step` turns the server's
//! `WWW-Authenticate: Negotiate <token>` into the next token, `finish` checks the final token
//! of the 101 for mutual authentication.
//!
//! Credentials are read from the channel's `Credentials` when the handshake starts, so a
//! password or token replaced on a live channel is used by its next connection.

use zeroize::Zeroizing;

use super::negotiate::Negotiate;
use super::options::{AuthMethod, ConnectOptions};
use super::Target;
use crate::error::Error;
use crate::secret::{push_base64, Secret};

use super::http::ResponseHead;

/// One authentication exchange over one HTTP connection.
pub trait Authenticator: Send {
    /// The scheme as sent (`Basic`, `Bearer`, `Negotiate`).
    fn scheme(&self) -> &'static str;

    /// The `Authorization` value of the first request, or `None` to send none.
    fn initial(&mut self) -> Result<Option<Secret>, Error>;

    /// The server answered `401` with these `WWW-Authenticate` values: the `Authorization`
    /// value of the next request on the same connection, or `None` to give up (the 401 is
    /// then reported as `ErrorKind::Auth`).
    fn step(&mut self, challenges: &[String]) -> Result<Option<Secret>, Error> {
        let _ = challenges;
        Ok(None)
    }

    /// The server answered `101`: check what it says about the authentication (a final
    /// Negotiate token). Basic and Bearer have nothing to check.
    fn finish(&mut self, response: &ResponseHead) -> Result<(), Error> {
        let _ = response;
        Ok(())
    }

    /// What was refused, for the message of a 401 (never a secret).
    fn refused(&self) -> String;
}

/// The authenticator `cfg` asks for, with the credentials it holds now, for one connection
/// to `target`.
pub fn for_options(cfg: &ConnectOptions, target: &Target) -> Option<Box<dyn Authenticator>> {
    match cfg.auth {
        AuthMethod::None => None,
        AuthMethod::Basic => Some(Box::new(Basic {
            username: cfg.username.clone(),
            password: cfg.credentials.password().unwrap_or_default(),
        })),
        AuthMethod::Bearer => Some(Box::new(Bearer {
            token: cfg.credentials.bearer_token().unwrap_or_default(),
        })),
        AuthMethod::Negotiate => {
            // Explicit credentials for SSPI (Windows); the configuration allows them only there.
            let identity = cfg
                .credentials
                .password()
                .filter(|_| !cfg.username.is_empty())
                .map(|pw| (cfg.username.clone(), pw));
            Some(Box::new(Negotiate::new(target, &cfg.negotiate, identity)))
        }
    }
}

/// `Authorization: Basic base64(user:password)`.
pub struct Basic {
    username: String,
    password: Secret,
}

impl Authenticator for Basic {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn initial(&mut self) -> Result<Option<Secret>, Error> {
        // Built in buffers of exactly the right size, wiped on drop.
        let user_pass_len = self.username.len() + 1 + self.password.expose().len();
        let mut plain = Zeroizing::new(Vec::with_capacity(user_pass_len));
        plain.extend_from_slice(self.username.as_bytes());
        plain.push(b':');
        plain.extend_from_slice(self.password.expose().as_bytes());
        let mut value = Zeroizing::new(String::with_capacity(6 + user_pass_len.div_ceil(3) * 4));
        value.push_str("Basic ");
        push_base64(&mut value, &plain);
        Ok(Some(Secret::from_zeroizing(value)))
    }

    fn refused(&self) -> String {
        format!(
            "the server refused the Basic credentials of user '{}'",
            self.username
        )
    }
}

/// `Authorization: Bearer <token>`.
pub struct Bearer {
    token: Secret,
}

impl Authenticator for Bearer {
    fn scheme(&self) -> &'static str {
        "Bearer"
    }

    fn initial(&mut self) -> Result<Option<Secret>, Error> {
        let mut value = Zeroizing::new(String::with_capacity(7 + self.token.expose().len()));
        value.push_str("Bearer ");
        value.push_str(self.token.expose());
        Ok(Some(Secret::from_zeroizing(value)))
    }

    fn refused(&self) -> String {
        "the server refused the bearer token (expired or revoked? replace it with set_bearer_token)"
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_headers() {
        let target = Target::parse("wss://pi.example/piwebapi/x").unwrap();
        let mut cfg = ConnectOptions {
            auth: AuthMethod::Basic,
            username: "piuser".into(),
            ..ConnectOptions::default()
        };
        cfg.credentials
            .set_password(Some(Secret::new("pi-secret-pw")));
        let mut a = for_options(&cfg, &target).unwrap();
        assert_eq!(
            a.initial().unwrap().unwrap().expose(),
            "Basic cGl1c2VyOnBpLXNlY3JldC1wdw=="
        );
        assert!(
            a.step(&["Basic realm=\"x\"".to_string()])
                .unwrap()
                .is_none(),
            "no second try"
        );
        assert!(!a.refused().contains("pi-secret-pw"));

        cfg.auth = AuthMethod::Bearer;
        cfg.credentials.set_bearer_token(Some(Secret::new("tok-1")));
        let mut a = for_options(&cfg, &target).unwrap();
        assert_eq!(a.initial().unwrap().unwrap().expose(), "Bearer tok-1");
        assert_eq!(a.scheme(), "Bearer");
    }
}
