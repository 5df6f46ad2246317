//! Vault benchmark: builds vaults of 1k, 10k and 100k realistic tasks and
//! prints unlock+load, durable add (median, p99) and search times, next to
//! the same operations on a plaintext SQLite table with the same schema.
//!
//! `cargo bench -p productivitypro-core --bench vault [-- SIZES]`
//! e.g. `-- 1000,10000`. Prints a Markdown table; numbers, not assertions.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use productivitypro_core::domain::{Due, Id, List, Priority, Task};
use productivitypro_core::interchange::Bundle;
use productivitypro_core::order::OrderKey;
use productivitypro_core::vault::TaskDraft;
use productivitypro_core::{
    schema, CreateOptions, Env, Filter, FixedClock, KeyringChoice, Query, Sort, Unlock, Vault, View,
};
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

const WORDS: &[&str] = &[
    "review",
    "report",
    "call",
    "email",
    "budget",
    "plan",
    "draft",
    "fix",
    "invoice",
    "meeting",
    "garden",
    "groceries",
    "dentist",
    "renew",
    "passport",
    "quarterly",
    "slides",
    "deploy",
    "backup",
    "laptop",
    "birthday",
    "gift",
    "flight",
    "hotel",
    "book",
    "read",
    "chapter",
    "tax",
    "return",
    "insurance",
    "car",
    "service",
    "school",
    "form",
    "pay",
    "rent",
    "water",
    "plants",
    "team",
    "sync",
    "roadmap",
    "hire",
    "interview",
    "notes",
    "write",
    "blog",
    "post",
    "update",
];

fn env(seed: u64) -> Env {
    Env {
        clock: Box::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-bench".into(),
    }
}

