//! Channel URL builders for C (the logic is in `piwebasync_rust::urls`).

use std::ffi::c_char;

use super::boundary::{fail, guard, Failure};
use super::last_error::copy_out;
use super::status::*;
use super::strings::str_arg;
use piwebasync_rust::urls::{split_web_id_list, ChannelUrls, UrlOptions, WebIdType};

/// The `webIdType` of `pwa_url_options`.
pub type pwa_webid_type = i32;
/// Do not write `webIdType`: the server's setting applies.
pub const PWA_WEBID_TYPE_DEFAULT: pwa_webid_type = 0;
/// `webIdType=Full`.
pub const PWA_WEBID_TYPE_FULL: pwa_webid_type = 1;
/// `webIdType=IDOnly`.
pub const PWA_WEBID_TYPE_ID_ONLY: pwa_webid_type = 2;
/// `webIdType=PathOnly`.
pub const PWA_WEBID_TYPE_PATH_ONLY: pwa_webid_type = 3;
/// `webIdType=LocalIDOnly`.
pub const PWA_WEBID_TYPE_LOCAL_ID_ONLY: pwa_webid_type = 4;
/// `webIdType=DefaultIDOnly`.
pub const PWA_WEBID_TYPE_DEFAULT_ID_ONLY: pwa_webid_type = 5;

/// The longest ad hoc URL `pwa_url_adhoc_split` makes when given 0: 4096 bytes.
pub const PWA_URL_DEFAULT_MAX_LEN: usize = 4096;

/// Query parameters of a channel URL. A zeroed struct (`pwa_url_options o = {0};`) writes no
/// parameter, as does passing NULL: the server defaults apply. Strings are UTF-8, NULL or ""
/// to leave the parameter out; they are percent-encoded. The booleans write `=true` when
/// nonzero and are left out when 0 (the server's default is false for all of them).
#[repr(C)]
pub struct pwa_url_options {
    /// `nameFilter` (stream-set channels only), e.g. "Flow*".
    pub name_filter: *const c_char,
    /// `categoryName` (stream-set channels only).
    pub category_name: *const c_char,
    /// `templateName` (stream-set channels only).
    pub template_name: *const c_char,
    /// `includeInitialValues=true` when nonzero.
    pub include_initial_values: i32,
    /// `heartbeatRate=N` when > 0.
    pub heartbeat_rate: i32,
    /// `PWA_WEBID_TYPE_*`; 0 leaves it out.
    pub web_id_type: pwa_webid_type,
    /// `searchFullHierarchy=true` when nonzero (stream-set channels only).
    pub search_full_hierarchy: i32,
    /// `showExcluded=true` when nonzero (stream-set channels only).
    pub show_excluded: i32,
    /// `showHidden=true` when nonzero (stream-set channels only).
    pub show_hidden: i32,
}

/// The options of a URL builder call.
///
/// # Safety
/// `opts` must be NULL or point to a valid `pwa_url_options` whose strings are NULL or
/// NUL-terminated.
pub(crate) unsafe fn options(opts: *const pwa_url_options) -> Result<UrlOptions, Failure> {
    // SAFETY: `opts` is NULL or valid (this function's contract).
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(UrlOptions::default());
    };
    let text = |p: *const c_char, what: &str| -> Result<Option<String>, Failure> {
        if p.is_null() {
            Ok(None)
        } else {
            // SAFETY: each string of a valid `opts` is NULL or NUL-terminated (contract); the
            // borrow is copied into a String at once.
            Ok(Some(unsafe { str_arg(p, what) }?.to_string()))
        }
    };
    let flag = |v: i32| (v != 0).then_some(true);
    let web_id_type = match o.web_id_type {
        PWA_WEBID_TYPE_DEFAULT => None,
        PWA_WEBID_TYPE_FULL => Some(WebIdType::Full),
        PWA_WEBID_TYPE_ID_ONLY => Some(WebIdType::IdOnly),
        PWA_WEBID_TYPE_PATH_ONLY => Some(WebIdType::PathOnly),
        PWA_WEBID_TYPE_LOCAL_ID_ONLY => Some(WebIdType::LocalIdOnly),
        PWA_WEBID_TYPE_DEFAULT_ID_ONLY => Some(WebIdType::DefaultIdOnly),
        other => {
            return Err(fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!("opts->web_id_type {other} is not a PWA_WEBID_TYPE_* constant"),
            ))
        }
    };
    Ok(UrlOptions {
        include_initial_values: flag(o.include_initial_values),
        heartbeat_rate: (o.heartbeat_rate > 0).then_some(o.heartbeat_rate),
        web_id_type,
        name_filter: text(o.name_filter, "opts->name_filter")?,
        category_name: text(o.category_name, "opts->category_name")?,
        template_name: text(o.template_name, "opts->template_name")?,
        search_full_hierarchy: flag(o.search_full_hierarchy),
        show_excluded: flag(o.show_excluded),
        show_hidden: flag(o.show_hidden),
    })
}

