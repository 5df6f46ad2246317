//! The worked examples of `docs/sync-protocol.md`, as machine-readable
//! vectors in `docs/sync-vectors/`. Each test builds its vectors from fixed
//! inputs with this crate and compares them with the committed file, so a
//! change to any byte of the format fails here first. Regenerate (after a
//! deliberate, versioned format change) with
//! `PP_UPDATE_SYNC_VECTORS=1 cargo test -p productivitypro-sync-protocol --test vectors`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use productivitypro_sync_protocol::aead;
use productivitypro_sync_protocol::api::{PullPage, PulledBatch};
use productivitypro_sync_protocol::b64;
use productivitypro_sync_protocol::batch::{
    open_batch, seal_batch_with_nonce, BatchBody, BatchEnvelope, BatchHeader, Head,
};
use productivitypro_sync_protocol::hlc::{Hlc, HlcClock};
use productivitypro_sync_protocol::keys::{self, KdfParams, SyncKey, WrapKind};
use productivitypro_sync_protocol::merge::{manual_order, Replica};
use productivitypro_sync_protocol::op::{successor_id, Action, Op, RecordRef};
use productivitypro_sync_protocol::snapshot::{
    open_snapshot, seal_snapshot_with_nonce, SnapshotBody, SnapshotHeader,
};
use productivitypro_sync_protocol::verify::{ChainState, Verifier};
use productivitypro_sync_protocol::{AccountId, BatchId, DeviceId, Hash32, RecordId, SnapshotId};
use serde_json::{json, Value};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/sync-vectors")
}

/// Compares with the committed file, or rewrites it when asked to.
fn check(name: &str, v: &Value) {
    let path = vectors_dir().join(name);
    let text = serde_json::to_string_pretty(v).unwrap() + "\n";
    if std::env::var_os("PP_UPDATE_SYNC_VECTORS").is_some() {
        std::fs::create_dir_all(vectors_dir()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (generate with PP_UPDATE_SYNC_VECTORS=1)",
                path.display()
            )
        }))
        .unwrap();
    assert!(
        committed == *v,
        "{name} differs from what this build computes; if the format change is deliberate, bump the format version and regenerate"
    );
}

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

/// Fixed inputs every vector file shares.
struct Fixture {
    account: AccountId,
    key: SyncKey,
    a: DeviceId,
    b: DeviceId,
    c: DeviceId,
}

fn fixture() -> Fixture {
    Fixture {
        account: "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf".parse().unwrap(),
        key: SyncKey::from_bytes(std::array::from_fn(|i| 0x40 + i as u8)),
        a: "d1000000000000000000000000000001".parse().unwrap(),
        b: "d2000000000000000000000000000002".parse().unwrap(),
        c: "d3000000000000000000000000000003".parse().unwrap(),
    }
}

