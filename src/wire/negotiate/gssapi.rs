//! SPNEGO through the system's MIT GSSAPI library (`libgssapi_krb5.so.2`), loaded at run time
//! the first time a channel needs it: the library builds, loads and runs where Kerberos is not
//! installed, and only `auth=negotiate` depends on it. All GSSAPI FFI of the crate is here; the
//! few functions, types and OIDs used are declared below from RFC 2744 and RFC 5588 (the C
//! bindings of GSS-API) and MIT's `gssapi_ext.h` (`gss_acquire_cred_from`).
//!
//! Credentials: by default the user's credential cache (`KRB5CCNAME`, `kinit`), read again by
//! the library for every new context, so a cache renewed by the host is used by the next
//! connection. With a client keytab the credentials come from that keytab into a private
//! in-memory cache of this process (MIT's "client keytab" initiation: tickets are fetched and
//! refreshed from the keytab as needed, no `kinit`).

use std::ffi::{c_char, c_void, CString};
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::{NegotiateOptions, ServiceName, Step};
use crate::secret::Secret;

type OmUint32 = u32;

#[repr(C)]
struct GssOidDesc {
    length: OmUint32,
    elements: *const c_void,
}

#[repr(C)]
struct GssBufferDesc {
    length: usize,
    value: *mut c_void,
}

impl GssBufferDesc {
    fn empty() -> GssBufferDesc {
        GssBufferDesc {
            length: 0,
            value: ptr::null_mut(),
        }
    }
}

#[repr(C)]
struct GssOidSetDesc {
    count: usize,
    elements: *const GssOidDesc,
}

#[repr(C)]
struct GssKeyValueElement {
    key: *const c_char,
    value: *const c_char,
}

#[repr(C)]
struct GssKeyValueSet {
    count: OmUint32,
    elements: *const GssKeyValueElement,
}

/// `gss_name_t`, `gss_ctx_id_t`, `gss_cred_id_t`: opaque pointers.
type Handle = *mut c_void;
type Oid = *const GssOidDesc;

// Routine signatures (RFC 2744 section 7; gss_acquire_cred_from: MIT gssapi_ext.h).
type ImportName =
    unsafe extern "C" fn(*mut OmUint32, *const GssBufferDesc, Oid, *mut Handle) -> OmUint32;
type ReleaseName = unsafe extern "C" fn(*mut OmUint32, *mut Handle) -> OmUint32;
#[allow(clippy::type_complexity)]
type InitSecContext = unsafe extern "C" fn(
    *mut OmUint32,        // minor_status
    Handle,               // claimant_cred_handle
    *mut Handle,          // context_handle
    Handle,               // target_name
    Oid,                  // mech_type
    OmUint32,             // req_flags
    OmUint32,             // time_req
    *const c_void,        // input_chan_bindings
    *const GssBufferDesc, // input_token
    *mut Oid,             // actual_mech_type
    *mut GssBufferDesc,   // output_token
    *mut OmUint32,        // ret_flags
    *mut OmUint32,        // time_rec
) -> OmUint32;
type DeleteSecContext =
    unsafe extern "C" fn(*mut OmUint32, *mut Handle, *mut GssBufferDesc) -> OmUint32;
type ReleaseBuffer = unsafe extern "C" fn(*mut OmUint32, *mut GssBufferDesc) -> OmUint32;
type DisplayStatus = unsafe extern "C" fn(
    *mut OmUint32,
    OmUint32,
    i32,
    Oid,
    *mut OmUint32,
    *mut GssBufferDesc,
) -> OmUint32;
#[allow(clippy::type_complexity)]
type AcquireCredFrom = unsafe extern "C" fn(
    *mut OmUint32,         // minor_status
    Handle,                // desired_name
    OmUint32,              // time_req
    *const GssOidSetDesc,  // desired_mechs
    i32,                   // cred_usage
    *const GssKeyValueSet, // cred_store
    *mut Handle,           // output_cred_handle
    *mut c_void,           // actual_mechs (NULL: not wanted)
    *mut OmUint32,         // time_rec
) -> OmUint32;
type ReleaseCred = unsafe extern "C" fn(*mut OmUint32, *mut Handle) -> OmUint32;

