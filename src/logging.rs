//! Log lines of the library, handed to the host's sink on a thread of the library's own, so a
//! slow sink never stalls the network runtime. Lines are dropped (and counted) when the sink
//! falls more than `BACKLOG` lines behind. No line ever contains a password or token: the
//! messages logged are the same redacted ones the error API returns.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;

/// Severity of a log line; a sink set at one level receives that level and the ones above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    pub fn from_u8(v: u8) -> Option<LogLevel> {
        Some(match v {
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => return None,
        })
    }
}

pub type LogSink = Box<dyn FnMut(LogLevel, &str) + Send + 'static>;

const BACKLOG: usize = 4096;

/// 0 = off.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The channel to the sink thread, and that thread.
type Writer = (SyncSender<(LogLevel, String)>, JoinHandle<()>);
static WRITER: Mutex<Option<Writer>> = Mutex::new(None);

thread_local! {
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Install `sink` for lines at `level` and above, or remove the sink (`None`). Returns once the
/// previous sink received its last line: after this, the old sink is never called again.
/// Refused (`RecursiveCall`) from inside a sink.
pub fn set_sink(level: LogLevel, sink: Option<LogSink>) -> Result<(), Error> {
    if ON_LOG_THREAD.with(Cell::get) {
        return Err(Error::new(
            ErrorKind::RecursiveCall,
            "the log sink cannot be replaced from inside itself",
        ));
    }
    let mut writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    MAX_LEVEL.store(0, Ordering::Release);
    if let Some((tx, thread)) = writer.take() {
        drop(tx);
        let _ = thread.join();
    }
    if let Some(mut sink) = sink {
        let (tx, rx) = sync_channel::<(LogLevel, String)>(BACKLOG);
        let thread = std::thread::Builder::new()
            .name("piwebasync-log".into())
            .spawn(move || {
                ON_LOG_THREAD.with(|f| f.set(true));
                crate::callback_thread::mark_callback_thread();
                for (level, line) in rx {
                    let dropped = DROPPED.swap(0, Ordering::Relaxed);
                    if dropped > 0 {
                        sink(
                            LogLevel::Warn,
                            &format!("{dropped} log lines dropped: the log callback is too slow"),
                        );
                    }
                    sink(level, &line);
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the log thread: {e}"),
                )
            })?;
        *writer = Some((tx, thread));
        MAX_LEVEL.store(level as u8, Ordering::Release);
    }
    Ok(())
}

pub fn enabled(level: LogLevel) -> bool {
    (level as u8) <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Hand a line to the sink thread; never blocks.
pub fn log(level: LogLevel, line: String) {
    if !enabled(level) {
        return;
    }
    let writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((tx, _)) = writer.as_ref() {
        if let Err(TrySendError::Full(_)) = tx.try_send((level, line)) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Log a line, formatting it only when a sink wants that level.
macro_rules! log_line {
    ($level:expr, $($arg:tt)*) => {
        if $crate::logging::enabled($level) {
            $crate::logging::log($level, format!($($arg)*));
        }
    };
}
pub(crate) use log_line;

/// Every state event is also a log line.
pub fn log_event(event: &StateEvent) {
    match event {
        StateEvent::Connected { url } => log_line!(LogLevel::Info, "connected to {url}"),
        StateEvent::Disconnected { cause } => log_line!(LogLevel::Warn, "disconnected: {cause}"),
        StateEvent::Reconnecting { attempt, delay } => {
            log_line!(
                LogLevel::Info,
                "reconnect attempt {attempt} in {:.3} s",
                delay.as_secs_f64()
            )
        }
        StateEvent::Reconnected { url } => log_line!(LogLevel::Info, "reconnected to {url}"),
        StateEvent::Updated { url } => {
            log_line!(LogLevel::Info, "updated: now streaming from {url}")
        }
        StateEvent::RolledBack { cause } => {
            log_line!(LogLevel::Warn, "update rolled back: {cause}")
        }
        StateEvent::BackfillStarted { url, streams } => log_line!(
            LogLevel::Info,
            "backfill of {streams} stream(s) started: {url}"
        ),
        StateEvent::BackfillDone {
            values,
            messages,
            missing,
            cause,
        } => {
            if missing.is_empty() {
                log_line!(
                    LogLevel::Info,
                    "backfill done: {values} value(s) in {messages} message(s)"
                )
            } else {
                log_line!(
                    LogLevel::Warn,
                    "backfill done: {values} value(s) in {messages} message(s); {}; not recovered: {}",
                    cause.as_deref().unwrap_or("cut"),
                    crate::events::describe_missing(missing)
                )
            }
        }
        StateEvent::BackfillFailed {
            cause,
            values,
            missing,
        } => log_line!(
            LogLevel::Warn,
            "backfill failed after {values} value(s): {cause}; not recovered: {}",
            crate::events::describe_missing(missing)
        ),
        StateEvent::Closed { outcome } => log_line!(
            LogLevel::Info,
            "channel closed ({:?}): {outcome}",
            outcome.kind()
        ),
    }
}
