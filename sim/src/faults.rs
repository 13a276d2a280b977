//! Fault injection. Each operation is sent to the connection tasks (or the
//! listener) and waited for, bounded, so that when it returns it has taken effect.

use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use crate::state::{lock, Shared};

/// Dropped by the task once it has acted on the command; the caller waits for
/// every clone to be dropped.
#[derive(Debug, Clone)]
pub(crate) struct Ack(#[allow(dead_code)] std_mpsc::Sender<()>);

impl Ack {
    /// An acknowledgement nobody waits for.
    pub fn none() -> Ack {
        Ack(std_mpsc::channel().0)
    }
}

#[derive(Debug)]
pub(crate) enum ConnOp {
    /// Abort with a TCP RST.
    Reset,
    /// Send Close(code), wait briefly for the reply, end.
    Close(u16),
    /// Write an invalid frame, then only read until the client goes.
    Malformed,
    NotJson,
    Oversize(usize),
}

#[derive(Debug)]
pub(crate) struct ConnCmd {
    pub op: ConnOp,
    pub ack: Ack,
}

#[derive(Debug)]
pub(crate) enum ListenerCmd {
    /// Stop listening now (ack once the listener is closed), listen again after the duration.
    Refuse(Duration, Ack),
}

/// How long a fault operation waits for the connections to act.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);

fn wait(rx: std_mpsc::Receiver<()>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(()) => continue,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return true,
            Err(std_mpsc::RecvTimeoutError::Timeout) => return false,
        }
    }
}

impl Shared {
    /// Sends `op` (built per connection) to every live connection and waits until all
    /// have acted on it (bounded). Returns how many connections were addressed.
    fn broadcast(&self, bump_epoch: bool, op: impl Fn() -> ConnOp) -> usize {
        let (tx, rx) = std_mpsc::channel();
        let n = {
            let mut live = lock(&self.live);
            if bump_epoch {
                live.epoch += 1;
            }
            live.conns
                .values()
                .filter(|c| {
                    c.send(ConnCmd {
                        op: op(),
                        ack: Ack(tx.clone()),
                    })
                    .is_ok()
                })
                .count()
        };
        drop(tx);
        wait(rx, ACK_TIMEOUT);
        n
    }

    pub fn reset_all(&self) -> usize {
        self.broadcast(true, || ConnOp::Reset)
    }

    pub fn close_all(&self, code: u16) -> usize {
        self.broadcast(false, || ConnOp::Close(code))
    }

    pub fn send_malformed(&self) -> usize {
        self.broadcast(false, || ConnOp::Malformed)
    }

    pub fn send_not_json(&self) -> usize {
        self.broadcast(false, || ConnOp::NotJson)
    }

    pub fn send_oversize(&self, bytes: usize) -> usize {
        self.broadcast(false, || ConnOp::Oversize(bytes))
    }

    pub fn stall_on(&self, on: bool) {
        self.stall.send_replace(on);
    }

    pub fn reject_upgrades_for(&self, status: u16, d: Duration) {
        *lock(&self.reject) = Some((status, Instant::now() + d));
    }

    /// Closes the listener (returns once it is closed) and reopens it after `d`.
    pub fn refuse_for(&self, d: Duration) {
        let (tx, rx) = std_mpsc::channel();
        if self
            .listener_tx
            .send(ListenerCmd::Refuse(d, Ack(tx)))
            .is_ok()
        {
            wait(rx, ACK_TIMEOUT);
        }
    }

    /// Stop listening, reset every connection, listen again after `down`.
    pub fn restart(&self, down: Duration) {
        // Listener first, so clients cannot reconnect between the two steps.
        self.refuse_for(down);
        self.reset_all();
    }

    pub fn total_messages_sent(&self) -> u64 {
        self.total_messages.load(Ordering::Relaxed)
    }
}
