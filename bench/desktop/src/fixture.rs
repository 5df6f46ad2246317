//! The vaults the app opens: an empty one and one of 10k tasks, each with
//! a keyring slot, so the app unlocks at start as it does for a person
//! (the harness runs inside `scripts/with-keyring`).

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{NaiveTime, TimeZone, Utc};
use productivitypro_core::interchange::Bundle;
use productivitypro_core::profile::EnvVars;
use productivitypro_core::vault::{CreateOptions, KeyringChoice};
use productivitypro_core::{Due, Id, OrderKey, Priority, Task, Vault};
use rand::{Rng, SeedableRng};

/// The keyring service and time zone the vaults are made with; the app
/// gets the same through its environment.
pub const KEYRING_SERVICE: &str = "ProductivityPro-bench";
pub const TZ: &str = "Europe/Berlin";

const WORDS: [&str; 30] = [
    "call", "email", "review", "report", "buy", "milk", "plan", "trip", "fix", "bug", "write",
    "notes", "pay", "rent", "book", "dentist", "draft", "budget", "clean", "garage", "renew",
    "passport", "order", "gift", "prepare", "slides", "meeting", "team", "update", "docs",
];
const TAGS: [&str; 6] = ["home", "work", "errand", "waiting", "phone", "computer"];

/// Creates a vault in `dir` with a keyring slot and `tasks` open tasks.
pub fn vault(dir: &Path, tasks: usize) -> Result<()> {
    let vars = EnvVars {
        keyring_service: Some(KEYRING_SERVICE.into()),
        tz: Some(TZ.into()),
        ..Default::default()
    };
    let tz = vars.local_tz(None)?;
    let created = Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Required,
            passphrase: None,
        },
        vars.system_env(tz),
    )
    .context("creating a bench vault (no keyring? run inside scripts/with-keyring)")?;
    let mut vault = created.vault;
    if tasks > 0 {
        vault
            .import(bundle(tasks, 7), false)
            .context("importing the bench tasks")?;
    }
    Ok(())
}

fn words(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// `n` open tasks shaped like a person's: titles of 2–8 words, notes on
/// 30%, 0–2 tags, a due date on 35% (a time on 30% of those) from ten days
/// overdue to a month ahead, any priority. All in the Inbox — the view
/// the app opens on — so start-up and switching to it handle all of them
/// (the worst case).
pub fn bundle(n: usize, seed: u64) -> Bundle {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let created = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let today = Utc::now().date_naive();
    let tasks = (0..n)
        .map(|_| {
            let title_len = rng.gen_range(2..=8);
            let title = words(&mut rng, title_len);
            let notes = if rng.gen_bool(0.3) {
                let k = rng.gen_range(5..=40);
                words(&mut rng, k)
            } else {
                String::new()
            };
            let due = rng.gen_bool(0.35).then(|| Due {
                date: today + chrono::Duration::days(rng.gen_range(-10..30)),
                time: rng
                    .gen_bool(0.3)
                    .then(|| NaiveTime::from_hms_opt(rng.gen_range(7..20), 0, 0).unwrap()),
                tz: None,
            });
            let tag_count = rng.gen_range(0..=2);
            let tags = (0..tag_count)
                .map(|_| TAGS[rng.gen_range(0..TAGS.len())].to_string())
                .collect();
            Task {
                id: Id::random(&mut rng),
                title,
                notes,
                list: None,
                tags,
                priority: Priority::new(rng.gen_range(0..5)).unwrap(),
                due,
                recurrence: None,
                parent: None,
                order: OrderKey::first(),
                done: false,
                done_at: None,
                created_at: created,
                updated_at: created,
                trashed_at: None,
            }
        })
        .collect();
    Bundle {
        lists: Vec::new(),
        tasks,
    }
}
