//! Callback delivery: each channel with callbacks gets a thread of its own that hands over its
//! messages and state events in order. Never a runtime worker (a slow callback cannot stall the
//! network), never under a lock, and a slow callback of one channel does not stall the others.
//!
//! The shards of a subscription set share one thread instead ([`DeliveryGroup`]): their
//! messages go to one callback anyway, and a thread per shard cost a thread switch per
//! message (hundreds of shards, thousands of messages a second).
//!
//! Channels opened with `callback_thread=shared` share one process-wide group
//! ([`join_shared`]): a thread (and its stack) per channel is most of a channel's memory, and
//! callbacks that only hand messages on (the asyncio binding's) need no thread each.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::callback_thread::mark_callback_thread;
use crate::engine::queue::{Delivery, NextDelivery, ReadyHook};
use crate::engine::Shared;
use crate::events::StateEvent;
use crate::logging::{log_line, LogLevel};
use crate::message::Message;

pub type MessageCallback = Box<dyn FnMut(Message) + Send + 'static>;
pub type StateCallback = Box<dyn FnMut(&StateEvent) + Send + 'static>;

/// What a channel calls. `on_message` set: messages go to it (and cannot be polled);
/// `on_state` set: state events go to it, `Closed` exactly once and last.
#[derive(Default)]
pub struct Callbacks {
    pub on_message: Option<MessageCallback>,
    pub on_state: Option<StateCallback>,
}

impl Callbacks {
    pub fn is_empty(&self) -> bool {
        self.on_message.is_none() && self.on_state.is_none()
    }
}

pub(crate) fn start(
    shared: Arc<Shared>,
    mut callbacks: Callbacks,
    pause: Arc<Pause>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("piwebasync-callbacks".into())
        .spawn(move || {
            mark_callback_thread();
            let with_messages = callbacks.on_message.is_some();
            while let Some(item) = shared.queue.next_delivery(with_messages) {
                pause.wait_resumed();
                hand_over(&mut callbacks, item);
            }
        })
}

/// Whether a channel's deliveries are held back ([`crate::Channel::pause_delivery`]): while
/// they are, no callback of the channel runs, its queue fills and then the channel stops
/// reading its socket (nothing is dropped). A callback whose consumer is behind pauses its
/// channel instead of blocking the thread, which a shared thread cannot afford.
#[derive(Default)]
pub(crate) struct Pause {
    state: Mutex<PauseState>,
    /// A channel's own thread waits here while paused.
    resumed: Condvar,
}

#[derive(Default)]
struct PauseState {
    paused: bool,
    /// Disposed, dropped or shut down: deliveries go on to `Closed`, pausing does nothing.
    ended: bool,
    /// The group member to visit when resumed.
    member: Option<(Weak<GroupInner>, u64)>,
}

impl Pause {
    fn for_member(group: Weak<GroupInner>, id: u64) -> Pause {
        Pause {
            state: Mutex::new(PauseState {
                member: Some((group, id)),
                ..PauseState::default()
            }),
            resumed: Condvar::new(),
        }
    }

    /// Hold back (`true`) or resume (`false`) the deliveries. Does not block.
    pub fn set(&self, paused: bool) {
        let mut st = lock(&self.state);
        if st.ended || st.paused == paused {
            return;
        }
        st.paused = paused;
        if !paused {
            self.resume(st);
        }
    }

    /// For good: resume, and ignore later pauses (the channel's `Closed` is owed).
    pub fn end(&self) {
        let mut st = lock(&self.state);
        st.ended = true;
        if st.paused {
            st.paused = false;
            self.resume(st);
        }
    }

    fn resume(&self, st: MutexGuard<'_, PauseState>) {
        let member = st.member.clone();
        drop(st);
        self.resumed.notify_all();
        // A paused member is not visited (its queue does not tell the group again): visit it.
        if let Some((group, id)) = member {
            if let Some(group) = group.upgrade() {
                group.make_ready(id);
            }
        }
    }