const GSS_S_COMPLETE: OmUint32 = 0;
const GSS_S_CONTINUE_NEEDED: OmUint32 = 1;
/// Calling and routine errors; the low 16 bits are supplementary information.
const GSS_ERROR_MASK: OmUint32 = 0xffff_0000;
/// Routine errors (bits 16-23): no credentials, expired credentials.
const GSS_ROUTINE_MASK: OmUint32 = 0x00ff_0000;
const GSS_S_NO_CRED: OmUint32 = 7 << 16;
const GSS_S_CREDENTIALS_EXPIRED: OmUint32 = 11 << 16;
const GSS_C_GSS_CODE: i32 = 1;
const GSS_C_MECH_CODE: i32 = 2;
const GSS_C_INITIATE: i32 = 1;
const GSS_C_DELEG_FLAG: OmUint32 = 1;
const GSS_C_MUTUAL_FLAG: OmUint32 = 2;
const GSS_C_REPLAY_FLAG: OmUint32 = 4;
const GSS_C_SEQUENCE_FLAG: OmUint32 = 8;

/// 1.2.840.113554.1.2.1.4: GSS_C_NT_HOSTBASED_SERVICE (`service@host`).
static NT_HOSTBASED_SERVICE: [u8; 10] =
    [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04];
/// 1.2.840.113554.1.2.2.1: GSS_KRB5_NT_PRINCIPAL_NAME (`user@REALM`, `HTTP/host@REALM`).
static NT_KRB5_PRINCIPAL: [u8; 10] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01];
/// 1.2.840.113554.1.2.2: Kerberos 5.
static KRB5: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.3.6.1.5.5.2: SPNEGO, the mechanism of HTTP Negotiate (RFC 4559).
static SPNEGO: [u8; 6] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

fn oid(bytes: &'static [u8]) -> GssOidDesc {
    GssOidDesc {
        length: bytes.len() as OmUint32,
        elements: bytes.as_ptr().cast(),
    }
}

/// The library names tried, in order.
const LIBRARY_NAMES: &[&str] = &[
    "libgssapi_krb5.so.2",
    // macOS (MacPorts / Homebrew MIT krb5) and the BSDs.
    "libgssapi_krb5.2.dylib",
    "libgssapi_krb5.so",
];

/// The entry points used, copied out of the loaded library (which is never unloaded).
struct Gss {
    import_name: ImportName,
    release_name: ReleaseName,
    init_sec_context: InitSecContext,
    delete_sec_context: DeleteSecContext,
    release_buffer: ReleaseBuffer,
    display_status: DisplayStatus,
    acquire_cred_from: AcquireCredFrom,
    release_cred: ReleaseCred,
    _lib: libloading::Library,
}

fn library() -> Result<&'static Gss, String> {
    static GSS: OnceLock<Result<Gss, String>> = OnceLock::new();
    GSS.get_or_init(|| load(LIBRARY_NAMES))
        .as_ref()
        .map_err(Clone::clone)
}

