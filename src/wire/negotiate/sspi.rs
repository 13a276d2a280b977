//! SPNEGO through Windows' SSPI (`secur32.dll`, the "Negotiate" package): the logged-on user
//! or service account by default, or an explicit `username` (`DOMAIN\user` or
//! `user@REALM`) and `password`. All SSPI FFI of the crate is here; the few functions and
//! structures used are declared below from the Windows SDK's `sspi.h` (W variants).

use std::ffi::c_void;
use std::ptr;

use zeroize::{Zeroize, Zeroizing};

use super::{NegotiateOptions, ServiceName, Step};
use crate::secret::Secret;

#[repr(C)]
#[derive(Clone, Copy)]
struct SecHandle {
    lower: usize,
    upper: usize,
}

#[repr(C)]
struct SecBuffer {
    cb_buffer: u32,
    buffer_type: u32,
    pv_buffer: *mut c_void,
}

#[repr(C)]
struct SecBufferDesc {
    version: u32,
    count: u32,
    buffers: *mut SecBuffer,
}

#[repr(C)]
struct SecPkgInfoW {
    capabilities: u32,
    version: u16,
    rpc_id: u16,
    max_token: u32,
    name: *const u16,
    comment: *const u16,
}

#[repr(C)]
struct AuthIdentityW {
    user: *const u16,
    user_length: u32,
    domain: *const u16,
    domain_length: u32,
    password: *const u16,
    password_length: u32,
    flags: u32,
}

const SECPKG_CRED_OUTBOUND: u32 = 2;
const SECURITY_NATIVE_DREP: u32 = 0x10;
const SECBUFFER_VERSION: u32 = 0;
const SECBUFFER_TOKEN: u32 = 2;
const SEC_WINNT_AUTH_IDENTITY_UNICODE: u32 = 2;
const ISC_REQ_DELEGATE: u32 = 0x1;
const ISC_REQ_MUTUAL_AUTH: u32 = 0x2;
const ISC_REQ_REPLAY_DETECT: u32 = 0x4;
const ISC_REQ_SEQUENCE_DETECT: u32 = 0x8;
const ISC_REQ_CONNECTION: u32 = 0x800;
const SEC_E_OK: i32 = 0;
const SEC_I_CONTINUE_NEEDED: i32 = 0x0009_0312;
const SEC_I_COMPLETE_NEEDED: i32 = 0x0009_0313;
const SEC_I_COMPLETE_AND_CONTINUE: i32 = 0x0009_0314;
const FORMAT_MESSAGE_FROM_SYSTEM: u32 = 0x1000;
const FORMAT_MESSAGE_IGNORE_INSERTS: u32 = 0x200;

#[link(name = "secur32")]
extern "system" {
    fn AcquireCredentialsHandleW(
        principal: *const u16,
        package: *const u16,
        credential_use: u32,
        logon_id: *mut c_void,
        auth_data: *mut c_void,
        get_key_fn: *mut c_void,
        get_key_argument: *mut c_void,
        credential: *mut SecHandle,
        expiry: *mut i64,
    ) -> i32;
    fn InitializeSecurityContextW(
        credential: *mut SecHandle,
        context: *mut SecHandle,
        target_name: *const u16,
        context_req: u32,
        reserved1: u32,
        target_data_rep: u32,
        input: *mut SecBufferDesc,
        reserved2: u32,
        new_context: *mut SecHandle,
        output: *mut SecBufferDesc,
        context_attr: *mut u32,
        expiry: *mut i64,
    ) -> i32;
    fn QuerySecurityPackageInfoW(package: *const u16, info: *mut *mut SecPkgInfoW) -> i32;
    fn CompleteAuthToken(context: *mut SecHandle, token: *mut SecBufferDesc) -> i32;
    fn DeleteSecurityContext(context: *mut SecHandle) -> i32;
    fn FreeCredentialsHandle(credential: *mut SecHandle) -> i32;
    fn FreeContextBuffer(buffer: *mut c_void) -> i32;
}