    fn is_paused(&self) -> bool {
        lock(&self.state).paused
    }

    fn wait_resumed(&self) {
        let mut st = lock(&self.state);
        while st.paused {
            st = self.resumed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn hand_over(callbacks: &mut Callbacks, item: Delivery) {
    // A panic in the callback glue must not end delivery (the Closed event is owed).
    let r = catch_unwind(AssertUnwindSafe(|| match item {
        Delivery::Message(m) => {
            if let Some(cb) = callbacks.on_message.as_mut() {
                cb(m)
            }
        }
        Delivery::Event(e) => {
            if let Some(cb) = callbacks.on_state.as_mut() {
                cb(&e)
            }
        }
    }));
    if r.is_err() {
        log_line!(
            LogLevel::Error,
            "a panic in a callback was caught; delivery goes on"
        );
    }
}

/// Deliveries a member hands over in one turn before the next ready member's turn.
const TURN: usize = 64;

/// One thread that delivers for several channels ("members"), each in its own order, taking
/// turns among those with something to hand over. A member's queue tells the group when it
/// has something ([`Queue::new`](crate::engine::queue::Queue::new)'s `on_ready`); the thread
/// sleeps while none has. The thread ends once the group's handle is dropped and every
/// member has delivered its `Closed`.
pub(crate) struct DeliveryGroup {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    state: Mutex<GroupState>,
    /// The thread waits here for a ready member.
    ready: Condvar,
    /// `GroupMember::wait` waits here for a member to finish.
    finished: Condvar,
}

#[derive(Default)]
struct GroupState {
    /// Members to visit, in the order they became ready.
    queue: VecDeque<u64>,
    members: HashMap<u64, Member>,
    next_id: u64,
    /// The thread waits on `ready`.
    idle: bool,
    /// The handle was dropped: end once no member is left.
    released: bool,
}

struct Member {
    /// The channel's queue, once it is open (`start`): its deliveries may start then (a
    /// channel whose open fails calls no callback).
    shared: Option<Arc<Shared>>,
    pause: Arc<Pause>,
    /// `None` while its turn runs (taken out, so no lock is held around a callback).
    callbacks: Option<Callbacks>,
}

/// A member of a group, as its channel sees it.
pub(crate) struct GroupMember {
    group: Arc<GroupInner>,
    id: u64,
    pause: Arc<Pause>,
}

impl DeliveryGroup {
    /// A group for a subscription set's shards.
    pub fn new() -> std::io::Result<DeliveryGroup> {
        Self::with_thread_name("piwebasync-set-callbacks")
    }

    fn with_thread_name(name: &str) -> std::io::Result<DeliveryGroup> {
        let inner = Arc::new(GroupInner {
            state: Mutex::new(GroupState::default()),
            ready: Condvar::new(),
            finished: Condvar::new(),
        });
        let worker = inner.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                mark_callback_thread();
                worker.run();
            })?;
        Ok(DeliveryGroup { inner })
    }

    /// Reserve a member for a channel about to open with `callbacks`: the hook to give its
    /// queue, and the member. Its deliveries wait for [`GroupMember::start`], which gives it
    /// the channel's queue once the channel is open.
    pub fn join(&self, callbacks: Callbacks) -> (ReadyHook, GroupMember) {
        let mut st = lock(&self.inner.state);
        let id = st.next_id;
        st.next_id += 1;
        let weak: Weak<GroupInner> = Arc::downgrade(&self.inner);
        let pause = Arc::new(Pause::for_member(weak.clone(), id));
        st.members.insert(
            id,
            Member {
                shared: None,
                pause: pause.clone(),
                callbacks: Some(callbacks),
            },
        );
        drop(st);
        let hook: ReadyHook = Box::new(move || {
            if let Some(group) = weak.upgrade() {
                group.make_ready(id);
            }
        });
        (
            hook,
            GroupMember {
                group: self.inner.clone(),
                id,
                pause,
            },
        )
    }
}

impl Drop for DeliveryGroup {
    fn drop(&mut self) {
        lock(&self.inner.state).released = true;
        self.inner.ready.notify_all();
    }
}

impl GroupMember {
    /// Holds back this member's deliveries (the group's thread goes on with the others).
    pub fn pause(&self) -> Arc<Pause> {
        self.pause.clone()
    }