fn load(names: &[&str]) -> Result<Gss, String> {
    let mut why = Vec::new();
    for name in names {
        // SAFETY: loading MIT's GSSAPI library runs its initialisers, which only set up
        // its own state (error tables, a mutex); it is the library this code is written for.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => return symbols(lib, name),
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(format!(
        "Kerberos (auth=negotiate) needs the MIT GSSAPI library {}, which could not be loaded \
         ({}): install it (Debian/Ubuntu: apt install libgssapi-krb5-2; RHEL/Fedora: dnf \
         install krb5-libs)",
        names[0],
        why.first().map(String::as_str).unwrap_or("not found")
    ))
}

fn symbols(lib: libloading::Library, name: &str) -> Result<Gss, String> {
    fn get<T: Copy>(lib: &libloading::Library, lib_name: &str, sym: &str) -> Result<T, String> {
        // SAFETY: each symbol is read with the signature RFC 2744 (or MIT's gssapi_ext.h)
        // gives it, as declared by the type aliases above; the library stays loaded for the
        // life of the process (it is kept in `Gss`, itself in a static).
        unsafe { lib.get::<T>(sym.as_bytes()) }
            .map(|s| *s)
            .map_err(|e| {
                format!("{lib_name} lacks {sym} ({e}): Kerberos needs MIT krb5 1.11 or later")
            })
    }
    Ok(Gss {
        import_name: get(&lib, name, "gss_import_name")?,
        release_name: get(&lib, name, "gss_release_name")?,
        init_sec_context: get(&lib, name, "gss_init_sec_context")?,
        delete_sec_context: get(&lib, name, "gss_delete_sec_context")?,
        release_buffer: get(&lib, name, "gss_release_buffer")?,
        display_status: get(&lib, name, "gss_display_status")?,
        acquire_cred_from: get(&lib, name, "gss_acquire_cred_from")?,
        release_cred: get(&lib, name, "gss_release_cred")?,
        _lib: lib,
    })
}

impl Gss {
    /// The library's text for a failed call: the GSS status, then the mechanism's (Kerberos)
    /// status, e.g. "Unspecified GSS failure.  Minor code may provide more information: No
    /// Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)".
    fn status_text(&self, major: OmUint32, minor: OmUint32) -> String {
        let mut parts = self.display(major, GSS_C_GSS_CODE);
        if minor != 0 {
            parts.extend(self.display(minor, GSS_C_MECH_CODE));
        }
        let text = parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        format!("{text} (GSS major 0x{major:08x}, minor {minor})")
    }

    fn display(&self, code: OmUint32, kind: i32) -> Vec<String> {
        let mut out = Vec::new();
        let mut more: OmUint32 = 0;
        // Bounded: a library that never clears message_context cannot loop us.
        for _ in 0..8 {
            let mut minor: OmUint32 = 0;
            let mut buf = GssBufferDesc::empty();
            // SAFETY: out-pointers to live locals; GSS_C_NO_OID for the mechanism (the
            // default, Kerberos, whose codes these are); the buffer is released below.
            let major = unsafe {
                (self.display_status)(&mut minor, code, kind, ptr::null(), &mut more, &mut buf)
            };
            if major & GSS_ERROR_MASK != 0 {
                break;
            }
            out.push(self.take_text(&mut buf));
            if more == 0 {
                break;
            }
        }
        out
    }

    /// The text of a buffer the library allocated; the buffer is released.
    fn take_text(&self, buf: &mut GssBufferDesc) -> String {
        let text = if buf.value.is_null() || buf.length == 0 {
            String::new()
        } else {
            // SAFETY: the library filled `buf` with `length` readable bytes at `value`.
            let bytes = unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) };
            String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .trim()
                .to_string()
        };
        self.release(buf);
        text
    }

    fn release(&self, buf: &mut GssBufferDesc) {
        if !buf.value.is_null() {
            let mut minor = 0;
            // SAFETY: a buffer the library allocated and has not been released yet.
            unsafe { (self.release_buffer)(&mut minor, buf) };
        }
    }

    /// Import `text` as a name of type `name_type`.
    fn import(
        &self,
        text: &str,
        name_type: &'static [u8],
    ) -> Result<Name<'_>, (OmUint32, OmUint32)> {
        let nt = oid(name_type);
        let buf = GssBufferDesc {
            length: text.len(),
            value: text.as_ptr() as *mut c_void,
        };
        let mut minor = 0;
        let mut name: Handle = ptr::null_mut();
        // SAFETY: the input buffer points at `text` (read only, by contract of the routine)
        // for the duration of the call; `nt` lives through it; `name` receives a new handle
        // that `Name` releases.
        let major = unsafe { (self.import_name)(&mut minor, &buf, &nt, &mut name) };
        if major & GSS_ERROR_MASK != 0 {
            return Err((major, minor));
        }
        Ok(Name {
            gss: self,
            handle: name,
        })
    }
}

struct Name<'a> {
    gss: &'a Gss,
    handle: Handle,
}

impl Drop for Name<'_> {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: a name this process imported and has not released.
        unsafe { (self.gss.release_name)(&mut minor, &mut self.handle) };
    }
}

/// One security context: the client side of one Negotiate exchange over one connection.
/// Deleted (and with it its keys) when dropped.
pub(super) struct Context {
    gss: &'static Gss,
    ctx: Handle,
    cred: Handle,
    target: Handle,
    flags: OmUint32,
}

// SAFETY: the handles are owned by this value alone and used by one thread at a time (the
// connection's task, which may move between runtime threads); MIT's GSSAPI keeps no
// thread-local state tied to a context or credential.
unsafe impl Send for Context {}

