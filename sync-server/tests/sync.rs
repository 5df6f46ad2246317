//! The protocol end to end: reference clients (`MemoryDevice`) against the
//! real service on loopback, on SQLite and PostgreSQL — convergence,
//! snapshots and compaction, notifications, idempotent retries, the key-id
//! check, and a property test of random edits under random partitions
//! against a sequential oracle of the merge rules.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{databases, now_ms, Device, Harness};
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::account::{self, Known};
use productivitypro_sync_protocol::client::Notifications;
use productivitypro_sync_protocol::keys;
use productivitypro_sync_protocol::op::successor_id;
use productivitypro_sync_protocol::{Action, DeviceId, Op, RecordId, RecordRef, Replica};
use serde_json::{json, Value};

fn rid(n: u8) -> RecordId {
    RecordId([n; 16])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_converge_and_keep_every_field_edit() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (login, s1) = h.signup().await;
        let mut a = h.device(&s1);
        let mut b = h.device(&h.login(login).await);
        let t = now_ms();
        a.set("task", rid(1), "title", json!("Pay rent"), t)
            .unwrap();
        a.set("task", rid(1), "order", json!("V"), t).unwrap();
        a.set("task", rid(2), "title", json!("Call mum"), t)
            .unwrap();
        a.sync().await.unwrap();
        let r = b.sync().await.unwrap();
        assert_eq!((r.pulled_batches, r.pulled_ops), (1, 3));
        // Offline on both: different fields of one task, and a tag.
        a.set("task", rid(1), "title", json!("Pay rent today"), t + 10)
            .unwrap();
        b.set(
            "task",
            rid(1),
            "notes",
            json!("landlord's new IBAN"),
            t + 20,
        )
        .unwrap();
        b.record(
            RecordRef::new("task", rid(1)),
            Action::Tag {
                tag: "bills".into(),
                on: true,
            },
            t + 21,
        )
        .unwrap();
        b.record(RecordRef::new("task", rid(2)), Action::Delete, t + 22)
            .unwrap();
        a.sync().await.unwrap();
        b.sync().await.unwrap();
        a.sync().await.unwrap();
        let v = a.replica.view();
        assert_eq!(v, b.replica.view());
        let task = &v[&RecordRef::new("task", rid(1))];
        assert_eq!(task.fields["title"], json!("Pay rent today"));
        assert_eq!(task.fields["notes"], json!("landlord's new IBAN"));
        assert!(task.tags.contains("bills"));
        assert!(!v.contains_key(&RecordRef::new("task", rid(2))));
        // Nothing left to do: another round moves nothing.
        let again = a.sync().await.unwrap();
        assert_eq!((again.pushed_batches, again.pulled_batches), (0, 0));
        h.stop().await;
    }
}