    /// The member's channel is open: deliver what its queue holds and will hold.
    pub fn start(&self, shared: Arc<Shared>) {
        let mut st = lock(&self.group.state);
        if let Some(m) = st.members.get_mut(&self.id) {
            m.shared = Some(shared);
        }
        drop(st);
        // What was queued while it opened (its queue told the group already, or not at all
        // if nothing came): visit it once now.
        self.group.make_ready(self.id);
    }

    /// The channel did not open: none of its callbacks runs.
    pub fn leave(&self) {
        lock(&self.group.state).members.remove(&self.id);
        self.group.finished.notify_all();
        // The thread of a released group ends once it has no member: wake it to see that.
        self.group.ready.notify_all();
    }

    /// Wait (at most `limit`, `None` = no limit) until the member delivered `Closed`. True
    /// when it has.
    pub fn wait(&self, limit: Option<Duration>) -> bool {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut st = lock(&self.group.state);
        while st.members.contains_key(&self.id) {
            st = match deadline {
                None => self
                    .group
                    .finished
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.group
                        .finished
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        true
    }
}

impl GroupInner {
    fn make_ready(&self, id: u64) {
        let mut st = lock(&self.state);
        st.queue.push_back(id);
        let wake = st.idle;
        drop(st);
        if wake {
            self.ready.notify_one();
        }
    }

    fn run(&self) {
        let mut st = lock(&self.state);
        loop {
            let Some(id) = st.queue.pop_front() else {
                if st.released && st.members.is_empty() {
                    return;
                }
                st.idle = true;
                st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                st.idle = false;
                continue;
            };
            // A member that is not started yet (no queue) is visited again by `start`; one
            // that is on its turn already (visited twice in the queue) or gone is skipped.
            let Some((shared, mut callbacks, pause)) = st.members.get_mut(&id).and_then(|m| {
                let shared = m.shared.clone()?;
                Some((shared, m.callbacks.take()?, m.pause.clone()))
            }) else {
                continue;
            };
            drop(st);
            let with_messages = callbacks.on_message.is_some();
            let mut turn = Turn::More;
            for _ in 0..TURN {
                if pause.is_paused() {
                    // Not visited again until resumed (`Pause::resume` makes it ready).
                    turn = Turn::Idle;
                    break;
                }
                match shared.queue.try_next_delivery(with_messages) {
                    NextDelivery::Ready(item) => hand_over(&mut callbacks, item),
                    NextDelivery::Idle => {
                        turn = Turn::Idle;
                        break;
                    }
                    NextDelivery::Done => {
                        turn = Turn::Done;
                        break;
                    }
                }
            }
            st = lock(&self.state);
            if let Turn::Done = turn {
                st.members.remove(&id);
                // Its callbacks (and what they hold) go now, not under the lock.
                drop(st);
                drop(callbacks);
                self.finished.notify_all();
                st = lock(&self.state);
                continue;
            }
            if let Some(m) = st.members.get_mut(&id) {
                m.callbacks = Some(callbacks);
            }
            if let Turn::More = turn {
                // More may wait: its queue stays scheduled (it does not tell the group
                // again), so it goes to the back of the line here.
                st.queue.push_back(id);
            }
        }
    }
}

/// The process-wide group of the channels opened with `callback_thread=shared`.
static SHARED: Mutex<SharedGroup> = Mutex::new(SharedGroup::NotYet);

enum SharedGroup {
    /// No channel asked for it yet: its thread starts with the first.
    NotYet,
    Running(DeliveryGroup),
    /// The library was shut down: the thread ends once its members delivered `Closed`.
    ShutDown,
}

/// Reserve a member of the process-wide shared group (started on first use) for a channel
/// about to open with `callbacks`, as [`DeliveryGroup::join`]. The callbacks come back when
/// there is no shared group to join (the library was shut down, where the open fails anyway,
/// or its thread could not start): the caller delivers them as without the group.
pub(crate) fn join_shared(callbacks: Callbacks) -> Result<(ReadyHook, GroupMember), Callbacks> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let SharedGroup::NotYet = *shared {
        match DeliveryGroup::with_thread_name("piwebasync-shared-callbacks") {
            Ok(group) => *shared = SharedGroup::Running(group),
            Err(e) => {
                log_line!(
                    LogLevel::Warn,
                    "could not start the shared callback thread ({e}): a thread of its own instead"
                );
                return Err(callbacks);
            }
        }
    }
    match &*shared {
        SharedGroup::Running(group) => Ok(group.join(callbacks)),
        _ => Err(callbacks),
    }
}

/// At shutdown: the shared group takes no member any more, and its thread ends once every
/// member delivered its `Closed` (as a channel's own thread does).
pub(crate) fn release_shared() {
    let old = std::mem::replace(
        &mut *SHARED.lock().unwrap_or_else(PoisonError::into_inner),
        SharedGroup::ShutDown,
    );
    // Dropped outside the lock: marks the group released and wakes its thread.
    drop(old);
}

/// How a member's turn ended.
enum Turn {
    /// It used its whole turn: visit again.
    More,
    /// Its queue is idle (and tells the group when that changes).
    Idle,
    /// It delivered everything, `Closed` included.
    Done,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Callbacks run outside this lock: a panic cannot leave the group's state half changed.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use std::sync::mpsc;

