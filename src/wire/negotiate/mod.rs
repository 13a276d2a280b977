//! HTTP Negotiate (RFC 4559): Kerberos through SPNEGO on the upgrade request.
//!
//! As curl's `--negotiate` and Windows' HTTP stack do: the first request goes without
//! credentials; a `401` offering `Negotiate` is answered on the same connection with a token
//! from a new security context for the service (`HTTP@<host of the URL>` unless
//! `negotiate_service` says otherwise); further `401 Negotiate <token>` legs are fed to the
//! context; the final token of the `101`, when there is one, must verify (mutual
//! authentication). Every connection gets its own context, so a token is never sent twice.
//!
//! The platform's library does the Kerberos work: GSSAPI (MIT, loaded at run time) on Unix,
//! in `gssapi`; SSPI (`secur32`, the Negotiate package) on Windows, in `sspi`. Where there is none, `auth=negotiate` fails with `ErrorKind::Auth`.

#[cfg(unix)]
mod gssapi;

use std::path::PathBuf;

use zeroize::Zeroizing;

use super::auth::Authenticator;
use super::http::ResponseHead;
use super::Target;
use crate::error::{Error, ErrorKind};
use crate::secret::{base64_decode, push_base64, Secret};

#[cfg(windows)]
mod sspi;

#[cfg(unix)]
use gssapi as platform;
#[cfg(windows)]
use sspi as platform;

/// The `negotiate_*` settings of a channel.
#[derive(Debug, Clone, Default)]
pub struct NegotiateOptions {
    /// The service principal (`negotiate_service`); `None` = `HTTP@<host of the URL>`.
    pub service: Option<ServiceName>,
    /// Refuse a `101` that does not prove the server's identity with a final token.
    pub require_mutual: bool,
    /// Delegate (forward) the user's credentials to the server.
    pub delegate: bool,
    /// A client keytab to take the credentials from instead of the credential cache.
    pub keytab: Option<PathBuf>,
    /// The client principal to use (from the keytab, or from a cache collection).
    pub principal: Option<String>,
}

/// The name of the server's service, as GSSAPI takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceName {
    /// `HTTP@pi.example.com`: the library maps the host to its realm.
    HostBased(String),
    /// `HTTP/pi.example.com@EXAMPLE.COM`: a complete Kerberos principal name.
    Principal(String),
}

impl ServiceName {
    /// Parse `negotiate_service`: `HTTP/host` or `HTTP@host` (the same service), or a full
    /// principal name `HTTP/host@REALM`.
    pub fn parse(text: &str) -> Result<ServiceName, String> {
        let t = text.trim();
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                "expected a service principal such as HTTP/pi.example.com (no spaces)".into(),
            );
        }
        let well_formed = |service: &str, host: &str| {
            !service.is_empty()
                && !host.is_empty()
                && !service.contains(['/', '@'])
                && !host.contains(['/', '@'])
        };
        if let Some((service, rest)) = t.split_once('/') {
            match rest.split_once('@') {
                None if well_formed(service, rest) => {
                    return Ok(ServiceName::HostBased(format!("{service}@{rest}")))
                }
                Some((host, realm))
                    if well_formed(service, host)
                        && !realm.is_empty()
                        && !realm.contains(['/', '@']) =>
                {
                    return Ok(ServiceName::Principal(t.to_string()))
                }
                _ => {}
            }
        } else if let Some((service, host)) = t.split_once('@') {
            if well_formed(service, host) {
                return Ok(ServiceName::HostBased(t.to_string()));
            }
        }
        Err("expected HTTP/host, HTTP@host or HTTP/host@REALM".into())
    }

    /// The default for a URL: the `HTTP` service on the host as written in the URL.
    pub fn for_target(target: &Target) -> ServiceName {
        ServiceName::HostBased(format!("HTTP@{}", target.connect_host()))
    }

    /// As a message shows it (`HTTP/host` form).
    pub fn shown(&self) -> String {
        match self {
            ServiceName::HostBased(s) => s.replacen('@', "/", 1),
            ServiceName::Principal(p) => p.clone(),
        }
    }
}

/// What one call of the platform's context step gave.
pub(crate) struct Step {
    /// The token to send (may be empty).
    pub token: Zeroizing<Vec<u8>>,
    /// The context is established (the server has proven its identity, if asked to).
    pub complete: bool,
    /// The library expects another token from the server.
    #[allow(dead_code)]
    pub continue_needed: bool,
}

/// The Negotiate exchange of one connection.
pub struct Negotiate {
    service: ServiceName,
    options: NegotiateOptions,
    /// Explicit credentials (Windows: `username`, `password`); none = the logged-on
    /// account, or on Linux the credential cache or keytab.
    identity: Option<(String, Secret)>,
    #[cfg(any(unix, windows))]
    context: Option<platform::Context>,
    /// A token was sent on this connection.
    sent: bool,
    /// The context is complete (nothing more may come from the server).
    complete: bool,
}

