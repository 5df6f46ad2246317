//! What the faster unlock must keep: a large vault (records decrypted on
//! every core, in many batches, the ledger opened on its own thread) is
//! still checked record by record against the integrity ledger before it
//! is reported open; and search, whose index is now built on first use
//! rather than at unlock, finds the same tasks whenever it runs.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use productivitypro_core::domain::{Id, List, Priority, Task};
use productivitypro_core::interchange::Bundle;
use productivitypro_core::order::OrderKey;
use productivitypro_core::vault::{ListPatch, TaskDraft, TaskPatch};
use productivitypro_core::{Filter, Query, Unlock, Vault, View};
use rand::{Rng, SeedableRng};
use support::*;

/// More tasks than one decrypt batch (2048) many times over, and more
/// ledger entries than are indexed on the loading thread (16384).
const LARGE: usize = 20_000;

const WORDS: &[&str] = &[
    "Review", "report", "CALL", "email", "budget", "plan", "Straße", "ÉCOLE", "garden", "tax",
];

fn bundle(n: usize, seed: u64) -> Bundle {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let words = |rng: &mut rand_chacha::ChaCha20Rng, k: usize| {
        (0..k)
            .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lists: Vec<List> = OrderKey::sequence(None, 3)
        .into_iter()
        .enumerate()
        .map(|(i, order)| List {
            id: Id::random(&mut rng),
            name: format!("List {i} {}", words(&mut rng, 1)),
            colour: None,
            order,
            archived: false,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let tasks = OrderKey::sequence(None, n)
        .into_iter()
        .map(|order| {
            let k = rng.gen_range(1..4);
            Task {
                id: Id::random(&mut rng),
                title: words(&mut rng, k),
                notes: if rng.gen_bool(0.3) {
                    words(&mut rng, 5)
                } else {
                    String::new()
                },
                list: rng
                    .gen_bool(0.8)
                    .then(|| lists[rng.gen_range(0..lists.len())].id),
                tags: (0..rng.gen_range(0..2))
                    .map(|_| WORDS[rng.gen_range(0..WORDS.len())].to_lowercase())
                    .collect(),
                priority: Priority::new(rng.gen_range(0..5)).unwrap(),
                due: None,
                recurrence: None,
                parent: None,
                order,
                done: rng.gen_bool(0.3),
                done_at: None,
                created_at: now,
                updated_at: now,
                trashed_at: None,
            }
        })
        .collect();
    Bundle { lists, tasks }
}

/// A large vault, made once per test binary and copied per test.
fn large_vault(dir: &Path) -> String {
    static TEMPLATE: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    let (template, key) = TEMPLATE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let (mut v, key) = quick_vault(tmp.path());
        v.import(bundle(LARGE, 7), false).unwrap();
        drop(v);
        (tmp, key)
    });
    std::fs::create_dir_all(dir).unwrap();
    for f in std::fs::read_dir(template.path()).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
        }
    }
    key.clone()
}

fn open(dir: &Path, key: &str) -> Result<Vault, productivitypro_core::VaultError> {
    Vault::open(dir, &Unlock::recovery_key(key), os_env())
}

/// The ids of task rows in the order SQLite stores them.
fn task_ids(dir: &Path) -> Vec<Vec<u8>> {
    let c = raw(dir);
    let mut st = c
        .prepare("SELECT id FROM records WHERE kind = 'task' ORDER BY rowid")
        .unwrap();
    let ids = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<Vec<u8>>, _>>()
        .unwrap();
    ids
}

fn id_of(bytes: &[u8]) -> Id {
    Id::from_bytes(bytes.try_into().unwrap())
}

#[test]
fn a_large_vault_loads_every_task_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let v = open(tmp.path(), &key).unwrap();
    let expected = bundle(LARGE, 7);
    assert_eq!(v.task_count(), LARGE);
    for t in &expected.tasks {
        let got = v.task(t.id).expect("every imported task is loaded");
        assert_eq!(got.title, t.title);
        assert_eq!(got.notes, t.notes);
        assert_eq!(got.tags, t.tags);
        assert_eq!(got.order, t.order);
    }
}

/// Regression guard (issue 11, point 10) for the parallel load: a row
/// deleted from the last batch is still reported, by id.
#[test]
fn a_row_deleted_from_a_large_vault_is_reported_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let ids = task_ids(tmp.path());
    let gone = ids[ids.len() - 3].clone();
    raw(tmp.path())
        .execute("DELETE FROM records WHERE id = ?1", [&gone])
        .unwrap();
    let err = open(tmp.path(), &key)
        .err()
        .expect("opened without the task");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains(&id_of(&gone).to_string()), "{err}");
}

/// A record edited in a batch in the middle fails the whole load, naming
/// it, even though other workers open their batches fine.
#[test]
fn a_tampered_record_in_a_large_vault_fails_the_load_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let ids = task_ids(tmp.path());
    let bad = ids[ids.len() / 2].clone();
    let c = raw(tmp.path());
    let mut row = read_row(&c, &bad);
    row.ciphertext[3] ^= 1;
    put_row(&c, &row);
    drop(c);
    let err = open(tmp.path(), &key)
        .err()
        .expect("opened a tampered task");
    assert_eq!(err.code(), "record_tampered", "{err}");
    assert!(err.to_string().contains(&id_of(&bad).to_string()), "{err}");
}

/// Every worker failing (a damaged record in every batch) must end the
/// load with an error: the reader must not wait for workers that stopped.
#[test]
fn damage_in_every_batch_ends_the_load_with_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let ids = task_ids(tmp.path());
    let c = raw(tmp.path());
    for id in ids.iter().step_by(500) {
        let mut row = read_row(&c, id);
        row.ciphertext[0] ^= 0x80;
        put_row(&c, &row);
    }
    drop(c);
    let err = open(tmp.path(), &key).err().expect("opened damaged tasks");
    assert_eq!(err.code(), "record_tampered", "{err}");
}

