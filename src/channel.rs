//! The Rust API: a channel that streams PI Web API messages into a bounded queue.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::callback_thread::refuse_if_in_callback;
use crate::config::{CallbackThread, ChannelConfig};
use crate::delivery::{self, Callbacks, DeliveryGroup, GroupMember, Pause};
use crate::engine::{self, ChannelOptions, ChannelState, Shared, Stats, TaskHandle};
use crate::error::Error;
use crate::error::ErrorKind;
use crate::message::Message;
use crate::wire::Target;

/// An open channel. Dropping it asks for a graceful close.
///
/// `open` and `poll_next` block the calling thread: call them from ordinary threads, not from
/// inside an async runtime.
pub struct Channel {
    life: Arc<Lifeline>,
    /// Messages go to a callback, not to `poll_next`.
    delivers_messages: bool,
    /// The channel's settings, shared with its task: its own credentials (replaceable) and
    /// the rule against clear-text credentials that an update's URL must pass.
    options: Arc<ChannelOptions>,
}

impl Channel {
    /// Connect to a channel URL (`ws://`, `wss://`, or `http(s)://` meaning the same) and block
    /// until the first connection is up or `config.open_timeout` passed.
    pub fn open(url: &str, config: &ChannelConfig) -> Result<Channel, Error> {
        Self::open_with_callbacks(url, config, Callbacks::default())
    }

    /// Like `open`, with callbacks run in order on a thread the library owns: messages (if
    /// `on_message` is set; `poll_next` is then refused) and state events (if `on_state` is
    /// set; `Closed` comes exactly once and last). Callbacks start after the channel is open;
    /// a failed open calls none. The thread is the channel's own, or with
    /// `config.callback_thread` = [`CallbackThread::Shared`] one process-wide thread shared
    /// with every other channel opened so (a callback that blocks stalls them all).
    pub fn open_with_callbacks(
        url: &str,
        config: &ChannelConfig,
        callbacks: Callbacks,
    ) -> Result<Channel, Error> {
        Self::open_delivered(url, config, callbacks, None)
    }

    /// Like `open_with_callbacks`, with the callbacks run by `group`'s thread (shared with
    /// the group's other channels) instead of a thread of the channel's own;
    /// `config.callback_thread` is not looked at.
    pub(crate) fn open_in_group(
        url: &str,
        config: &ChannelConfig,
        callbacks: Callbacks,
        group: &DeliveryGroup,
    ) -> Result<Channel, Error> {
        Self::open_delivered(url, config, callbacks, Some(group))
    }