impl Negotiate {
    pub fn new(
        target: &Target,
        options: &NegotiateOptions,
        identity: Option<(String, Secret)>,
    ) -> Negotiate {
        Negotiate {
            service: options
                .service
                .clone()
                .unwrap_or_else(|| ServiceName::for_target(target)),
            options: options.clone(),
            identity,
            #[cfg(any(unix, windows))]
            context: None,
            sent: false,
            complete: false,
        }
    }

    /// A failure of the exchange: the server asked for Negotiate (401) and it could not be
    /// answered, so it is reported as the refusal it leads to.
    fn failed(&self, what: &str, why: &str) -> Error {
        Error::http(
            401,
            format!(
                "Kerberos (Negotiate) authentication for service {} failed: {what}: {why}",
                self.service.shown()
            ),
        )
    }

    /// One step of the context with the server's token (none on the first leg).
    fn advance(&mut self, input: Option<&[u8]>) -> Result<Step, String> {
        #[cfg(any(unix, windows))]
        {
            if self.context.is_none() {
                let identity = self.identity.as_ref().map(|(u, p)| (u.as_str(), p));
                self.context = Some(platform::Context::new(
                    &self.service,
                    &self.options,
                    identity,
                )?);
            }
            let step = self.context.as_mut().expect("created above").step(input)?;
            self.complete = step.complete;
            Ok(step)
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = input;
            Err("this build has no Kerberos support on this platform".to_string())
        }
    }
}

/// The token of the `Negotiate` challenge among `values` (`WWW-Authenticate` headers, each
/// possibly listing several challenges): `None` when Negotiate is not offered, `Some(None)`
/// when it is offered without a token.
fn negotiate_challenge(values: &[String]) -> Option<Option<String>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|c| {
            let (scheme, rest) = c.split_once(' ').unwrap_or((c, ""));
            scheme
                .eq_ignore_ascii_case("negotiate")
                .then(|| Some(rest.trim().to_string()).filter(|t| !t.is_empty()))
        })
}

impl Authenticator for Negotiate {
    fn scheme(&self) -> &'static str {
        "Negotiate"
    }

    /// Nothing: the server's 401 says whether it wants Negotiate (a ticket is never sent to a
    /// server that did not ask for one).
    fn initial(&mut self) -> Result<Option<Secret>, Error> {
        Ok(None)
    }

    fn step(&mut self, challenges: &[String]) -> Result<Option<Secret>, Error> {
        let Some(token) = negotiate_challenge(challenges) else {
            let offered = if challenges.is_empty() {
                "no WWW-Authenticate challenge at all".to_string()
            } else {
                let schemes: Vec<&str> = challenges
                    .iter()
                    .filter_map(|c| c.split_whitespace().next())
                    .collect();
                format!("only {}", schemes.join(", "))
            };
            return Err(Error::http(
                401,
                format!(
                    "the server does not offer Negotiate (Kerberos) authentication: it offers {offered}"
                ),
            ));
        };
        let input = match &token {
            Some(t) => Some(
                base64_decode(t)
                    .ok_or_else(|| self.failed("the server's token", "not valid base64"))?,
            ),
            None => None,
        };
        if self.sent {
            // A 401 after our token: either a continuation (or an error token that says why,
            // e.g. clock skew) or a plain refusal.
            let Some(input) = input else {
                return Ok(None);
            };
            if self.complete {
                return Ok(None);
            }
            let step = self
                .advance(Some(&input))
                .map_err(|why| self.failed("the server refused the token", &why))?;
            if step.token.is_empty() {
                return Ok(None);
            }
            return Ok(Some(header(&step.token)));
        }
        // The first leg starts a new context: a token offered with the first challenge (not
        // part of HTTP Negotiate) is ignored.
        let step = self
            .advance(None)
            .map_err(|why| self.failed("could not make a token", &why))?;
        if step.token.is_empty() {
            return Err(self.failed(
                "could not make a token",
                "the library returned an empty token",
            ));
        }
        self.sent = true;
        Ok(Some(header(&step.token)))
    }

    fn finish(&mut self, response: &ResponseHead) -> Result<(), Error> {
        let token = negotiate_challenge(&response.header_values("www-authenticate")).flatten();
        let unproven = |why: &str| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "the server of {} did not prove its identity ({why}) and \
                     negotiate_require_mutual=true",
                    self.service.shown()
                ),
            )
        };
        match token {
            Some(t) if self.sent && !self.complete => {
                let input = base64_decode(&t).ok_or_else(|| {
                    Error::new(ErrorKind::Auth, format!(
                        "mutual authentication of {} failed: the final Negotiate token of the 101 is not valid base64",
                        self.service.shown()
                    ))
                })?;
                let step = self.advance(Some(&input)).map_err(|why| {
                    Error::new(
                        ErrorKind::Auth,
                        format!(
                            "mutual authentication of {} failed: the server's final token was refused: {why}",
                            self.service.shown()
                        ),
                    )
                })?;
                if !step.complete {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!(
                            "mutual authentication of {} failed: the exchange did not complete with the server's final token",
                            self.service.shown()
                        ),
                    ));
                }
                Ok(())
            }
            // A final token after a complete exchange, or with no exchange: nothing to verify.
            Some(_) if self.complete => Ok(()),
            Some(_) => {
                if self.options.require_mutual {
                    Err(unproven("a token without an exchange"))
                } else {
                    Ok(())
                }
            }
            None if self.options.require_mutual && !self.complete => Err(unproven(if self.sent {
                "the 101 carries no final Negotiate token"
            } else {
                "the server did not ask for Kerberos authentication"
            })),
            None => Ok(()),
        }
    }

    fn refused(&self) -> String {
        if self.sent {
            format!(
                "the server refused the Kerberos ticket for service {} (is it the server's \
                 service principal? set negotiate_service for an alias or load balancer)",
                self.service.shown()
            )
        } else {
            "the server did not accept Negotiate (Kerberos) authentication".to_string()
        }
    }
}

