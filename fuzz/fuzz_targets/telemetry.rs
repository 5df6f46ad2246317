//! Telemetry bodies as the service parses them: never a panic, and nothing
//! over the size limit or outside the schema gets through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use productivitypro_protocol::telemetry::{TelemetryReport, MAX_BODY_BYTES, MAX_EVENTS};

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("valid time");
    if let Ok(r) = TelemetryReport::parse(data, now) {
        assert!(data.len() <= MAX_BODY_BYTES);
        assert!(!r.events.is_empty() && r.events.len() <= MAX_EVENTS);
    }
});
