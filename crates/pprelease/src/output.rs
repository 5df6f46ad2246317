//! Human-readable tables for `status`, `audit` and `advance`.

use std::fmt::Write;

use productivitypro_protocol::api::{
    AdvanceAction, AdvanceResponse, AuditResponse, GateVerdict, Health, ReleaseState,
    StatusResponse,
};

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.2}%", r * 100.0))
}

fn gate_text(g: &GateVerdict) -> String {
    match g {
        GateVerdict::Passing => "passing".to_string(),
        GateVerdict::Pending { reason } => format!("pending ({reason})"),
        GateVerdict::Failing { reason } => format!("FAILING ({reason})"),
    }
}

fn health_cols(h: &Health) -> String {
    format!(
        "{:>9} {:>11} {:>11}",
        h.installs,
        rate(h.crash_free_rate()),
        rate(h.update_failure_rate())
    )
}

/// Releases per channel, then per platform, with health over the window.
pub fn status_table(s: &StatusResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "health over the last {}h (since {}); installs are distinct installs",
        s.window.hours, s.window.since
    );
    let _ = writeln!(
        out,
        "{:<8} {:<14} {:>7} {:<12} {:>9} {:>11} {:>11}  gate",
        "channel", "version", "percent", "state", "installs", "crash-free", "upd-failed"
    );
    for r in &s.releases {
        for c in &r.channels {
            let gate = match (&r.state_reason, r.state) {
                (Some(why), state) if state != ReleaseState::Active => {
                    format!("{}; {why}", gate_text(&c.gate))
                }
                _ => gate_text(&c.gate),
            };
            let percent = c.percent.map_or("-".to_string(), |p| format!("{p}%"));
            let _ = writeln!(
                out,
                "{:<8} {:<14} {:>7} {:<12} {}  {}",
                c.channel.as_str(),
                r.version,
                percent,
                r.state.as_str(),
                health_cols(&c.health),
                gate
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{:<24} {:<14} {:<12} {:>9} {:>11} {:>11}  gate",
        "platform", "version", "state", "installs", "crash-free", "upd-failed"
    );
    for r in &s.releases {
        for p in &r.platforms {
            let gate = match &p.state_reason {
                Some(why) => format!("{}; {why}", gate_text(&p.gate)),
                None => gate_text(&p.gate),
            };
            let _ = writeln!(
                out,
                "{:<24} {:<14} {:<12} {}  {}",
                p.platform.key(),
                r.version,
                p.state.as_str(),
                health_cols(&p.health),
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
                platform: None,
                state,
                reason,
            } => {
                writeln!(out, "{version}: STOPPED ({}): {reason}", state.as_str())
            }
            AdvanceAction::Stopped {
                version,
                platform: Some(p),
                state,
                reason,
            } => {
                writeln!(
                    out,
                    "{version} on {p}: STOPPED ({}): {reason}",
                    state.as_str()
                )
            }
        };
    }
    if r.actions.is_empty() {
        out.push_str("nothing to advance\n");
    }
    out
}