/// Regression: the reference client once sent its whole backlog (50 batches)
/// in one request, which the server refused as too large.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_is_pushed_in_requests_under_the_size_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", tmp.path().display());
    let h = Harness::start_with(&db, |c| {
        c.limits.max_request_bytes = 64 * 1024;
        c.limits.max_batch_bytes = 32 * 1024;
    })
    .await;
    let (login, s) = h.signup().await;
    let mut a = h.device(&s);
    a.max_ops_per_batch = 100;
    a.max_push_bytes = 60 * 1024;
    let t = now_ms();
    for i in 0..2000u32 {
        a.set(
            "task",
            RecordId([(i % 200) as u8; 16]),
            "notes",
            json!(format!("note {i} with some words in it")),
            t,
        )
        .unwrap();
    }
    let r = a.sync().await.unwrap();
    assert_eq!(r.pushed_batches, 20);
    let mut b = h.device(&h.login(login).await);
    assert_eq!(b.sync().await.unwrap().pulled_ops, 2000);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_push_is_stored_once_and_acknowledged_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (login, s1) = h.signup().await;
        let mut a = h.device(&s1);
        let mut b = h.device(&h.login(login).await);
        a.set("task", rid(1), "title", json!("once"), now_ms())
            .unwrap();
        a.seal();
        // The first answer is "lost": the client sends the same bytes again.
        let sealed: Vec<_> = {
            let page = h.client.pull(&a.token, 0, None).await.unwrap();
            assert!(page.batches.is_empty());
            a.push().await.unwrap();
            let p = h.client.pull(&b.token, 0, None).await.unwrap();
            p.batches.into_iter().map(|b| b.batch).collect()
        };
        let first = h.client.push(&a.token, &sealed).await.unwrap();
        let second = h.client.push(&a.token, &sealed).await.unwrap();
        assert!(first.results[0].duplicate && second.results[0].duplicate);
        assert_eq!(first.results[0].cursor, second.results[0].cursor);
        assert_eq!(second.head, 1);
        let r = b.sync().await.unwrap();
        assert_eq!(r.pulled_batches, 1);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_loads_the_snapshot_and_an_old_one_survives_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.snapshot_every_batches = 5;
            c.keep_after_snapshot = Duration::ZERO;
        })
        .await;
        let (login, s1) = h.signup().await;
        let mut a = h.device(&s1);
        let mut old = h.device(&h.login(login).await);
        let t = now_ms();
        old.set("task", rid(200), "title", json!("from the old device"), t)
            .unwrap();
        old.sync().await.unwrap();
        let mut snapshots = 0;
        for i in 0..12u8 {
            a.set(
                "task",
                rid(i),
                "title",
                json!(format!("task {i}")),
                t + i as u64,
            )
            .unwrap();
            a.set(
                "task",
                rid(i % 3),
                "notes",
                json!(format!("edit {i}")),
                t + i as u64,
            )
            .unwrap();
            // The clock passes the retention so compaction may drop batches.
            h.clock.advance(Duration::from_secs(1));
            if a.sync().await.unwrap().snapshot_uploaded {
                snapshots += 1;
            }
        }
        assert!(
            snapshots >= 2,
            "the server asked for snapshots ({snapshots})"
        );
        let info = h.client.account(&a.token).await.unwrap();
        assert!(info.compacted_through > 0, "covered batches were compacted");
        let log = h
            .client
            .pull(&a.token, info.compacted_through, None)
            .await
            .unwrap();
        assert!(log.batches.len() < 12);

        let mut fresh = h.device(&h.login(login).await);
        let r = fresh.bootstrap().await.unwrap();
        assert!(r.pulled_batches < 12, "started from the snapshot: {r:?}");
        assert_eq!(fresh.replica.view(), a.replica.view());
        assert_eq!(fresh.replica.view().len(), 13);

        // The old device's cursor now points into compacted history: it is
        // told so, loads the snapshot and continues.
        let err = h
            .client
            .pull(&old.token, old.chain.cursor, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "cursor_compacted");
        old.sync().await.unwrap();
        assert_eq!(old.replica.view(), a.replica.view());
        // And its edits after that still reach everyone.
        old.set(
            "task",
            rid(200),
            "title",
            json!("still syncing"),
            now_ms() + 1000,
        )
        .unwrap();
        old.sync().await.unwrap();
        fresh.sync().await.unwrap();
        assert_eq!(
            fresh.replica.view()[&RecordRef::new("task", rid(200))].fields["title"],
            json!("still syncing")
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_the_other_device_through_its_socket() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (login, s1) = h.signup().await;
        let mut a = h.device(&s1);
        let mut b = h.device(&h.login(login).await);
        let mut socket = Notifications::connect(&h.base, &b.token).await.unwrap();
        assert_eq!(socket.next().await.unwrap(), Some(Notice::Head { head: 0 }));
        a.set("task", rid(1), "title", json!("ping"), now_ms())
            .unwrap();
        a.sync().await.unwrap();
        let notice = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a notice within the timeout")
            .unwrap();
        assert_eq!(notice, Some(Notice::Head { head: 1 }));
        b.sync().await.unwrap();
        assert_eq!(b.replica.view(), a.replica.view());
        // Signing the device out closes its socket with a notice.
        h.client.sign_out(&a.token, Some(b.device)).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next, Some(Notice::SignedOut));
        assert_eq!(b.sync().await.unwrap_err().code(), "device_signed_out");
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_id_check_refuses_another_account_and_a_wrong_passphrase_uploads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (login_x, sx) = h.signup().await;
        let (login_y, sy) = h.signup().await;
        // A device that synced account X must not be signed in to Y.
        let known = Known {
            account: sx.session.account_id,
            key_id: sx.key.id(),
        };
        let e = account::login(
            &h.client,
            login_y,
            &common::keys().1,
            DeviceId::random(&mut common::rng()),
            Some(&known),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(e.code(), "account_mismatch");
        assert_ne!(sx.key.id(), sy.key.id());
        // Same account again is fine.
        account::login(
            &h.client,
            login_x,
            &common::keys().1,
            DeviceId::random(&mut common::rng()),
            Some(&known),
        )
        .await
        .unwrap();
        // A wrong passphrase: a clear error, and the account holds nothing.
        let e = account::derive(&h.client, "nobody-special@example.com", "wrong").await;
        assert!(e.is_ok(), "parameters are given for any login");
        let (kdf, _) = common::keys();
        let wrong = keys::derive_passphrase_keys("not the passphrase", kdf).unwrap();
        let e = account::login(
            &h.client,
            login_x,
            &wrong,
            DeviceId::random(&mut common::rng()),
            None,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(e.code(), "invalid_credentials");
        assert_eq!(h.client.account(&sx.session.token).await.unwrap().head, 0);
        h.stop().await;
    }
}