impl Context {
    /// A new context for `service` with the credentials `opts` names. Nothing is sent yet.
    /// `identity` (a user name and password) is for SSPI: the configuration refuses it
    /// here, where a keytab takes its place.
    pub(super) fn new(
        service: &ServiceName,
        opts: &NegotiateOptions,
        identity: Option<(&str, &Secret)>,
    ) -> Result<Context, String> {
        if identity.is_some() {
            return Err("a password is not used with GSSAPI: use negotiate_keytab".to_string());
        }
        let gss = library()?;
        let mut flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG;
        if opts.delegate {
            flags |= GSS_C_DELEG_FLAG;
        }
        let mut c = Context {
            gss,
            ctx: ptr::null_mut(),
            cred: ptr::null_mut(),
            target: ptr::null_mut(),
            flags,
        };
        let (text, nt) = match service {
            ServiceName::HostBased(s) => (s.as_str(), &NT_HOSTBASED_SERVICE[..]),
            ServiceName::Principal(p) => (p.as_str(), &NT_KRB5_PRINCIPAL[..]),
        };
        let name = gss.import(text, nt).map_err(|(ma, mi)| {
            format!(
                "the service name '{text}' was refused: {}",
                gss.status_text(ma, mi)
            )
        })?;
        c.target = name.handle;
        std::mem::forget(name); // now owned by `c`
        if opts.keytab.is_some() || opts.principal.is_some() {
            c.cred = c.acquire(opts)?;
        }
        Ok(c)
    }

