//! Queued events → the reports the service takes: one per (version,
//! channel), at most `MAX_EVENTS` events each, each with the token issued
//! for that version. `preview` is the "what is sent" view: the exact
//! bodies that would go out now, with the token shown as what it is.

use productivitypro_protocol::telemetry::{TelemetryEvent, TelemetryReport, MAX_EVENTS};
use productivitypro_protocol::{Arch, BundleType, Channel, Os};
use uuid::Uuid;

use crate::queue::Queued;

/// What identifies this install in a report: a random id and the artifact
/// it runs. Nothing else about the machine is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    pub id: Uuid,
    pub os: Os,
    pub arch: Arch,
    pub bundle_type: Option<BundleType>,
}

/// Events of one version and channel, not yet carrying a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub version: String,
    pub channel: Channel,
    pub events: Vec<Queued>,
}

impl Draft {
    pub fn report(&self, install: &Install, token: String) -> TelemetryReport {
        TelemetryReport {
            install_id: install.id,
            version: self.version.clone(),
            channel: self.channel,
            os: install.os,
            arch: install.arch,
            bundle_type: install.bundle_type,
            token,
            events: self
                .events
                .iter()
                .map(|e| TelemetryEvent {
                    kind: e.kind,
                    at: e.at,
                })
                .collect(),
        }
    }
}

/// Groups events (oldest first within a group), in the order each
/// (version, channel) first appears.
pub fn drafts(events: &[Queued]) -> Vec<Draft> {
    let mut groups: Vec<Draft> = Vec::new();
    for e in events {
        match groups.iter_mut().find(|g| {
            g.version == e.version && g.channel == e.channel && g.events.len() < MAX_EVENTS
        }) {
            Some(g) => g.events.push(e.clone()),
            None => groups.push(Draft {
                version: e.version.clone(),
                channel: e.channel,
                events: vec![e.clone()],
            }),
        }
    }
    groups
}

/// What would be sent now, as JSON bodies (the "what is sent" view lists
/// these fields and values). The token is not a secret but means nothing
/// to a reader, so it is shown as a label.
pub fn preview(install: &Install, events: &[Queued]) -> Vec<serde_json::Value> {
    drafts(events)
        .iter()
        .map(|d| {
            // A derived Serialize of plain fields (the protocol's closed
            // report) cannot fail.
            serde_json::to_value(d.report(install, "(issued by the update service)".into()))
                .expect("report serialises")
        })
        .collect()
}

/// One report as this install would send it now, carrying a single
/// `session_start`: the "what is sent" view lists its fields even while
/// nothing is queued.
pub fn example(
    install: &Install,
    version: &str,
    channel: Channel,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let one = Queued {
        kind: productivitypro_protocol::telemetry::EventKind::SessionStart,
        at: now,
        version: version.to_string(),
        channel,
    };
    preview(install, &[one])
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use productivitypro_protocol::telemetry::{EventKind, MAX_BODY_BYTES};

    fn install() -> Install {
        Install {
            id: Uuid::from_u128(0x6f1c1f5e_0d0c_4a8e_9d59_3b2f3c1a7e10),
            os: Os::Linux,
            arch: Arch::X86_64,
            bundle_type: Some(BundleType::Deb),
        }
    }

    fn ev(kind: EventKind, min: i64, version: &str, channel: Channel) -> Queued {
        let base: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
        Queued {
            kind,
            at: base + Duration::minutes(min),
            version: version.into(),
            channel,
        }
    }

    #[test]
    fn one_report_per_version_and_channel_and_never_more_than_the_service_takes() {
        let mut events = vec![
            ev(EventKind::SessionStart, 0, "1.2.0", Channel::Beta),
            ev(EventKind::UpdateInstalled, 1, "1.3.0", Channel::Beta),
            ev(EventKind::Crash, 2, "1.2.0", Channel::Beta),
            ev(EventKind::SessionStart, 3, "1.3.0", Channel::Canary),
        ];
        events.extend(
            (0..MAX_EVENTS as i64 + 5)
                .map(|i| ev(EventKind::Crash, 10 + i, "1.3.0", Channel::Canary)),
        );
        let d = drafts(&events);
        let shape: Vec<(&str, Channel, usize)> = d
            .iter()
            .map(|g| (g.version.as_str(), g.channel, g.events.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("1.2.0", Channel::Beta, 2),
                ("1.3.0", Channel::Beta, 1),
                ("1.3.0", Channel::Canary, MAX_EVENTS),
                ("1.3.0", Channel::Canary, 6),
            ]
        );
        // Every report parses as the service parses it, within its size limit.
        let now = events.last().unwrap().at;
        for g in &d {
            let body =
                serde_json::to_vec(&g.report(&install(), "1.1795000000.abc".into())).unwrap();
            assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());
            TelemetryReport::parse(&body, now).unwrap();
        }
    }

    #[test]
    fn the_preview_lists_exactly_the_closed_schema() {
        let p = preview(
            &install(),
            &[ev(EventKind::Crash, 0, "1.2.0", Channel::Stable)],
        );
        assert_eq!(p.len(), 1);
        let mut keys: Vec<&String> = p[0].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "arch",
                "bundle_type",
                "channel",
                "events",
                "install_id",
                "os",
                "token",
                "version"
            ]
        );
        assert_eq!(
            p[0]["events"][0],
            serde_json::json!({"kind": "crash", "at": "2026-11-20T12:00:00Z"})
        );
    }
}
