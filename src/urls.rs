//! Channel URL builders: the analogue of piwebasync's
//! `Controller(scheme, host, port, root).streams.get_channel(...)`.
//!
//! From an API base such as `https://host:port/piwebapi`, [`ChannelUrls`] builds the three
//! channel URLs of PROTOCOL.md ("Endpoints"):
//!
//! | call | URL |
//! |---|---|
//! | [`ChannelUrls::stream`] | `wss://host:port/piwebapi/streams/{webId}/channel?...` |
//! | [`ChannelUrls::stream_set`] | `wss://host:port/piwebapi/streamsets/{webId}/channel?...` |
//! | [`ChannelUrls::ad_hoc`] | `wss://host:port/piwebapi/streamsets/channel?webId=A&webId=B&...` |
//!
//! The scheme becomes `wss` for `https` and `ws` for `http` (`ws`/`wss` bases are kept).
//! WebIds must be non-empty and in `[A-Za-z0-9_-]` (WebID 2.0 is URL-safe base64), so they
//! are never escaped; text parameters (`nameFilter`, ...) are percent-encoded (space = `%20`).
//! Parameters are written in the order webId(s), includeInitialValues, heartbeatRate,
//! webIdType, nameFilter, categoryName, templateName, searchFullHierarchy, showExcluded,
//! showHidden; those left `None` (or empty text) are omitted, so the server default applies.

use std::fmt::Write as _;

use url::Url;

use crate::error::{Error, ErrorKind};

/// Public clients keep ad hoc URLs under about 4 KB: the default limit of
/// [`ChannelUrls::ad_hoc_split`].
pub const DEFAULT_MAX_URL_LEN: usize = 4096;

/// The `webIdType` parameter: the form of the WebIds the server puts in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebIdType {
    Full,
    IdOnly,
    PathOnly,
    LocalIdOnly,
    DefaultIdOnly,
}

impl WebIdType {
    /// The parameter value, e.g. `IDOnly`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebIdType::Full => "Full",
            WebIdType::IdOnly => "IDOnly",
            WebIdType::PathOnly => "PathOnly",
            WebIdType::LocalIdOnly => "LocalIDOnly",
            WebIdType::DefaultIdOnly => "DefaultIDOnly",
        }
    }
}

/// Query parameters of a channel URL. `Default` writes none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlOptions {
    /// `includeInitialValues`: send each stream's current value right after open.
    pub include_initial_values: Option<bool>,
    /// `heartbeatRate`: an empty message after this many server polling intervals without
    /// data (<= 0 = off).
    pub heartbeat_rate: Option<i32>,
    /// `webIdType`.
    pub web_id_type: Option<WebIdType>,
    /// `nameFilter` (stream-set channels only; `*` and `?` are the server's wildcards).
    pub name_filter: Option<String>,
    /// `categoryName` (stream-set channels only).
    pub category_name: Option<String>,
    /// `templateName` (stream-set channels only).
    pub template_name: Option<String>,
    /// `searchFullHierarchy` (stream-set channels only).
    pub search_full_hierarchy: Option<bool>,
    /// `showExcluded` (stream-set channels only).
    pub show_excluded: Option<bool>,
    /// `showHidden` (stream-set channels only).
    pub show_hidden: Option<bool>,
}

impl UrlOptions {
    /// The parameters after the WebIds, encoded, `&`-separated (empty when none).
    fn query(&self, stream_set: bool, endpoint: &str) -> Result<String, Error> {
        let text = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(encode);
        let set_only = [
            ("nameFilter", text(&self.name_filter)),
            ("categoryName", text(&self.category_name)),
            ("templateName", text(&self.template_name)),
            (
                "searchFullHierarchy",
                self.search_full_hierarchy.map(|b| b.to_string()),
            ),
            ("showExcluded", self.show_excluded.map(|b| b.to_string())),
            ("showHidden", self.show_hidden.map(|b| b.to_string())),
        ];
        if !stream_set {
            if let Some((name, _)) = set_only.iter().find(|(_, v)| v.is_some()) {
                return Err(invalid(format!(
                    "{name} applies only to stream-set channels (streamsets/{{webId}}/channel), not to {endpoint}"
                )));
            }
        }
        let common = [
            (
                "includeInitialValues",
                self.include_initial_values.map(|b| b.to_string()),
            ),
            ("heartbeatRate", self.heartbeat_rate.map(|r| r.to_string())),
            (
                "webIdType",
                self.web_id_type.map(|t| t.as_str().to_string()),
            ),
        ];
        let mut q = String::new();
        for (name, value) in common.into_iter().chain(set_only) {
            if let Some(value) = value {
                if !q.is_empty() {
                    q.push('&');
                }
                let _ = write!(q, "{name}={value}");
            }
        }
        Ok(q)
    }
}