/// `Negotiate <base64 token>`, in a buffer wiped on drop.
fn header(token: &[u8]) -> Secret {
    let mut value = Zeroizing::new(String::with_capacity(10 + token.len().div_ceil(3) * 4));
    value.push_str("Negotiate ");
    push_base64(&mut value, token);
    Secret::from_zeroizing(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        let host = |s: &str| Ok(ServiceName::HostBased(s.to_string()));
        assert_eq!(
            ServiceName::parse("HTTP/pi.example.com"),
            host("HTTP@pi.example.com")
        );
        assert_eq!(
            ServiceName::parse(" HTTP@pi.example.com "),
            host("HTTP@pi.example.com")
        );
        assert_eq!(
            ServiceName::parse("HTTP/pi.example.com@PLANT.EXAMPLE"),
            Ok(ServiceName::Principal(
                "HTTP/pi.example.com@PLANT.EXAMPLE".into()
            ))
        );
        for bad in [
            "",
            "HTTP",
            "HTTP/",
            "/host",
            "@host",
            "HTTP@",
            "HTTP/a b",
            "HTTP/h@",
            "HTTP/h@R@S",
            "HTTP@h/x",
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad:?} accepted");
        }
        let t = Target::parse("wss://pi.example.com:8443/piwebapi/streams/F1/channel").unwrap();
        assert_eq!(
            ServiceName::for_target(&t),
            ServiceName::HostBased("HTTP@pi.example.com".into())
        );
        assert_eq!(ServiceName::for_target(&t).shown(), "HTTP/pi.example.com");
    }

    #[test]
    fn challenges() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(negotiate_challenge(&v(&["Negotiate"])), Some(None));
        assert_eq!(
            negotiate_challenge(&v(&["negotiate  YIIB=="])),
            Some(Some("YIIB==".into()))
        );
        assert_eq!(
            negotiate_challenge(&v(&["Basic realm=\"PI\"", "Negotiate"])),
            Some(None)
        );
        assert_eq!(
            negotiate_challenge(&v(&["Basic realm=\"PI\", Negotiate oYG="])),
            Some(Some("oYG=".into()))
        );
        assert_eq!(
            negotiate_challenge(&v(&["Basic realm=\"PI\"", "NTLM"])),
            None
        );
        assert_eq!(negotiate_challenge(&[]), None);
    }

    #[test]
    fn a_server_without_negotiate_is_refused_with_what_it_offers() {
        let t = Target::parse("wss://pi.example.com/piwebapi/x").unwrap();
        let mut n = Negotiate::new(&t, &NegotiateOptions::default(), None);
        assert!(
            n.initial().unwrap().is_none(),
            "nothing before the server asks"
        );
        let e = n.step(&["Basic realm=\"PI\"".to_string()]).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("only Basic"), "{e}");
    }

    #[test]
    fn a_401_after_our_token_is_a_refusal_not_a_new_round() {
        let t = Target::parse("wss://pi.example.com/piwebapi/x").unwrap();
        let mut n = Negotiate::new(&t, &NegotiateOptions::default(), None);
        n.sent = true;
        assert!(
            n.step(&["Negotiate".to_string()]).unwrap().is_none(),
            "no second token"
        );
        assert!(
            n.refused().contains("HTTP/pi.example.com"),
            "{}",
            n.refused()
        );
        n.complete = true;
        assert!(n.step(&["Negotiate oYG=".to_string()]).unwrap().is_none());
        let e = n.step(&["Negotiate !!".to_string()]).err().unwrap();
        assert!(e.message().contains("not valid base64"), "{e}");
    }

    #[test]
    fn a_101_without_authentication_is_refused_only_when_mutual_is_required() {
        let t = Target::parse("wss://pi.example.com/piwebapi/x").unwrap();
        let head = ResponseHead {
            status: 101,
            reason: "Switching Protocols".into(),
            headers: vec![],
        };
        let mut n = Negotiate::new(&t, &NegotiateOptions::default(), None);
        n.finish(&head).unwrap();
        let strict = NegotiateOptions {
            require_mutual: true,
            ..NegotiateOptions::default()
        };
        let mut n = Negotiate::new(&t, &strict, None);
        let e = n.finish(&head).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("negotiate_require_mutual"), "{e}");
    }
}