// ---- property test: random edits, partitions, delivery orders ----

#[derive(Clone, Debug)]
enum Step {
    Set {
        dev: usize,
        rec: u8,
        field: &'static str,
        value: u8,
    },
    Tag {
        dev: usize,
        rec: u8,
        tag: &'static str,
        on: bool,
    },
    Delete {
        dev: usize,
        rec: u8,
    },
    /// Completing a recurring task: done on it, the successor created.
    Complete {
        dev: usize,
        rec: u8,
    },
    Sync {
        dev: usize,
    },
    Toggle {
        dev: usize,
    },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let dev = 0usize..3;
    let rec = 0u8..4;
    prop_oneof![
        5 => (dev.clone(), rec.clone(), prop::sample::select(vec!["title", "notes", "order", "priority"]), 0u8..5)
            .prop_map(|(dev, rec, field, value)| Step::Set { dev, rec, field, value }),
        2 => (dev.clone(), rec.clone(), prop::sample::select(vec!["home", "work"]), any::<bool>())
            .prop_map(|(dev, rec, tag, on)| Step::Tag { dev, rec, tag, on }),
        1 => (dev.clone(), rec.clone()).prop_map(|(dev, rec)| Step::Delete { dev, rec }),
        1 => (dev.clone(), rec.clone()).prop_map(|(dev, rec)| Step::Complete { dev, rec }),
        4 => dev.clone().prop_map(|dev| Step::Sync { dev }),
        1 => dev.prop_map(|dev| Step::Toggle { dev }),
    ]
}

type Fields = BTreeMap<String, Value>;
type Plain = BTreeMap<RecordRef, (Fields, BTreeSet<String>)>;

/// The merge rules applied one operation at a time in clock order.
fn oracle(ops: &[Op]) -> Plain {
    let mut ops = ops.to_vec();
    ops.sort_by_key(|a| a.hlc);
    let deleted: BTreeSet<RecordRef> = ops
        .iter()
        .filter(|o| matches!(o.action, Action::Delete))
        .map(|o| o.record.clone())
        .collect();
    let mut out: BTreeMap<RecordRef, (Fields, BTreeMap<String, bool>)> = BTreeMap::new();
    for o in ops.iter().filter(|o| !deleted.contains(&o.record)) {
        let e = out.entry(o.record.clone()).or_default();
        match &o.action {
            Action::Set { field, value } => {
                e.0.insert(field.clone(), value.clone());
            }
            Action::Tag { tag, on } => {
                e.1.insert(tag.clone(), *on);
            }
            Action::Delete => {}
        }
    }
    out.into_iter()
        .filter(|(_, (f, _))| !f.is_empty())
        .map(|(k, (f, t))| {
            (
                k,
                (
                    f,
                    t.into_iter()
                        .filter(|(_, on)| *on)
                        .map(|(t, _)| t)
                        .collect(),
                ),
            )
        })
        .collect()
}

