//! Update manifests as a client parses them: never a panic, and anything
//! accepted serialises back to something accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use productivitypro_protocol::manifest::{StaticManifest, UpdateOffer};

fuzz_target!(|data: &[u8]| {
    if let Ok(o) = UpdateOffer::parse(data) {
        let again = serde_json::to_vec(&o).expect("serialises");
        UpdateOffer::parse(&again).expect("round trip");
    }
    if let Ok(m) = StaticManifest::parse(data) {
        let again = serde_json::to_vec(&m).expect("serialises");
        StaticManifest::parse(&again).expect("round trip");
    }
});
