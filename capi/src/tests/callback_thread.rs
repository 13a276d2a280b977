//! `callback_thread` through the C ABI: set with `pwa_config_set` (a bad value refused with
//! `PWA_ERR_INVALID_ARGUMENT` naming the key), read back with `pwa_config_get`, and channels
//! opened with `shared` call their C callbacks on one thread, `CLOSED` once and last, nothing
//! after `pwa_channel_free`.

use super::common;

use std::collections::HashSet;
use std::ffi::{c_void, CString};
use std::sync::Mutex;
use std::thread::ThreadId;

use crate::*;
use common::*;
use piwebasync_sim::SimConfig;

/// What the callbacks of one channel saw: the thread of each call, and the calls in order.
#[derive(Default)]
struct Seen {
    threads: Mutex<Vec<ThreadId>>,
    /// "m" for a message, the event kind for an event.
    calls: Mutex<Vec<String>>,
}

unsafe extern "C" fn on_message(user: *mut c_void, _h: pwa_channel_t, _m: *const pwa_message) {
    // SAFETY: `user` is the `Seen` the test passed, alive until pwa_channel_free returned.
    let seen = unsafe { &*(user as *const Seen) };
    seen.threads
        .lock()
        .unwrap()
        .push(std::thread::current().id());
    seen.calls.lock().unwrap().push("m".into());
}

unsafe extern "C" fn on_state(user: *mut c_void, _h: pwa_channel_t, e: *const pwa_state_event) {
    // SAFETY: as in on_message; `e` is valid during the call.
    let (seen, kind) = unsafe { (&*(user as *const Seen), (*e).kind) };
    seen.threads
        .lock()
        .unwrap()
        .push(std::thread::current().id());
    seen.calls.lock().unwrap().push(kind.to_string());
}

fn last_error() -> String {
    let mut buf = vec![0u8; 1024];
    let mut needed = 0usize;
    // SAFETY: a buffer of `buf.len()` bytes and a valid `needed`.
    unsafe { pwa_last_error(buf.as_mut_ptr().cast(), buf.len(), &mut needed) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[test]
fn callback_thread_is_set_through_the_c_abi_and_shared_channels_share_one_thread() {
    let sim = sim(SimConfig::default().interval(std::time::Duration::from_millis(2)));
    let seen: Vec<Box<Seen>> = (0..3).map(|_| Box::default()).collect();
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals,
    // NUL-terminated strings; each `Seen` outlives its channel's pwa_channel_free.
    unsafe {
        let cfg = pwa_config_new();
        let set = |k: &str, v: &str| {
            let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
            pwa_config_set(cfg, k.as_ptr(), v.as_ptr())
        };
        let get = |k: &str| {
            let k = CString::new(k).unwrap();
            let mut buf = [0u8; 64];
            let mut needed = 0usize;
            assert_eq!(
                pwa_config_get(
                    cfg,
                    k.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut needed
                ),
                PWA_OK
            );
            let end = buf.iter().position(|&b| b == 0).unwrap();
            String::from_utf8_lossy(&buf[..end]).into_owned()
        };
        assert_eq!(get("callback_thread"), "own");
        assert_eq!(set("callback_thread", "pool"), PWA_ERR_INVALID_ARGUMENT);
        let msg = last_error();
        assert!(
            msg.contains("callback_thread") && msg.contains("own or shared"),
            "{msg}"
        );
        assert_eq!(get("callback_thread"), "own", "unchanged by the bad value");
        assert_eq!(set("callback_thread", "shared"), PWA_OK);
        assert_eq!(get("callback_thread"), "shared");

        let mut handles = Vec::new();
        for (i, s) in seen.iter().enumerate() {
            let url = CString::new(sim.stream_url(&sim.point_web_ids()[i % 2])).unwrap();
            let cbs = pwa_callbacks {
                on_message: Some(on_message),
                on_state: Some(on_state),
                user_data: &**s as *const Seen as *mut c_void,
            };
            let mut h: pwa_channel_t = 0;
            assert_eq!(pwa_channel_open(url.as_ptr(), cfg, &cbs, &mut h), PWA_OK);
            handles.push(h);
        }
        pwa_config_free(cfg);
        for s in &seen {
            assert!(wait_until(SOON, || {
                s.calls.lock().unwrap().iter().filter(|c| *c == "m").count() >= 10
            }));
        }
        for h in handles {
            assert_eq!(pwa_channel_free(h), PWA_OK);
        }
    }
    let closed = PWA_EVENT_CLOSED.to_string();
    let mut threads: HashSet<ThreadId> = HashSet::new();
    for (i, s) in seen.iter().enumerate() {
        let calls = s.calls.lock().unwrap().clone();
        assert_eq!(
            calls.iter().filter(|c| **c == closed).count(),
            1,
            "{i}: CLOSED once"
        );
        assert_eq!(calls.last(), Some(&closed), "{i}: CLOSED last");
        threads.extend(s.threads.lock().unwrap().iter().copied());
    }
    assert_eq!(
        threads.len(),
        1,
        "every callback on one thread: {threads:?}"
    );
    let counts: Vec<usize> = seen.iter().map(|s| s.calls.lock().unwrap().len()).collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after: Vec<usize> = seen.iter().map(|s| s.calls.lock().unwrap().len()).collect();
    assert_eq!(counts, after, "no callback after pwa_channel_free");
}
