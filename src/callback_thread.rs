//! Which threads run the host's callbacks (the delivery threads and the log thread), so that
//! a blocking call made from one of them is refused instead of waiting on itself.

use std::cell::Cell;

use crate::error::{Error, ErrorKind};

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// True on a thread that runs the host's callbacks (delivery and log threads).
pub fn in_callback() -> bool {
    IN_CALLBACK.with(Cell::get)
}

/// Mark the current thread as one that runs the host's callbacks.
pub(crate) fn mark_callback_thread() {
    IN_CALLBACK.with(|f| f.set(true));
}

/// Refuse a blocking call made from inside a callback: it would wait on the very thread that
/// has to make progress.
pub fn refuse_if_in_callback(what: &str) -> Result<(), Error> {
    if in_callback() {
        return Err(Error::new(
            ErrorKind::RecursiveCall,
            format!("{what} blocks and cannot be called from inside a callback"),
        ));
    }
    Ok(())
}
