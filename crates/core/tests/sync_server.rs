//! The vault's sync engine against the real `sync-server` on loopback
//! (SQLite in a temporary folder, or PostgreSQL when
//! `PRODUCTIVITYPRO_SYNC_CLIENT_BACKEND=postgres` under
//! `scripts/with-postgres`): two devices converge; a push whose
//! answer is lost is retried with the same bytes and stored once; a
//! server answer that drops or replays a batch is refused with its own
//! code and nothing of it is merged.

mod support;

use std::path::Path;
use std::sync::Arc;

use productivitypro_core::vault::sync::{HttpTransport, NewLink, Transport, TransportError};
use productivitypro_core::vault::{TaskPatch, Vault};
use productivitypro_core::{Task, Unlock};
use productivitypro_sync_protocol::api::{PullPage, PushResponse};
use productivitypro_sync_protocol::client::account::{self, SignedIn};
use productivitypro_sync_protocol::client::SyncClient;
use productivitypro_sync_protocol::keys::{self, KdfParams, PassphraseKeys};
use productivitypro_sync_protocol::snapshot::SnapshotEnvelope;
use productivitypro_sync_protocol::{BatchEnvelope, LoginId};
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::config::HashCost;
use productivitypro_sync_server::{scratch, Config, Server};
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse battery staple";

struct Service {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    base: String,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    login: LoginId,
    kdf: KdfParams,
    pk: PassphraseKeys,
}