fn plain(r: &Replica) -> Plain {
    r.records
        .iter()
        .filter(|(_, s)| s.deleted.is_none() && !s.fields.is_empty())
        .map(|(k, s)| {
            (
                k.clone(),
                (
                    s.fields
                        .iter()
                        .map(|(f, (v, _))| (f.clone(), v.clone()))
                        .collect(),
                    s.tags
                        .iter()
                        .filter(|(_, (on, _))| *on)
                        .map(|(t, _)| t.clone())
                        .collect(),
                ),
            )
        })
        .collect()
}

async fn run_case(h: &Harness, steps: &[Step]) -> Result<(), String> {
    let (login, s) = h.signup().await;
    let mut devs: Vec<Device> = vec![h.device(&s)];
    for _ in 0..2 {
        devs.push(h.device(&h.login(login).await));
    }
    let mut online = [true; 3];
    let mut all_ops: Vec<Op> = Vec::new();
    // Device clocks disagree by up to an hour; the HLC must not care.
    let skew = [0u64, 3_600_000, 1_000];
    let mut wall = now_ms();
    for s in steps {
        wall += 7;
        let t = |d: usize| wall + skew[d];
        match *s {
            Step::Set {
                dev,
                rec,
                field,
                value,
            } => all_ops.push(
                devs[dev]
                    .set("task", rid(rec), field, json!(value), t(dev))
                    .unwrap(),
            ),
            Step::Tag { dev, rec, tag, on } => all_ops.push(
                devs[dev]
                    .record(
                        RecordRef::new("task", rid(rec)),
                        Action::Tag {
                            tag: tag.into(),
                            on,
                        },
                        t(dev),
                    )
                    .unwrap(),
            ),
            Step::Delete { dev, rec } => all_ops.push(
                devs[dev]
                    .record(RecordRef::new("task", rid(rec)), Action::Delete, t(dev))
                    .unwrap(),
            ),
            Step::Complete { dev, rec } => {
                let next = successor_id(rid(rec));
                all_ops.push(
                    devs[dev]
                        .set("task", rid(rec), "done", json!(true), t(dev))
                        .unwrap(),
                );
                all_ops.push(
                    devs[dev]
                        .set(
                            "task",
                            next,
                            "title",
                            json!(format!("next of {rec}")),
                            t(dev),
                        )
                        .unwrap(),
                );
            }
            Step::Sync { dev } if online[dev] => {
                devs[dev].sync().await.map_err(|e| format!("sync: {e}"))?;
            }
            Step::Sync { .. } => {}
            Step::Toggle { dev } => online[dev] = !online[dev],
        }
    }
    // Heal: two rounds so everything pushed in round one is pulled in two.
    for _ in 0..2 {
        for d in devs.iter_mut() {
            d.sync().await.map_err(|e| format!("heal: {e}"))?;
        }
    }
    let expect = oracle(&all_ops);
    for (i, d) in devs.iter().enumerate() {
        if plain(&d.replica) != expect {
            return Err(format!("device {i} differs from the oracle"));
        }
        if d.replica.view() != devs[0].replica.view() {
            return Err(format!("device {i}'s view differs"));
        }
    }
    // Exactly one successor per completed task, on every device.
    for rec in 0..4u8 {
        let n = devs[0]
            .replica
            .view()
            .keys()
            .filter(|k| k.id == successor_id(rid(rec)))
            .count();
        if n > 1 {
            return Err(format!("{n} successors of task {rec}"));
        }
    }
    Ok(())
}

#[test]
fn random_edits_under_partitions_converge_to_the_sequential_oracle() {
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dbs = rt.block_on(databases(tmp.path()));
    for db in dbs {
        let h = rt.block_on(Harness::start(&db));
        let mut runner = TestRunner::new(Config {
            cases: 16,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = proptest::collection::vec(step(), 10..60);
        runner
            .run(&strategy, |steps| {
                rt.block_on(run_case(&h, &steps))
                    .map_err(proptest::test_runner::TestCaseError::fail)
            })
            .unwrap();
        rt.block_on(h.stop());
    }
}
