//! Proptest strategies for bundles (test-only).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use rand::SeedableRng;

use super::{Bundle, ImportContext};
use crate::domain::{Due, Id, List, Priority, Task};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

pub const TZS: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
];

pub const RULES: &[&str] = &[
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=YEARLY;INTERVAL=2",
    "FREQ=WEEKLY;INTERVAL=2;COUNT=10",
    "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20301231T000000Z",
];

/// Unicode text that leans on the characters formats have to escape.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        8 => any::<char>(),
        4 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        1 => Just('\n'),
        1 => Just('\r'),
        1 => Just('\t'),
        1 => Just(','),
        1 => Just('"'),
        1 => Just(';'),
        1 => Just(':'),
        1 => Just('\\'),
        1 => Just('é'),
        1 => Just('😀'),
    ];
    proptest::collection::vec(ch, 0..max).prop_map(|v| v.into_iter().collect())
}

pub fn title() -> impl Strategy<Value = String> {
    text(60).prop_filter("non-blank", |s| !s.trim().is_empty())
}

pub fn name() -> impl Strategy<Value = String> {
    text(30)
        .prop_map(|s| s.trim().to_string())
        .prop_filter("non-blank", |s| !s.is_empty())
}

pub fn tag() -> impl Strategy<Value = String> {
    "[^\\s@][^\\s]{0,8}"
}

pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

pub fn order_key() -> impl Strategy<Value = OrderKey> {
    "[0-9A-Za-z]{0,4}[1-9A-Za-z]".prop_map(|s| OrderKey::parse(&s).unwrap())
}

pub fn id() -> impl Strategy<Value = Id> {
    any::<[u8; 16]>().prop_map(Id::from_bytes)
}

pub fn due() -> impl Strategy<Value = Due> {
    (
        0i64..47_000,
        proptest::option::of((0u32..24, 0u32..60, 0u32..60)),
        proptest::option::of(0..TZS.len()),
    )
        .prop_map(|(days, time, tz)| {
            let date =
                NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let time = time.map(|(h, m, s)| NaiveTime::from_hms_opt(h, m, s).unwrap());
            let tz = if time.is_some() {
                tz.map(|i| TZS[i].to_string())
            } else {
                None
            };
            Due { date, time, tz }
        })
}

pub fn list() -> impl Strategy<Value = List> {
    (
        id(),
        name(),
        proptest::option::of("#[0-9a-f]{6}"),
        order_key(),
        any::<bool>(),
        timestamp(),
        timestamp(),
    )
        .prop_map(
            |(id, name, colour, order, archived, created_at, updated_at)| List {
                id,
                name,
                colour,
                order,
                archived,
                created_at,
                updated_at,
            },
        )
}

#[allow(clippy::type_complexity)]
fn raw_task() -> impl Strategy<Value = (Task, Option<Index>, Option<Index>)> {
    (
        (
            id(),
            title(),
            text(80),
            proptest::collection::btree_set(tag(), 0..4),
        ),
        (
            0u8..=4,
            proptest::option::of(due()),
            proptest::option::of(0..RULES.len()),
            order_key(),
        ),
        (
            any::<bool>(),
            proptest::option::of(timestamp()),
            timestamp(),
            timestamp(),
        ),
        proptest::option::of(any::<Index>()),
        proptest::option::of(any::<Index>()),
    )
        .prop_map(
            |(
                (id, title, notes, tags),
                (priority, due, rule, order),
                (done, done_at, created_at, updated_at),
                list,
                parent,
            )| {
                let task = Task {
                    id,
                    title,
                    notes,
                    list: None,
                    tags,
                    priority: Priority::new(priority).unwrap(),
                    due,
                    recurrence: rule.map(|i| Recurrence::parse(RULES[i]).unwrap()),
                    parent: None,
                    order,
                    done,
                    done_at,
                    created_at,
                    updated_at,
                    trashed_at: None,
                };
                (task, list, parent)
            },
        )
}

/// Valid bundles: list references resolve, parents resolve without cycles
/// (a parent is drawn from earlier tasks, then the tasks are shuffled).
pub fn bundle() -> impl Strategy<Value = Bundle> {
    (
        proptest::collection::vec(list(), 0..4),
        proptest::collection::vec(raw_task(), 0..8),
    )
        .prop_map(|(lists, raw)| {
            let mut tasks: Vec<Task> = Vec::new();
            for (i, (mut t, l, p)) in raw.into_iter().enumerate() {
                if !lists.is_empty() {
                    t.list = l.map(|ix| lists[ix.index(lists.len())].id);
                }
                if i > 0 {
                    t.parent = p.map(|ix| tasks[ix.index(i)].id);
                }
                tasks.push(t);
            }
            Bundle { lists, tasks }
        })
        .prop_flat_map(|b| {
            let lists = b.lists.clone();
            Just(b.tasks).prop_shuffle().prop_map(move |tasks| Bundle {
                lists: lists.clone(),
                tasks,
            })
        })
}

/// Runs `f` with a deterministic import context.
pub fn with_ctx<T>(f: impl FnOnce(&mut ImportContext) -> T) -> T {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut ctx = ImportContext {
        now: DateTime::parse_from_rfc3339("2026-10-03T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        rng: &mut rng,
        local_tz: chrono_tz::Europe::Berlin,
    };
    f(&mut ctx)
}
