//! The service's HTTP contract on SQLite and PostgreSQL: the documented
//! vectors go through it byte for byte, every bad input the issue names gets
//! a 4xx with a stable code (never a 5xx), devices and passphrases can be
//! managed, deleting an account leaves nothing behind, and limits hold.

mod common;

use std::time::Duration;

use common::{code_of, databases, now_ms, Harness};
use productivitypro_sync_protocol::api::{
    DeleteAccount, LoginRequest, PassphraseChange, Proof, RecoveryChange, SignupRequest,
    ERROR_CODES,
};
use productivitypro_sync_protocol::client::account;
use productivitypro_sync_protocol::client::Notifications;
use productivitypro_sync_protocol::keys::{self, KdfParams};
use productivitypro_sync_protocol::verify::{ChainState, Verifier};
use productivitypro_sync_protocol::{b64, BatchEnvelope, DeviceId, Hash32, RecordId, SyncKey};
use reqwest::Method;
use serde_json::{json, Value};

fn vectors(name: &str) -> Value {
    let path = format!("{}/../docs/sync-vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_vectors_go_through_byte_for_byte() {
    let k = vectors("keys.json");
    let b = vectors("batches.json");
    let envelopes: Vec<BatchEnvelope> = b["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| serde_json::from_value(x["envelope"].clone()).unwrap())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let kdf = KdfParams {
            salt: unhex(&k["kdf"]["salt_hex"]),
            m_kib: 65536,
            t: 3,
            p: 1,
        };
        let (dev_a, dev_b) = (envelopes[0].device, envelopes[2].device);
        let login_secret = unhex(&k["login_secret_hex"]);
        let signup = SignupRequest {
            login_id: k["login_id"].as_str().unwrap().parse().unwrap(),
            account_id: k["account_id"].as_str().unwrap().parse().unwrap(),
            kdf,
            login_secret: login_secret.clone(),
            key_id: k["key_id"].as_str().unwrap().parse().unwrap(),
            wrapped_key: unhex(&k["passphrase_wrap"]["wrapped_key_hex"]),
            recovery: None,
            device_id: dev_a,
            device_name: None,
        };
        let sa = h.client.signup(&signup).await.unwrap();
        let login = |device| LoginRequest {
            login_id: signup.login_id,
            login_secret: login_secret.clone(),
            device_id: device,
        };
        let sb = h.client.login(&login(dev_b)).await.unwrap();
        // The passphrase's wrapping key from the vectors opens the served wrap.
        let wk: [u8; 32] = unhex(&k["wrapping_key_hex"]).try_into().unwrap();
        let key = keys::unwrap_sync_key(
            &wk,
            keys::WrapKind::Passphrase,
            sa.account_id,
            sa.key_id,
            &sb.wrapped_key,
        )
        .unwrap();
        assert_eq!(
            hex::encode(key.expose()),
            k["sync_key_hex"].as_str().unwrap()
        );

        let r = h.client.push(&sa.token, &envelopes[..2]).await.unwrap();
        assert_eq!(
            r.results.iter().map(|x| x.cursor).collect::<Vec<_>>(),
            vec![1, 2]
        );
        h.client.push(&sb.token, &envelopes[2..]).await.unwrap();
        let c = DeviceId([0xcc; 16]);
        let sc = h.client.login(&login(c)).await.unwrap();
        let page = h.client.pull(&sc.token, 0, None).await.unwrap();
        let served: Vec<&BatchEnvelope> = page.batches.iter().map(|p| &p.batch).collect();
        assert_eq!(served, envelopes.iter().collect::<Vec<_>>());
        // The server's chain hashes are the documented ones.
        let expected_hash = |i: usize| b["batches"][i]["chain_hash"].as_str().unwrap().to_string();
        assert_eq!(page.devices[&dev_a].hash.hex(), expected_hash(1));
        assert_eq!(page.devices[&dev_b].hash.hex(), expected_hash(2));
        let v = Verifier {
            account: sa.account_id,
            me: c,
            key: &key,
        };
        let (_, merged) = v.verify_page(&ChainState::default(), &page).unwrap();
        assert_eq!(merged.len(), 3);
        h.stop().await;
    }
}