/// Builds channel URLs under one PI Web API root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUrls {
    /// `ws(s)://host[:port]/root/` (always ends with `/`).
    base: String,
}

impl ChannelUrls {
    /// From an API base such as `https://host/piwebapi` (`http`, `https`, `ws` or `wss`).
    /// Errors (`InvalidArgument`): not a URL, another scheme, no host, a query or fragment.
    pub fn new(base: &str) -> Result<ChannelUrls, Error> {
        // The URL parser is lenient ("https:host", "https:///host" name a host): insist on
        // "scheme://host".
        match base.trim().split_once("://") {
            None => {
                return Err(invalid(format!(
                    "invalid base URL '{base}': expected scheme://host/root"
                )))
            }
            Some((_, rest)) if rest.is_empty() || rest.starts_with(['/', '\\']) => {
                return Err(invalid(format!("base URL '{base}' has no host")))
            }
            _ => {}
        }
        let mut url = Url::parse(base.trim())
            .map_err(|e| invalid(format!("invalid base URL '{base}': {e}")))?;
        let scheme = match url.scheme() {
            "https" | "wss" => "wss",
            "http" | "ws" => "ws",
            other => {
                return Err(invalid(format!(
                    "base URL '{base}' has scheme '{other}': expected http, https, ws or wss"
                )))
            }
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!("base URL '{base}' has no host")));
        }
        if url.query().is_some() {
            return Err(invalid(format!(
                "base URL '{base}' has a query: give the API root only, e.g. https://host/piwebapi"
            )));
        }
        if url.fragment().is_some() {
            return Err(invalid(format!(
                "base URL '{base}' has a fragment ('#...')"
            )));
        }
        url.set_scheme(scheme)
            .map_err(|()| invalid(format!("base URL '{base}': cannot use scheme {scheme}")))?;
        let mut base = url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(ChannelUrls { base })
    }

    /// From parts, as piwebasync's `Controller(scheme, host, port, root)`: e.g.
    /// `("https", "pi.example.com", Some(443), "piwebapi")`. An IPv6 host may be given with or
    /// without brackets.
    pub fn from_parts(
        scheme: &str,
        host: &str,
        port: Option<u16>,
        root: &str,
    ) -> Result<ChannelUrls, Error> {
        if host.is_empty() {
            return Err(invalid("host is empty"));
        }
        if host.contains(['/', '?', '#', '@']) {
            return Err(invalid(format!(
                "host '{host}' contains '/', '?', '#' or '@'"
            )));
        }
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let root = root.trim_matches('/');
        if root.contains(['?', '#']) {
            return Err(invalid(format!("root '{root}' contains '?' or '#'")));
        }
        ChannelUrls::new(&format!("{scheme}://{host}{port}/{root}"))
    }

    /// The normalized base, `ws(s)://host[:port]/root/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `streams/{webId}/channel`: the values of one PI point or AF attribute.
    pub fn stream(&self, web_id: &str, options: &UrlOptions) -> Result<String, Error> {
        check_web_id(web_id, 0)?;
        let query = options.query(false, "stream channels")?;
        Ok(join(
            format!("{}streams/{web_id}/channel", self.base),
            &query,
        ))
    }

    /// `streamsets/{webId}/channel`: the attributes of an element, event frame or attribute.
    /// The only endpoint that takes `nameFilter`, `categoryName`, `templateName`,
    /// `searchFullHierarchy`, `showExcluded` and `showHidden`.
    pub fn stream_set(&self, web_id: &str, options: &UrlOptions) -> Result<String, Error> {
        check_web_id(web_id, 0)?;
        let query = options.query(true, "")?;
        Ok(join(
            format!("{}streamsets/{web_id}/channel", self.base),
            &query,
        ))
    }

    /// `streamsets/channel?webId=A&webId=B...`: an ad hoc set of streams, in the order given.
    /// No length limit: see [`ChannelUrls::ad_hoc_split`].
    pub fn ad_hoc<S: AsRef<str>>(
        &self,
        web_ids: &[S],
        options: &UrlOptions,
    ) -> Result<String, Error> {
        let (prefix, query) = self.ad_hoc_parts(web_ids, options)?;
        let mut url = prefix;
        for (i, id) in web_ids.iter().enumerate() {
            if i > 0 {
                url.push('&');
            }
            url.push_str("webId=");
            url.push_str(id.as_ref());
        }
        if !query.is_empty() {
            url.push('&');
            url.push_str(&query);
        }
        Ok(url)
    }

    /// Ad hoc URLs for `web_ids`, split so that each is at most `max_len` bytes (0 means
    /// [`DEFAULT_MAX_URL_LEN`]): every WebId appears exactly once, in the order given, and
    /// every URL carries the same options. Greedy: each URL takes as many WebIds as fit.
    /// Errors: no WebIds, an invalid one, or one that does not fit in a URL on its own.
    pub fn ad_hoc_split<S: AsRef<str>>(
        &self,
        web_ids: &[S],
        options: &UrlOptions,
        max_len: usize,
    ) -> Result<Vec<String>, Error> {
        let max_len = if max_len == 0 {
            DEFAULT_MAX_URL_LEN
        } else {
            max_len
        };
        self.ad_hoc_groups(web_ids, options, max_len, usize::MAX)?
            .into_iter()
            .map(|r| self.ad_hoc(&web_ids[r], options))
            .collect()
    }

    /// How [`ChannelUrls::ad_hoc_split`] splits `web_ids`: consecutive ranges, each making an
    /// ad hoc URL of at most `max_len` bytes (0 means [`DEFAULT_MAX_URL_LEN`]) with at most
    /// `max_count` WebIds. Greedy. Same errors as `ad_hoc_split`.
    pub fn ad_hoc_groups<S: AsRef<str>>(
        &self,
        web_ids: &[S],
        options: &UrlOptions,
        max_len: usize,
        max_count: usize,
    ) -> Result<Vec<std::ops::Range<usize>>, Error> {
        let max_len = if max_len == 0 {
            DEFAULT_MAX_URL_LEN
        } else {
            max_len
        };
        let max_count = max_count.max(1);
        let (prefix, query) = self.ad_hoc_parts(web_ids, options)?;
        // Length of a URL with ids: prefix + sum("webId=" + id) + (n - 1) '&' + ("&" + query).
        let fixed = prefix.len() + if query.is_empty() { 0 } else { 1 + query.len() };
        let mut groups = Vec::new();
        let mut start = 0;
        while start < web_ids.len() {
            let mut len = fixed;
            let mut end = start;
            while end < web_ids.len() && end - start < max_count {
                let add = "webId=".len() + web_ids[end].as_ref().len() + usize::from(end > start);
                if len + add > max_len {
                    break;
                }
                len += add;
                end += 1;
            }
            if end == start {
                let id = web_ids[start].as_ref();
                return Err(invalid(format!(
                    "WebId #{start} ({} bytes) does not fit in an ad hoc URL of at most {max_len} bytes \
                     (the URL without WebIds takes {fixed})",
                    id.len()
                )));
            }
            groups.push(start..end);
            start = end;
        }
        Ok(groups)
    }

    /// The length of `url` (an ad hoc URL) with `more` WebIds appended.
    pub fn ad_hoc_len_with<S: AsRef<str>>(url: &str, more: &[S]) -> usize {
        url.len()
            + more
                .iter()
                .map(|w| "&webId=".len() + w.as_ref().len())
                .sum::<usize>()
    }

    /// `(base + "streamsets/channel?", options query)` after checking every WebId.
    fn ad_hoc_parts<S: AsRef<str>>(
        &self,
        web_ids: &[S],
        options: &UrlOptions,
    ) -> Result<(String, String), Error> {
        if web_ids.is_empty() {
            return Err(invalid("an ad hoc channel needs at least one WebId"));
        }
        for (i, id) in web_ids.iter().enumerate() {
            check_web_id(id.as_ref(), i)?;
        }
        let query = options.query(false, "ad hoc channels (streamsets/channel)")?;
        Ok((format!("{}streamsets/channel?", self.base), query))
    }
}

/// Check a WebId: non-empty, only `[A-Za-z0-9_-]`. `index` names it in the message.
pub fn validate_web_id(web_id: &str) -> Result<(), Error> {
    check_web_id(web_id, 0)
}

fn check_web_id(web_id: &str, index: usize) -> Result<(), Error> {
    if web_id.is_empty() {
        return Err(invalid(format!("WebId #{index} is empty")));
    }
    if let Some((pos, c)) = web_id
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(invalid(format!(
            "WebId #{index} has {c:?} at byte {pos}: a WebId has only A-Z, a-z, 0-9, '_' and '-'"
        )));
    }
    Ok(())
}

/// Split a list of WebIds separated by commas, semicolons or white space (none of which can
/// be part of a WebId); empty entries are skipped.
pub fn split_web_id_list(list: &str) -> Vec<&str> {
    list.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

fn join(mut path: String, query: &str) -> String {
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// Percent-encode a query value (form encoding with `%20` for a space).
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}