impl Service {
    fn start() -> Service {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut Config)) -> Service {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            // SQLite, or a fresh PostgreSQL database when the clients'
            // tests run on PostgreSQL (scripts/test does both).
            database_url: Some(rt.block_on(scratch::database_url(dir.path()))),
            log_format: "text".into(),
            login_hash: HashCost {
                m_kib: 8192,
                t: 1,
                p: 1,
            },
            ..Config::default()
        };
        c.rate.per_ip = 1_000_000;
        c.rate.per_ip_burst = 1_000_000;
        c.rate.per_account = 1_000_000;
        c.rate.per_account_burst = 1_000_000;
        c.rate.auth_per_ip = 1_000_000;
        c.rate.auth_burst = 1_000_000;
        tweak(&mut c);
        let clock = Arc::new(ManualClock::new(1_795_000_000));
        let server = rt.block_on(Server::start(c, clock.clone())).unwrap();
        let base = format!("http://{}", server.addr);
        let kdf = KdfParams {
            salt: vec![7; 16],
            m_kib: keys::MIN_M_KIB,
            t: keys::MIN_T,
            p: 1,
        };
        let pk = keys::derive_passphrase_keys(PASSPHRASE, &kdf).unwrap();
        let login = keys::login_id("alice@example.com").unwrap();
        Service {
            rt,
            server: Some(server),
            base,
            clock,
            dir,
            login,
            kdf,
            pk,
        }
    }

    fn client(&self) -> SyncClient {
        SyncClient::new(&self.base)
    }

    fn link(&self, s: SignedIn) -> NewLink {
        NewLink {
            server: self.base.clone(),
            email: "alice@example.com".into(),
            account: s.session.account_id,
            device: s.session.device_id,
            key: s.key,
            token: Zeroizing::new(s.session.token),
        }
    }

    /// Signs up with the vault's new device id and starts syncing it.
    fn sign_up(&self, v: &mut Vault) {
        let device = v.sync_new_device_id();
        let s = self
            .rt
            .block_on(account::signup_derived(
                &self.client(),
                self.login,
                self.kdf.clone(),
                &self.pk,
                None,
                device,
                None,
                &mut rand::rngs::OsRng,
            ))
            .unwrap();
        v.sync_enable(self.link(s)).unwrap();
    }

    /// Signs in (with the key-id check) and starts syncing the vault.
    fn sign_in(&self, v: &mut Vault) {
        let device = v.sync_new_device_id();
        let s = self
            .rt
            .block_on(account::login(
                &self.client(),
                self.login,
                &self.pk,
                device,
                None,
            ))
            .unwrap();
        v.sync_enable(self.link(s)).unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

fn http(v: &Vault) -> HttpTransport {
    HttpTransport::new(&v.sync_endpoint().unwrap()).unwrap()
}

fn vault(dir: &Path) -> Vault {
    support::quick_vault(dir).0
}

fn shown(v: &Vault) -> Vec<Task> {
    let mut t: Vec<Task> = v
        .tasks()
        .map(|t| Task {
            updated_at: chrono::DateTime::UNIX_EPOCH,
            ..t.clone()
        })
        .collect();
    t.sort_by_key(|t| t.id);
    t
}

fn titles(v: &Vault) -> Vec<String> {
    let mut t: Vec<String> = v.tasks().map(|t| t.title.clone()).collect();
    t.sort();
    t
}

#[test]
fn two_devices_converge_through_the_server() {
    let svc = Service::start();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = vault(da.path());
    let l = a.add_list("Home", None).unwrap();
    let before = a
        .add_task(productivitypro_core::vault::TaskDraft {
            title: "written before sync".into(),
            list: Some(l.id),
            tags: ["errands".to_string()].into(),
            ..Default::default()
        })
        .unwrap();
    svc.sign_up(&mut a);
    let r = a.sync_now(&mut http(&a)).unwrap();
    assert_eq!((r.sealed_batches, r.pushed_batches), (1, 1));
    assert!(!a.sync_has_outgoing().unwrap());

    // A new device signs in and pulls what the account holds.
    let mut b = vault(db.path());
    svc.sign_in(&mut b);
    let r = b.sync_now(&mut http(&b)).unwrap();
    assert_eq!(r.pulled_batches, 1);
    assert_eq!(titles(&b), ["written before sync"]);
    assert_eq!(b.lists().len(), 1);

    // Offline edits on both, then each syncs: every edit that a later one
    // did not overwrite survives.
    a.update_task(
        before.id,
        TaskPatch {
            title: Some("renamed on A".into()),
            ..Default::default()
        },
    )
    .unwrap();
    a.add_task(support::draft("added on A")).unwrap();
    b.update_task(
        before.id,
        TaskPatch {
            notes: Some("noted on B".into()),
            add_tags: vec!["home".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let added_b = b.add_task(support::draft("added on B")).unwrap();
    b.trash_tasks(&[added_b.id]).unwrap();
    b.undo().unwrap();
    a.sync_now(&mut http(&a)).unwrap();
    b.sync_now(&mut http(&b)).unwrap();
    a.sync_now(&mut http(&a)).unwrap();
    assert_eq!(shown(&a), shown(&b));
    let t = a.tasks().find(|t| t.id == before.id).unwrap();
    assert_eq!(t.title, "renamed on A");
    assert_eq!(t.notes, "noted on B");
    assert_eq!(t.tags.len(), 2);
    assert_eq!(titles(&a), ["added on A", "added on B", "renamed on A"]);

    // Both devices reopen (the merged state is in the file) and are
    // still caught up: a further round moves nothing.
    let info = a.sync_info().unwrap().unwrap();
    assert_eq!(info.pending_op_rows + info.unsent_batches, 0);
    let r = b.sync_now(&mut http(&b)).unwrap();
    assert_eq!((r.pushed_batches, r.written, r.removed), (0, 0, 0));
}

/// Forwards to the real server, but loses the first push's answer (as a
/// crash or a dropped connection after the server stored it would).
struct LoseFirstAnswer {
    inner: HttpTransport,
    lost: bool,
}

impl Transport for LoseFirstAnswer {
    fn push(&mut self, b: &[BatchEnvelope]) -> Result<PushResponse, TransportError> {
        let r = self.inner.push(b)?;
        if !self.lost {
            self.lost = true;
            return Err(TransportError {
                code: "server_unreachable".into(),
                message: "connection reset".into(),
            });
        }
        Ok(r)
    }
    fn pull(&mut self, c: u64, l: Option<u32>) -> Result<PullPage, TransportError> {
        self.inner.pull(c, l)
    }
    fn snapshot(&mut self) -> Result<Option<SnapshotEnvelope>, TransportError> {
        self.inner.snapshot()
    }
    fn put_snapshot(&mut self, s: &SnapshotEnvelope) -> Result<bool, TransportError> {
        self.inner.put_snapshot(s)
    }
}

#[test]
fn a_push_whose_answer_was_lost_is_retried_with_the_same_bytes_and_stored_once() {
    let svc = Service::start();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, rk) = support::quick_vault(da.path());
    svc.sign_up(&mut a);
    a.add_task(support::draft("once")).unwrap();
    let mut lossy = LoseFirstAnswer {
        inner: http(&a),
        lost: false,
    };
    let err = a.sync_now(&mut lossy).unwrap_err();
    assert_eq!(err.code(), "server_unreachable");
    // Still unacknowledged, in the file: a new process resumes it.
    let info = a.sync_info().unwrap().unwrap();
    assert_eq!((info.pending_op_rows, info.unsent_batches), (0, 1));
    drop(a);
    let mut a = Vault::open(da.path(), &Unlock::recovery_key(rk), support::os_env()).unwrap();
    a.add_task(support::draft("twice")).unwrap();
    let r = a.sync_now(&mut http(&a)).unwrap();
    // The old batch again (a duplicate to the server) and the new one.
    assert_eq!(r.pushed_batches, 2);
    let mut b = vault(db.path());
    svc.sign_in(&mut b);
    let r = b.sync_now(&mut http(&b)).unwrap();
    assert_eq!(r.pulled_batches, 2, "stored once, not twice");
    assert_eq!(titles(&b), ["once", "twice"]);
}

/// What a hostile server does to a page.
type Trick = fn(&mut PullPage);

/// Forwards to the real server and then tampers with pages.
struct Hostile {
    inner: HttpTransport,
    trick: Trick,
}

impl Transport for Hostile {
    fn push(&mut self, b: &[BatchEnvelope]) -> Result<PushResponse, TransportError> {
        self.inner.push(b)
    }
    fn pull(&mut self, c: u64, l: Option<u32>) -> Result<PullPage, TransportError> {
        let mut p = self.inner.pull(c, l)?;
        (self.trick)(&mut p);
        Ok(p)
    }
    fn snapshot(&mut self) -> Result<Option<SnapshotEnvelope>, TransportError> {
        self.inner.snapshot()
    }
    fn put_snapshot(&mut self, s: &SnapshotEnvelope) -> Result<bool, TransportError> {
        self.inner.put_snapshot(s)
    }
}

#[test]
fn a_page_that_drops_or_replays_a_batch_is_refused_and_nothing_of_it_is_merged() {
    let svc = Service::start();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = vault(da.path());
    svc.sign_up(&mut a);
    a.add_task(support::draft("first")).unwrap();
    a.sync_now(&mut http(&a)).unwrap();
    a.add_task(support::draft("second")).unwrap();
    a.sync_now(&mut http(&a)).unwrap();

    let mut b = vault(db.path());
    svc.sign_in(&mut b);
    let cases: [(Trick, &str); 3] = [
        (
            |p| {
                p.batches.remove(0);
            },
            "sync_dropped",
        ),
        (
            |p| {
                let first = p.batches[0].clone();
                p.batches.insert(1, first);
            },
            "sync_reordered",
        ),
        (
            |p| {
                p.batches.swap(0, 1);
            },
            "sync_reordered",
        ),
    ];
    for (trick, code) in cases {
        let mut t = Hostile {
            inner: http(&b),
            trick,
        };
        let err = b.sync_now(&mut t).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(b.tasks().count(), 0, "nothing merged from a refused page");
        assert_eq!(b.sync_info().unwrap().unwrap().cursor, 0);
    }
    // The honest server's page is then merged as usual.
    b.sync_now(&mut http(&b)).unwrap();
    assert_eq!(titles(&b), ["first", "second"]);
    // A batch already merged, served again under a new cursor, is a
    // replay.
    let mut t = Replay { inner: http(&b) };
    let err = b.sync_now(&mut t).unwrap_err();
    assert_eq!(err.code(), "sync_replayed", "{err}");
    assert_eq!(b.sync_info().unwrap().unwrap().cursor, 2);
    assert_eq!(titles(&b), ["first", "second"]);
}

/// Serves the account's first batch again as if it were new.
struct Replay {
    inner: HttpTransport,
}

impl Transport for Replay {
    fn push(&mut self, b: &[BatchEnvelope]) -> Result<PushResponse, TransportError> {
        self.inner.push(b)
    }
    fn pull(&mut self, c: u64, l: Option<u32>) -> Result<PullPage, TransportError> {
        let mut p = self.inner.pull(0, l)?;
        let mut again = p.batches[0].clone();
        again.cursor = c + 1;
        p.batches = vec![again];
        p.head = c + 1;
        p.next = c + 1;
        p.more = false;
        Ok(p)
    }
    fn snapshot(&mut self) -> Result<Option<SnapshotEnvelope>, TransportError> {
        self.inner.snapshot()
    }
    fn put_snapshot(&mut self, s: &SnapshotEnvelope) -> Result<bool, TransportError> {
        self.inner.put_snapshot(s)
    }
}

#[test]
fn a_new_device_starts_from_the_snapshot_and_an_old_one_survives_compaction() {
    let svc = Service::start_with(|c| {
        c.snapshot_every_batches = 2;
        c.keep_after_snapshot = std::time::Duration::ZERO;
    });
    let (da, db, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let mut a = vault(da.path());
    svc.sign_up(&mut a);
    a.add_task(support::draft("task 0")).unwrap();
    a.sync_now(&mut http(&a)).unwrap();
    // C signs in early, then stays offline while the log is compacted.
    let mut c = vault(dc.path());
    svc.sign_in(&mut c);
    c.sync_now(&mut http(&c)).unwrap();
    assert_eq!(titles(&c), ["task 0"]);
    let mut uploaded = 0;
    for i in 1..6 {
        // Time passes between rounds, so batches a snapshot covers are
        // older than the (zero) retention and compaction drops them.
        svc.clock.advance(std::time::Duration::from_secs(60));
        a.add_task(support::draft(&format!("task {i}"))).unwrap();
        // The server asks on a pull once enough batches came in since
        // its last snapshot; being caught up, A answers at once.
        if a.sync_now(&mut http(&a)).unwrap().snapshot_uploaded {
            uploaded += 1;
        }
    }
    assert!(
        uploaded >= 2,
        "the server asked for snapshots and got them ({uploaded})"
    );

    let mut b = vault(db.path());
    svc.sign_in(&mut b);
    let r = b.sync_now(&mut http(&b)).unwrap();
    assert!(r.snapshot_loaded, "{r:?}");
    assert!(r.pulled_batches < 6, "started from the snapshot: {r:?}");
    assert_eq!(shown(&b), shown(&a));

    // C's cursor is below the compaction point now: told so, it joins
    // the snapshot, keeps its own offline edit, and converges.
    c.add_task(support::draft("offline on C")).unwrap();
    let r = c.sync_now(&mut http(&c)).unwrap();
    assert!(r.snapshot_loaded, "{r:?}");
    a.sync_now(&mut http(&a)).unwrap();
    b.sync_now(&mut http(&b)).unwrap();
    assert_eq!(shown(&c), shown(&a));
    assert_eq!(shown(&b), shown(&a));
    assert_eq!(a.tasks().count(), 7);
}

#[test]
fn the_server_stores_no_user_content() {
    // On SQLite whatever the backend run: the scan reads the database's
    // files (the server's own suite scans PostgreSQL).
    let svc = Service::start_with(|c| {
        c.database_url = Some(format!("sqlite://{}/sync.db", c.data_dir.display()))
    });
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let marker = "ZQMARKERQZ";
    let mut a = vault(da.path());
    svc.sign_up(&mut a);
    let l = a.add_list(&format!("{marker} list"), None).unwrap();
    a.add_task(productivitypro_core::vault::TaskDraft {
        title: format!("{marker} title"),
        notes: format!("{marker} notes"),
        list: Some(l.id),
        tags: [format!("{marker}tag")].into(),
        ..Default::default()
    })
    .unwrap();
    a.sync_now(&mut http(&a)).unwrap();
    let mut b = vault(db.path());
    svc.sign_in(&mut b);
    b.sync_now(&mut http(&b)).unwrap();
    assert_eq!(titles(&b), [format!("{marker} title")]);
    b.sync_upload_snapshot(&mut http(&b)).unwrap();
    for entry in std::fs::read_dir(svc.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for needle in [marker.as_bytes(), b"alice@example.com"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds {}",
                    p.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

mod partitions {
    //! Three vaults edit at random while the network is partitioned at
    //! random (each step, only some devices reach the server); after
    //! healing (everyone syncs until quiet) every vault shows the same.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Add(usize, u8),
        Edit(usize, u8, u8),
        Tag(usize, u8, bool),
        Trash(usize, u8),
        Purge(usize, u8),
        Sync(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        let d = 0usize..3;
        prop_oneof![
            3 => (d.clone(), any::<u8>()).prop_map(|(d, n)| Step::Add(d, n)),
            3 => (d.clone(), any::<u8>(), any::<u8>()).prop_map(|(d, i, n)| Step::Edit(d, i, n)),
            2 => (d.clone(), any::<u8>(), any::<bool>()).prop_map(|(d, i, on)| Step::Tag(d, i, on)),
            1 => (d.clone(), any::<u8>()).prop_map(|(d, i)| Step::Trash(d, i)),
            1 => (d.clone(), any::<u8>()).prop_map(|(d, i)| Step::Purge(d, i)),
            3 => d.prop_map(Step::Sync),
        ]
    }

    fn pick(v: &Vault, i: u8) -> Option<productivitypro_core::TaskId> {
        let mut ids: Vec<_> = v.tasks().map(|t| t.id).collect();
        ids.sort();
        (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
        #[test]
        fn three_vaults_through_the_server_converge_after_partitions(
            steps in proptest::collection::vec(step(), 1..40),
        ) {
            let svc = Service::start();
            let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
            let mut vs: Vec<Vault> = dirs.iter().map(|d| vault(d.path())).collect();
            svc.sign_up(&mut vs[0]);
            svc.sign_in(&mut vs[1]);
            svc.sign_in(&mut vs[2]);
            for s in &steps {
                let r = match s {
                    Step::Add(d, n) => vs[*d].add_task(support::draft(&format!("t{n}"))).map(|_| ()),
                    Step::Edit(d, i, n) => match pick(&vs[*d], *i) {
                        Some(id) => vs[*d]
                            .update_task(id, TaskPatch { title: Some(format!("e{n}")), ..Default::default() })
                            .map(|_| ()),
                        None => Ok(()),
                    },
                    Step::Tag(d, i, on) => match pick(&vs[*d], *i) {
                        Some(id) if *on => vs[*d].tag_tasks(&[id], &["x".into()], &[]).map(|_| ()),
                        Some(id) => vs[*d].tag_tasks(&[id], &[], &["x".into()]).map(|_| ()),
                        None => Ok(()),
                    },
                    Step::Trash(d, i) => match pick(&vs[*d], *i) {
                        Some(id) => vs[*d].trash_tasks(&[id]).map(|_| ()),
                        None => Ok(()),
                    },
                    Step::Purge(d, i) => match pick(&vs[*d], *i) {
                        Some(id) => vs[*d]
                            .trash_tasks(&[id])
                            .and_then(|_| vs[*d].empty_trash(Some(&[id])))
                            .map(|_| ()),
                        None => Ok(()),
                    },
                    Step::Sync(d) => {
                        let mut t = http(&vs[*d]);
                        vs[*d].sync_now(&mut t).map(|_| ())
                    }
                };
                if let Err(e) = r {
                    prop_assert!(e.code() == "task_trashed", "{}: {e}", e.code());
                }
            }
            // Heal: everyone syncs, twice round, so each sees all.
            for _ in 0..2 {
                for v in vs.iter_mut() {
                    let mut t = http(v);
                    v.sync_now(&mut t).unwrap();
                }
            }
            prop_assert_eq!(shown(&vs[1]), shown(&vs[0]));
            prop_assert_eq!(shown(&vs[2]), shown(&vs[0]));
        }
    }
}
