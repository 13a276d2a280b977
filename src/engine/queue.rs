//! The bounded per-channel queue between the engine (one producer, async) and the consumer
//! (a caller's thread, blocking). It is full at `max_queue` messages or `max_queue_bytes` bytes
//! of message text, whichever comes first; then the engine stops reading the socket, so memory
//! stays flat and nothing is dropped. The engine reads a message only while the queue is below
//! both bounds, so the bytes held never exceed `max_queue_bytes` plus one message (a single
//! message larger than the byte bound is still delivered). After the channel ended, the queue still hands out what it
//! holds, then the terminal outcome, on every later call.
//!
//! When the channel has a state callback, state events are kept beside the messages with a
//! common sequence number, so a delivery thread hands both over in the order they happened.
//! The `Closed` event is added by `finish` itself: it exists exactly once, after everything.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;
use crate::message::Message;

pub struct Queue {
    inner: Mutex<Inner>,
    readable: Condvar,
    space: Notify,
    /// The owner let go of the channel: consumers stop at once, nothing more is handed out or
    /// taken in. Set under the lock of `inner`; read without it by the engine.
    abandoned: AtomicBool,
    /// Signalled once by `abandon` (the engine cuts its close handshake short).
    abandoned_signal: Notify,
    capacity: usize,
    /// Bound on the bytes of message text held (`max_queue_bytes`).
    max_bytes: usize,
    polling: AtomicBool,
    /// Messages queued, as of the last change (read without the lock by `has_backlog`).
    depth: AtomicUsize,
    /// Keep state events (a state callback exists).
    keep_events: bool,
    /// Called when something is added while the queue is not scheduled: a delivery thread
    /// shared by several channels is told that this one has something to hand over (see
    /// [`Queue::try_next_delivery`]). `None`: the channel's own thread waits on `readable`.
    on_ready: Option<ReadyHook>,
}

/// See [`Queue::new`]'s `on_ready`.
pub type ReadyHook = Box<dyn Fn() + Send + Sync>;

struct Inner {
    items: VecDeque<(u64, Message)>,
    /// Bytes of message text in `items`.
    bytes: usize,
    events: VecDeque<(u64, StateEvent)>,
    seq: u64,
    end: Option<Error>,
    /// Threads waiting on `readable`: a push wakes someone only when someone waits (a
    /// condvar notify is a system call; most pushes find the consumer busy, not waiting).
    waiters: usize,
    /// With `on_ready`: the shared delivery thread was told and has not yet found the queue
    /// idle since, so further additions need not tell it again.
    scheduled: bool,
}

