//! Loopback ports for real servers a test starts (nginx, Apache, a KDC): a free port to give
//! them, whether a given process itself listens on it (not merely "something accepts":
//! another socket may take a port between `free_port` and the server's bind), and waiting
//! until a stopped server's port is free again.

use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The inodes of the sockets listening on 127.0.0.1:`port` (from /proc/net/tcp).
pub fn listening_inodes(port: u16) -> Vec<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| f[9].parse().ok())?
        })
        .collect()
}

/// Wait (10 s at the most) until no socket listens on 127.0.0.1:`port` any more, after its
/// server was stopped, so that the next one can bind it.
pub fn wait_until_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening_inodes(port).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` itself holds a socket listening on 127.0.0.1:`port`.
pub fn process_listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|target| {
                let t = target.to_string_lossy().into_owned();
                t.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            })
            .is_some_and(|inode| inodes.contains(&inode))
    })
}