/// Seals one batch for `d` without pushing it.
fn sealed(d: &mut common::Device, title: &str) -> BatchEnvelope {
    d.set("task", RecordId([1; 16]), "title", json!(title), now_ms())
        .unwrap();
    d.seal();
    d.sealed_batches().pop().unwrap()
}

fn push_body(batches: &[BatchEnvelope]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "batches": batches })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_a_4xx_with_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.limits.max_request_bytes = 64 * 1024;
            c.limits.max_batch_bytes = 4096;
            c.limits.max_batches_per_push = 3;
        })
        .await;
        let (login, s1) = h.signup().await;
        let mut a = h.device(&s1);
        let sb = h.login(login).await;
        let mut b = h.device(&sb);
        let (_, other) = h.signup().await;
        let t = Some(a.token.clone());
        let t = t.as_deref();
        let post = |path: &'static str, token: Option<&str>, body: Vec<u8>| {
            let token = token.map(str::to_string);
            let h = &h;
            async move {
                h.raw(Method::POST, path, token.as_deref(), Some(body))
                    .await
            }
        };
        let check = |got: (u16, String), want: (u16, &str), what: &str| {
            assert_eq!((got.0, got.1.as_str()), want, "{what}");
        };

        check(
            post("/v1/batches", t, b"{not json".to_vec()).await,
            (400, "invalid_json"),
            "malformed JSON",
        );
        check(
            post("/v1/batches", t, b"{\"batches\": 5}".to_vec()).await,
            (400, "invalid_request"),
            "wrong shape",
        );
        check(
            post("/v1/batches", t, b"{\"batches\": []}".to_vec()).await,
            (400, "invalid_request"),
            "empty push",
        );
        check(
            post("/v1/batches", t, vec![b' '; 70 * 1024]).await,
            (413, "payload_too_large"),
            "oversized body",
        );
        check(
            post("/v1/batches", None, push_body(&[])).await,
            (401, "missing_token"),
            "no token",
        );
        check(
            post("/v1/batches", Some("pps_nope"), push_body(&[])).await,
            (401, "invalid_token"),
            "wrong token",
        );
        check(
            h.raw(Method::POST, "/v1/batches", None, None).await,
            (401, "missing_token"),
            "no token, no body",
        );

        let good = sealed(&mut a, "first");
        let mut big = good.clone();
        big.ciphertext = vec![0; 5000];
        check(
            post("/v1/batches", t, push_body(&[big])).await,
            (413, "batch_too_large"),
            "oversized batch",
        );
        let mut x = good.clone();
        x.nonce.truncate(3);
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (400, "invalid_batch"),
            "short nonce",
        );
        let mut x = good.clone();
        x.account = other.session.account_id;
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (403, "account_mismatch"),
            "another account's batch",
        );
        let mut x = good.clone();
        x.device = b.device;
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (403, "device_mismatch"),
            "another device's chain",
        );
        let mut x = good.clone();
        x.key_id = other.key.id();
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (409, "key_mismatch"),
            "wrong key id",
        );
        let mut x = good.clone();
        x.format = 7;
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (400, "unsupported_format"),
            "future format",
        );
        let mut x = good.clone();
        x.seq = 3;
        x.prev = Hash32([1; 32]);
        check(
            post("/v1/batches", t, push_body(&[x])).await,
            (409, "seq_gap"),
            "gap in the chain",
        );
        let mut x = good.clone();
        x.seq = 2;
        check(
            post("/v1/batches", t, push_body(&[good.clone(), x])).await,
            (400, "invalid_batch"),
            "non-consecutive push",
        );
        check(
            post(
                "/v1/batches",
                t,
                push_body(&[good.clone(), good.clone(), good.clone(), good.clone()]),
            )
            .await,
            (400, "invalid_request"),
            "too many batches",
        );
        // The real one goes in; then the same id with other content is refused.
        a.push().await.unwrap();
        let mut reused = sealed(&mut a, "second");
        let next = reused.clone();
        reused.batch_id = good.batch_id;
        check(
            post("/v1/batches", t, push_body(&[reused])).await,
            (409, "batch_id_reused"),
            "replayed batch id",
        );
        let mut fork = good.clone();
        fork.batch_id = next.batch_id;
        check(
            post("/v1/batches", t, push_body(&[fork])).await,
            (409, "seq_conflict"),
            "rewriting history",
        );
        let mut broken = next.clone();
        broken.prev = Hash32([9; 32]);
        check(
            post("/v1/batches", t, push_body(&[broken])).await,
            (409, "chain_mismatch"),
            "broken chain",
        );
        a.push().await.unwrap();

        let get = |path: String, token: Option<&str>| {
            let token = token.map(str::to_string);
            let h = &h;
            async move { h.raw(Method::GET, &path, token.as_deref(), None).await }
        };
        check(
            get("/v1/batches?after=99".into(), t).await,
            (400, "cursor_ahead"),
            "cursor from the future",
        );
        check(
            get("/v1/batches?after=x".into(), t).await,
            (400, "invalid_request"),
            "cursor not a number",
        );
        check(
            get("/v1/batches?limit=0".into(), t).await,
            (400, "invalid_request"),
            "limit 0",
        );
        check(
            get("/v1/snapshot".into(), t).await,
            (404, "no_snapshot"),
            "no snapshot yet",
        );
        check(
            get("/v1/nope".into(), t).await,
            (404, "not_found"),
            "unknown route",
        );
        check(
            h.raw(Method::PATCH, "/v1/batches", t, None).await,
            (405, "method_not_allowed"),
            "wrong method",
        );
        check(
            get("/v1/notifications".into(), t).await,
            (400, "invalid_request"),
            "socket without upgrade",
        );
        check(
            get("/v1/notifications".into(), None).await,
            (401, "missing_token"),
            "socket without token",
        );
        let r = h
            .http
            .get(format!("{}/v1/info", h.base))
            .header("pp-sync-protocol", "2")
            .send()
            .await
            .unwrap();
        check(
            code_of(r).await,
            (400, "unsupported_protocol"),
            "future protocol",
        );
        check(
            h.raw(
                Method::DELETE,
                &format!("/v1/devices/{}", DeviceId([3; 16])),
                t,
                None,
            )
            .await,
            (404, "unknown_device"),
            "unknown device",
        );
        check(
            h.raw(Method::DELETE, "/v1/devices/xyz", t, None).await,
            (400, "invalid_request"),
            "malformed device id",
        );

        // Accounts.
        let (kdf, pk) = common::keys();
        let mut weak = kdf.clone();
        weak.m_kib = 1024;
        let signup = |kdf: KdfParams, login_id| SignupRequest {
            login_id,
            account_id: productivitypro_sync_protocol::AccountId::random(&mut common::rng()),
            kdf,
            login_secret: pk.login_secret.to_vec(),
            key_id: a.key().id(),
            wrapped_key: vec![0; keys::WRAPPED_LEN],
            recovery: None,
            device_id: DeviceId::random(&mut common::rng()),
            device_name: None,
        };
        let fresh_login = keys::login_id(&Harness::email()).unwrap();
        let body = serde_json::to_vec(&signup(weak, fresh_login)).unwrap();
        check(
            post("/v1/accounts", None, body).await,
            (400, "weak_kdf_params"),
            "weak KDF",
        );
        let body = serde_json::to_vec(&signup(kdf.clone(), login)).unwrap();
        check(
            post("/v1/accounts", None, body).await,
            (409, "account_exists"),
            "email taken",
        );
        let mut short = signup(kdf.clone(), fresh_login);
        short.login_secret.truncate(5);
        check(
            post("/v1/accounts", None, serde_json::to_vec(&short).unwrap()).await,
            (400, "invalid_request"),
            "short secret",
        );
        let unknown = LoginRequest {
            login_id: keys::login_id("nobody@example.com").unwrap(),
            login_secret: pk.login_secret.to_vec(),
            device_id: DeviceId::random(&mut common::rng()),
        };
        check(
            post("/v1/sessions", None, serde_json::to_vec(&unknown).unwrap()).await,
            (401, "invalid_credentials"),
            "unknown account",
        );
        let mut extra: Value = serde_json::to_value(&unknown).unwrap();
        extra["admin"] = json!(true);
        check(
            post("/v1/sessions", None, serde_json::to_vec(&extra).unwrap()).await,
            (400, "invalid_request"),
            "unknown field",
        );

        // A signed-out device's token.
        h.client.sign_out(&a.token, Some(b.device)).await.unwrap();
        check(
            get("/v1/batches".into(), Some(&b.token)).await,
            (401, "device_signed_out"),
            "revoked token",
        );
        let again = LoginRequest {
            login_id: login,
            login_secret: pk.login_secret.to_vec(),
            device_id: b.device,
        };
        check(
            post("/v1/sessions", None, serde_json::to_vec(&again).unwrap()).await,
            (409, "device_revoked"),
            "revoked device id",
        );
        assert_eq!(b.sync().await.unwrap_err().code(), "device_signed_out");

        // Garbage at every endpoint: never a 5xx.
        let mut rng = common::rng();
        for path in [
            "/v1/accounts/params",
            "/v1/accounts",
            "/v1/sessions",
            "/v1/sessions/recover",
            "/v1/batches",
            "/v1/devices/sign-out-all",
        ] {
            for _ in 0..20 {
                use rand::RngCore;
                let mut junk = vec![0u8; (rng.next_u32() % 300) as usize];
                rng.fill_bytes(&mut junk);
                let (s, code) = post(path, t, junk).await;
                assert!(
                    (400..500).contains(&s) && !code.is_empty(),
                    "{path}: {s} {code}"
                );
            }
        }
        for (method, path) in [
            (Method::PUT, "/v1/snapshot"),
            (Method::PUT, "/v1/account/passphrase"),
            (Method::PUT, "/v1/account/recovery"),
            (Method::PUT, "/v1/devices/current/name"),
            (Method::DELETE, "/v1/account"),
        ] {
            let (s, code) = h.raw(method, path, t, Some(b"{ ".to_vec())).await;
            assert_eq!((s, code.as_str()), (400, "invalid_json"), "{path}");
        }
        h.stop().await;
    }
}