impl Inner {
    /// Messages and events share one sequence: the order they happened in.
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// What a delivery thread hands over next.
pub enum Delivery {
    Message(Message),
    Event(StateEvent),
}

/// What [`Queue::try_next_delivery`] found.
pub enum NextDelivery {
    Ready(Delivery),
    /// Nothing to hand over now; the queue tells `on_ready` when there is.
    Idle,
    /// Everything was handed over, `Closed` included (if events are kept): nothing ever comes.
    Done,
}

impl Queue {
    /// `on_ready`: for a delivery thread shared by several channels, called (outside the lock)
    /// when something deliverable is added and the queue was not scheduled since the thread
    /// last found it idle.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        keep_events: bool,
        on_ready: Option<ReadyHook>,
    ) -> Queue {
        Queue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                bytes: 0,
                events: VecDeque::new(),
                seq: 0,
                end: None,
                waiters: 0,
                scheduled: false,
            }),
            readable: Condvar::new(),
            space: Notify::new(),
            abandoned_signal: Notify::new(),
            abandoned: AtomicBool::new(false),
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            polling: AtomicBool::new(false),
            depth: AtomicUsize::new(0),
            keep_events,
            on_ready,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait on `readable`, counted in `waiters` so producers know to wake us.
    fn wait<'a>(
        &'a self,
        mut inner: MutexGuard<'a, Inner>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Inner> {
        inner.waiters += 1;
        let mut inner = match timeout {
            None => self.readable.wait(inner).unwrap_or_else(|p| p.into_inner()),
            Some(t) => {
                self.readable
                    .wait_timeout(inner, t)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
        inner.waiters -= 1;
        inner
    }

    /// True when messages wait for the consumer (it is behind): a hint, read without the lock.
    pub fn has_backlog(&self) -> bool {
        self.depth.load(Ordering::Relaxed) > 0
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Messages and bytes of message text queued now.
    pub fn depth(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.items.len(), inner.bytes)
    }

    pub fn has_space(&self) -> bool {
        self.room().has_space()
    }

    /// What may still be read before the queue is full.
    pub fn room(&self) -> Room {
        let inner = self.lock();
        Room {
            messages: self.capacity.saturating_sub(inner.items.len()),
            bytes: self.max_bytes.saturating_sub(inner.bytes),
        }
    }

    /// True once the owner let go of the channel (`abandon`).
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    /// Resolves once the owner let go of the channel (at once if it already has).
    pub async fn abandoned(&self) {
        while !self.is_abandoned() {
            self.abandoned_signal.notified().await;
        }
    }

    /// Resolves once the consumer took something out of a full queue (may wake spuriously:
    /// callers check `has_space` again).
    pub async fn space_freed(&self) {
        self.space.notified().await
    }

    /// True when a take left the queue at its low-water mark (half full). The engine, stopped
    /// on a full queue, is woken there rather than on every take: one wake per half queue of
    /// messages instead of one per message (each wake of a parked worker is a system call).
    /// Every take passes through each length, so a waiting engine is always woken.
    /// The same holds for bytes: a take that crosses half of `max_bytes` wakes it, and an
    /// engine stopped on bytes held at least `max_bytes`, so the takes down to empty cross it.
    fn at_low_water(&self, len_after: usize, bytes_before: usize, bytes_after: usize) -> bool {
        let half = self.max_bytes / 2;
        len_after == self.capacity / 2 || (bytes_before > half && bytes_after <= half)
    }

    /// Take the front message (the lock is held); true when the engine should be woken.
    fn take_front(&self, inner: &mut Inner) -> (Option<Message>, bool) {
        let Some((_, msg)) = inner.items.pop_front() else {
            return (None, false);
        };
        let before = inner.bytes;
        inner.bytes -= msg.json().len();
        self.depth.store(inner.items.len(), Ordering::Relaxed);
        let wake = self.at_low_water(inner.items.len(), before, inner.bytes);
        (Some(msg), wake)
    }

    /// Engine side: append a message. The engine only reads a frame when `has_space` was true,
    /// and it is the only producer, so the bound holds. After `abandon` messages are dropped:
    /// nobody will take them.
    pub fn push(&self, msg: Message) {
        self.push_all([msg]);
    }

    /// Engine side: append several messages under one lock (what one read found ready; the
    /// engine took no more than `room`).
    pub fn push_all(&self, msgs: impl IntoIterator<Item = Message>) {
        self.append(|inner| {
            if self.is_abandoned() {
                return;
            }
            for msg in msgs {
                let seq = inner.next_seq();
                inner.bytes += msg.json().len();
                inner.items.push_back((seq, msg));
            }
            self.depth.store(inner.items.len(), Ordering::Relaxed);
        });
    }

    /// Engine side: record a state event (dropped unless a state callback wants them).
    pub fn push_event(&self, event: StateEvent) {
        if !self.keep_events {
            return;
        }
        self.append(|inner| {
            let seq = inner.next_seq();
            inner.events.push_back((seq, event));
        });
    }

    /// Add under the lock, then wake a consumer if one waits.
    fn append(&self, add: impl FnOnce(&mut Inner)) {
        let mut inner = self.lock();
        add(&mut inner);
        let wake = inner.waiters > 0;
        let schedule = self.schedule(&mut inner);
        drop(inner);
        if wake {
            self.readable.notify_all();
        }
        self.tell_ready(schedule);
    }

    /// Under the lock: true when the shared delivery thread must be told (once until it
    /// finds the queue idle again).
    fn schedule(&self, inner: &mut Inner) -> bool {
        if self.on_ready.is_none() || inner.scheduled {
            return false;
        }
        inner.scheduled = true;
        true
    }

    /// Outside the lock: tell the shared delivery thread.
    fn tell_ready(&self, schedule: bool) {
        if let (true, Some(hook)) = (schedule, &self.on_ready) {
            hook();
        }
    }

    /// Record how the channel ended. The first outcome wins; with it, and only with it, the
    /// `Closed` event is added.
    pub fn finish(&self, end: Error) {
        let mut inner = self.lock();
        if inner.end.is_none() {
            inner.end = Some(end.clone());
            if self.keep_events {
                let seq = inner.next_seq();
                inner
                    .events
                    .push_back((seq, StateEvent::Closed { outcome: end }));
            }
        }
        let schedule = self.schedule(&mut inner);
        drop(inner);
        self.readable.notify_all();
        self.tell_ready(schedule);
    }

    /// The owner let go: wake every consumer; buffered messages are discarded.
    pub fn abandon(&self) {
        let mut inner = self.lock();
        self.abandoned.store(true, Ordering::Release);
        inner.items.clear();
        inner.bytes = 0;
        self.depth.store(0, Ordering::Relaxed);
        let schedule = self.schedule(&mut inner);
        drop(inner);
        self.readable.notify_all();
        self.space.notify_one();
        self.abandoned_signal.notify_one();
        self.tell_ready(schedule);
    }

    /// Delivery thread side: the next message or event in the order they happened, waiting
    /// without limit. After `Closed` was returned, returns `None` for good. After `abandon`,
    /// only the `Closed` event is still handed out.
    pub fn next_delivery(&self, with_messages: bool) -> Option<Delivery> {
        let mut inner = self.lock();
        loop {
            match self.take_next(&mut inner, with_messages) {
                NextDelivery::Ready(d) => return Some(d),
                NextDelivery::Done => return None,
                NextDelivery::Idle => inner = self.wait(inner, None),
            }
        }
    }

    /// Shared delivery thread side: like `next_delivery`, without waiting. `Idle` clears the
    /// schedule: the next addition calls `on_ready` again.
    pub fn try_next_delivery(&self, with_messages: bool) -> NextDelivery {
        let mut inner = self.lock();
        let next = self.take_next(&mut inner, with_messages);
        if !matches!(next, NextDelivery::Ready(_)) {
            inner.scheduled = false;
        }
        next
    }

    /// The next delivery, the lock held.
    fn take_next(&self, inner: &mut Inner, with_messages: bool) -> NextDelivery {
        if self.is_abandoned() {
            inner
                .events
                .retain(|(_, e)| matches!(e, StateEvent::Closed { .. }));
        }
        let msg_seq = if with_messages {
            inner.items.front().map(|(s, _)| *s)
        } else {
            None
        };
        let ev_seq = inner.events.front().map(|(s, _)| *s);
        match (msg_seq, ev_seq) {
            (Some(m), e) if e.is_none_or(|e| m < e) => {
                let (msg, wake) = self.take_front(inner);
                if wake {
                    // A tokio `Notify`: it takes no lock of ours.
                    self.space.notify_one();
                }
                return NextDelivery::Ready(Delivery::Message(msg.expect("front exists")));
            }
            (_, Some(_)) => {
                let (_, ev) = inner.events.pop_front().expect("front exists");
                return NextDelivery::Ready(Delivery::Event(ev));
            }
            _ => {}
        }
        let drained = inner.items.is_empty() || !with_messages;
        // With events kept, `Closed` (the last of them) was handed out already.
        if inner.end.is_some() && drained && (!self.keep_events || inner.events.is_empty()) {
            return NextDelivery::Done;
        }
        NextDelivery::Idle
    }

    pub fn end(&self) -> Option<Error> {
        self.lock().end.clone()
    }

    /// Wait until the channel has ended (not necessarily drained). False on timeout.
    pub fn wait_end(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.end.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self.wait(inner, Some(deadline - now));
        }
        true
    }

    /// Consumer side: the next message, else the terminal outcome once the channel ended, else
    /// wait up to `timeout` (`None` = forever) and report `Timeout`. One consumer at a time: a
    /// second concurrent caller gets `Busy`.
    pub fn pop(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        self.pop_if(timeout, |_| true)
            .map(|m| m.expect("every message is accepted"))
    }

    /// Consumer side: like `pop`, but the next message is taken only if `accept` says so
    /// (`Ok(None)`: it stays first in the queue, e.g. because the caller's buffer is too
    /// small for it). `accept` is called once, with the message at the front.
    pub fn pop_if(
        &self,
        timeout: Option<Duration>,
        accept: impl FnOnce(&Message) -> bool,
    ) -> Result<Option<Message>, Error> {
        if self.polling.swap(true, Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Busy,
                "another thread is already polling this channel",
            ));
        }
        let _release = PollGuard(&self.polling);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.lock();
        loop {
            if self.is_abandoned() {
                return Err(Error::new(
                    ErrorKind::InvalidHandle,
                    "the channel was freed",
                ));
            }
            if let Some((_, front)) = inner.items.front() {
                if !accept(front) {
                    return Ok(None);
                }
                let (msg, wake) = self.take_front(&mut inner);
                drop(inner);
                if wake {
                    self.space.notify_one();
                }
                return Ok(msg);
            }
            if let Some(end) = &inner.end {
                return Err(end.clone());
            }
            inner = match deadline {
                None => self.wait(inner, None),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            "no message within the timeout",
                        ));
                    }
                    self.wait(inner, Some(deadline - now))
                }
            };
        }
    }
}

