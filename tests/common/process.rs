//! Stopping a server a test started in its own process group (nginx, Apache, a KDC).
//!
//! POSIX signals through `libc`: the integration tests that start real servers include this
//! file themselves (`#[path = "common/process.rs"] mod process;`). It is not a module of
//! `common`, which the C ABI's unit tests also include, and that crate has no `libc`.

use std::process::Child;
use std::time::{Duration, Instant};

/// SIGTERM to `child`'s process group, SIGKILL to what is left of the group after 10 s, and
/// reap `child`. `child` must lead its own group (`CommandExt::process_group(0)`).
pub fn stop_process_group(mut child: Child) {
    let pgid = child.id() as libc::pid_t;
    // SAFETY: signalling the process group of a child we started and have not reaped (so
    // its pid, the group's id, cannot have been given to another process).
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut exited = false;
    while !exited && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        // WNOWAIT: look without reaping, so the group id stays ours for the SIGKILL below.
        // SAFETY: waitid on our own child's pid with a zeroed siginfo_t to fill.
        exited = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pgid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
                && info.si_pid() == pgid
        };
    }
    // The leader is not reaped yet: what is left of its group (workers) goes with it. After a
    // graceful exit the leader waited for them, and this finds nobody.
    // SAFETY: as above.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
}
