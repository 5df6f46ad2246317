//! Operations: `{record, field, value, hlc, device}`. A record is named by
//! its kind and random id; the device is the one whose batch carries the
//! operation (the HLC's tie-break), so it is not repeated per operation on
//! the wire.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hlc::{Hlc, MAX_MS};
use crate::ids::{DeviceId, RecordId};

pub const MAX_KIND_LEN: usize = 16;
pub const MAX_FIELD_LEN: usize = 32;
pub const MAX_TAG_LEN: usize = 256;

const SUCCESSOR_LABEL: &[u8] = b"productivitypro/sync/successor/v1";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordRef {
    pub kind: String,
    pub id: RecordId,
}

impl RecordRef {
    pub fn new(kind: &str, id: RecordId) -> RecordRef {
        RecordRef {
            kind: kind.to_string(),
            id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Last-writer-wins register per (record, field).
    Set {
        field: String,
        value: serde_json::Value,
    },
    /// Last-writer-wins presence per (record, tag): add is `on: true`.
    Tag { tag: String, on: bool },
    /// Tombstone: the record is gone for good and absorbs every other
    /// operation on it, earlier, concurrent or later.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub record: RecordRef,
    pub action: Action,
    pub hlc: Hlc,
}

impl Op {
    /// The device that made the operation (the clock's tie-break).
    pub fn device(&self) -> DeviceId {
        self.hlc.device
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("record kind `{0}` must be 1–{MAX_KIND_LEN} of a-z and _")]
    Kind(String),
    #[error("field `{0}` must be 1–{MAX_FIELD_LEN} of a-z, 0-9 and _")]
    Field(String),
    #[error("a tag must be 1–{MAX_TAG_LEN} bytes")]
    Tag,
    #[error("an operation must be exactly one of set, tag or del")]
    Shape,
    #[error("clock value {0} ms is out of range")]
    Clock(u64),
}

fn valid_kind(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KIND_LEN
        && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn valid_field(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= MAX_FIELD_LEN
        && f.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An operation as it travels inside a sealed batch (short keys: the
/// operation count dominates batch size). Exactly one of `set`, `tag`,
/// `del` is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireOp {
    pub k: String,
    pub id: RecordId,
    pub t: u64,
    pub c: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del: Option<bool>,
}

impl Op {
    pub fn validate(&self) -> Result<(), OpError> {
        if !valid_kind(&self.record.kind) {
            return Err(OpError::Kind(self.record.kind.clone()));
        }
        match &self.action {
            Action::Set { field, .. } if !valid_field(field) => {
                return Err(OpError::Field(field.clone()))
            }
            Action::Tag { tag, .. } if tag.is_empty() || tag.len() > MAX_TAG_LEN => {
                return Err(OpError::Tag)
            }
            _ => {}
        }
        if self.hlc.ms > MAX_MS {
            return Err(OpError::Clock(self.hlc.ms));
        }
        Ok(())
    }

    pub fn to_wire(&self) -> WireOp {
        let mut w = WireOp {
            k: self.record.kind.clone(),
            id: self.record.id,
            t: self.hlc.ms,
            c: self.hlc.counter,
            set: None,
            v: None,
            tag: None,
            on: None,
            del: None,
        };
        match &self.action {
            Action::Set { field, value } => {
                w.set = Some(field.clone());
                w.v = Some(value.clone());
            }
            Action::Tag { tag, on } => {
                w.tag = Some(tag.clone());
                w.on = Some(*on);
            }
            Action::Delete => w.del = Some(true),
        }
        w
    }

    /// `device` is the batch's device (from its authenticated header).
    pub fn from_wire(w: WireOp, device: DeviceId) -> Result<Op, OpError> {
        let action = match (w.set, w.v, w.tag, w.on, w.del) {
            (Some(field), Some(value), None, None, None) => Action::Set { field, value },
            (None, None, Some(tag), Some(on), None) => Action::Tag { tag, on },
            (None, None, None, None, Some(true)) => Action::Delete,
            _ => return Err(OpError::Shape),
        };
        let op = Op {
            record: RecordRef {
                kind: w.k,
                id: w.id,
            },
            action,
            hlc: Hlc::new(w.t, w.c, device).map_err(|_| OpError::Clock(w.t))?,
        };
        op.validate()?;
        Ok(op)
    }
}

/// The id of the occurrence that follows `completed` in a recurring series:
/// first 16 bytes of SHA-256(label ‖ completed id). Every device that
/// completes the same occurrence creates the same successor record, whose
/// field operations then merge like any others — one next occurrence, not
/// one per device.
pub fn successor_id(completed: RecordId) -> RecordId {
    let mut h = Sha256::new();
    h.update(SUCCESSOR_LABEL);
    h.update(completed.0);
    let d = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    RecordId(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(action: Action) -> Op {
        Op {
            record: RecordRef::new("task", RecordId([1; 16])),
            action,
            hlc: Hlc::new(5, 0, DeviceId([2; 16])).unwrap(),
        }
    }

    #[test]
    fn wire_form_round_trips_each_action() {
        for a in [
            Action::Set {
                field: "title".into(),
                value: serde_json::json!("x"),
            },
            Action::Tag {
                tag: "home".into(),
                on: false,
            },
            Action::Delete,
        ] {
            let o = op(a);
            let w = serde_json::to_string(&o.to_wire()).unwrap();
            let back = Op::from_wire(serde_json::from_str(&w).unwrap(), DeviceId([2; 16])).unwrap();
            assert_eq!(back, o, "{w}");
        }
    }

    #[test]
    fn malformed_wire_ops_are_refused() {
        let dev = DeviceId([2; 16]);
        let id = "01".repeat(16);
        for (json, what) in [
            (
                format!(r#"{{"k":"task","id":"{id}","t":1,"c":0}}"#),
                "no action",
            ),
            (
                format!(r#"{{"k":"task","id":"{id}","t":1,"c":0,"set":"a","v":1,"del":true}}"#),
                "two actions",
            ),
            (
                format!(r#"{{"k":"Task","id":"{id}","t":1,"c":0,"del":true}}"#),
                "kind",
            ),
            (
                format!(r#"{{"k":"task","id":"{id}","t":1,"c":0,"set":"a b","v":1}}"#),
                "field",
            ),
            (
                format!(r#"{{"k":"task","id":"{id}","t":1,"c":0,"tag":"","on":true}}"#),
                "tag",
            ),
            (
                format!(r#"{{"k":"task","id":"{id}","t":1,"c":0,"del":false}}"#),
                "del false",
            ),
            (
                format!(r#"{{"k":"task","id":"{id}","t":281474976710656,"c":0,"del":true}}"#),
                "clock",
            ),
        ] {
            let w: WireOp = serde_json::from_str(&json).unwrap();
            assert!(Op::from_wire(w, dev).is_err(), "{what}");
        }
    }

    #[test]
    fn successor_ids_are_stable_and_distinct() {
        let a = successor_id(RecordId([1; 16]));
        assert_eq!(a, successor_id(RecordId([1; 16])));
        assert_ne!(a, successor_id(RecordId([2; 16])));
        assert_ne!(a, successor_id(a));
    }
}