/// Copy a built URL out; a too-small buffer also gets a message in `pwa_last_error`.
///
/// # Safety
/// As `copy_out`: `buf` NULL or `cap` writable bytes; `needed` NULL or valid.
unsafe fn copy_url(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> Result<pwa_status, Failure> {
    // SAFETY: passed on under copy_out's contract, which is this function's.
    match unsafe { copy_out(text, buf, cap, needed) } {
        PWA_ERR_BUFFER_TOO_SMALL => Err(fail(
            PWA_ERR_BUFFER_TOO_SMALL,
            format!(
                "the URL needs {} bytes, the buffer has {cap}",
                text.len() + 1
            ),
        )),
        PWA_ERR_INVALID_ARGUMENT => Err(fail(
            PWA_ERR_INVALID_ARGUMENT,
            format!("buf is NULL but cap is {cap}"),
        )),
        status => Ok(status),
    }
}

/// The URL of one WebId that `build` makes (`stream` or `stream_set`), copied into `buf`.
///
/// # Safety
/// Strings must be NULL or NUL-terminated; `opts` NULL or valid; `buf` NULL or `cap` writable
/// bytes; `needed` NULL or valid.
unsafe fn one_web_id(
    base: *const c_char,
    web_id: *const c_char,
    opts: *const pwa_url_options,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    build: fn(&ChannelUrls, &str, &UrlOptions) -> Result<String, piwebasync_rust::Error>,
) -> pwa_status {
    guard(|| {
        // SAFETY: the strings are NULL or NUL-terminated, `opts` NULL or valid, `buf` NULL or
        // `cap` writable bytes and `needed` NULL or valid (this function's contract); every
        // borrow ends before the call returns.
        unsafe {
            let urls = ChannelUrls::new(str_arg(base, "base")?)?;
            let url = build(&urls, str_arg(web_id, "web_id")?, &options(opts)?)?;
            copy_url(&url, buf, cap, needed)
        }
    })
}

/// Build a stream channel URL, `{base}/streams/{webId}/channel?...`, into `buf` (capacity
/// `cap`), NUL-terminated. `base` is the API root, e.g. "https://host/piwebapi" (http,
/// https, ws or wss; https gives wss, http gives ws); `web_id` a WebId (`[A-Za-z0-9_-]`,
/// non-empty); `opts` NULL or the parameters (stream-set-only parameters are refused).
/// `*needed` (may be NULL) receives the size including the NUL; `buf` NULL with `cap` 0 asks
/// for it.
///
/// Returns `PWA_OK`; `PWA_ERR_BUFFER_TOO_SMALL` (truncated); `PWA_ERR_INVALID_ARGUMENT` (NULL
/// or non-UTF-8 string, a base that is not a URL, has another scheme, no host, or a query;
/// an empty or invalid WebId; a bad option) with the reason in `pwa_last_error`.
///
/// # Safety
/// Strings must be NULL or NUL-terminated; `opts` NULL or valid; `buf` NULL or `cap` writable
/// bytes; `needed` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_url_stream(
    base: *const c_char,
    web_id: *const c_char,
    opts: *const pwa_url_options,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    // SAFETY: the contract of this function is that of one_web_id.
    unsafe { one_web_id(base, web_id, opts, buf, cap, needed, ChannelUrls::stream) }
}

