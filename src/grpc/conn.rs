//! `Connection`: the state of one gRPC client connection (one TCP/HTTP2 transport), shared by
//! the tasks of its streams on the core that accepted it.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;

use futures::channel::oneshot;
use hashbrown::HashSet;

use crate::config::key::ConfigKey;
use crate::limits::{CONFIG_LISTEN_KEYS_PER_CONNECTION_MAX, SERVICES_PER_CONNECTION_MAX};
use crate::naming::key::ServiceKey;

pub struct Connection {
    /// Internal id; its top bits name the holding core (`shard::core::connection_core`).
    pub uid: u64,
    /// Nacos's id, `<ms>_<remoteIp>_<remotePort>`, given to the client in `ServerCheckResponse`.
    pub id: String,
    pub remote: SocketAddr,
    registered: Cell<bool>,
    client_ip: RefCell<String>,
    client_version: RefCell<String>,
    last_active_ms: Cell<u64>,
    /// Services where this connection registered instances or subscribed: released on close.
    services: RefCell<HashSet<ServiceKey>>,
    /// Config keys this connection listens to: released on close.
    config_keys: RefCell<HashSet<ConfigKey>>,
    close: RefCell<Option<oneshot::Sender<()>>>,
}

impl Connection {
    pub fn new(
        uid: u64,
        id: String,
        remote: SocketAddr,
        close: oneshot::Sender<()>,
        now_ms: u64,
    ) -> Connection {
        Connection {
            uid,
            id,
            remote,
            registered: Cell::new(false),
            client_ip: RefCell::new(remote.ip().to_string()),
            client_version: RefCell::new(String::new()),
            last_active_ms: Cell::new(now_ms),
            services: RefCell::new(HashSet::new()),
            config_keys: RefCell::new(HashSet::new()),
            close: RefCell::new(Some(close)),
        }
    }

    pub fn is_registered(&self) -> bool {
        self.registered.get()
    }

    /// `ConnectionSetupRequest` arrived: the connection may now make requests.
    pub fn register(&self, client_ip: &str, client_version: &str) {
        if !client_ip.trim().is_empty() {
            *self.client_ip.borrow_mut() = client_ip.trim().to_string();
        }
        *self.client_version.borrow_mut() = client_version.to_string();
        self.registered.set(true);
    }

    pub fn client_ip(&self) -> String {
        self.client_ip.borrow().clone()
    }

    pub fn client_version(&self) -> String {
        self.client_version.borrow().clone()
    }

    pub fn touch(&self, now_ms: u64) {
        self.last_active_ms.set(now_ms);
    }

    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_active_ms.get())
    }

    /// Remembers that the connection holds state in `key`; false at the limit.
    pub fn track_service(&self, key: &ServiceKey) -> bool {
        let mut services = self.services.borrow_mut();
        if services.contains(key) {
            return true;
        }
        if services.len() >= SERVICES_PER_CONNECTION_MAX {
            return false;
        }
        services.insert(key.clone());
        true
    }

    /// Remembers (or, with `listen` false, forgets) that the connection listens to `key`;
    /// false at the limit.
    pub fn track_config(&self, key: &ConfigKey, listen: bool) -> bool {
        let mut keys = self.config_keys.borrow_mut();
        if !listen {
            keys.remove(key);
            return true;
        }
        if keys.contains(key) {
            return true;
        }
        if keys.len() >= CONFIG_LISTEN_KEYS_PER_CONNECTION_MAX {
            return false;
        }
        keys.insert(key.clone());
        true
    }

    pub fn take_config_keys(&self) -> Vec<ConfigKey> {
        self.config_keys.borrow_mut().drain().collect()
    }

    pub fn take_services(&self) -> Vec<ServiceKey> {
        self.services.borrow_mut().drain().collect()
    }

    /// Asks the connection's driver to close the transport. Idempotent.
    pub fn close(&self) {
        if let Some(close) = self.close.borrow_mut().take() {
            let _ = close.send(());
        }
    }
}