fn nonce(tag: u8) -> [u8; 24] {
    std::array::from_fn(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
}

fn rid(n: u8) -> RecordId {
    RecordId(std::array::from_fn(|i| if i == 0 { 0x70 } else { n }))
}

fn set(kind: &str, id: RecordId, field: &str, value: Value, hlc: Hlc) -> Op {
    Op {
        record: RecordRef::new(kind, id),
        action: Action::Set {
            field: field.into(),
            value,
        },
        hlc,
    }
}

const T0: u64 = 1_795_000_000_000; // 2026-11-18T...Z, in ms

#[test]
fn key_derivation_and_wrapping() {
    let f = fixture();
    let email = "  Alice.Example@Example.COM ";
    let login = keys::login_id(email).unwrap();
    // "é" typed as e + combining acute (NFD); NFC makes it one code point.
    let passphrase = "correct horse battery staple e\u{301}";
    let params = KdfParams {
        salt: (0u8..16).collect(),
        m_kib: 65536,
        t: 3,
        p: 1,
    };
    let pk = keys::derive_passphrase_keys(passphrase, &params).unwrap();
    let nfc = keys::derive_passphrase_keys("correct horse battery staple \u{e9}", &params).unwrap();
    assert_eq!(
        *pk.login_secret, *nfc.login_secret,
        "passphrases are NFC-normalised"
    );
    let key_id = f.key.id();
    let wrap_nonce = nonce(1);
    let wrap_aad = keys::wrap_aad(f.account, WrapKind::Passphrase, key_id);
    let mut wrapped = wrap_nonce.to_vec();
    wrapped.extend(aead::seal(
        &pk.wrapping_key,
        &wrap_nonce,
        &wrap_aad,
        f.key.expose(),
    ));
    let opened = keys::unwrap_sync_key(
        &pk.wrapping_key,
        WrapKind::Passphrase,
        f.account,
        key_id,
        &wrapped,
    )
    .unwrap();
    assert_eq!(opened.expose(), f.key.expose());

    let recovery_secret: [u8; 32] = std::array::from_fn(|i| 0x90 + i as u8);
    let rk = keys::derive_recovery_keys(&recovery_secret, login);
    let r_nonce = nonce(2);
    let r_aad = keys::wrap_aad(f.account, WrapKind::Recovery, key_id);
    let mut r_wrapped = r_nonce.to_vec();
    r_wrapped.extend(aead::seal(
        &rk.wrapping_key,
        &r_nonce,
        &r_aad,
        f.key.expose(),
    ));
    keys::unwrap_sync_key(
        &rk.wrapping_key,
        WrapKind::Recovery,
        f.account,
        key_id,
        &r_wrapped,
    )
    .unwrap();
    assert!(
        keys::unwrap_sync_key(
            &rk.wrapping_key,
            WrapKind::Passphrase,
            f.account,
            key_id,
            &r_wrapped
        )
        .is_err(),
        "a recovery wrap is not a passphrase wrap"
    );

    check(
        "keys.json",
        &json!({
            "description": "Account key derivation (docs/sync-protocol.md §2). Argon2id v1.3 → 32-byte root; HKDF-SHA256 with empty salt unless noted; wraps are nonce ‖ XChaCha20-Poly1305(key, nonce, aad, sync key).",
            "email": email,
            "email_normalized": keys::normalize_email(email).unwrap(),
            "login_id": login.hex(),
            "passphrase_utf8_hex": h(passphrase.as_bytes()),
            "passphrase_nfc_utf8_hex": h("correct horse battery staple \u{e9}".as_bytes()),
            "kdf": { "salt_hex": h(&params.salt), "m_kib": params.m_kib, "t": params.t, "p": params.p },
            "login_secret_hex": h(pk.login_secret.as_ref()),
            "wrapping_key_hex": h(pk.wrapping_key.as_ref()),
            "account_id": f.account.hex(),
            "sync_key_hex": h(f.key.expose()),
            "key_id": key_id.hex(),
            "passphrase_wrap": {
                "nonce_hex": h(&wrap_nonce),
                "aad_hex": h(&wrap_aad),
                "wrapped_key_hex": h(&wrapped),
                "wrapped_key_b64": b64::encode(&wrapped),
            },
            "recovery_secret_hex": h(&recovery_secret),
            "recovery_proof_hex": h(rk.proof.as_ref()),
            "recovery_wrapping_key_hex": h(rk.wrapping_key.as_ref()),
            "recovery_wrap": {
                "nonce_hex": h(&r_nonce),
                "aad_hex": h(&r_aad),
                "wrapped_key_hex": h(&r_wrapped),
            },
        }),
    );
}

/// Device A's two batches and device B's first, as the wire carries them.
struct Batches {
    a1: BatchEnvelope,
    a2: BatchEnvelope,
    b1: BatchEnvelope,
    bodies: Vec<BatchBody>,
}

fn batches(f: &Fixture) -> Batches {
    let task = rid(1);
    let a1_body = BatchBody {
        heads: BTreeMap::new(),
        ops: vec![
            set(
                "task",
                task,
                "title",
                json!("Buy milk"),
                Hlc::new(T0, 0, f.a).unwrap(),
            ),
            set(
                "task",
                task,
                "order",
                json!("V"),
                Hlc::new(T0, 1, f.a).unwrap(),
            ),
            Op {
                record: RecordRef::new("task", task),
                action: Action::Tag {
                    tag: "errands".into(),
                    on: true,
                },
                hlc: Hlc::new(T0, 2, f.a).unwrap(),
            },
        ],
    };
    let a1 = seal_batch_with_nonce(
        &f.key,
        BatchHeader {
            batch_id: "b1000000000000000000000000000001".parse().unwrap(),
            account: f.account,
            device: f.a,
            seq: 1,
            prev: Hash32::ZERO,
        },
        &a1_body,
        nonce(11),
    );
    let a2_body = BatchBody {
        heads: BTreeMap::new(),
        ops: vec![set(
            "task",
            task,
            "priority",
            json!(1),
            Hlc::new(T0 + 5000, 0, f.a).unwrap(),
        )],
    };
    let a2 = seal_batch_with_nonce(
        &f.key,
        BatchHeader {
            batch_id: "b1000000000000000000000000000002".parse().unwrap(),
            account: f.account,
            device: f.a,
            seq: 2,
            prev: a1.hash(),
        },
        &a2_body,
        nonce(12),
    );
    let b1_body = BatchBody {
        heads: [(
            f.a,
            Head {
                seq: 2,
                hash: a2.hash(),
            },
        )]
        .into(),
        ops: vec![set(
            "task",
            task,
            "title",
            json!("Buy oat milk"),
            Hlc::new(T0 + 5000, 1, f.b).unwrap(),
        )],
    };
    let b1 = seal_batch_with_nonce(
        &f.key,
        BatchHeader {
            batch_id: "b2000000000000000000000000000001".parse().unwrap(),
            account: f.account,
            device: f.b,
            seq: 1,
            prev: Hash32::ZERO,
        },
        &b1_body,
        nonce(21),
    );
    Batches {
        a1,
        a2,
        b1,
        bodies: vec![a1_body, a2_body, b1_body],
    }
}

#[test]
fn sealed_batches_and_their_chain() {
    let f = fixture();
    let bs = batches(&f);
    let mut list = Vec::new();
    for (env, body) in [&bs.a1, &bs.a2, &bs.b1].into_iter().zip(&bs.bodies) {
        let plain = body.to_json();
        // Independent recomputation of what the envelope must hold.
        let n: [u8; 24] = env.nonce.as_slice().try_into().unwrap();
        assert_eq!(
            aead::seal(f.key.expose(), &n, &env.aad(), &plain),
            env.ciphertext
        );
        assert_eq!(open_batch(&f.key, env).unwrap(), *body);
        let mut hash_input = b"productivitypro/sync/chain/v1".to_vec();
        hash_input.extend(env.aad());
        hash_input.extend(&env.nonce);
        hash_input.extend(&env.ciphertext);
        use sha2::Digest;
        assert_eq!(
            env.hash().0.as_slice(),
            sha2::Sha256::digest(&hash_input).as_slice()
        );
        list.push(json!({
            "header": {
                "batch_id": env.batch_id, "account": env.account, "device": env.device,
                "seq": env.seq, "format": env.format, "key_id": env.key_id, "prev": env.prev,
            },
            "plaintext": String::from_utf8(plain.clone()).unwrap(),
            "nonce_hex": h(&env.nonce),
            "aad_hex": h(&env.aad()),
            "ciphertext_hex": h(&env.ciphertext),
            "chain_hash": env.hash(),
            "envelope": env,
        }));
    }
    assert_eq!(bs.a2.prev, bs.a1.hash());
    check(
        "batches.json",
        &json!({
            "description": "Sealed batches (docs/sync-protocol.md §4). Key and account from keys.json. aad = label ‖ format u16be ‖ account ‖ device ‖ seq u64be ‖ key_id ‖ batch_id ‖ prev; chain_hash = SHA-256(\"productivitypro/sync/chain/v1\" ‖ aad ‖ nonce ‖ ciphertext). B's batch claims A's head (a delta version vector).",
            "sync_key_hex": h(f.key.expose()),
            "key_id": f.key.id(),
            "batches": list,
        }),
    );
}

#[test]
fn snapshot_vector() {
    let f = fixture();
    let bs = batches(&f);
    let mut state = Replica::new();
    for b in &bs.bodies {
        for o in &b.ops {
            state.apply(o);
        }
    }
    let body = SnapshotBody {
        heads: [
            (
                f.a,
                Head {
                    seq: 2,
                    hash: bs.a2.hash(),
                },
            ),
            (
                f.b,
                Head {
                    seq: 1,
                    hash: bs.b1.hash(),
                },
            ),
        ]
        .into(),
        state,
    };
    let env = seal_snapshot_with_nonce(
        &f.key,
        SnapshotHeader {
            snapshot_id: "5a000000000000000000000000000001"
                .parse::<SnapshotId>()
                .unwrap(),
            account: f.account,
            device: f.b,
            cursor: 3,
        },
        &body,
        nonce(31),
    );
    assert_eq!(open_snapshot(&f.key, &env).unwrap(), body);
    check(
        "snapshot.json",
        &json!({
            "description": "A sealed snapshot after A1, A2, B1 (cursors 1–3). aad = label ‖ format u16be ‖ account ‖ key_id ‖ snapshot_id ‖ device ‖ cursor u64be.",
            "plaintext": String::from_utf8(body.to_json()).unwrap(),
            "aad_hex": h(&env.aad()),
            "envelope": env,
        }),
    );
}

#[test]
fn hybrid_logical_clock() {
    let f = fixture();
    let hour = 3_600_000;
    let mut steps = Vec::new();
    let mut a = HlcClock::new(f.a);
    let mut b = HlcClock::new(f.b);
    let tick = |c: &mut HlcClock, name: &str, now: u64, steps: &mut Vec<Value>| {
        let v = c.tick(now).unwrap();
        steps.push(json!({"clock": name, "op": "tick", "wall_ms": now, "result": v}));
        v
    };
    // A's wall clock is an hour fast.
    let a1 = tick(&mut a, "a", T0 + hour, &mut steps);
    tick(&mut a, "a", T0 + hour, &mut steps);
    tick(&mut a, "a", T0 + hour - 10, &mut steps);
    let b0 = tick(&mut b, "b", T0 + 60_000, &mut steps);
    assert!(b0 < a1, "concurrent: the fast clock wins");
    b.observe(&a1);
    steps.push(json!({"clock": "b", "op": "observe", "remote": a1}));
    let b1 = tick(&mut b, "b", T0 + 120_000, &mut steps);
    assert!(b1 > a1, "causally later: wins despite the slow wall clock");
    let cmp = [
        (Hlc::new(T0, 0, f.a).unwrap(), Hlc::new(T0, 0, f.b).unwrap()),
        (Hlc::new(T0, 1, f.a).unwrap(), Hlc::new(T0, 0, f.b).unwrap()),
        (
            Hlc::new(T0 + 1, 0, f.a).unwrap(),
            Hlc::new(T0, 9, f.b).unwrap(),
        ),
    ];
    let comparisons: Vec<Value> = cmp
        .iter()
        .map(|(x, y)| json!({"a": x, "b": y, "order": format!("{:?}", x.cmp(y))}))
        .collect();
    check(
        "hlc.json",
        &json!({
            "description": "HLC text form is ms (12 hex) . counter (8 hex) . device; ordering is (ms, counter, device bytes). tick(now): if now > last.ms then (now, 0) else (last.ms, last.counter + 1). observe(r): last = max(last, (r.ms, r.counter)).",
            "steps": steps,
            "comparisons": comparisons,
        }),
    );
}

/// A named merge case: operations (as devices sent them) and the view every
/// order of applying them must give.
fn merge_case(name: &str, why: &str, ops: Vec<Op>) -> Value {
    let mut fwd = Replica::new();
    for o in &ops {
        fwd.apply(o);
    }
    let mut rev = Replica::new();
    for o in ops.iter().rev() {
        rev.apply(o);
    }
    assert_eq!(fwd, rev, "{name}: order matters");
    let view = fwd.view();
    let expect: Vec<Value> = view
        .iter()
        .map(|(k, v)| json!({"kind": k.kind, "id": k.id, "fields": v.fields, "tags": v.tags}))
        .collect();
    let order: Vec<String> = manual_order(view.iter().filter(|(k, _)| k.kind == "task"))
        .into_iter()
        .map(|k| k.id.hex())
        .collect();
    let ops: Vec<Value> = ops
        .iter()
        .map(|o| {
            let mut w = serde_json::to_value(o.to_wire()).unwrap();
            w["device"] = json!(o.device());
            w
        })
        .collect();
    json!({"name": name, "why": why, "ops": ops, "expect": expect, "manual_order": order})
}

#[test]
fn merge_cases() {
    let f = fixture();
    let hc = |ms: u64, c: u32, d: DeviceId| Hlc::new(ms, c, d).unwrap();
    let t1 = rid(1);
    let t2 = rid(2);
    let t3 = rid(3);
    let succ = successor_id(t1);
    let due_a = json!({"date": "2026-11-25"});
    let cases = vec![
        merge_case(
        "concurrent_edits_of_different_fields_both_survive",
        "per-field LWW: A edits the title, B the notes, neither overwrites the other",
        vec![
            set("task", t1, "title", json!("Call mum"), hc(T0, 0, f.a)),
            set(
                "task",
                t1,
                "title",
                json!("Call mum today"),
                hc(T0 + 10, 0, f.a),
            ),
            set(
                "task",
                t1,
                "notes",
                json!("about Sunday"),
                hc(T0 + 5, 0, f.b),
            ),
        ],
    ),
        merge_case(
        "same_field_same_millisecond_device_breaks_the_tie",
        "equal (ms, counter): the greater device id wins",
        vec![
            set("task", t1, "title", json!("from A"), hc(T0, 0, f.a)),
            set("task", t1, "title", json!("from B"), hc(T0, 0, f.b)),
        ],
    ),
        merge_case(
        "causally_later_edit_wins_over_a_fast_clock",
        "A's clock is an hour fast; B pulled A's edit first, so B's HLC is above it",
        vec![
            set(
                "task",
                t1,
                "title",
                json!("A, clock +1h"),
                hc(T0 + 3_600_000, 0, f.a),
            ),
            set(
                "task",
                t1,
                "title",
                json!("B, after seeing A"),
                hc(T0 + 3_600_000, 1, f.b),
            ),
        ],
    ),
        merge_case(
        "delete_wins_over_a_concurrent_and_a_later_edit",
        "tombstones absorb every operation on the record",
        vec![
            set("task", t1, "title", json!("x"), hc(T0, 0, f.a)),
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Delete,
                hlc: hc(T0 + 1, 0, f.a),
            },
            set(
                "task",
                t1,
                "title",
                json!("edited offline"),
                hc(T0 + 50, 0, f.b),
            ),
            set("task", t2, "title", json!("survivor"), hc(T0, 1, f.a)),
        ],
    ),
        merge_case(
        "tags_merge_per_tag",
        "A adds 'home', B removes 'work' and adds 'urgent': all three decisions stand",
        vec![
            set("task", t1, "title", json!("x"), hc(T0, 0, f.a)),
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Tag {
                    tag: "work".into(),
                    on: true,
                },
                hlc: hc(T0, 1, f.a),
            },
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Tag {
                    tag: "home".into(),
                    on: true,
                },
                hlc: hc(T0 + 10, 0, f.a),
            },
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Tag {
                    tag: "work".into(),
                    on: false,
                },
                hlc: hc(T0 + 11, 0, f.b),
            },
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Tag {
                    tag: "urgent".into(),
                    on: true,
                },
                hlc: hc(T0 + 12, 0, f.b),
            },
        ],
    ),
        merge_case(
        "concurrent_moves_keep_every_task",
        "A moves t1 and B moves t3 between the same neighbours and get the same key 'Vk'; both stay, ordered by id",
        vec![
            set("task", t1, "order", json!("V"), hc(T0, 0, f.a)),
            set("task", t2, "order", json!("W"), hc(T0, 1, f.a)),
            set("task", t3, "order", json!("X"), hc(T0, 2, f.a)),
            set("task", t1, "order", json!("Vk"), hc(T0 + 10, 0, f.a)),
            set("task", t3, "order", json!("Vk"), hc(T0 + 10, 0, f.b)),
        ],
    ),
        merge_case(
        "recurring_completion_on_two_devices_creates_one_next_occurrence",
        "both devices complete t1 offline; the next occurrence's id is successor_id(t1) on both, so its fields merge into one task",
        vec![
            set("task", t1, "title", json!("Water plants"), hc(T0, 0, f.a)),
            set("task", t1, "recurrence", json!("FREQ=WEEKLY"), hc(T0, 1, f.a)),
            set("task", t1, "done", json!(true), hc(T0 + 100, 0, f.a)),
            set("task", succ, "title", json!("Water plants"), hc(T0 + 100, 1, f.a)),
            set("task", succ, "due", due_a.clone(), hc(T0 + 100, 2, f.a)),
            set("task", succ, "recurrence", json!("FREQ=WEEKLY"), hc(T0 + 100, 3, f.a)),
            set("task", t1, "done", json!(true), hc(T0 + 200, 0, f.b)),
            set("task", succ, "title", json!("Water plants"), hc(T0 + 200, 1, f.b)),
            set("task", succ, "due", due_a, hc(T0 + 200, 2, f.b)),
            set("task", succ, "recurrence", json!("FREQ=WEEKLY"), hc(T0 + 200, 3, f.b)),
        ],
    ),
        merge_case(
        "concurrent_reparenting_never_loses_a_task",
        "A puts t1 under t2 while B puts t2 under t1: the cycle is cut at the later parent edit",
        vec![
            set("task", t1, "title", json!("one"), hc(T0, 0, f.a)),
            set("task", t2, "title", json!("two"), hc(T0, 1, f.a)),
            set("task", t1, "parent", json!(t2.hex()), hc(T0 + 10, 0, f.a)),
            set("task", t2, "parent", json!(t1.hex()), hc(T0 + 11, 0, f.b)),
        ],
    ),
        merge_case(
        "subtask_added_under_a_concurrently_deleted_task_is_hidden",
        "B adds t3 under t1 while A deletes t1 with its subtasks: t3 goes with its parent",
        vec![
            set("task", t1, "title", json!("parent"), hc(T0, 0, f.a)),
            Op {
                record: RecordRef::new("task", t1),
                action: Action::Delete,
                hlc: hc(T0 + 10, 0, f.a),
            },
            set("task", t3, "title", json!("child"), hc(T0 + 11, 0, f.b)),
            set("task", t3, "parent", json!(t1.hex()), hc(T0 + 11, 1, f.b)),
        ],
    ),
    ];
    check(
        "merge.json",
        &json!({
            "description": "Merge cases (docs/sync-protocol.md §3). Apply `ops` in any order, any number of times: the view is `expect`; tasks sort by (order, id) as in `manual_order`. Each op is its wire form plus the device of the batch that carried it.",
            "cases": cases,
        }),
    );
}

