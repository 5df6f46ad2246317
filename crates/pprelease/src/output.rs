//! Human-readable tables for `status`, `audit` and `advance`.

use std::fmt::Write;

use productivitypro_protocol::api::{
    AdvanceAction, AdvanceResponse, AuditResponse, StatusResponse,
};

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.2}%", r * 100.0))
}

pub fn status_table(s: &StatusResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<14} {:>7} {:<12} {:>9} {:>11} {:>11}  gate",
        "channel", "version", "percent", "state", "installs", "crash-free", "upd-failed"
    );
    for r in &s.releases {
        let gate = match &r.gate {
            productivitypro_protocol::api::GateVerdict::Passing => "passing".to_string(),
            productivitypro_protocol::api::GateVerdict::Pending { reason } => {
                format!("pending ({reason})")
            }
            productivitypro_protocol::api::GateVerdict::Failing { reason } => {
                format!("FAILING ({reason})")
            }
        };
        let gate = match &r.state_reason {
            Some(why) => format!("{gate}; {why}"),
            None => gate,
        };
        for c in &r.channels {
            let _ = writeln!(
                out,
                "{:<8} {:<14} {:>6}% {:<12} {:>9} {:>11} {:>11}  {}",
                c.channel.as_str(),
                r.version,
                c.percent,
                r.state.as_str(),
                r.health.installs_seen,
                rate(r.health.crash_free_rate()),
                rate(r.health.update_failure_rate()),
                gate
            );
        }
    }
    out
}

pub fn audit_table(a: &AuditResponse) -> String {
    let mut out = String::new();
    for e in &a.entries {
        let _ = writeln!(
            out,
            "{}  {:<28} {:<10} {:<12} {}",
            e.at,
            e.actor,
            e.action,
            e.version.as_deref().unwrap_or("-"),
            e.detail
        );
    }
    out
}

pub fn advance_lines(r: &AdvanceResponse) -> String {
    let mut out = String::new();
    for a in &r.actions {
        let _ = match a {
            AdvanceAction::Raised {
                version,
                channel,
                from,
                to,
            } => writeln!(out, "{version} {channel}: raised {from}% -> {to}%"),
            AdvanceAction::Baking {
                version,
                channel,
                percent,
                remaining_secs,
            } => {
                writeln!(
                    out,
                    "{version} {channel}: baking at {percent}%, {}m left",
                    remaining_secs.div_ceil(60)
                )
            }
            AdvanceAction::Waiting {
                version,
                channel,
                percent,
                reason,
            } => {
                writeln!(out, "{version} {channel}: waiting at {percent}%: {reason}")
            }
            AdvanceAction::Stopped {
                version,
                state,
                reason,
            } => {
                writeln!(out, "{version}: STOPPED ({}): {reason}", state.as_str())
            }
        };
    }
    if r.actions.is_empty() {
        out.push_str("nothing to advance\n");
    }
    out
}
