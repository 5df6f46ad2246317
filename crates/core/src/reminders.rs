//! Reminders, as pure logic: given the tasks, the settings, the snoozes,
//! the instant reminders were last checked up to and `now`, which
//! reminders are due now, which were missed (while the app was closed) and
//! when to wake up next. The shell only shows what this returns.
//!
//! - A timed task reminds at `due − lead` (if a lead time is set) and at
//!   its due time (if `at_due`). A zoned time is that instant; a floating
//!   time means the wall clock in the local zone.
//! - An all-day task reminds once, at `all_day_at` local time on its day.
//! - A wall-clock time that does not exist (skipped by a daylight-saving
//!   change) moves forward by the gap (02:30 → 03:30); one that exists
//!   twice means its first occurrence.
//! - Completed and trashed tasks never remind, nor do their snoozes.
//! - A snooze reminds its task once more at its `until`.
//! - Each task reminds at most once per check: several instants of one
//!   task in one window (say lead and due after a long sleep) are one
//!   reminder, the latest.

use std::collections::{BTreeMap, HashMap};

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{Due, Task, TaskId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderSettings {
    /// Remind this long before a timed task is due; `None` or zero: not.
    pub lead: Option<Duration>,
    /// Remind at the due time itself.
    pub at_due: bool,
    /// When on its day an all-day task reminds (local time).
    pub all_day_at: NaiveTime,
    /// A reminder older than this when checked was missed (the app was
    /// closed or asleep) rather than due now.
    pub grace: Duration,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            lead: None,
            at_due: true,
            all_day_at: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time"),
            grace: Duration::minutes(2),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReminderKind {
    /// `lead` before the due time.
    Lead,
    /// A snooze ran out.
    Snoozed,
    /// At the due time (or an all-day task's time of day). Of several
    /// reminders of one task at one instant, this one is shown.
    Due,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub task: TaskId,
    /// When it was meant to be shown.
    pub at: DateTime<Utc>,
    pub kind: ReminderKind,
    /// When the task is due (what the notification says).
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderCheck {
    /// Show now, one per task, soonest first.
    pub due_now: Vec<Reminder>,
    /// Missed while nobody was checking: show once, one per task.
    pub missed: Vec<Reminder>,
    /// The next instant after `now` at which a reminder is due.
    pub next_wake: Option<DateTime<Utc>>,
}

/// The instant a local wall-clock time means in `tz`: a time skipped by a
/// DST gap moves forward by the gap; a repeated one is its first
/// occurrence.
pub fn resolve_local(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Read it with the offset in force before the gap: 02:30 at
            // +01:00 is 01:30Z, which is 03:30 after a one-hour gap.
            let before = tz
                .offset_from_utc_datetime(&(naive - Duration::days(1)))
                .fix();
            (naive - Duration::seconds(before.local_minus_utc() as i64)).and_utc()
        }
    }
}

/// The instant a due date means. A zoned time is in its zone (an unknown
/// zone name is read as local), a floating time in `local`, a date-only
/// due at `all_day_at` in `local`.
pub fn due_instant(due: &Due, local: Tz, all_day_at: NaiveTime) -> DateTime<Utc> {
    match due.time {
        Some(time) => {
            let tz = due
                .tz
                .as_deref()
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(local);
            resolve_local(due.date.and_time(time), tz)
        }
        None => resolve_local(due.date.and_time(all_day_at), local),
    }
}

/// Every instant `task` reminds at (before snoozes), with its due instant.
pub fn instants(
    task: &Task,
    settings: &ReminderSettings,
    local: Tz,
) -> Vec<(ReminderKind, DateTime<Utc>, DateTime<Utc>)> {
    let Some(due) = &task.due else {
        return Vec::new();
    };
    if !task.is_open() {
        return Vec::new();
    }
    let at = due_instant(due, local, settings.all_day_at);
    if due.time.is_none() {
        return vec![(ReminderKind::Due, at, at)];
    }
    let mut v = Vec::with_capacity(2);
    if let Some(lead) = settings.lead.filter(|l| *l > Duration::zero()) {
        v.push((ReminderKind::Lead, at - lead, at));
    }
    if settings.at_due {
        v.push((ReminderKind::Due, at, at));
    }
    v
}

/// Which reminders fall in `(since, now]`, split into due now and missed,
/// and the next one after `now`. `since = None` (never checked) misses
/// nothing: only the last `grace` counts.
pub fn check<'a>(
    tasks: impl IntoIterator<Item = &'a Task>,
    snoozes: &BTreeMap<TaskId, DateTime<Utc>>,
    settings: &ReminderSettings,
    local: Tz,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ReminderCheck {
    let grace = settings.grace.max(Duration::zero());
    let since = since.unwrap_or(now - grace);
    let fresh_after = now - grace;
    let mut due_now: HashMap<TaskId, Reminder> = HashMap::new();
    let mut missed: HashMap<TaskId, Reminder> = HashMap::new();
    let mut next_wake: Option<DateTime<Utc>> = None;
    let mut consider = |r: Reminder| {
        if r.at > now {
            next_wake = Some(next_wake.map_or(r.at, |w| w.min(r.at)));
        } else if r.at > since {
            let bucket = if r.at > fresh_after {
                &mut due_now
            } else {
                &mut missed
            };
            let keep = bucket
                .get(&r.task)
                .is_none_or(|old| (r.at, r.kind) > (old.at, old.kind));
            if keep {
                bucket.insert(r.task, r);
            }
        }
    };
    for t in tasks {
        let list = instants(t, settings, local);
        let due_at = list.first().map(|(_, _, d)| *d);
        for (kind, at, due_at) in list {
            consider(Reminder {
                task: t.id,
                at,
                kind,
                due_at,
            });
        }
        if let (Some(until), true) = (snoozes.get(&t.id), t.is_open()) {
            let due_at = due_at.or_else(|| {
                t.due
                    .as_ref()
                    .map(|d| due_instant(d, local, settings.all_day_at))
            });
            consider(Reminder {
                task: t.id,
                at: *until,
                kind: ReminderKind::Snoozed,
                due_at: due_at.unwrap_or(*until),
            });
        }
    }
    // A task shown now is not also listed as missed.
    missed.retain(|id, _| !due_now.contains_key(id));
    let sorted = |m: HashMap<TaskId, Reminder>| {
        let mut v: Vec<Reminder> = m.into_values().collect();
        v.sort_by(|a, b| a.at.cmp(&b.at).then(a.task.cmp(&b.task)));
        v
    };
    ReminderCheck {
        due_now: sorted(due_now),
        missed: sorted(missed),
        next_wake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Id, Priority};
    use crate::order::OrderKey;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn task(n: u8, due: Option<Due>) -> Task {
        let now = utc(2026, 1, 1, 0, 0);
        Task {
            id: Id::from_bytes([n; 16]),
            title: format!("t{n}"),
            notes: String::new(),
            list: None,
            tags: Default::default(),
            priority: Priority::NONE,
            due,
            recurrence: None,
            parent: None,
            order: OrderKey::first(),
            done: false,
            done_at: None,
            created_at: now,
            updated_at: now,
            trashed_at: None,
        }
    }

    fn timed(y: i32, m: u32, d: u32, h: u32, min: u32, tz: Option<&str>) -> Due {
        Due {
            date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            time: NaiveTime::from_hms_opt(h, min, 0),
            tz: tz.map(str::to_string),
        }
    }

    fn lead(min: i64) -> ReminderSettings {
        ReminderSettings {
            lead: Some(Duration::minutes(min)),
            ..Default::default()
        }
    }

    #[test]
    fn a_timed_task_reminds_at_lead_and_at_due() {
        let t = task(1, Some(timed(2026, 6, 1, 10, 0, None)));
        let s = lead(15);
        // Berlin is UTC+2 in June: 10:00 local is 08:00Z.
        let c = check(
            [&t],
            &BTreeMap::new(),
            &s,
            BERLIN,
            Some(utc(2026, 6, 1, 7, 40)),
            utc(2026, 6, 1, 7, 45),
        );
        assert_eq!(c.due_now.len(), 1);
        assert_eq!(c.due_now[0].kind, ReminderKind::Lead);
        assert_eq!(c.due_now[0].at, utc(2026, 6, 1, 7, 45));
        assert_eq!(c.due_now[0].due_at, utc(2026, 6, 1, 8, 0));
        assert_eq!(c.next_wake, Some(utc(2026, 6, 1, 8, 0)));
        let c = check(
            [&t],
            &BTreeMap::new(),
            &s,
            BERLIN,
            Some(utc(2026, 6, 1, 7, 45)),
            utc(2026, 6, 1, 8, 0),
        );
        assert_eq!(c.due_now[0].kind, ReminderKind::Due);
        assert_eq!(c.next_wake, None);
        // The same window again shows nothing.
        let c = check(
            [&t],
            &BTreeMap::new(),
            &s,
            BERLIN,
            Some(utc(2026, 6, 1, 8, 0)),
            utc(2026, 6, 1, 8, 0),
        );
        assert!(c.due_now.is_empty() && c.missed.is_empty());
    }

    #[test]
    fn all_day_tasks_remind_at_the_configured_time_without_lead() {
        let t = task(
            1,
            Some(Due::date(NaiveDate::from_ymd_opt(2026, 1, 10).unwrap())),
        );
        let s = ReminderSettings {
            all_day_at: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            ..lead(60)
        };
        // 08:30 in Berlin winter is 07:30Z; the lead does not apply.
        let c = check(
            [&t],
            &BTreeMap::new(),
            &s,
            BERLIN,
            Some(utc(2026, 1, 10, 6, 0)),
            utc(2026, 1, 10, 7, 0),
        );
        assert!(c.due_now.is_empty());
        assert_eq!(c.next_wake, Some(utc(2026, 1, 10, 7, 30)));
    }

    #[test]
    fn zoned_times_are_their_instant_and_floating_times_follow_the_local_zone() {
        let zoned = task(1, Some(timed(2026, 1, 10, 9, 0, Some("America/New_York"))));
        let floating = task(2, Some(timed(2026, 1, 10, 9, 0, None)));
        let s = ReminderSettings::default();
        let tokyo: Tz = chrono_tz::Asia::Tokyo;
        let next = |t: &Task, tz| {
            check(
                [t],
                &BTreeMap::new(),
                &s,
                tz,
                Some(utc(2026, 1, 1, 0, 0)),
                utc(2026, 1, 1, 0, 0),
            )
            .next_wake
            .unwrap()
        };
        assert_eq!(next(&zoned, BERLIN), utc(2026, 1, 10, 14, 0));
        assert_eq!(next(&zoned, tokyo), utc(2026, 1, 10, 14, 0));
        assert_eq!(next(&floating, BERLIN), utc(2026, 1, 10, 8, 0));
        assert_eq!(next(&floating, tokyo), utc(2026, 1, 10, 0, 0));
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_the_first() {
        // Berlin 2026-03-29: 02:00 → 03:00. 02:30 does not exist.
        let gap = due_instant(&timed(2026, 3, 29, 2, 30, None), BERLIN, NaiveTime::MIN);
        assert_eq!(gap, utc(2026, 3, 29, 1, 30));
        assert_eq!(
            gap.with_timezone(&BERLIN).format("%H:%M").to_string(),
            "03:30"
        );
        // Berlin 2026-10-25: 03:00 → 02:00. 02:30 exists twice (00:30Z and 01:30Z).
        let overlap = due_instant(&timed(2026, 10, 25, 2, 30, None), BERLIN, NaiveTime::MIN);
        assert_eq!(overlap, utc(2026, 10, 25, 0, 30));
    }

    #[test]
    fn reminders_missed_while_closed_are_shown_once_per_task() {
        let a = task(1, Some(timed(2026, 6, 1, 10, 0, None)));
        let b = task(
            2,
            Some(Due::date(NaiveDate::from_ymd_opt(2026, 6, 2).unwrap())),
        );
        let c_ = task(3, Some(timed(2026, 6, 9, 10, 0, None)));
        let s = lead(30);
        // Closed from May 31 to June 5.
        let c = check(
            [&a, &b, &c_],
            &BTreeMap::new(),
            &s,
            BERLIN,
            Some(utc(2026, 5, 31, 0, 0)),
            utc(2026, 6, 5, 12, 0),
        );
        assert!(c.due_now.is_empty());
        assert_eq!(c.missed.len(), 2, "{:?}", c.missed);
        assert_eq!(c.missed[0].task, a.id);
        assert_eq!(
            c.missed[0].kind,
            ReminderKind::Due,
            "the latest of lead and due"
        );
        assert_eq!(c.missed[1].task, b.id);
        assert_eq!(c.next_wake, Some(utc(2026, 6, 9, 7, 30)));
        // Never checked before: nothing counts as missed.
        let c = check(
            [&a, &b],
            &BTreeMap::new(),
            &s,
            BERLIN,
            None,
            utc(2026, 6, 5, 12, 0),
        );
        assert!(c.missed.is_empty() && c.due_now.is_empty());
    }

    #[test]
    fn completed_and_trashed_tasks_and_their_snoozes_stay_quiet() {
        let mut done = task(1, Some(timed(2026, 6, 1, 10, 0, None)));
        done.done = true;
        let mut trashed = task(2, Some(timed(2026, 6, 1, 10, 0, None)));
        trashed.trashed_at = Some(utc(2026, 5, 1, 0, 0));
        let snoozes: BTreeMap<_, _> = [
            (done.id, utc(2026, 6, 1, 8, 5)),
            (trashed.id, utc(2026, 6, 1, 8, 5)),
        ]
        .into();
        let c = check(
            [&done, &trashed],
            &snoozes,
            &lead(10),
            BERLIN,
            Some(utc(2026, 6, 1, 0, 0)),
            utc(2026, 6, 1, 9, 0),
        );
        assert_eq!(c, ReminderCheck::default());
    }

    #[test]
    fn a_snooze_reminds_again_at_its_end() {
        let t = task(1, Some(timed(2026, 6, 1, 10, 0, None)));
        let snoozes: BTreeMap<_, _> = [(t.id, utc(2026, 6, 1, 8, 10))].into();
        let s = ReminderSettings::default();
        let c = check(
            [&t],
            &snoozes,
            &s,
            BERLIN,
            Some(utc(2026, 6, 1, 8, 0)),
            utc(2026, 6, 1, 8, 1),
        );
        assert!(c.due_now.is_empty());
        assert_eq!(c.next_wake, Some(utc(2026, 6, 1, 8, 10)));
        let c = check(
            [&t],
            &snoozes,
            &s,
            BERLIN,
            Some(utc(2026, 6, 1, 8, 1)),
            utc(2026, 6, 1, 8, 10),
        );
        assert_eq!(c.due_now[0].kind, ReminderKind::Snoozed);
        assert_eq!(c.due_now[0].due_at, utc(2026, 6, 1, 8, 0));
    }

    proptest! {
        /// Checking in steps never shows a reminder twice and never loses
        /// one: the union of consecutive windows is the one big window.
        #[test]
        fn consecutive_checks_partition_the_reminders(
            offsets in proptest::collection::vec(0i64..3000, 1..12),
            steps in proptest::collection::vec(1i64..400, 1..20),
            lead_min in 0i64..120,
        ) {
            let start = utc(2026, 3, 28, 12, 0);
            // Around the 2026-03-29 DST change, so gaps are crossed too.
            let tasks: Vec<Task> = offsets.iter().enumerate().map(|(i, off)| {
                let at = (start + Duration::minutes(*off)).with_timezone(&BERLIN).naive_local();
                task(i as u8, Some(Due { date: at.date(), time: Some(at.time()), tz: None }))
            }).collect();
            let s = ReminderSettings { grace: Duration::zero(), ..lead(lead_min) };
            let mut since = start;
            let mut seen: Vec<(TaskId, DateTime<Utc>)> = Vec::new();
            for step in &steps {
                let now = since + Duration::minutes(*step);
                let c = check(tasks.iter(), &BTreeMap::new(), &s, BERLIN, Some(since), now);
                for r in c.due_now.iter().chain(&c.missed) {
                    prop_assert!(r.at > since && r.at <= now);
                    seen.push((r.task, r.at));
                }
                if let Some(w) = c.next_wake { prop_assert!(w > now); }
                since = now;
            }
            // Every task with an instant in the whole window was shown.
            for t in &tasks {
                let any = instants(t, &s, BERLIN).iter().any(|(_, at, _)| *at > start && *at <= since);
                prop_assert_eq!(any, seen.iter().any(|(id, _)| *id == t.id));
            }
        }
    }
}