    /// Credentials from the client keytab and/or for the principal `opts` names.
    fn acquire(&self, opts: &NegotiateOptions) -> Result<Handle, String> {
        let gss = self.gss;
        let desired = match &opts.principal {
            Some(p) => Some(gss.import(p, &NT_KRB5_PRINCIPAL).map_err(|(ma, mi)| {
                format!(
                    "negotiate_principal '{p}' was refused: {}",
                    gss.status_text(ma, mi)
                )
            })?),
            None => None,
        };
        let mut store: Vec<(CString, CString)> = Vec::new();
        if let Some(keytab) = &opts.keytab {
            store.push((cstr("client_keytab"), cstr(&keytab.to_string_lossy())));
            store.push((
                cstr("ccache"),
                cstr(&keytab_ccache(keytab, opts.principal.as_deref())),
            ));
        }
        let elements: Vec<GssKeyValueElement> = store
            .iter()
            .map(|(k, v)| GssKeyValueElement {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let set = GssKeyValueSet {
            count: elements.len() as OmUint32,
            elements: elements.as_ptr(),
        };
        let mut minor = 0;
        let mut cred: Handle = ptr::null_mut();
        let mut time_rec = 0;
        // SAFETY: every pointer refers to a live local (`store` owns the strings `elements`
        // points at) for the duration of the call; GSS_C_NO_OID_SET for every mechanism;
        // `cred` receives a handle that `Drop` releases.
        let major = unsafe {
            (gss.acquire_cred_from)(
                &mut minor,
                desired.as_ref().map_or(ptr::null_mut(), |n| n.handle),
                0,
                ptr::null(),
                GSS_C_INITIATE,
                &set,
                &mut cred,
                ptr::null_mut(),
                &mut time_rec,
            )
        };
        if major & GSS_ERROR_MASK != 0 {
            let from = match (&opts.keytab, &opts.principal) {
                (Some(k), Some(p)) => format!("for '{p}' from the keytab {}", k.display()),
                (Some(k), None) => format!("from the keytab {}", k.display()),
                (None, Some(p)) => format!("for '{p}' from the credential cache"),
                (None, None) => String::new(),
            };
            return Err(format!(
                "no Kerberos credentials {from}: {}",
                gss.status_text(major, minor)
            ));
        }
        Ok(cred)
    }

    /// One call of `gss_init_sec_context`: `input` is the server's token (none on the first
    /// leg). The token to send (wiped when dropped), and whether the context is complete.
    pub(super) fn step(&mut self, input: Option<&[u8]>) -> Result<Step, String> {
        let gss = self.gss;
        let mech = oid(&SPNEGO);
        let input_buf = input.map(|t| GssBufferDesc {
            length: t.len(),
            value: t.as_ptr() as *mut c_void,
        });
        let mut minor = 0;
        let mut output = GssBufferDesc::empty();
        let mut ret_flags = 0;
        // SAFETY: the handles are ours (null context on the first call, which the library
        // then fills); the input buffer points at `input` for the duration of the call;
        // `output` is released below after its bytes are copied.
        let major = unsafe {
            (gss.init_sec_context)(
                &mut minor,
                self.cred,
                &mut self.ctx,
                self.target,
                &mech,
                self.flags,
                0,
                ptr::null(),
                input_buf
                    .as_ref()
                    .map_or(ptr::null(), |b| b as *const GssBufferDesc),
                ptr::null_mut(),
                &mut output,
                &mut ret_flags,
                ptr::null_mut(),
            )
        };
        let token = if output.value.is_null() || output.length == 0 {
            Zeroizing::new(Vec::new())
        } else {
            // SAFETY: the library filled `output` with `length` readable bytes.
            let bytes =
                unsafe { std::slice::from_raw_parts(output.value as *const u8, output.length) };
            Zeroizing::new(bytes.to_vec())
        };
        gss.release(&mut output);
        if major & GSS_ERROR_MASK != 0 {
            let mut text = gss.status_text(major, minor);
            let routine = major & GSS_ROUTINE_MASK;
            if self.cred.is_null()
                && (routine == GSS_S_NO_CRED || routine == GSS_S_CREDENTIALS_EXPIRED)
            {
                // SPNEGO only says it found no mechanism; Kerberos says why (no cache, no
                // ticket, expired) and which cache it read.
                if let Some(why) = self.default_credentials_problem() {
                    text = format!("{why}; {text}");
                }
            }
            return Err(text);
        }
        Ok(Step {
            token,
            complete: major == GSS_S_COMPLETE,
            continue_needed: major & GSS_S_CONTINUE_NEEDED != 0,
        })
    }
}

impl Context {
    /// Why the user's default Kerberos credentials cannot be used, in Kerberos's words
    /// ("No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_1000)"), with a
    /// hint; `None` when they can be acquired.
    fn default_credentials_problem(&self) -> Option<String> {
        let gss = self.gss;
        let krb5 = oid(&KRB5);
        let mechs = GssOidSetDesc {
            count: 1,
            elements: &krb5,
        };
        let empty = GssKeyValueSet {
            count: 0,
            elements: ptr::null(),
        };
        let mut minor = 0;
        let mut cred: Handle = ptr::null_mut();
        let mut time_rec = 0;
        // SAFETY: pointers to live locals for the duration of the call; a credential
        // acquired is released at once.
        let major = unsafe {
            (gss.acquire_cred_from)(
                &mut minor,
                ptr::null_mut(),
                0,
                &mechs,
                GSS_C_INITIATE,
                &empty,
                &mut cred,
                ptr::null_mut(),
                &mut time_rec,
            )
        };
        if !cred.is_null() {
            let mut m = 0;
            // SAFETY: the credential just acquired, released once.
            unsafe { (gss.release_cred)(&mut m, &mut cred) };
        }
        if major & GSS_ERROR_MASK == 0 {
            return None;
        }
        let why = gss.display(minor, GSS_C_MECH_CODE).join(": ");
        Some(format!(
            "no valid Kerberos ticket ({why}): run kinit, let the host renew the cache, or \
             set negotiate_keytab"
        ))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let gss = self.gss;
        let mut minor = 0;
        // SAFETY: handles this value owns, each released once (the routines accept null
        // handles, and set them to null).
        unsafe {
            if !self.ctx.is_null() {
                (gss.delete_sec_context)(&mut minor, &mut self.ctx, ptr::null_mut());
            }
            if !self.cred.is_null() {
                (gss.release_cred)(&mut minor, &mut self.cred);
            }
            if !self.target.is_null() {
                (gss.release_name)(&mut minor, &mut self.target);
            }
        }
    }
}

fn cstr(s: &str) -> CString {
    // Paths and principal names were checked for NUL when they were set.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// The in-memory credential cache of one (keytab, principal): shared by the connections of
/// this process that use them, so a ticket fetched from the keytab is reused until it nears
/// expiry (the library refreshes it from the keytab then) instead of a new one per connection.
fn keytab_ccache(keytab: &Path, principal: Option<&str>) -> String {
    // FNV-1a: a short stable name; a collision would only share tickets of two keytabs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in keytab
        .to_string_lossy()
        .bytes()
        .chain([0])
        .chain(principal.unwrap_or("").bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("MEMORY:piwebasync-keytab-{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_says_what_to_install() {
        let Err(e) = load(&["libgssapi_krb5_not_here.so.7"]) else {
            panic!("a library that does not exist was loaded");
        };
        assert!(e.contains("libgssapi_krb5_not_here.so.7"), "{e}");
        assert!(e.contains("apt install libgssapi-krb5-2"), "{e}");
        assert!(e.contains("dnf install krb5-libs"), "{e}");
    }

    #[test]
    fn keytab_caches_are_per_keytab_and_principal() {
        let a = keytab_ccache(Path::new("/k1"), None);
        assert!(a.starts_with("MEMORY:"));
        assert_eq!(a, keytab_ccache(Path::new("/k1"), None));
        assert_ne!(a, keytab_ccache(Path::new("/k2"), None));
        assert_ne!(a, keytab_ccache(Path::new("/k1"), Some("u@R")));
    }
}