#[link(name = "kernel32")]
extern "system" {
    fn FormatMessageW(
        flags: u32,
        source: *const c_void,
        message_id: u32,
        language_id: u32,
        buffer: *mut u16,
        size: u32,
        arguments: *mut c_void,
    ) -> u32;
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// The system's text for an SSPI status ("The specified target is unknown or
/// unreachable"), with its code.
fn status_text(status: i32) -> String {
    let mut buf = [0u16; 512];
    // SAFETY: FormatMessageW writes at most `buf.len()` UTF-16 units into `buf` and returns
    // how many; no inserts are read (IGNORE_INSERTS).
    let n = unsafe {
        FormatMessageW(
            FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
            ptr::null(),
            status as u32,
            0,
            buf.as_mut_ptr(),
            buf.len() as u32,
            ptr::null_mut(),
        )
    } as usize;
    let text = String::from_utf16_lossy(&buf[..n.min(buf.len())]);
    let text = text.trim();
    let code = status as u32;
    match (text.is_empty(), status_name(code)) {
        (false, Some(name)) => format!("{text} ({name}, 0x{code:08x})"),
        (false, None) => format!("{text} (SSPI status 0x{code:08x})"),
        (true, Some(name)) => format!("{name} (0x{code:08x})"),
        (true, None) => format!("SSPI status 0x{code:08x}"),
    }
}

/// The SDK's name of the SSPI statuses Negotiate meets (the system may have no text for them,
/// as Wine has not).
fn status_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x8009_0300 => "SEC_E_INSUFFICIENT_MEMORY",
        0x8009_0301 => "SEC_E_INVALID_HANDLE",
        0x8009_0302 => "SEC_E_UNSUPPORTED_FUNCTION",
        0x8009_0303 => "SEC_E_TARGET_UNKNOWN: the KDC does not know the service principal",
        0x8009_0304 => "SEC_E_INTERNAL_ERROR",
        0x8009_0305 => "SEC_E_SECPKG_NOT_FOUND",
        0x8009_0308 => "SEC_E_INVALID_TOKEN",
        0x8009_030c => "SEC_E_LOGON_DENIED",
        0x8009_030e => "SEC_E_NO_CREDENTIALS: no Kerberos ticket or logon session",
        0x8009_0311 => "SEC_E_NO_AUTHENTICATING_AUTHORITY: no domain controller (KDC) reachable",
        0x8009_0317 => "SEC_E_CONTEXT_EXPIRED",
        0x8009_0318 => "SEC_E_INCOMPLETE_MESSAGE",
        0x8009_0322 => "SEC_E_WRONG_PRINCIPAL",
        0x8009_0324 => "SEC_E_TIME_SKEW: the clocks of this host and the KDC differ too much",
        0x8009_0328 => "SEC_E_CERT_EXPIRED",
        0x8009_0363 => "SEC_E_MUTUAL_AUTH_FAILED",
        _ => return None,
    })
}

/// One security context of the Negotiate package. Deleted (and its credentials handle freed)
/// when dropped.
pub(super) struct Context {
    cred: SecHandle,
    /// The package's largest token: the size of the output buffer (allocated here, as curl
    /// does, rather than by SSPI: Wine does not support ISC_REQ_ALLOCATE_MEMORY).
    max_token: usize,
    ctx: Option<SecHandle>,
    target: Vec<u16>,
    flags: u32,
}

// SAFETY: the handles are owned by this value alone and used by one thread at a time; SSPI
// handles are not tied to the thread that made them.
unsafe impl Send for Context {}

impl Context {
    pub(super) fn new(
        service: &ServiceName,
        opts: &NegotiateOptions,
        identity: Option<(&str, &Secret)>,
    ) -> Result<Context, String> {
        if opts.keytab.is_some() || opts.principal.is_some() {
            return Err(
                "negotiate_keytab and negotiate_principal are for Linux: on Windows the logged-on \
                 account is used, or username and password"
                    .to_string(),
            );
        }
        let package = wide("Negotiate");
        let mut info: *mut SecPkgInfoW = ptr::null_mut();
        // SAFETY: `package` is a NUL-terminated UTF-16 string; `info` receives a buffer SSPI
        // allocated, read once and freed at once.
        let status = unsafe { QuerySecurityPackageInfoW(package.as_ptr(), &mut info) };
        if status != SEC_E_OK || info.is_null() {
            return Err(format!(
                "the Negotiate security package is not available: {}",
                status_text(status)
            ));
        }
        // SAFETY: `info` points at the SecPkgInfoW SSPI just returned.
        let max_token = unsafe { (*info).max_token } as usize;
        // SAFETY: the buffer SSPI allocated, freed once.
        unsafe { FreeContextBuffer(info.cast()) };
        let mut cred = SecHandle { lower: 0, upper: 0 };
        let mut expiry = 0i64;
        // The explicit identity, in buffers wiped when this function returns.
        let (user, domain) = match identity {
            Some((name, _)) => match name.split_once('\\') {
                Some((domain, user)) => (wide(user), wide(domain)),
                None => (wide(name), vec![0]),
            },
            None => (vec![0], vec![0]),
        };
        let password: Zeroizing<Vec<u16>> = Zeroizing::new(match identity {
            Some((_, pw)) => pw.expose().encode_utf16().chain([0]).collect(),
            None => vec![0],
        });
        let mut auth = AuthIdentityW {
            user: user.as_ptr(),
            user_length: (user.len() - 1) as u32,
            domain: if domain.len() > 1 {
                domain.as_ptr()
            } else {
                ptr::null()
            },
            domain_length: (domain.len() - 1) as u32,
            password: password.as_ptr(),
            password_length: (password.len() - 1) as u32,
            flags: SEC_WINNT_AUTH_IDENTITY_UNICODE,
        };
        let auth_data: *mut c_void = if identity.is_some() {
            (&mut auth as *mut AuthIdentityW).cast()
        } else {
            ptr::null_mut()
        };
        // SAFETY: every pointer refers to a live local for the duration of the call (the
        // identity's strings are NUL-terminated UTF-16 with their lengths given without the
        // NUL); `cred` receives a handle that `Drop` frees.
        let status = unsafe {
            AcquireCredentialsHandleW(
                ptr::null(),
                package.as_ptr(),
                SECPKG_CRED_OUTBOUND,
                ptr::null_mut(),
                auth_data,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut cred,
                &mut expiry,
            )
        };
        if status != SEC_E_OK {
            let whose = match identity {
                Some((name, _)) => format!("of '{name}'"),
                None => "of the logged-on account".to_string(),
            };
            return Err(format!(
                "no Kerberos credentials {whose}: {}",
                status_text(status)
            ));
        }
        let mut flags = ISC_REQ_MUTUAL_AUTH
            | ISC_REQ_REPLAY_DETECT
            | ISC_REQ_SEQUENCE_DETECT
            | ISC_REQ_CONNECTION;
        if opts.delegate {
            flags |= ISC_REQ_DELEGATE;
        }
        Ok(Context {
            cred,
            max_token: max_token.clamp(1024, 1 << 20),
            ctx: None,
            target: wide(&service.shown()),
            flags,
        })
    }

