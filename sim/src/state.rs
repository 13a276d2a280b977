//! State shared by the accept loop, the connections, the control endpoint and
//! the `Simulator` handle.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, watch, Notify};

use crate::config::SimConfig;
use crate::faults::{ConnCmd, ListenerCmd};
use crate::model::Model;
use crate::stats::ConnStats;

/// The credentials the server accepts now (changeable while it runs).
#[derive(Default)]
pub(crate) struct SimAuth {
    pub basic: Option<(String, String)>,
    pub bearer: Option<String>,
}

pub(crate) struct Shared {
    pub cfg: SimConfig,
    /// Accepted credentials: from the config, replaceable at run time.
    pub auth: Mutex<SimAuth>,
    /// Upgrade requests answered 401 for missing or wrong credentials.
    pub auth_failures: AtomicU64,
    /// TLS: the acceptor; handshakes that failed.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub tls_failures: AtomicU64,
    /// `cfg.root` normalised: `/piwebapi`, or empty.
    pub root: String,
    pub model: Arc<Model>,
    /// The bound address (kept across refuse/restart).
    pub addr: SocketAddr,
    /// Every upgraded connection, index = id - 1.
    pub conns: Mutex<Vec<ConnStats>>,
    /// Live connections' command channels, and the reset epoch (see `register`).
    pub live: Mutex<Live>,
    pub total_messages: AtomicU64,
    pub upgrade_requests: AtomicU64,
    pub stall: watch::Sender<bool>,
    /// `reject_upgrades_for`: (status, until).
    pub reject: Mutex<Option<(u16, Instant)>>,
    pub listener_tx: mpsc::UnboundedSender<ListenerCmd>,
    /// Woken on every new connection (for async waiters).
    pub conn_notify: Notify,
    /// The recorded history (`SimConfig::archive`).
    pub archive: Option<crate::archive::ArchiveState>,
    /// `delay_upgrades`: how long an accepted upgrade waits before its 101.
    pub upgrade_delay: Mutex<std::time::Duration>,
    /// Event mode (`stream_period`): the server-wide events.
    pub bus: Option<Arc<crate::events::Bus>>,
}

#[derive(Default)]
pub(crate) struct Live {
    pub conns: HashMap<u64, mpsc::UnboundedSender<ConnCmd>>,
    /// Bumped by every reset: a socket accepted before a reset that finishes its
    /// handshake after it is reset too (it was "live" when the reset happened).
    pub epoch: u64,
    /// Who opened each live connection (`max_channels_per_user`), and how many each has.
    pub user_of: HashMap<u64, String>,
    pub per_user: HashMap<String, usize>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(
        cfg: SimConfig,
        addr: SocketAddr,
        listener_tx: mpsc::UnboundedSender<ListenerCmd>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Shared {
        let model = Arc::new(Model::new(&cfg));
        let archive = cfg
            .archive
            .then(|| crate::archive::ArchiveState::new(model.streams().len()));
        let bus = cfg.stream_period.map(|p| {
            Arc::new(crate::events::Bus::new(
                model.streams().len(),
                p,
                cfg.events_per_period,
                cfg.events_per_timestamp,
            ))
        });
        Shared {
            archive,
            upgrade_delay: Mutex::new(cfg.upgrade_delay.unwrap_or_default()),
            bus,
            auth: Mutex::new(SimAuth {
                basic: cfg.basic_credentials.clone(),
                bearer: cfg.bearer_token.clone(),
            }),
            auth_failures: AtomicU64::new(0),
            tls,
            tls_failures: AtomicU64::new(0),
            root: cfg.root_path(),
            cfg,
            model,
            addr,
            conns: Mutex::new(Vec::new()),
            live: Mutex::new(Live::default()),
            total_messages: AtomicU64::new(0),
            upgrade_requests: AtomicU64::new(0),
            stall: watch::channel(false).0,
            reject: Mutex::new(None),
            listener_tx,
            conn_notify: Notify::new(),
        }
    }

    pub fn epoch(&self) -> u64 {
        lock(&self.live).epoch
    }

    /// Registers an upgraded connection. `None` if a reset happened since the socket
    /// was accepted (the caller must then reset it).
    pub fn register(
        &self,
        accepted_epoch: u64,
        path_and_query: &str,
        user: &str,
    ) -> Option<(u64, mpsc::UnboundedReceiver<ConnCmd>)> {
        let mut live = lock(&self.live);
        if live.epoch != accepted_epoch {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = {
            let mut conns = lock(&self.conns);
            let id = conns.len() as u64 + 1;
            conns.push(ConnStats {
                id,
                path_and_query: path_and_query.to_string(),
                open: true,
                upgraded_at: Some(Instant::now()),
                ..Default::default()
            });
            id
        };
        live.conns.insert(id, tx);
        live.user_of.insert(id, user.to_string());
        *live.per_user.entry(user.to_string()).or_insert(0) += 1;
        drop(live);
        self.conn_notify.notify_waiters();
        Some((id, rx))
    }

    pub fn unregister(&self, id: u64) {
        {
            let mut live = lock(&self.live);
            live.conns.remove(&id);
            if let Some(user) = live.user_of.remove(&id) {
                if let Some(n) = live.per_user.get_mut(&user) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        if let Some(c) = lock(&self.conns).get_mut(id as usize - 1) {
            c.open = false;
        }
        self.conn_notify.notify_waiters();
    }

    /// Updates one connection's counters.
    pub fn with_stats(&self, id: u64, f: impl FnOnce(&mut ConnStats)) {
        if let Some(c) = lock(&self.conns).get_mut(id as usize - 1) {
            f(c);
        }
    }

    pub fn count_message(&self) {
        self.total_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// The status to answer upgrades with, while `reject_upgrades_for` is in force.
    pub fn rejecting(&self) -> Option<u16> {
        let mut r = lock(&self.reject);
        match *r {
            Some((status, until)) if Instant::now() < until => Some(status),
            Some(_) => {
                *r = None;
                None
            }
            None => None,
        }
    }

    /// Channels open now for `user`.
    pub fn channels_of(&self, user: &str) -> usize {
        lock(&self.live).per_user.get(user).copied().unwrap_or(0)
    }

    pub fn is_stalled(&self) -> bool {
        *self.stall.borrow()
    }
}