/// What may still be read before the queue is full: reading is allowed while both are
/// nonzero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    pub messages: usize,
    pub bytes: usize,
}

impl Room {
    pub fn has_space(self) -> bool {
        self.messages > 0 && self.bytes > 0
    }
}

struct PollGuard<'a>(&'a AtomicBool);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn msg(i: usize) -> Message {
        Message::new(&format!("{{\"i\":{i}}}"), Arc::from("ws://x"))
    }

    #[test]
    fn pop_if_leaves_a_refused_message_first() {
        let q = Queue::new(4, 1 << 20, false, None);
        q.push(msg(1));
        q.push(msg(2));
        assert!(q
            .pop_if(Some(Duration::ZERO), |m| m.json().len() < 3)
            .unwrap()
            .is_none());
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.pop_if(Some(Duration::ZERO), |_| true)
                .unwrap()
                .unwrap()
                .json(),
            "{\"i\":1}"
        );
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap().json(), "{\"i\":2}");
        assert_eq!(
            q.pop_if(Some(Duration::from_millis(5)), |_| true)
                .unwrap_err()
                .kind(),
            ErrorKind::Timeout
        );
        q.finish(Error::new(ErrorKind::Closed, "closed"));
        assert_eq!(
            q.pop_if(Some(Duration::ZERO), |_| true).unwrap_err().kind(),
            ErrorKind::Closed
        );
    }

    #[test]
    fn drains_in_order_then_reports_the_end_every_time() {
        let q = Queue::new(4, 1 << 20, false, None);
        q.push(msg(1));
        q.push(msg(2));
        q.finish(Error::new(ErrorKind::Closed, "closed"));
        q.finish(Error::new(
            ErrorKind::ClosedError,
            "ignored: first outcome wins",
        ));
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap().json(), "{\"i\":1}");
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap().json(), "{\"i\":2}");
        for _ in 0..3 {
            assert_eq!(
                q.pop(Some(Duration::ZERO)).unwrap_err().kind(),
                ErrorKind::Closed
            );
        }
    }

    #[test]
    fn times_out_when_empty_and_reports_space() {
        let q = Queue::new(1, 1 << 20, false, None);
        assert_eq!(
            q.pop(Some(Duration::from_millis(10))).unwrap_err().kind(),
            ErrorKind::Timeout
        );
        assert!(q.has_space());
        q.push(msg(1));
        assert!(!q.has_space());
        q.pop(None).unwrap();
        assert!(q.has_space());
    }

    #[test]
    fn delivery_interleaves_events_and_messages_and_ends_with_closed_once() {
        let q = Queue::new(4, 1 << 20, true, None);
        q.push_event(StateEvent::Connected {
            url: "ws://x".into(),
        });
        q.push(msg(1));
        q.push_event(StateEvent::Disconnected {
            cause: Error::new(ErrorKind::ClosedError, "lost"),
        });
        q.push(msg(2));
        q.finish(Error::new(ErrorKind::Closed, "closed"));
        q.finish(Error::new(
            ErrorKind::ClosedError,
            "second finish adds nothing",
        ));
        let order: Vec<String> = std::iter::from_fn(|| q.next_delivery(true))
            .map(|d| match d {
                Delivery::Message(m) => m.json().to_string(),
                Delivery::Event(e) => format!("{e:?}")
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string(),
            })
            .collect();
        assert_eq!(
            order,
            [
                "Connected",
                "{\"i\":1}",
                "Disconnected",
                "{\"i\":2}",
                "Closed"
            ]
        );
        assert!(q.next_delivery(true).is_none());
    }

    #[test]
    fn abandon_discards_messages_but_still_hands_out_closed() {
        let q = Queue::new(4, 1 << 20, true, None);
        q.push(msg(1));
        q.push_event(StateEvent::Reconnecting {
            attempt: 1,
            delay: Duration::ZERO,
        });
        q.abandon();
        assert_eq!(
            q.pop(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::InvalidHandle
        );
        q.finish(Error::new(ErrorKind::Closed, "closed"));
        assert!(matches!(
            q.next_delivery(true),
            Some(Delivery::Event(StateEvent::Closed { .. }))
        ));
        assert!(q.next_delivery(true).is_none());
    }

    #[test]
    fn a_second_concurrent_poller_is_busy() {
        let q = Arc::new(Queue::new(1, 1 << 20, false, None));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop(Some(Duration::from_secs(30))));
        // Wait until the first poller is inside pop.
        while !q.polling.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        assert_eq!(
            q.pop(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::Busy
        );
        q.push(msg(7));
        assert_eq!(t.join().unwrap().unwrap().json(), "{\"i\":7}");
    }
}