    /// One call of `InitializeSecurityContextW`: `input` is the server's token (none on the
    /// first leg).
    pub(super) fn step(&mut self, input: Option<&[u8]>) -> Result<Step, String> {
        let mut in_copy: Zeroizing<Vec<u8>> = Zeroizing::new(input.unwrap_or_default().to_vec());
        let mut in_buf = SecBuffer {
            cb_buffer: in_copy.len() as u32,
            buffer_type: SECBUFFER_TOKEN,
            pv_buffer: in_copy.as_mut_ptr().cast(),
        };
        let mut in_desc = SecBufferDesc {
            version: SECBUFFER_VERSION,
            count: 1,
            buffers: &mut in_buf,
        };
        let mut out_bytes: Zeroizing<Vec<u8>> = Zeroizing::new(vec![0u8; self.max_token]);
        let mut out_buf = SecBuffer {
            cb_buffer: out_bytes.len() as u32,
            buffer_type: SECBUFFER_TOKEN,
            pv_buffer: out_bytes.as_mut_ptr().cast(),
        };
        let mut out_desc = SecBufferDesc {
            version: SECBUFFER_VERSION,
            count: 1,
            buffers: &mut out_buf,
        };
        let mut new_ctx = self.ctx.unwrap_or(SecHandle { lower: 0, upper: 0 });
        let mut attrs = 0u32;
        let mut expiry = 0i64;
        let mut old = self.ctx;
        // SAFETY: the credential and context handles are ours (no context on the first
        // call); the buffers point at live locals for the duration of the call (the output
        // buffer at `out_bytes`, of the package's largest token size).
        let status = unsafe {
            InitializeSecurityContextW(
                &mut self.cred,
                old.as_mut()
                    .map_or(ptr::null_mut(), |h| h as *mut SecHandle),
                self.target.as_ptr(),
                self.flags,
                0,
                SECURITY_NATIVE_DREP,
                if input.is_some() {
                    &mut in_desc
                } else {
                    ptr::null_mut()
                },
                0,
                &mut new_ctx,
                &mut out_desc,
                &mut attrs,
                &mut expiry,
            )
        };
        in_copy.zeroize();
        let ok = matches!(
            status,
            SEC_E_OK | SEC_I_CONTINUE_NEEDED | SEC_I_COMPLETE_NEEDED | SEC_I_COMPLETE_AND_CONTINUE
        );
        if ok {
            self.ctx = Some(new_ctx);
        }
        if ok && matches!(status, SEC_I_COMPLETE_NEEDED | SEC_I_COMPLETE_AND_CONTINUE) {
            // SAFETY: the context just made, and the output token it produced.
            let done = unsafe {
                CompleteAuthToken(
                    self.ctx
                        .as_mut()
                        .map_or(ptr::null_mut(), |h| h as *mut SecHandle),
                    &mut out_desc,
                )
            };
            if done != SEC_E_OK {
                return Err(status_text(done));
            }
        }
        // SSPI set `cb_buffer` to the length of the token it wrote into `out_bytes`.
        let len = (out_buf.cb_buffer as usize).min(out_bytes.len());
        out_bytes.truncate(len);
        let token = out_bytes;
        if !ok {
            return Err(status_text(status));
        }
        Ok(Step {
            token,
            complete: status == SEC_E_OK || status == SEC_I_COMPLETE_NEEDED,
            continue_needed: matches!(status, SEC_I_CONTINUE_NEEDED | SEC_I_COMPLETE_AND_CONTINUE),
        })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: handles this value owns, each released once.
        unsafe {
            if let Some(mut ctx) = self.ctx.take() {
                DeleteSecurityContext(&mut ctx);
            }
            FreeCredentialsHandle(&mut self.cred);
        }
    }
}
