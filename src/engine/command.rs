//! Requests from the API side to a running channel task.

use std::sync::mpsc::SyncSender;

use crate::error::Error;
use crate::wire::Target;

pub enum Command {
    /// Switch to another endpoint, make-before-break. The reply is `Ok` once the new endpoint
    /// streams, or `RolledBack` / `UpdateFailed` / the channel's terminal outcome.
    Update {
        target: Target,
        rollback: bool,
        reply: SyncSender<Result<(), Error>>,
    },
}