fn pulled(cursor: u64, batch: &BatchEnvelope) -> PulledBatch {
    PulledBatch {
        cursor,
        batch: batch.clone(),
    }
}

fn page(
    batches: Vec<PulledBatch>,
    head: u64,
    devices: &[(DeviceId, &BatchEnvelope)],
    more: bool,
) -> PullPage {
    let next = if more {
        batches.last().map_or(0, |b| b.cursor)
    } else {
        head
    };
    PullPage {
        batches,
        next,
        more,
        head,
        devices: devices
            .iter()
            .map(|(d, e)| {
                (
                    *d,
                    Head {
                        seq: e.seq,
                        hash: e.hash(),
                    },
                )
            })
            .collect(),
        snapshot_wanted: false,
    }
}

#[test]
fn integrity_scenarios() {
    let f = fixture();
    let bs = batches(&f);
    let (a1, a2, b1) = (&bs.a1, &bs.a2, &bs.b1);
    // A second, different batch 2 of device A: what a server that forks
    // the account's history would show some devices.
    let a2_fork = seal_batch_with_nonce(
        &f.key,
        BatchHeader {
            batch_id: "b1000000000000000000000000000009".parse().unwrap(),
            account: f.account,
            device: f.a,
            seq: 2,
            prev: a1.hash(),
        },
        &BatchBody {
            heads: BTreeMap::new(),
            ops: vec![set(
                "task",
                rid(1),
                "done",
                json!(true),
                Hlc::new(T0 + 6000, 0, f.a).unwrap(),
            )],
        },
        nonce(19),
    );
    let b1_forked_view = seal_batch_with_nonce(
        &f.key,
        BatchHeader {
            batch_id: "b2000000000000000000000000000009".parse().unwrap(),
            account: f.account,
            device: f.b,
            seq: 1,
            prev: Hash32::ZERO,
        },
        &BatchBody {
            heads: [(
                f.a,
                Head {
                    seq: 2,
                    hash: a2_fork.hash(),
                },
            )]
            .into(),
            ops: vec![],
        },
        nonce(29),
    );
    // Another account, another key.
    let other_account: AccountId = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f".parse().unwrap();
    let other_key = SyncKey::from_bytes([0x55; 32]);
    let foreign = seal_batch_with_nonce(
        &other_key,
        BatchHeader {
            batch_id: BatchId([0xee; 16]),
            account: other_account,
            device: f.a,
            seq: 1,
            prev: Hash32::ZERO,
        },
        &bs.bodies[0],
        nonce(41),
    );
    let mut relabelled = foreign.clone();
    relabelled.account = f.account;
    let mut swapped = a1.clone();
    swapped.device = f.b;
    let mut tampered = a1.clone();
    tampered.ciphertext[3] ^= 0x01;
    let mut future = a1.clone();
    future.format = 2;

    let honest = page(
        vec![pulled(1, a1), pulled(2, a2), pulled(3, b1)],
        3,
        &[(f.a, a2), (f.b, b1)],
        false,
    );
    let verifier = Verifier {
        account: f.account,
        me: f.c,
        key: &f.key,
    };
    let (after_honest, merged) = verifier
        .verify_page(&ChainState::default(), &honest)
        .unwrap();
    assert_eq!(merged.len(), 3);

    // (name, starts from "empty" or "after_honest", page, expected code)
    let scenarios: Vec<(&str, &str, PullPage, &str)> = vec![
        ("honest", "empty", honest.clone(), "ok"),
        (
            "honest_in_two_pages",
            "empty",
            page(
                vec![pulled(1, a1), pulled(2, a2)],
                3,
                &[(f.a, a2), (f.b, b1)],
                true,
            ),
            "ok",
        ),
        (
            "dropped",
            "empty",
            page(
                vec![pulled(1, a1), pulled(3, b1)],
                3,
                &[(f.a, a2), (f.b, b1)],
                true,
            ),
            "sync_withheld",
        ),
        (
            "dropped_without_witness",
            "empty",
            page(vec![pulled(2, a2)], 3, &[(f.a, a2)], true),
            "sync_dropped",
        ),
        (
            "reordered",
            "empty",
            page(vec![pulled(1, a2), pulled(2, a1)], 3, &[(f.a, a2)], true),
            "sync_reordered",
        ),
        (
            "cursor_regressed",
            "empty",
            page(vec![pulled(2, a1), pulled(1, a2)], 3, &[(f.a, a2)], true),
            "sync_reordered",
        ),
        (
            "replayed",
            "after_honest",
            page(vec![pulled(4, a2)], 4, &[(f.a, a2), (f.b, b1)], false),
            "sync_replayed",
        ),
        (
            "rolled_back_head",
            "after_honest",
            page(vec![], 2, &[(f.a, a2), (f.b, b1)], false),
            "sync_rolled_back",
        ),
        (
            "rolled_back_device",
            "after_honest",
            page(vec![], 3, &[(f.a, a1), (f.b, b1)], false),
            "sync_rolled_back",
        ),
        (
            "foreign_account",
            "empty",
            page(vec![pulled(1, &foreign)], 1, &[], false),
            "sync_foreign_account",
        ),
        (
            "swapped_between_accounts",
            "empty",
            page(vec![pulled(1, &relabelled)], 1, &[], false),
            "sync_wrong_key",
        ),
        (
            "swapped_between_devices",
            "empty",
            page(
                vec![pulled(1, &swapped)],
                1,
                &[(f.a, a1), (f.b, &swapped)],
                false,
            ),
            "sync_device_swapped",
        ),
        (
            "tampered",
            "empty",
            page(vec![pulled(1, &tampered)], 1, &[(f.a, &tampered)], false),
            "sync_tampered",
        ),
        (
            "forked_view",
            "empty",
            page(
                vec![pulled(1, a1), pulled(2, a2), pulled(3, &b1_forked_view)],
                3,
                &[(f.a, a2), (f.b, &b1_forked_view)],
                false,
            ),
            "sync_forked",
        ),
        (
            "forked_chain",
            "after_honest",
            page(
                vec![pulled(4, &a2_fork)],
                4,
                &[(f.a, &a2_fork), (f.b, b1)],
                false,
            ),
            "sync_forked",
        ),
        (
            "withheld_by_final_page",
            "empty",
            page(vec![pulled(1, a1)], 3, &[(f.a, a2)], false),
            "sync_withheld",
        ),
        (
            "unsupported_format",
            "empty",
            page(vec![pulled(1, &future)], 1, &[(f.a, &future)], false),
            "sync_unsupported_format",
        ),
        (
            "inconsistent_page",
            "empty",
            PullPage {
                next: 1,
                ..page(vec![pulled(1, a1)], 3, &[(f.a, a1)], false)
            },
            "sync_inconsistent_page",
        ),
        (
            "own_chain_invented",
            "empty",
            page(vec![], 0, &[(f.c, a1)], false),
            "sync_forked",
        ),
    ];
    let mut out = Vec::new();
    for (name, start, pg, expect) in scenarios {
        let state = if start == "empty" {
            ChainState::default()
        } else {
            after_honest.clone()
        };
        let got = match verifier.verify_page(&state, &pg) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code().to_string(),
        };
        assert_eq!(got, expect, "scenario {name}");
        out.push(json!({"name": name, "state": start, "page": pg, "expect": expect}));
    }
    check(
        "integrity.json",
        &json!({
            "description": "The client's checks (docs/sync-protocol.md §6). The verifying device is `me`; key and account from keys.json; batches from batches.json plus forged ones. `state` is either empty or the state after verifying the `honest` page. Verify `page` from `state`: the result is `expect` (an error code) or ok, and nothing from a refused page is merged.",
            "me": f.c,
            "scenarios": out,
        }),
    );
}