fn sentence(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let n = rng.gen_range(min..=max);
    (0..n)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tasks shaped like a real person's: short titles, some notes, a few
/// tags, a third with due dates, some subtasks, spread over 12 lists.
fn realistic(n: usize, seed: u64) -> Bundle {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let lists: Vec<List> = OrderKey::sequence(None, 12)
        .into_iter()
        .enumerate()
        .map(|(i, order)| List {
            id: Id::random(&mut rng),
            name: format!("List {i} {}", sentence(&mut rng, 1, 2)),
            colour: Some(format!("#{:06x}", rng.gen_range(0..0xffffff))),
            order,
            archived: false,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let mut tasks: Vec<Task> = Vec::with_capacity(n);
    for (i, order) in OrderKey::sequence(None, n).into_iter().enumerate() {
        let notes = if rng.gen_bool(0.3) {
            sentence(&mut rng, 5, 40)
        } else {
            String::new()
        };
        let tags = (0..rng.gen_range(0..3))
            .map(|_| WORDS[rng.gen_range(0..WORDS.len())].to_string())
            .collect();
        let due = rng.gen_bool(0.35).then(|| Due {
            date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                + chrono::Duration::days(rng.gen_range(0..700)),
            time: rng
                .gen_bool(0.3)
                .then(|| chrono::NaiveTime::from_hms_opt(rng.gen_range(7..20), 0, 0).unwrap()),
            tz: None,
        });
        let parent = (i > 10 && rng.gen_bool(0.1)).then(|| tasks[rng.gen_range(0..i)].id);
        let done = rng.gen_bool(0.4);
        tasks.push(Task {
            id: Id::random(&mut rng),
            title: sentence(&mut rng, 2, 8),
            notes,
            list: Some(lists[rng.gen_range(0..lists.len())].id),
            tags,
            priority: Priority::new(rng.gen_range(0..5)).unwrap(),
            due,
            recurrence: None,
            parent,
            order,
            done,
            done_at: done.then_some(now),
            created_at: now,
            updated_at: now,
            trashed_at: None,
        });
    }
    Bundle { lists, tasks }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(v: &mut [Duration]) -> Duration {
    v.sort();
    v[((v.len() as f64 * 0.99).ceil() as usize).min(v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// The plaintext baseline: the vault's own schema, with the JSON payload
/// stored where the ciphertext goes, and the same in-memory model.
struct Plain {
    conn: Connection,
}

impl Plain {
    fn create(path: &Path, bundle: &Bundle) -> Plain {
        let mut conn = Connection::open(path).unwrap();
        schema::configure(&conn).unwrap();
        schema::migrate_to(&mut conn, schema::CURRENT_VERSION).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx
                .prepare("INSERT INTO records (kind, id, format, key_id, nonce, ciphertext, changed_seq) VALUES ('task', ?1, 1, x'', x'', ?2, 1)")
                .unwrap();
            for t in &bundle.tasks {
                st.execute(rusqlite::params![
                    t.id.as_bytes().as_slice(),
                    serde_json::to_vec(t).unwrap()
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
        Plain { conn }
    }

    fn open(path: &Path) -> (Plain, HashMap<Id, (Task, String)>) {
        let conn = Connection::open(path).unwrap();
        schema::configure(&conn).unwrap();
        let mut map = HashMap::new();
        {
            let mut st = conn
                .prepare(
                    "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq FROM records",
                )
                .unwrap();
            let mut rows = st.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let json: Vec<u8> = r.get(5).unwrap();
                let t: Task = serde_json::from_slice(&json).unwrap();
                let hay = format!(
                    "{}\n{}\n{}",
                    t.title.to_lowercase(),
                    t.notes.to_lowercase(),
                    t.tags.iter().cloned().collect::<Vec<_>>().join("\n")
                );
                map.insert(t.id, (t, hay));
            }
        }
        (Plain { conn }, map)
    }

    fn add(&mut self, t: &Task) {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let seq: i64 = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'change_seq'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0)
            + 1;
        tx.execute(
            "INSERT INTO records (kind, id, format, key_id, nonce, ciphertext, changed_seq) VALUES ('task', ?1, 1, x'', x'', ?2, ?3)",
            rusqlite::params![t.id.as_bytes().as_slice(), serde_json::to_vec(t).unwrap(), seq],
        )
        .unwrap();
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('change_seq', ?1)",
            [seq],
        )
        .unwrap();
        tx.commit().unwrap();
    }
}

struct Row {
    n: usize,
    load: Duration,
    search_ready: Duration,
    load_plain: Duration,
    add_med: Duration,
    add_p99: Duration,
    add_plain_med: Duration,
    add_plain_p99: Duration,
    search: Duration,
    search_plain_mem: Duration,
    search_plain_sql: Duration,
    db_bytes: u64,
    /// (what, median) per query.
    queries: Vec<(&'static str, Duration)>,
    undo: Duration,
    history_state: Duration,
    poll: Duration,
    refresh: Duration,
}

/// The views, filters and sorts the app asks for, each timed (median of
/// `rounds`), with the result size so a figure is not for an empty view.
fn time_queries(v: &Vault, rounds: usize) -> Vec<(&'static str, Duration)> {
    let list = v.lists()[0].id;
    let due = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d);
    let q = |view, filter, sort| Query { view, filter, sort };
    let cases: Vec<(&'static str, Query)> = vec![
        ("today", q(View::Today, Filter::default(), None)),
        (
            "upcoming 14 d",
            q(View::Upcoming { days: 14 }, Filter::default(), None),
        ),
        (
            "list (manual)",
            q(View::List(list), Filter::default(), None),
        ),
        (
            "tag",
            q(View::Tag("report".into()), Filter::default(), None),
        ),
        (
            "all by due",
            q(View::All, Filter::default(), Some(Sort::Due)),
        ),
        (
            "all by priority",
            q(View::All, Filter::default(), Some(Sort::Priority)),
        ),
        ("completed", q(View::Done, Filter::default(), None)),
        (
            "search 2 words",
            q(
                View::Search("quarterly slides".into()),
                Filter::default(),
                None,
            ),
        ),
        (
            "list+tag+priority+due+text",
            q(
                View::All,
                Filter {
                    list: Some(list),
                    tag: Some("plan".into()),
                    priority: Some(productivitypro_core::Priority::new(1).unwrap()),
                    due_after: due(1),
                    due_before: due(31),
                    text: Some("a".into()),
                },
                Some(Sort::Due),
            ),
        ),
    ];
    let mut out = Vec::new();
    for (name, query) in cases {
        let mut times: Vec<Duration> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                let n = v.query(&query).tasks.len();
                let d = t.elapsed();
                std::hint::black_box(n);
                d
            })
            .collect();
        out.push((name, median(&mut times)));
    }
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box((
                v.sidebar_counts(14),
                v.tags().len(),
                v.list_open_counts().len(),
            ));
            t.elapsed()
        })
        .collect();
    out.push(("sidebar counts + tags + list counts", median(&mut times)));
    out
}

fn bench(n: usize, adds: usize) -> Row {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let bundle = realistic(n, n as u64);
    let created = Vault::create(
        &dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        env(1),
    )
    .unwrap();
    let key = created.recovery_key.display_text().to_string();
    let mut v = created.vault;
    v.import(bundle.clone(), false).unwrap();
    drop(v);
    let plain_path = tmp.path().join("plain.db");
    drop(Plain::create(&plain_path, &bundle));

    let runs = if n >= 100_000 { 5 } else { 11 };
    let unlock = Unlock::recovery_key(key);
    // Unlock+load is what the user waits for until the task list can be
    // shown; the search index is built after it (the desktop app does so
    // after the first paint), so "search ready" is unlock+load plus
    // building the index, timed from the same start.
    let (mut loads, mut search_ready): (Vec<Duration>, Vec<Duration>) = (0..runs)
        .map(|i| {
            let t = Instant::now();
            let v = Vault::open(&dir, &unlock, env(10 + i as u64)).unwrap();
            let d = t.elapsed();
            v.prepare_search();
            let ready = t.elapsed();
            assert_eq!(v.task_count(), n);
            (d, ready)
        })
        .unzip();
    let mut plain_loads: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let (_, m) = Plain::open(&plain_path);
            let d = t.elapsed();
            assert_eq!(m.len(), n);
            d
        })
        .collect();

    // Durable adds (each its own committed, fsynced transaction),
    // interleaved so both stores see the same disk conditions.
    let mut v = Vault::open(&dir, &unlock, env(99)).unwrap();
    let (mut p, pmap) = Plain::open(&plain_path);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut add_times = Vec::with_capacity(adds);
    let mut plain_times = Vec::with_capacity(adds);
    for _ in 0..adds {
        let title = sentence(&mut rng, 2, 8);
        let t0 = Instant::now();
        let t = v
            .add_task(TaskDraft {
                title: title.clone(),
                ..Default::default()
            })
            .unwrap();
        add_times.push(t0.elapsed());
        let t1 = Instant::now();
        p.add(&t);
        plain_times.push(t1.elapsed());
    }

    // Steady-state search: the index exists (its build is "search ready").
    v.prepare_search();
    let queries = ["report", "quarterly slides", "zzz-no-match", "pay rent"];
    let mut search_times = Vec::new();
    let mut plain_mem = Vec::new();
    let mut plain_sql = Vec::new();
    for _ in 0..5 {
        for q in queries {
            let t = Instant::now();
            let hits = v.search(q).len();
            search_times.push(t.elapsed());
            let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
            let t = Instant::now();
            let plain_hits = pmap
                .values()
                .filter(|(_, h)| terms.iter().all(|x| h.contains(x.as_str())))
                .count();
            plain_mem.push(t.elapsed());
            std::hint::black_box((hits, plain_hits));
            let t = Instant::now();
            let like = format!("%{}%", terms[0]);
            let c: i64 = p
                .conn
                .query_row(
                    "SELECT count(*) FROM records WHERE lower(CAST(ciphertext AS TEXT)) LIKE ?1",
                    [like],
                    |r| r.get(0),
                )
                .unwrap();
            plain_sql.push(t.elapsed());
            std::hint::black_box(c);
        }
    }
    let db_bytes = std::fs::metadata(dir.join("vault.db")).unwrap().len();
    let queries = time_queries(&v, if n >= 100_000 { 7 } else { 21 });

    // Undo of an add (reads, decrypts and applies the entry; one commit).
    v.set_history_session("bench").unwrap();
    let mut undos: Vec<Duration> = (0..50)
        .map(|i| {
            v.add_task(TaskDraft {
                title: format!("undo me {i}"),
                ..Default::default()
            })
            .unwrap();
            let t = Instant::now();
            v.undo().unwrap();
            t.elapsed()
        })
        .collect();

    // The undo/redo labels, which the app asks for after every change:
    // each checked against the committed tops of the stacks.
    let mut labels: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(v.history_state().unwrap());
            t.elapsed()
        })
        .collect();

    // A second process adds one task; this one notices and reloads it.
    let mut other = Vault::open(&dir, &unlock, env(98)).unwrap();
    let mut polls = Vec::new();
    let mut refreshes = Vec::new();
    for i in 0..50 {
        other
            .add_task(TaskDraft {
                title: format!("from elsewhere {i}"),
                ..Default::default()
            })
            .unwrap();
        let t = Instant::now();
        assert!(v.has_outside_changes().unwrap());
        polls.push(t.elapsed());
        let t = Instant::now();
        assert!(v.refresh().unwrap());
        refreshes.push(t.elapsed());
        v.take_changes();
    }
    Row {
        n,
        load: median(&mut loads),
        search_ready: median(&mut search_ready),
        load_plain: median(&mut plain_loads),
        add_med: median(&mut add_times),
        add_p99: p99(&mut add_times),
        add_plain_med: median(&mut plain_times),
        add_plain_p99: p99(&mut plain_times),
        search: median(&mut search_times),
        search_plain_mem: median(&mut plain_mem),
        search_plain_sql: median(&mut plain_sql),
        db_bytes,
        queries,
        undo: median(&mut undos),
        history_state: median(&mut labels),
        poll: median(&mut polls),
        refresh: median(&mut refreshes),
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let adds = 1000;

    // The passphrase slot's Argon2id cost, paid once per unlock on top of
    // the load figures below (which unlock through the recovery slot, as
    // fast as the keyring slot minus its D-Bus round trip).
    let tmp = tempfile::tempdir().unwrap();
    let created = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: Some(zeroize::Zeroizing::new("bench passphrase".into())),
        },
        env(2),
    )
    .unwrap();
    drop(created);
    let mut argon: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            Vault::open(tmp.path(), &Unlock::passphrase("bench passphrase"), env(3)).unwrap();
            t.elapsed()
        })
        .collect();
    println!(
        "passphrase unlock of an empty vault (Argon2id 64 MiB, t=3, p=1): median {} ms",
        ms(median(&mut argon))
    );
    println!();
    println!("| tasks | unlock+load (ms) | search ready (ms) | plaintext load (ms) | add median / p99 (ms) | plaintext add median / p99 (ms) | add ratio (median, p99) | search (ms) | plaintext search in memory / SQL LIKE (ms) | vault file (MB) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for n in sizes {
        let r = bench(n, adds);
        println!(
            "| {} | {} | {} | {} | {} / {} | {} / {} | {:.2}, {:.2} | {} | {} / {} | {:.1} |",
            r.n,
            ms(r.load),
            ms(r.search_ready),
            ms(r.load_plain),
            ms(r.add_med),
            ms(r.add_p99),
            ms(r.add_plain_med),
            ms(r.add_plain_p99),
            r.add_med.as_secs_f64() / r.add_plain_med.as_secs_f64(),
            r.add_p99.as_secs_f64() / r.add_plain_p99.as_secs_f64(),
            ms(r.search),
            ms(r.search_plain_mem),
            ms(r.search_plain_sql),
            r.db_bytes as f64 / 1e6,
        );
        rows.push(r);
    }
    println!();
    print!("| query (median ms) |");
    for r in &rows {
        print!(" {} tasks |", r.n);
    }
    println!();
    print!("|---|");
    for _ in &rows {
        print!("---:|");
    }
    println!();
    if let Some(first) = rows.first() {
        for (i, (name, _)) in first.queries.iter().enumerate() {
            print!("| {name} |");
            for r in &rows {
                print!(" {} |", ms(r.queries[i].1));
            }
            println!();
        }
        for (name, get) in [
            ("undo of an add", (|r: &Row| r.undo) as fn(&Row) -> Duration),
            ("undo/redo labels (history_state)", |r: &Row| {
                r.history_state
            }),
            ("poll for outside changes", |r: &Row| r.poll),
            ("refresh after 1 outside add", |r: &Row| r.refresh),
        ] {
            print!("| {name} |");
            for r in &rows {
                print!(" {} |", ms(get(r)));
            }
            println!();
        }
    }
}