    fn open_delivered(
        url: &str,
        config: &ChannelConfig,
        callbacks: Callbacks,
        group: Option<&DeliveryGroup>,
    ) -> Result<Channel, Error> {
        refuse_if_in_callback("opening a channel")?;
        let target = Target::parse(url)?;
        // Its own copy of the credentials: not shared with `config` or other channels.
        let options = Arc::new(config.options_for(&target)?);
        let keep_events = callbacks.on_state.is_some();
        let delivers_messages = callbacks.on_message.is_some();
        let joined = if callbacks.is_empty() {
            Err(callbacks)
        } else if let Some(group) = group {
            Ok(group.join(callbacks))
        } else if config.callback_thread == CallbackThread::Shared {
            delivery::join_shared(callbacks)
        } else {
            Err(callbacks)
        };
        let (on_ready, member, own_callbacks) = match joined {
            Ok((hook, member)) => (Some(hook), Some(member), None),
            Err(callbacks) => (None, None, Some(callbacks).filter(|c| !c.is_empty())),
        };
        let shared = Arc::new(Shared::new(
            options.max_queue,
            options.max_queue_bytes,
            keep_events,
            on_ready,
        ));
        let task = match engine::spawn(target, options.clone(), shared.clone()) {
            Ok(task) => task,
            Err(e) => {
                if let Some(member) = member {
                    member.leave();
                }
                return Err(e);
            }
        };
        let pause = member.as_ref().map(GroupMember::pause).unwrap_or_default();
        let life = Arc::new(Lifeline {
            shared: shared.clone(),
            task,
            delivery: Mutex::new(None),
            pause: pause.clone(),
        });
        register(&life);
        let channel = Channel {
            life,
            delivers_messages,
            options,
        };
        let deliverer = if let Some(member) = member {
            member.start(shared);
            Deliverer::Group(member)
        } else if let Some(callbacks) = own_callbacks {
            Deliverer::Thread(delivery::start(shared, callbacks, pause).map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the callback thread: {e}"),
                )
            })?)
        } else {
            return Ok(channel);
        };
        *channel
            .life
            .delivery
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(deliverer);
        Ok(channel)
    }

    /// The next message. Buffered messages come first, also after the channel ended; then the
    /// terminal outcome (`Closed`, `ClosedError`, `WatchdogTimeout`, ...) on this and every later
    /// call. `Timeout` when nothing arrived within `timeout` (`None` waits without limit).
    /// `Busy` when another thread is polling this channel at the same time.
    pub fn poll_next(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        self.may_poll(timeout)?;
        self.life.shared.queue.pop(timeout)
    }

    /// Like `poll_next`, but the next message is taken only if `accept` returns true for it;
    /// otherwise `Ok(None)` and it stays first in the queue (for a copy into a caller's buffer
    /// that may be too small). Timeouts and terminal outcomes as `poll_next`.
    pub fn poll_next_if(
        &self,
        timeout: Option<Duration>,
        accept: impl FnOnce(&Message) -> bool,
    ) -> Result<Option<Message>, Error> {
        self.may_poll(timeout)?;
        self.life.shared.queue.pop_if(timeout, accept)
    }

    /// A poll that would block is refused inside a callback; a channel that delivers its
    /// messages to a callback cannot be polled at all.
    fn may_poll(&self, timeout: Option<Duration>) -> Result<(), Error> {
        if timeout != Some(Duration::ZERO) {
            refuse_if_in_callback("a poll with a timeout")?;
        }
        if self.delivers_messages {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "this channel delivers its messages to its on_message callback",
            ));
        }
        Ok(())
    }

    /// Change the endpoint, make-before-break: the new URL is opened while the old connection
    /// still streams; once it is up, the old one is closed (its last messages are kept) and the
    /// channel streams from the new one. Blocks until done (at most `open_timeout` plus
    /// `close_timeout`).
    ///
    /// Errors: `InvalidArgument` (bad URL; the channel is unaffected); `RolledBack` (the new
    /// endpoint failed, `rollback` was true, the channel goes on at the old one);
    /// `UpdateFailed` (it failed and `rollback` was false: the channel closes, poll drains and
    /// then reports `UpdateFailed`); `Busy` (another update is running); the channel's terminal
    /// outcome if it already ended. While reconnecting, the new endpoint is tried at once.
    pub fn update(&self, url: &str, rollback: bool) -> Result<(), Error> {
        refuse_if_in_callback("an update")?;
        let target = Target::parse(url)?;
        self.options.connect.check_target(&target)?;
        self.life.task.update(target, rollback)
    }

    /// Hold back (`true`) or resume (`false`) the channel's callbacks, e.g. while the
    /// consumer they hand messages to is full, instead of blocking in a callback (which, with
    /// `callback_thread=shared`, would stall every channel on the shared thread). While
    /// paused no callback of this channel runs (one already under way finishes), its queue
    /// fills, and then the channel stops reading its socket: nothing is dropped. Returns at
    /// once; callable from inside a callback. `dispose`, dropping the channel and `shutdown`
    /// resume it for good (its `Closed` is owed). No effect without callbacks.
    pub fn pause_delivery(&self, paused: bool) {
        self.life.pause.set(paused);
    }

    /// Ask for a graceful close and return at once. Idempotent.
    pub fn close(&self) {
        self.life.task.close();
    }

    /// Wait until the channel's task has ended (after `close`, or by itself). False on timeout.
    pub fn wait_closed(&self, timeout: Duration) -> Result<bool, Error> {
        refuse_if_in_callback("waiting for a channel to close")?;
        Ok(self.life.shared.queue.wait_end(timeout))
    }

    /// Let go of the channel for good: buffered messages are discarded, a blocked `poll_next`
    /// returns `InvalidHandle` at once, the channel is closed (the close frame is sent; the
    /// server's answer is awaited at most 250 ms, and nothing it sends meanwhile is parsed or
    /// queued), the `Closed` event is delivered, and once this returns no callback of this
    /// channel runs again. Waits for a callback that is running. Returns within about half a
    /// second plus the time a running callback takes.
    pub fn dispose(&self) -> Result<(), Error> {
        refuse_if_in_callback("freeing a channel")?;
        self.life.pause.end();
        self.life.shared.queue.abandon();
        self.life.task.close();
        // The engine gives the close handshake free_grace once the queue is abandoned; wait a
        // little longer, not for a task stuck elsewhere (a ping send to a stalled peer, an
        // update's open): it ends within its own bounds, discarding what it reads.
        let bound = self.options.free_grace() + Duration::from_millis(250);
        if !self.life.shared.queue.wait_end(bound) {
            // The task has not ended yet; end the channel for its consumers now.
            self.life
                .shared
                .queue
                .finish(Error::new(ErrorKind::Closed, "channel freed"));
        }
        self.join_delivery(None);
        Ok(())
    }

    /// Wait (at most `limit`, `None` = no limit) for the callback thread to deliver `Closed`
    /// and end. True when it ended (or there is none).
    pub fn join_delivery(&self, limit: Option<Duration>) -> bool {
        self.life.join_delivery(limit)
    }

    pub fn state(&self) -> ChannelState {
        self.life.shared.counters.state()
    }

    /// How the channel ended, as soon as it has — also while messages it buffered are still
    /// to be polled (a poll hands them out first, then this outcome). `None` while it runs.
    pub fn outcome(&self) -> Option<Error> {
        self.life.shared.queue.end()
    }

    pub fn stats(&self) -> Stats {
        self.life
            .shared
            .counters
            .snapshot(self.life.shared.queue.depth())
    }

    /// Replace the Basic password (`auth=basic`): the next connection — a reconnect or an
    /// update — sends it; the current one is not touched. `InvalidArgument` for another auth
    /// method or a value with control characters. The old password is wiped.
    pub fn set_password(&self, password: &str) -> Result<(), Error> {
        self.options.connect.set_password(password)
    }

    /// Replace the bearer token (`auth=bearer`), e.g. before it expires: the next connection
    /// — a reconnect or an update — sends it; the current one is not touched.
    /// `InvalidArgument` for another auth method, an empty token or control characters.
    pub fn set_bearer_token(&self, token: &str) -> Result<(), Error> {
        self.options.connect.set_bearer_token(token)
    }

    /// The last error this channel met: the cause of its terminal outcome, or the last
    /// connection error while it reconnects (cleared when a reconnect succeeds), or why an
    /// update was rolled back. `None` if there was none.
    pub fn last_error(&self) -> Option<String> {
        self.life.shared.last_error()
    }
}