/// Concurrent pushes are stored together (group commit on SQLite); a
/// refused one must not take the others down or be stored partly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_are_answered_each_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let mut accounts = Vec::new();
        for _ in 0..12 {
            let (login, s) = h.signup().await;
            accounts.push((login, h.device(&s)));
        }
        // Each device: one good batch; some also a follow-up (stored if it
        // lands after the good one, else seq_gap), a gap, or a retry.
        let mut requests = Vec::new();
        for (i, (_, d)) in accounts.iter_mut().enumerate() {
            let good = sealed(d, "good");
            let token = d.token.clone();
            requests.push((token.clone(), vec![good.clone()], "ok"));
            match i % 4 {
                1 => {
                    let mut next = sealed(d, "next");
                    next.prev = good.hash();
                    requests.push((token, vec![next], "later"));
                }
                2 => {
                    let mut gap = sealed(d, "gap");
                    gap.seq = 5;
                    requests.push((token, vec![gap], "seq_gap"));
                }
                3 => {
                    let mut reused = good.clone();
                    reused.seq = 2;
                    reused.prev = good.hash();
                    requests.push((token.clone(), vec![reused], "reused"));
                    requests.push((token, vec![good], "retry"));
                }
                _ => {}
            }
        }
        let answers =
            futures_util::future::join_all(requests.iter().map(|(t, b, _)| h.client.push(t, b)))
                .await;
        for ((_, b, want), got) in requests.iter().zip(&answers) {
            match (*want, got) {
                ("ok" | "retry", Ok(r)) => assert_eq!(r.results[0].batch_id, b[0].batch_id),
                ("later", Ok(r)) => assert!(!r.results[0].duplicate),
                ("later", Err(e)) => assert_eq!(e.code(), "seq_gap"),
                ("seq_gap", Err(e)) => assert_eq!(e.code(), "seq_gap"),
                ("reused", Err(e)) => {
                    assert!(["batch_id_reused", "seq_gap"].contains(&e.code()), "{e}")
                }
                (w, r) => panic!("{w}: {r:?}"),
            }
        }
        if db.starts_with("sqlite:") {
            let grouped = h
                .server
                .state
                .db
                .groups
                .pushes
                .load(std::sync::atomic::Ordering::Relaxed);
            assert!(
                grouped > 1,
                "concurrent pushes shared transactions ({grouped})"
            );
        }
        // Every account's log is a whole, verifiable chain of what was accepted.
        for ((login, d), i) in accounts.iter().zip(0..) {
            let info = h.client.account(&d.token).await.unwrap();
            let later_ok = requests
                .iter()
                .zip(&answers)
                .any(|((t, _, w), a)| t == &d.token && *w == "later" && a.is_ok());
            assert_eq!(info.head, 1 + later_ok as u64, "account {i}");
            let mut reader = h.device(&h.login(*login).await);
            assert_eq!(
                reader.sync().await.unwrap().pulled_batches as u64,
                info.head
            );
        }
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_refuse_what_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (_, s) = h.signup().await;
        let mut a = h.device(&s);
        a.set("task", RecordId([1; 16]), "title", json!("x"), now_ms())
            .unwrap();
        a.sync().await.unwrap();
        assert!(a.upload_snapshot().await.unwrap());
        // The same cursor again is stale (the client treats that as done).
        assert!(!a.upload_snapshot().await.unwrap());
        let mut env = h.client.snapshot(&a.token).await.unwrap().unwrap();
        env.snapshot_id = productivitypro_sync_protocol::SnapshotId([2; 16]);
        let put = |env: &productivitypro_sync_protocol::snapshot::SnapshotEnvelope| {
            let body = serde_json::to_vec(env).unwrap();
            let h = &h;
            let t = a.token.clone();
            async move {
                h.raw(Method::PUT, "/v1/snapshot", Some(&t), Some(body))
                    .await
            }
        };
        assert_eq!(put(&env).await, (409, "snapshot_stale".into()));
        env.cursor = 50;
        assert_eq!(put(&env).await, (400, "cursor_ahead".into()));
        let mut x = env.clone();
        x.account = productivitypro_sync_protocol::AccountId([9; 16]);
        assert_eq!(put(&x).await, (403, "account_mismatch".into()));
        let mut x = env.clone();
        x.nonce = vec![1];
        assert_eq!(put(&x).await, (400, "invalid_snapshot".into()));
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_listed_and_signed_out_one_or_all() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (login, s1) = h.signup().await;
        let s2 = h.login(login).await;
        let s3 = h.login(login).await;
        let name = keys::seal_device_name(
            &s2.key,
            s2.session.account_id,
            s2.session.device_id,
            "Desktop",
            &mut common::rng(),
        )
        .unwrap();
        h.client
            .rename_device(&s2.session.token, name)
            .await
            .unwrap();
        let list = h.client.devices(&s2.session.token).await.unwrap().devices;
        assert_eq!(list.len(), 3);
        let names: Vec<String> = list
            .iter()
            .filter_map(|d| d.name.as_deref().map(|n| (d.device_id, n)))
            .map(|(id, n)| keys::open_device_name(&s2.key, s2.session.account_id, id, n).unwrap())
            .collect();
        assert!(
            names.contains(&"Desktop".to_string()) && names.contains(&"test device".to_string())
        );
        assert_eq!(list.iter().filter(|d| d.current).count(), 1);
        // The server holds the names sealed: the text is not in the database.
        let dump = h.server.state.db.dump().await.unwrap();
        assert!(!dump
            .iter()
            .any(|(_, row)| row.contains(&hex::encode("Desktop"))));

        h.client
            .sign_out_all(&s1.session.token, false)
            .await
            .unwrap();
        assert_eq!(
            h.client
                .devices(&s2.session.token)
                .await
                .unwrap_err()
                .code(),
            "device_signed_out"
        );
        let list = h.client.devices(&s1.session.token).await.unwrap().devices;
        assert_eq!(list.iter().filter(|d| !d.signed_out).count(), 1);
        h.client
            .sign_out_all(&s1.session.token, true)
            .await
            .unwrap();
        assert_eq!(
            h.client
                .devices(&s1.session.token)
                .await
                .unwrap_err()
                .code(),
            "device_signed_out"
        );
        let _ = s3;
        // Signing in again (new device id) works.
        let s4 = h.login(login).await;
        h.client.sign_out(&s4.session.token, None).await.unwrap();
        assert_eq!(
            h.client
                .account(&s4.session.token)
                .await
                .unwrap_err()
                .code(),
            "device_signed_out"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passphrase_change_rewraps_and_a_recovery_key_signs_in() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let recovery = [0x5au8; 32];
        let email = Harness::email();
        let login = keys::login_id(&email).unwrap();
        let s = account::signup(
            &h.client,
            &email,
            "first passphrase",
            Some(&recovery),
            DeviceId::random(&mut common::rng()),
            None,
            None,
            &mut common::rng(),
        )
        .await
        .unwrap();
        let mut a = h.device(&s);
        a.set("task", RecordId([1; 16]), "title", json!("kept"), now_ms())
            .unwrap();
        a.sync().await.unwrap();
        let key_id = s.key.id();

        let (_, _, old) = account::derive(&h.client, &email, "first passphrase")
            .await
            .unwrap();
        // A wrong proof changes nothing.
        let e = account::change_passphrase(
            &h.client,
            &s,
            Proof::LoginSecret(vec![0; 32]),
            "x",
            false,
            &mut common::rng(),
        )
        .await;
        assert_eq!(e.unwrap_err().code(), "invalid_credentials");
        account::change_passphrase(
            &h.client,
            &s,
            Proof::LoginSecret(old.login_secret.to_vec()),
            "second passphrase",
            false,
            &mut common::rng(),
        )
        .await
        .unwrap();
        let stale = account::login(
            &h.client,
            login,
            &old,
            DeviceId::random(&mut common::rng()),
            None,
        )
        .await;
        assert_eq!(stale.err().unwrap().code(), "invalid_credentials");
        let (_, _, new) = account::derive(&h.client, &email, "second passphrase")
            .await
            .unwrap();
        let s2 = account::login(
            &h.client,
            login,
            &new,
            DeviceId::random(&mut common::rng()),
            None,
        )
        .await
        .unwrap();
        assert_eq!(s2.key.id(), key_id, "the same sync key, re-wrapped");
        let mut b = h.device(&s2);
        b.sync().await.unwrap();
        assert_eq!(b.replica.view(), a.replica.view());

        // Forgotten passphrase: the recovery key signs in and sets a new one.
        assert_eq!(
            account::recover(
                &h.client,
                login,
                &[1; 32],
                DeviceId::random(&mut common::rng()),
                None
            )
            .await
            .err()
            .unwrap()
            .code(),
            "invalid_credentials"
        );
        let r = account::recover(
            &h.client,
            login,
            &recovery,
            DeviceId::random(&mut common::rng()),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.key.id(), key_id);
        let proof = keys::derive_recovery_keys(&recovery, login).proof.to_vec();
        account::change_passphrase(
            &h.client,
            &r,
            Proof::RecoveryProof(proof),
            "third passphrase",
            true,
            &mut common::rng(),
        )
        .await
        .unwrap();
        assert_eq!(
            h.client.account(&a.token).await.unwrap_err().code(),
            "device_signed_out",
            "others signed out"
        );
        let (_, _, third) = account::derive(&h.client, &email, "third passphrase")
            .await
            .unwrap();
        let s3 = account::login(
            &h.client,
            login,
            &third,
            DeviceId::random(&mut common::rng()),
            None,
        )
        .await
        .unwrap();
        // Removing recovery needs the passphrase, and then recovery is gone.
        let change = RecoveryChange {
            login_secret: third.login_secret.to_vec(),
            recovery: None,
        };
        h.client
            .change_recovery(&s3.session.token, &change)
            .await
            .unwrap();
        assert!(
            !h.client
                .account(&s3.session.token)
                .await
                .unwrap()
                .has_recovery
        );
        assert_eq!(
            account::recover(
                &h.client,
                login,
                &recovery,
                DeviceId::random(&mut common::rng()),
                None
            )
            .await
            .err()
            .unwrap()
            .code(),
            "invalid_credentials"
        );
        let _ = PassphraseChange {
            proof: Proof::LoginSecret(vec![]),
            kdf: common::keys().0.clone(),
            login_secret: vec![],
            wrapped_key: vec![],
            sign_out_other_devices: false,
        };
        h.stop().await;
    }
}

fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_leaves_nothing_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    for db in databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (keep_login, keeper) = h.signup().await;
        let mut k = h.device(&keeper);
        k.set(
            "task",
            RecordId([7; 16]),
            "title",
            json!("keep me"),
            now_ms(),
        )
        .unwrap();
        k.sync().await.unwrap();
        let (login, s) = h.signup_with_recovery(Some(&[3; 32])).await;
        let mut a = h.device(&s);
        let mut b = h.device(&h.login(login).await);
        for i in 0..5u8 {
            a.set(
                "task",
                RecordId([i; 16]),
                "title",
                json!(format!("t{i}")),
                now_ms(),
            )
            .unwrap();
            a.sync().await.unwrap();
        }
        b.sync().await.unwrap();
        assert!(a.upload_snapshot().await.unwrap());
        let mut socket = Notifications::connect(&h.base, &b.token).await.unwrap();
        socket.next().await.unwrap();
        let account = s.session.account_id.hex();
        let ciphertext = h.client.pull(&b.token, 0, None).await.unwrap().batches[0]
            .batch
            .ciphertext
            .clone();
        let dump = h.server.state.db.dump().await.unwrap();
        assert!(dump.iter().filter(|(_, r)| r.contains(&account)).count() > 5);

        let wrong = DeleteAccount {
            login_secret: vec![0; 32],
        };
        assert_eq!(
            h.client
                .delete_account(&a.token, &wrong)
                .await
                .unwrap_err()
                .code(),
            "invalid_credentials"
        );
        let right = DeleteAccount {
            login_secret: common::keys().1.login_secret.to_vec(),
        };
        h.client.delete_account(&a.token, &right).await.unwrap();

        let dump = h.server.state.db.dump().await.unwrap();
        let mentions: Vec<_> = dump
            .iter()
            .filter(|(_, r)| {
                r.contains(&account)
                    || r.contains(&hex::encode(&ciphertext))
                    || r.contains(&login.hex())
            })
            .collect();
        assert!(mentions.is_empty(), "left behind: {mentions:?}");
        assert!(
            dump.iter().any(|(t, _)| t == "batches"),
            "the other account is untouched"
        );
        if db.starts_with("sqlite:") {
            let file = h.dir.path().join("sync.db");
            for path in [file.clone(), file.with_extension("db-wal")] {
                assert!(
                    !file_contains(&path, &ciphertext[..32]),
                    "{} holds the ciphertext",
                    path.display()
                );
                assert!(
                    !file_contains(&path, account.as_bytes()),
                    "{} holds the account id",
                    path.display()
                );
            }
        }
        assert_eq!(
            h.client.account(&a.token).await.unwrap_err().code(),
            "invalid_token"
        );
        let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next, None, "the socket was closed");
        // The email is free again, and the other account still syncs.
        let _ = h.client.params(login).await.unwrap();
        k.sync().await.unwrap();
        let _ = keep_login;
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_per_address_account_and_sign_in() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", tmp.path().display());
    let h = Harness::start_with(&db, |c| {
        c.rate.auth_per_ip = 1;
        c.rate.auth_burst = 4;
        c.rate.per_account = 1;
        c.rate.per_account_burst = 5;
        c.rate.per_ip = 1;
        c.rate.per_ip_burst = 30;
    })
    .await;
    let (login, s) = h.signup().await;
    // Sign-in endpoints: 4 allowed (signup used one), then refused.
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = h
            .http
            .post(format!("{}/v1/accounts/params", h.base))
            .json(&json!({ "login_id": login }))
            .send()
            .await
            .unwrap();
        let retry = r.headers().get("retry-after").is_some();
        let (s, c) = code_of(r).await;
        codes.push((s, c, retry));
    }
    assert_eq!(codes.iter().filter(|c| c.0 == 200).count(), 3, "{codes:?}");
    assert_eq!(
        codes.last().unwrap(),
        &(429, "rate_limited".to_string(), true)
    );
    // The account: 5 requests in a burst.
    let mut refused = 0;
    for _ in 0..7 {
        if let Err(e) = h.client.account(&s.session.token).await {
            assert_eq!(e.code(), "rate_limited");
            refused += 1;
        }
    }
    assert_eq!(refused, 2);
    // The address: the rest of its burst, then refused even for /v1/info.
    let mut last = 200;
    for _ in 0..30 {
        last = h.raw(Method::GET, "/v1/info", None, None).await.0;
    }
    assert_eq!(last, 429);
    assert_eq!(
        h.raw(Method::GET, "/healthz", None, None).await.0,
        200,
        "health checks are not limited"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_reveal_nothing_about_who_has_an_account() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", tmp.path().display());
    let h = Harness::start(&db).await;
    let (login, _) = h.signup().await;
    let real = h.client.params(login).await.unwrap().kdf;
    assert_eq!(real, common::keys().0);
    let ghost = keys::login_id("ghost@example.com").unwrap();
    let a = h.client.params(ghost).await.unwrap().kdf;
    let b = h.client.params(ghost).await.unwrap().kdf;
    assert_eq!(a, b, "stable, so asking twice reveals nothing");
    a.validate().unwrap();
    assert_ne!(a.salt, real.salt);
    // Replicas share the pepper: a second server on the same database agrees.
    let h2 = Harness::start(&db).await;
    assert_eq!(h2.client.params(ghost).await.unwrap().kdf, a);
    h2.stop().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_info_and_openapi_describe_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", tmp.path().display());
    let h = Harness::start(&db).await;
    let (_, s) = h.signup().await;
    let mut a = h.device(&s);
    a.set("task", RecordId([1; 16]), "title", json!("x"), now_ms())
        .unwrap();
    a.sync().await.unwrap();
    let _ = h
        .raw(Method::GET, "/v1/batches?after=99", Some(&a.token), None)
        .await;
    for (path, status) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/v1/info", 200),
        ("/openapi.json", 200),
    ] {
        assert_eq!(
            h.raw(Method::GET, path, None, None).await.0,
            status,
            "{path}"
        );
    }
    let metrics = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "sync_batches_stored_total 1",
        "sync_refused_total{code=\"cursor_ahead\"} 1",
        "sync_sign_ins_total",
    ] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }
    let info = h.client.info().await.unwrap();
    assert_eq!(
        info.limits.max_batches_per_push,
        h.server.state.config.limits.max_batches_per_push
    );

    let doc: Value = h
        .http
        .get(format!("{}/openapi.json", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (method, path) in productivitypro_sync_server::routes::ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "openapi.json lacks {method} {path}"
        );
    }
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        productivitypro_sync_server::routes::ROUTES.len(),
        "no undocumented extras either"
    );
    let text = doc.to_string();
    for (code, _) in ERROR_CODES {
        assert!(
            text.contains(&format!("\"{code}\"")),
            "openapi.json lacks error code {code}"
        );
    }
    // Limits in the document are the defaults the handlers enforce.
    let d = productivitypro_sync_server::Config::default();
    let limits = &doc["components"]["schemas"]["Limits"]["example"];
    assert_eq!(
        limits["max_batches_per_push"],
        json!(d.limits.max_batches_per_push)
    );
    assert_eq!(limits["max_batch_bytes"], json!(d.limits.max_batch_bytes));
    assert_eq!(
        limits["max_request_bytes"],
        json!(d.limits.max_request_bytes)
    );
    assert_eq!(limits["max_page_batches"], json!(d.limits.max_page_batches));
    h.stop().await;
}

/// Every `Error::of("code", …)` in the server's source is a documented code.
#[test]
fn every_code_the_server_emits_is_in_the_table() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = 0;
    for entry in std::fs::read_dir(src).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split("Error::of(").skip(1) {
            let part = part.trim_start();
            if let Some(rest) = part.strip_prefix('"') {
                let code = rest.split('"').next().unwrap();
                assert!(
                    ERROR_CODES.iter().any(|(c, _)| *c == code),
                    "{code} is not in api::ERROR_CODES"
                );
                found += 1;
            }
        }
    }
    assert!(found > 30, "found {found} codes");
    let _ = b64::encode(b"");
    let _ = SyncKey::from_bytes([0; 32]);
}