    /// Generous bound for events that come within milliseconds.
    const WAIT: Duration = Duration::from_secs(10);

    #[derive(Debug, PartialEq)]
    enum Seen {
        Message(usize, String),
        Closed(usize),
        Thread(usize, bool),
    }

    /// Callbacks for member `n` that report what they see (and whether on a callback thread).
    fn recording(n: usize, tx: &mpsc::Sender<Seen>) -> Callbacks {
        let (t1, t2) = (tx.clone(), tx.clone());
        Callbacks {
            on_message: Some(Box::new(move |m: Message| {
                let _ = t1.send(Seen::Thread(n, crate::callback_thread::in_callback()));
                let _ = t1.send(Seen::Message(n, m.json().to_string()));
            })),
            on_state: Some(Box::new(move |e: &StateEvent| {
                if let StateEvent::Closed { .. } = e {
                    let _ = t2.send(Seen::Closed(n));
                }
            })),
        }
    }

    fn member(group: &DeliveryGroup, callbacks: Callbacks) -> (Arc<Shared>, GroupMember) {
        let (hook, member) = group.join(callbacks);
        (
            Arc::new(Shared::new(1000, 1 << 20, true, Some(hook))),
            member,
        )
    }

    fn push(shared: &Shared, text: &str) {
        shared.queue.push(Message::new(text, Arc::from("ws://x")));
    }

    fn closed() -> Error {
        Error::new(ErrorKind::Closed, "closed")
    }

    #[test]
    fn members_share_one_thread_each_in_order_with_closed_last() {
        let group = DeliveryGroup::new().unwrap();
        let (tx, rx) = mpsc::channel();
        let members: Vec<_> = (0..3).map(|n| member(&group, recording(n, &tx))).collect();
        for (shared, m) in &members {
            m.start(shared.clone());
        }
        // Interleaved pushes, more than a turn's worth for member 0.
        for i in 0..(TURN * 2 + 5) {
            push(&members[0].0, &format!("a{i}"));
            if i < 10 {
                push(&members[1].0, &format!("b{i}"));
                push(&members[2].0, &format!("c{i}"));
            }
        }
        for (shared, _) in &members {
            shared.queue.finish(closed());
        }
        for (_, m) in &members {
            assert!(m.wait(Some(WAIT)), "a member did not deliver Closed");
        }
        drop(tx);
        let seen: Vec<Seen> = rx.iter().collect();
        let mut threads = seen.iter().filter(|s| matches!(s, Seen::Thread(..)));
        assert!(threads.all(|s| matches!(s, Seen::Thread(_, true))));
        for (n, prefix, count) in [(0, "a", TURN * 2 + 5), (1, "b", 10), (2, "c", 10)] {
            let got: Vec<&Seen> = seen
                .iter()
                .filter(|s| matches!(s, Seen::Message(m, _) | Seen::Closed(m) if *m == n))
                .collect();
            let want: Vec<Seen> = (0..count)
                .map(|i| Seen::Message(n, format!("{prefix}{i}")))
                .chain([Seen::Closed(n)])
                .collect();
            assert_eq!(got, want.iter().collect::<Vec<_>>(), "member {n}");
        }
    }