/// Regression guard (point 10): an edited task's older row put back in a
/// large vault is an older version, not the task.
#[test]
fn an_older_row_put_back_in_a_large_vault_is_reported_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let ids = task_ids(tmp.path());
    let target = id_of(&ids[ids.len() - 1]);
    let old = read_row(&raw(tmp.path()), target.as_bytes());
    let mut v = open(tmp.path(), &key).unwrap();
    v.update_task(
        target,
        TaskPatch {
            title: Some("changed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    drop(v);
    put_row(&raw(tmp.path()), &old);
    let err = open(tmp.path(), &key)
        .err()
        .expect("opened the old version");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(err.to_string().contains(&target.to_string()), "{err}");
}

/// The searches compared below: search views and a filter's text, with
/// words in other cases and non-ASCII letters.
fn searches() -> Vec<Query> {
    let mut qs: Vec<Query> = [
        "review",
        "BUDGET plan",
        "straße",
        "école",
        "list 1",
        "nothing",
    ]
    .into_iter()
    .map(|w| Query::view(View::Search(w.into())))
    .collect();
    qs.push(Query {
        view: View::All,
        filter: Filter {
            text: Some("Garden".into()),
            ..Default::default()
        },
        sort: None,
    });
    qs
}

fn results(v: &Vault) -> Vec<Vec<Id>> {
    searches()
        .iter()
        .map(|q| v.query(q).tasks.iter().map(|t| t.id).collect())
        .collect()
}

/// What each search must find, worked out from the tasks alone.
fn brute_force(v: &Vault, words: &[&str]) -> BTreeSet<Id> {
    v.tasks()
        .filter(|t| !t.is_trashed())
        .filter(|t| {
            let list = t
                .list
                .and_then(|l| v.list(l))
                .map(|l| l.name.to_lowercase())
                .unwrap_or_default();
            let hay = format!(
                "{}\n{}\n{}\n{}",
                t.title.to_lowercase(),
                t.notes.to_lowercase(),
                t.tags.iter().cloned().collect::<Vec<_>>().join("\n"),
                list
            );
            words.iter().all(|w| hay.contains(&w.to_lowercase()))
        })
        .map(|t| t.id)
        .collect()
}

#[test]
fn search_before_the_index_is_built_finds_what_search_after_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let key = large_vault(tmp.path());
    let cold = open(tmp.path(), &key).unwrap();
    assert!(!cold.search_ready(), "unlock no longer builds the index");
    let before = results(&cold);
    assert!(cold.search_ready(), "the first search built it");

    let warm = open(tmp.path(), &key).unwrap();
    warm.prepare_search();
    assert!(warm.search_ready());
    assert_eq!(results(&warm), before);
    // And both are complete: every matching task, nothing else.
    let found: BTreeSet<Id> = warm
        .query(&Query::view(View::Search("BUDGET plan".into())))
        .tasks
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(!found.is_empty());
    assert_eq!(found, brute_force(&warm, &["budget", "plan"]));
}

/// Edits before and after the index exists, and a refresh from another
/// process, must all show in search exactly as in a freshly loaded vault.
fn edits_show_in_search(build_index_first: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = quick_vault(tmp.path());
    let list = v.add_list("Errands", None).unwrap();
    let add = |v: &mut Vault, title: &str| {
        v.add_task(TaskDraft {
            title: title.into(),
            list: Some(list.id),
            ..Default::default()
        })
        .unwrap()
    };
    let edited = add(&mut v, "buy milk");
    let removed = add(&mut v, "buy bread");
    drop(v);
    let mut v = open(tmp.path(), &key).unwrap();
    if build_index_first {
        v.prepare_search();
    }
    assert_eq!(v.search_ready(), build_index_first);
    let added = add(&mut v, "buy Äpfel");
    v.update_task(
        edited.id,
        TaskPatch {
            title: Some("buy cheese".into()),
            ..Default::default()
        },
    )
    .unwrap();
    v.trash_tasks(&[removed.id]).unwrap();
    v.empty_trash(None).unwrap();
    v.update_list(
        list.id,
        ListPatch {
            name: Some("Shopping".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // Another process adds a task; this one picks it up by refresh.
    let mut other = open(tmp.path(), &key).unwrap();
    let outside = add(&mut other, "buy Tea");
    drop(other);
    assert!(v.refresh().unwrap());

    let search = |v: &Vault, text: &str| -> BTreeSet<Id> {
        v.query(&Query::view(View::Search(text.into())))
            .tasks
            .iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(search(&v, "äpfel"), BTreeSet::from([added.id]));
    assert_eq!(search(&v, "cheese"), BTreeSet::from([edited.id]));
    assert!(search(&v, "milk").is_empty(), "the old title is gone");
    assert!(search(&v, "bread").is_empty(), "the deleted task is gone");
    assert_eq!(search(&v, "tea"), BTreeSet::from([outside.id]));
    assert!(
        search(&v, "errands").is_empty(),
        "the old list name is gone"
    );
    assert_eq!(
        search(&v, "shopping"),
        BTreeSet::from([added.id, edited.id, outside.id])
    );
    let fresh = open(tmp.path(), &key).unwrap();
    assert_eq!(results(&v), results(&fresh));
}

#[test]
fn edits_before_the_index_is_built_show_in_search() {
    edits_show_in_search(false);
}

#[test]
fn edits_after_the_index_is_built_keep_search_current() {
    edits_show_in_search(true);
}