/// Build a stream-set channel URL, `{base}/streamsets/{webId}/channel?...` (the attributes of
/// an element, event frame or attribute), as `pwa_url_stream` does. The only URL that takes
/// `name_filter`, `category_name`, `template_name`, `search_full_hierarchy`, `show_excluded`
/// and `show_hidden`. Same statuses as `pwa_url_stream`.
///
/// # Safety
/// As `pwa_url_stream`.
#[no_mangle]
pub unsafe extern "C" fn pwa_url_streamset(
    base: *const c_char,
    web_id: *const c_char,
    opts: *const pwa_url_options,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    // SAFETY: the contract of this function is that of one_web_id.
    unsafe {
        one_web_id(
            base,
            web_id,
            opts,
            buf,
            cap,
            needed,
            ChannelUrls::stream_set,
        )
    }
}

/// Build one ad hoc channel URL, `{base}/streamsets/channel?webId=A&webId=B&...`, for every
/// WebId of `web_ids`: one string with the WebIds separated by commas, semicolons, spaces or
/// newlines (e.g. "F1DPa,F1DPb"). No length limit: a server may refuse URLs over a few KB;
/// `pwa_url_adhoc_split` keeps each URL under a limit. Statuses as `pwa_url_stream`; also
/// `PWA_ERR_INVALID_ARGUMENT` for a list without WebIds.
///
/// # Safety
/// As `pwa_url_stream`.
#[no_mangle]
pub unsafe extern "C" fn pwa_url_adhoc(
    base: *const c_char,
    web_ids: *const c_char,
    opts: *const pwa_url_options,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    guard(|| {
        // SAFETY: as in pwa_url_stream (the same contract).
        unsafe {
            let urls = ChannelUrls::new(str_arg(base, "base")?)?;
            let ids = split_web_id_list(str_arg(web_ids, "web_ids")?);
            let url = urls.ad_hoc(&ids, &options(opts)?)?;
            copy_url(&url, buf, cap, needed)
        }
    })
}

/// Build as few ad hoc channel URLs as needed for `web_ids` (separated as for
/// `pwa_url_adhoc`) so that each URL is at most `max_url_len` bytes (0 = 4096,
/// `PWA_URL_DEFAULT_MAX_LEN`). Every WebId appears exactly once, in the order given; each URL
/// carries the same options. Open one channel per URL.
///
/// The URLs are copied into `buf` separated by a newline ('\n', none after the last) and
/// NUL-terminated; `*url_count` (may be NULL) receives their number, `*needed` (may be NULL)
/// the size including the NUL.
///
/// Returns `PWA_OK`; `PWA_ERR_BUFFER_TOO_SMALL`; `PWA_ERR_INVALID_ARGUMENT` as for
/// `pwa_url_adhoc`, and when one WebId does not fit in a URL of `max_url_len` bytes on its own.
///
/// # Safety
/// As `pwa_url_stream`; `url_count` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_url_adhoc_split(
    base: *const c_char,
    web_ids: *const c_char,
    opts: *const pwa_url_options,
    max_url_len: usize,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
    url_count: *mut usize,
) -> pwa_status {
    guard(|| {
        // SAFETY: as in pwa_url_stream (the same contract), and `url_count`, checked for NULL
        // before each write, is NULL or valid.
        unsafe {
            if !url_count.is_null() {
                *url_count = 0;
            }
            let urls = ChannelUrls::new(str_arg(base, "base")?)?;
            let ids = split_web_id_list(str_arg(web_ids, "web_ids")?);
            let list = urls.ad_hoc_split(&ids, &options(opts)?, max_url_len)?;
            if !url_count.is_null() {
                *url_count = list.len();
            }
            copy_url(&list.join("\n"), buf, cap, needed)
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_header_constant_is_the_rust_default() {
        assert_eq!(
            super::PWA_URL_DEFAULT_MAX_LEN,
            piwebasync_rust::urls::DEFAULT_MAX_URL_LEN
        );
    }
}