    #[test]
    fn a_busy_member_does_not_starve_the_others() {
        let group = DeliveryGroup::new().unwrap();
        let (tx, rx) = mpsc::channel();
        // The busy member's first callback holds the thread until the quiet member is ready,
        // so that the busy one has more than a turn left when the quiet one queues up.
        let (release, held) = mpsc::channel::<()>();
        let mut busy_callbacks = recording(0, &tx);
        let mut record = busy_callbacks.on_message.take().unwrap();
        let mut first = Some(held);
        busy_callbacks.on_message = Some(Box::new(move |m: Message| {
            if let Some(held) = first.take() {
                let _ = held.recv_timeout(WAIT);
            }
            record(m)
        }));
        let (busy, b) = member(&group, busy_callbacks);
        let (quiet, q) = member(&group, recording(1, &tx));
        for i in 0..(TURN * 4) {
            push(&busy, &format!("{i}"));
        }
        b.start(busy.clone());
        q.start(quiet.clone());
        push(&quiet, "q");
        release.send(()).unwrap();
        busy.queue.finish(closed());
        quiet.queue.finish(closed());
        assert!(b.wait(Some(WAIT)) && q.wait(Some(WAIT)));
        drop(tx);
        let order: Vec<usize> = rx
            .iter()
            .filter_map(|s| match s {
                Seen::Message(n, _) => Some(n),
                _ => None,
            })
            .collect();
        let quiet_at = order.iter().position(|&n| n == 1).unwrap();
        // The quiet member's message comes after at most two turns of the busy one.
        assert!(
            quiet_at <= TURN * 2,
            "quiet member waited for {quiet_at} messages"
        );
    }

    #[test]
    fn nothing_is_delivered_before_start_and_nothing_after_leave() {
        let group = DeliveryGroup::new().unwrap();
        let (tx, rx) = mpsc::channel();
        let (shared, m) = member(&group, recording(0, &tx));
        push(&shared, "early");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        m.start(shared.clone());
        assert_eq!(rx.recv_timeout(WAIT), Ok(Seen::Thread(0, true)));
        assert_eq!(rx.recv_timeout(WAIT), Ok(Seen::Message(0, "early".into())));

        // A channel that failed to open: it leaves, and its callbacks never run.
        let (failed, f) = member(&group, recording(1, &tx));
        push(&failed, "never");
        failed.queue.finish(closed());
        f.leave();
        assert!(f.wait(Some(Duration::ZERO)));
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn the_thread_ends_once_the_group_is_dropped_and_its_members_are_done() {
        let group = DeliveryGroup::new().unwrap();
        let weak = Arc::downgrade(&group.inner);
        let (tx, _rx) = mpsc::channel();
        let (shared, m) = member(&group, recording(0, &tx));
        m.start(shared.clone());
        drop(group);
        std::thread::sleep(Duration::from_millis(100));
        // A member still streams: the thread stays for it.
        assert!(weak.upgrade().is_some());
        push(&shared, "last");
        shared.queue.finish(closed());
        assert!(m.wait(Some(WAIT)));
        drop(m);
        let deadline = Instant::now() + WAIT;
        while weak.upgrade().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(weak.upgrade().is_none(), "the group's thread did not end");
    }
}
