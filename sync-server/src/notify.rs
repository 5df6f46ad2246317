//! "New data" fan-out. Inside a replica, each account with open sockets has
//! a `watch` channel holding its latest head: sockets wake on change and
//! send only the newest value, so any number of pushes coalesce into at
//! most one notice per wake. Across PostgreSQL replicas, a push's
//! transaction sends one `NOTIFY pp_sync` (delivered only if it commits),
//! and every replica's listener feeds its local hub.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use productivitypro_sync_protocol::AccountId;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::db::Db;

pub const CHANNEL: &str = "pp_sync";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signal {
    pub head: u64,
    /// Bumped when any device of the account is signed out; sockets then
    /// check whether it was theirs.
    pub revocations: u64,
    pub deleted: bool,
}

#[derive(Default)]
pub struct Hub {
    accounts: Mutex<HashMap<AccountId, watch::Sender<Signal>>>,
    /// False while a PostgreSQL replica's listener is disconnected.
    pub listening: AtomicBool,
}

impl Hub {
    pub fn new(listening: bool) -> Arc<Hub> {
        Arc::new(Hub {
            accounts: Mutex::new(HashMap::new()),
            listening: AtomicBool::new(listening),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, watch::Sender<Signal>>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self, account: AccountId) -> watch::Receiver<Signal> {
        self.lock()
            .entry(account)
            .or_insert_with(|| watch::channel(Signal::default()).0)
            .subscribe()
    }

    /// Sockets currently listening for the account on this replica.
    pub fn receivers(&self, account: AccountId) -> usize {
        self.lock()
            .get(&account)
            .map_or(0, |tx| tx.receiver_count())
    }

    /// Called when a socket closes: drops the account's channel once no
    /// socket listens, so idle accounts cost nothing.
    pub fn release(&self, account: AccountId) {
        let mut map = self.lock();
        if map.get(&account).is_some_and(|tx| tx.receiver_count() == 0) {
            map.remove(&account);
        }
    }

    fn update(&self, account: AccountId, f: impl FnOnce(&mut Signal) -> bool) {
        if let Some(tx) = self.lock().get(&account) {
            tx.send_if_modified(f);
        }
    }

    /// The account's head moved to (at least) `head`.
    pub fn head(&self, account: AccountId, head: u64) {
        self.update(account, |s| {
            let moved = head > s.head;
            s.head = s.head.max(head);
            moved
        });
    }

    pub fn revoked(&self, account: AccountId) {
        self.update(account, |s| {
            s.revocations += 1;
            true
        });
    }

    pub fn deleted(&self, account: AccountId) {
        self.update(account, |s| {
            s.deleted = true;
            true
        });
    }

    pub fn accounts(&self) -> Vec<AccountId> {
        self.lock().keys().copied().collect()
    }

    /// Applies one `NOTIFY` payload: `h:<account>:<head>`, `r:<account>` or `d:<account>`.
    pub fn dispatch(&self, payload: &str) {
        let mut parts = payload.split(':');
        let (kind, account) = (parts.next(), parts.next().and_then(|a| a.parse().ok()));
        match (kind, account) {
            (Some("h"), Some(a)) => {
                if let Some(h) = parts.next().and_then(|h| h.parse().ok()) {
                    self.head(a, h)
                }
            }
            (Some("r"), Some(a)) => self.revoked(a),
            (Some("d"), Some(a)) => self.deleted(a),
            _ => tracing::warn!("ignoring a malformed pp_sync notification"),
        }
    }

    /// After the listener lost its connection, notices may have been
    /// missed: re-read the heads of every account with open sockets, and
    /// have sockets re-check whether their device is still signed in.
    pub async fn resync(&self, db: &Db) {
        for a in self.accounts() {
            match db.head(a).await {
                Ok(Some(h)) => self.head(a, h),
                Ok(None) => self.deleted(a),
                Err(e) => tracing::warn!(error = %e, "resync after listener reconnect failed"),
            }
            self.revoked(a);
        }
    }
}

/// Listens on PostgreSQL for other replicas' pushes, reconnecting forever.
pub fn spawn_listener(url: String, hub: Arc<Hub>, db: Arc<Db>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    hub.listening.store(false, Ordering::SeqCst);
                    tracing::warn!(error = %e, "notification listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                hub.listening.store(false, Ordering::SeqCst);
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            hub.listening.store(true, Ordering::SeqCst);
            hub.resync(&db).await;
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => hub.dispatch(n.payload()),
                    Ok(None) => {
                        // Reconnected inside try_recv's next call; anything
                        // sent meanwhile was lost.
                        tracing::warn!("notification listener lost its connection");
                        hub.listening.store(false, Ordering::SeqCst);
                        break;
                    }
                    Err(e) => {
                        hub.listening.store(false, Ordering::SeqCst);
                        tracing::warn!(error = %e, "notification listener failed; reconnecting");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_coalesce_and_only_move_forward() {
        let hub = Hub::new(true);
        let a = AccountId([1; 16]);
        let mut rx = hub.subscribe(a);
        hub.dispatch(&format!("h:{a}:5"));
        hub.dispatch(&format!("h:{a}:3"));
        hub.dispatch(&format!("h:{a}:7"));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().head, 7);
        hub.dispatch(&format!("h:{a}:6"));
        assert!(!rx.has_changed().unwrap());
        hub.dispatch("garbage");
        hub.dispatch(&format!("r:{a}"));
        assert_eq!(rx.borrow_and_update().revocations, 1);
        drop(rx);
        hub.release(a);
        assert!(hub.accounts().is_empty());
        hub.head(a, 9); // nobody listens: nothing is created
        assert!(hub.accounts().is_empty());
    }
}