impl Drop for Channel {
    /// Closes the channel without waiting; its callback thread, if any, delivers the remaining
    /// messages and `Closed` and ends by itself. Without a message callback, buffered messages
    /// are discarded (nobody can poll them).
    fn drop(&mut self) {
        self.life.pause.end();
        if !self.delivers_messages {
            // Nobody can poll this channel any more: what it would still read is waste.
            self.life.shared.queue.abandon();
        }
        self.life.task.close();
    }
}

/// What outlives a `Channel` handle while the library shuts down: the queue, the task's
/// handle, the callback thread. The registry holds it weakly.
struct Lifeline {
    shared: Arc<Shared>,
    task: TaskHandle,
    delivery: Mutex<Option<Deliverer>>,
    /// Outside `delivery`'s lock: a callback may pause while `dispose` waits under it.
    pause: Arc<Pause>,
}

/// Who runs a channel's callbacks.
enum Deliverer {
    /// A thread of the channel's own.
    Thread(JoinHandle<()>),
    /// A thread shared with the other channels of a group (a subscription set's shards, or
    /// every channel opened with `callback_thread=shared`).
    Group(GroupMember),
}

impl Lifeline {
    /// Wait (at most `limit`, `None` = no limit) for the callback thread to deliver `Closed`
    /// and end. True when it ended (or there is none).
    fn join_delivery(&self, limit: Option<Duration>) -> bool {
        let mut slot = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        let thread = match slot.take() {
            None => return true,
            Some(Deliverer::Thread(thread)) => thread,
            Some(Deliverer::Group(member)) => {
                if member.wait(limit) {
                    return true;
                }
                *slot = Some(Deliverer::Group(member));
                return false;
            }
        };
        if let Some(limit) = limit {
            let deadline = std::time::Instant::now() + limit;
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if !thread.is_finished() {
                *slot = Some(Deliverer::Thread(thread));
                return false;
            }
        }
        let _ = thread.join();
        true
    }
}

/// Every channel not dropped yet, for `shutdown`.
static LIVE: Mutex<Vec<Weak<Lifeline>>> = Mutex::new(Vec::new());

fn register(life: &Arc<Lifeline>) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(life));
}

/// Graceful shutdown of every channel: close each, wait (until `deadline`) for them to end,
/// stop the runtime (a channel still running then ends with `Shutdown`), and wait for the
/// callback threads to deliver `Closed`. Channels stay usable for draining.
pub(crate) fn shutdown_all(deadline: Instant) {
    let left = || deadline.saturating_duration_since(Instant::now());
    let live: Vec<Arc<Lifeline>> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for c in &live {
        // Paused deliveries resume: the queues drain and every `Closed` is delivered.
        c.pause.end();
        c.task.close();
    }
    for c in &live {
        c.shared.queue.wait_end(left());
    }
    engine::runtime::shutdown(left());
    // The shared callback thread ends, as the channels' own threads do, once its channels
    // delivered `Closed`.
    delivery::release_shared();
    for c in &live {
        c.join_delivery(Some(left()));
    }
}
