//! Wire types shared by the ProductivityPro app, `pprelease` and the update
//! service. Everything a peer sends is parsed here, strictly: unknown fields,
//! out-of-range values and malformed versions are errors, so the servers can
//! answer bad input with a 4xx naming the problem.

pub mod api;
pub mod channel;
pub mod manifest;
pub mod platform;
pub mod policy;
pub mod signature;
pub mod telemetry;

pub use channel::Channel;

/// Longest version string accepted anywhere (semver allows any length; no
/// release needs more).
pub const MAX_VERSION_LEN: usize = 64;

/// Install ids travel as hyphenated UUIDs only (`Uuid`'s own parser also
/// takes simple, braced and URN forms, which the API description does not
/// allow).
pub fn parse_install_id(s: &str) -> Option<uuid::Uuid> {
    (s.len() == 36)
        .then(|| uuid::Uuid::try_parse(s).ok())
        .flatten()
}

/// Parses a JSON body whose `objects` (paths like `""` for the body itself,
/// `gates`, or `artifacts[]` for each item) must be JSON objects: serde would
/// also take an array there, its items as fields by position, which the API
/// description does not allow.
pub fn from_json_objects<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    objects: &[&str],
) -> Result<T, serde_json::Error> {
    use serde::de::Error as _;
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    for path in objects {
        let (field, each) = match path.strip_suffix("[]") {
            Some(f) => (f, true),
            None => (*path, false),
        };
        let at = if field.is_empty() {
            Some(&value)
        } else {
            value.get(field)
        };
        let ok = match (at, each) {
            (None, _) => true,
            (Some(v), false) => v.is_object(),
            (Some(serde_json::Value::Array(items)), true) => items.iter().all(|i| i.is_object()),
            (Some(_), true) => true,
        };
        if !ok {
            let name = if path.is_empty() { "the body" } else { path };
            return Err(serde_json::Error::custom(format!(
                "{name} must be a JSON object"
            )));
        }
    }
    serde_json::from_value(value)
}

/// Serde for a hyphenated-only install id.
pub mod install_id {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &uuid::Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&id.hyphenated())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<uuid::Uuid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_install_id(&s)
            .ok_or_else(|| de::Error::custom("install_id must be a hyphenated UUID"))
    }
}
pub use platform::{Arch, BundleType, Os, Platform, PlatformError};
