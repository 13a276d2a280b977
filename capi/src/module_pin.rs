//! Windows: keep the DLL loaded once the library runs threads of its own.
//!
//! The runtime's workers, the callback delivery threads and the log thread execute code of
//! this DLL. If a host `FreeLibrary`s it while they exist (without `pwa_shutdown`, or with one
//! that timed out), Windows unmaps the code under them and the process crashes at their next
//! wake-up. So the first call that starts threads pins the module
//! (`GET_MODULE_HANDLE_EX_FLAG_PIN`): `FreeLibrary` then leaves it loaded until the process
//! exits, and a later `LoadLibrary` gets the same, still running, library. A host that never
//! opens a channel nor sets a log callback can still unload the DLL. Elsewhere (Unix, or the
//! static library) this does nothing.

#[cfg(windows)]
pub fn pin_module() {
    use std::ffi::c_void;
    use std::sync::Once;

    const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
    const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut *mut c_void) -> i32;
    }
    static PINNED: Once = Once::new();
    PINNED.call_once(|| {
        let mut module = std::ptr::null_mut();
        // Any address inside this module names it; a failure leaves the old behaviour.
        // SAFETY: FROM_ADDRESS takes an address in place of a name; `module` is a valid out
        // pointer.
        unsafe {
            GetModuleHandleExW(
                GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
                pin_module as *const u16,
                &mut module,
            );
        }
    });
}

#[cfg(not(windows))]
#[inline]
pub fn pin_module() {}
