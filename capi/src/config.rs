//! `pwa_config`: string keys and values, checked when set.

use std::ffi::c_char;

use std::ffi::CString;
use std::sync::OnceLock;

use super::boundary::{fail, guard, guard_value};
use super::last_error::copy_out;
use super::status::*;
use super::strings::{out_arg, str_arg};
use piwebasync_rust::ChannelConfig;

/// Opaque channel configuration. Create with `pwa_config_new`, free with `pwa_config_free`.
pub struct pwa_config {
    pub(crate) inner: ChannelConfig,
}

/// A new configuration holding the documented defaults. Free it with `pwa_config_free`; it may
/// be freed right after `pwa_channel_open`, which copies what it needs. A configuration may be
/// used by one thread at a time. Returns NULL only if the library panicked.
#[no_mangle]
pub extern "C" fn pwa_config_new() -> *mut pwa_config {
    guard_value(std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(pwa_config {
            inner: ChannelConfig::default(),
        })))
    })
}

/// Set `key` to `value` (both UTF-8, NUL-terminated). Durations are in seconds and may have a
/// fraction ("0.25"); booleans are true/false (also 1/0, yes/no, on/off).
///
/// The keys, their kinds, defaults and meaning are listed under "Configuration keys" at the top
/// of this header (and by `pwa_config_key` at run time).
///
/// Files (`tls_ca_file`, `tls_client_cert`, `tls_client_key`) are checked when set (readable,
/// PEM) and read again when a channel opens. A TLS failure is `PWA_ERR_TLS` with the reason
/// (unknown issuer, expired, name mismatch, a refused client certificate) and the URL in the
/// message. Passwords and tokens never appear in a message, log line or `pwa_last_error`; they
/// are wiped from memory when the configuration (or channel) is freed.
///
/// Returns `PWA_OK`, or `PWA_ERR_INVALID_ARGUMENT` for a NULL argument, invalid UTF-8, an
/// unknown key or a bad value; `pwa_last_error` then names the key. A rejected call leaves the
/// configuration unchanged.
///
/// # Safety
/// `cfg` must be NULL or a live configuration; `key` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_set(
    cfg: *mut pwa_config,
    key: *const c_char,
    value: *const c_char,
) -> pwa_status {
    guard(|| {
        // SAFETY: `cfg` is NULL or a live configuration used by this thread only (contract).
        let cfg =
            unsafe { cfg.as_mut() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "cfg is NULL"))?;
        // SAFETY: `key` and `value` are NULL or NUL-terminated and outlive the call (contract).
        let key = unsafe { str_arg(key, "key") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value, &format!("the value of '{key}'")) }?;
        cfg.inner.set(key, value)?;
        Ok(PWA_OK)
    })
}

/// Free a configuration. NULL is ignored. Channels opened with it are not affected (each
/// holds its own copy). The password, token and secret headers it held are wiped from memory.
///
/// # Safety
/// `cfg` must be NULL or a configuration from `pwa_config_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_free(cfg: *mut pwa_config) {
    guard_value((), || {
        if !cfg.is_null() {
            // SAFETY: a non-NULL `cfg` came from Box::into_raw in pwa_config_new and was not
            // freed before (contract), so this is its one owner.
            drop(unsafe { Box::from_raw(cfg) });
        }
        Ok(())
    })
}

/// Copy the value of `key` in `cfg` into `buf` (capacity `cap`), NUL-terminated, in the form
/// `pwa_config_set` takes ("" = none or unset). Secrets (`password`, `bearer_token`, credential
/// headers) come back as "***" when set, never their value. `header.<Name>` gives that
/// header's value. `*needed` (may be NULL) receives the full size including the NUL.
/// Returns `PWA_OK`, `PWA_ERR_BUFFER_TOO_SMALL` (truncated), or `PWA_ERR_INVALID_ARGUMENT`
/// (NULL `cfg` or `key`, invalid UTF-8, an unknown key).
///
/// # Safety
/// `cfg` must be NULL or a live configuration; `key` NULL or a NUL-terminated string; `buf`
/// NULL or `cap` writable bytes; `needed` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_get(
    cfg: *const pwa_config,
    key: *const c_char,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    guard(|| {
        // SAFETY: `cfg` is NULL or a live configuration (contract), only read here.
        let cfg =
            unsafe { cfg.as_ref() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "cfg is NULL"))?;
        // SAFETY: `key` is NULL or NUL-terminated and outlives the call (contract).
        let key = unsafe { str_arg(key, "key") }?;
        let value = cfg.inner.get(key)?;
        // SAFETY: `buf` is NULL or `cap` writable bytes, `needed` NULL or valid (contract).
        Ok(unsafe { copy_out(&value, buf, cap, needed) })
    })
}

/// One configuration key, as `pwa_config_key` describes it. The strings are static
/// (NUL-terminated UTF-8, valid until the library is unloaded; do not free).
#[repr(C)]
pub struct pwa_config_key_info {
    /// The key, e.g. "max_queue" (`header.<Name>` stands for every `header.` key).
    pub name: *const c_char,
    /// The kind of value, e.g. "seconds, 0 = never" or "bool".
    pub kind: *const c_char,
    /// The default in the form `pwa_config_get` returns it ("" = none).
    pub default_value: *const c_char,
    /// What the key does.
    pub doc: *const c_char,
    /// Nonzero for a secret (`pwa_config_get` gives "***").
    pub is_secret: i32,
}

/// The number of configuration keys `pwa_config_key` describes.
#[no_mangle]
pub extern "C" fn pwa_config_key_count() -> usize {
    ChannelConfig::keys().len()
}

/// The C strings of the key table, made once.
fn key_strings() -> &'static [[CString; 4]] {
    static STRINGS: OnceLock<Vec<[CString; 4]>> = OnceLock::new();
    STRINGS.get_or_init(|| {
        let c = |s: &str| CString::new(s).unwrap_or_default();
        ChannelConfig::keys()
            .iter()
            .map(|k| [c(k.name), c(k.kind), c(k.default), c(k.doc)])
            .collect()
    })
}

/// Describe configuration key number `index` (0 .. `pwa_config_key_count()` - 1) into `*info`.
/// Returns `PWA_OK`, or `PWA_ERR_INVALID_ARGUMENT` (NULL `info`, `index` out of range).
///
/// # Safety
/// `info` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_key(
    index: usize,
    info: *mut pwa_config_key_info,
) -> pwa_status {
    guard(|| {
        let out = out_arg(info, "info")?;
        let spec = ChannelConfig::keys().get(index).ok_or_else(|| {
            fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!(
                    "index {index} out of range: there are {} configuration keys",
                    pwa_config_key_count()
                ),
            )
        })?;
        let [name, kind, default, doc] = &key_strings()[index];
        *out = pwa_config_key_info {
            name: name.as_ptr(),
            kind: kind.as_ptr(),
            default_value: default.as_ptr(),
            doc: doc.as_ptr(),
            is_secret: i32::from(spec.secret),
        };
        Ok(PWA_OK)
    })
}
