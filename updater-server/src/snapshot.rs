//! The release state every update check reads: built from the database after
//! each change (and when another replica changed it), then swapped in whole.
//! Checks never touch the database.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use productivitypro_protocol::api::ReleaseState;
use productivitypro_protocol::manifest::{
    signature_field, DeltaOffer, StaticManifest, StaticPlatform, UpdateOffer,
};
use productivitypro_protocol::{Channel, Platform};
use semver::Version;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::rfc3339;
use crate::db::State;

/// 100% in basis points: rollout percentages are kept as integers.
pub const FULL: u32 = 10_000;

pub struct Artifact {
    pub file_name: String,
    /// Where clients download it: the service's own artifact route or an external URL.
    pub url: String,
    /// Set when the service stores the file.
    pub object_key: Option<String>,
    pub size: u64,
    pub sha256: String,
    /// The `signature` field: base64 of the `.sig` text.
    pub signature_b64: String,
}

/// A stored patch from `from`'s artifact to this release's, on one platform.
pub struct Delta {
    pub from: Version,
    pub from_text: String,
    pub url: String,
    pub object_key: String,
    pub size: u64,
    pub sha256: String,
    pub method: String,
}

pub struct Release {
    pub version: Version,
    pub version_text: String,
    pub notes: String,
    pub pub_date: String,
    pub published_at: i64,
    pub state: ReleaseState,
    pub state_reason: Option<String>,
    /// Per channel (in `Channel::ALL` order): basis points and since when.
    pub rollout: [Option<(u32, i64)>; 3],
    pub artifacts: HashMap<Platform, Artifact>,
    /// Platforms stopped on their own, with why.
    pub platform_states: HashMap<Platform, (ReleaseState, Option<String>)>,
    /// Patches into this release's artifacts, by platform.
    pub deltas: HashMap<Platform, Vec<Delta>>,
}

fn severity(s: ReleaseState) -> u8 {
    match s {
        ReleaseState::Active => 0,
        ReleaseState::Halted => 1,
        ReleaseState::RolledBack => 2,
    }
}

impl Release {
    /// The state that applies on `platform`: the release's, or the platform's
    /// own stop when that is stricter.
    pub fn state_on(&self, platform: Platform) -> ReleaseState {
        match self.platform_states.get(&platform) {
            Some((own, _)) if severity(*own) > severity(self.state) => *own,
            _ => self.state,
        }
    }

    /// The share of `channel`'s installs this release reaches: the largest
    /// rollout among the channels that channel sees, and which one that is.
    pub fn reach(&self, channel: Channel) -> Option<(Channel, u32)> {
        Channel::ALL
            .iter()
            .filter(|c| channel.sees(**c))
            .filter_map(|c| self.rollout[c.index()].map(|(bps, _)| (*c, bps)))
            .max_by_key(|(c, bps)| (*bps, std::cmp::Reverse(*c)))
    }

    fn reaches(&self, channel: Channel, install: Option<&Uuid>) -> Option<(Channel, u32)> {
        let (via, bps) = self.reach(channel)?;
        let inside = bps >= FULL || install.is_some_and(|id| bucket(id, &self.version_text) < bps);
        inside.then_some((via, bps))
    }
}

/// An install's place in a release's rollout, 0..10000: stable for the pair,
/// independent across releases, so raising a percentage only adds installs.
pub fn bucket(install: &Uuid, version: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(install.as_bytes());
    h.update([0]);
    h.update(version.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(first) % FULL as u64) as u32
}

#[derive(Debug, PartialEq)]
pub enum Decision<'a> {
    None,
    Offer {
        release: usize,
        via: Channel,
        bps: u32,
        rollback: bool,
        artifact: &'a str,
    },
}

pub struct Snapshot {
    pub generation: i64,
    /// Newest first.
    pub releases: Vec<Release>,
    /// `latest.json` per channel, pre-rendered; None when nothing is fully rolled out.
    pub static_manifests: [Option<Bytes>; 3],
}

impl Snapshot {
    pub fn empty() -> Self {
        Snapshot {
            generation: -1,
            releases: Vec::new(),
            static_manifests: [None, None, None],
        }
    }

    pub fn build(state: State, public_url: &str) -> Arc<Snapshot> {
        let mut releases: Vec<Release> = state
            .releases
            .into_iter()
            .filter_map(|r| {
                // Versions are validated on publish; a row that does not parse
                // was edited by hand and is left out rather than guessed at.
                let version = Version::parse(&r.version).ok()?;
                Some(Release {
                    version,
                    pub_date: rfc3339(r.published_at),
                    version_text: r.version,
                    notes: r.notes,
                    published_at: r.published_at,
                    state: r.state,
                    state_reason: r.state_reason,
                    rollout: [None; 3],
                    artifacts: HashMap::new(),
                    platform_states: HashMap::new(),
                    deltas: HashMap::new(),
                })
            })
            .collect();
        releases.sort_by(|a, b| b.version.cmp(&a.version));
        let index: HashMap<String, usize> = releases
            .iter()
            .enumerate()
            .map(|(i, r)| (r.version_text.clone(), i))
            .collect();
        for a in state.artifacts {
            let (Some(&i), Ok(platform)) = (index.get(&a.version), a.platform.parse::<Platform>())
            else {
                continue;
            };
            let url = match &a.url {
                Some(u) => u.clone(),
                None => format!(
                    "{}/v1/artifacts/{}/{}",
                    public_url.trim_end_matches('/'),
                    a.version,
                    a.file_name
                ),
            };
            releases[i].artifacts.insert(
                platform,
                Artifact {
                    file_name: a.file_name,
                    url,
                    object_key: a.object_key,
                    size: a.size.max(0) as u64,
                    sha256: a.sha256,
                    signature_b64: signature_field(&a.signature),
                },
            );
        }
        for r in state.rollouts {
            let (Some(&i), Ok(channel)) = (index.get(&r.version), r.channel.parse::<Channel>())
            else {
                continue;
            };
            releases[i].rollout[channel.index()] =
                Some((r.percent_bps.clamp(0, FULL as i64) as u32, r.since));
        }
        for p in state.platform_states {
            let (Some(&i), Ok(platform)) = (index.get(&p.version), p.platform.parse::<Platform>())
            else {
                continue;
            };
            releases[i]
                .platform_states
                .insert(platform, (p.state, p.reason));
        }
        for d in state.deltas {
            let (Some(&i), Ok(platform), Ok(from)) = (
                index.get(&d.version),
                d.platform.parse::<Platform>(),
                Version::parse(&d.from_version),
            ) else {
                continue;
            };
            let url = format!(
                "{}/v1/deltas/{}/{}/{}",
                public_url.trim_end_matches('/'),
                d.version,
                d.platform,
                d.from_version
            );
            releases[i].deltas.entry(platform).or_default().push(Delta {
                from,
                from_text: d.from_version,
                url,
                object_key: d.object_key,
                size: d.size.max(0) as u64,
                sha256: d.sha256,
                method: d.method,
            });
        }
        let mut snap = Snapshot {
            generation: state.generation,
            releases,
            static_manifests: [None, None, None],
        };
        for c in Channel::ALL {
            snap.static_manifests[c.index()] = snap.render_static(c);
        }
        Arc::new(snap)
    }

    pub fn release(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version_text == version)
    }

    /// What an install on `current` in `channel` is offered for `platform`.
    pub fn decide(
        &self,
        platform: Platform,
        channel: Channel,
        current: &Version,
        install: Option<&Uuid>,
    ) -> Decision<'_> {
        let offer = |i: usize, rollback: bool| {
            let r = &self.releases[i];
            match (r.artifacts.get(&platform), r.reaches(channel, install)) {
                (Some(a), Some((via, bps))) if r.state_on(platform) == ReleaseState::Active => {
                    Some(Decision::Offer {
                        release: i,
                        via,
                        bps,
                        rollback,
                        artifact: &a.file_name,
                    })
                }
                _ => None,
            }
        };
        // Forward first: the newest active release above `current` that reaches this install.
        let forward = (0..self.releases.len())
            .take_while(|&i| self.releases[i].version > *current)
            .find_map(|i| offer(i, false));
        if let Some(d) = forward {
            return d;
        }
        let on_rolled_back = self
            .releases
            .iter()
            .any(|r| r.version == *current && r.state_on(platform) == ReleaseState::RolledBack);
        if on_rolled_back {
            // No fix reaches it yet: back to the newest good release below the bad one.
            return (0..self.releases.len())
                .filter(|&i| self.releases[i].version < *current)
                .find_map(|i| offer(i, true))
                .unwrap_or(Decision::None);
        }
        Decision::None
    }

    /// The 200 answer for `decision` to an install on `current`, with a
    /// `delta` when a patch from exactly `current` exists; `telemetry_tokens`
    /// are added by the caller.
    pub fn offer_body(
        &self,
        decision: &Decision<'_>,
        platform: Platform,
        current: &Version,
    ) -> Option<UpdateOffer> {
        let Decision::Offer {
            release,
            via,
            bps,
            rollback,
            ..
        } = *decision
        else {
            return None;
        };
        let r = &self.releases[release];
        let a = r.artifacts.get(&platform)?;
        // Only patches of artifacts the service stores: the sizes and hashes
        // below are then the ones clients get.
        let delta = r
            .deltas
            .get(&platform)
            .and_then(|ds| ds.iter().find(|d| d.from == *current))
            .filter(|_| !rollback && a.object_key.is_some())
            .map(|d| DeltaOffer {
                from: d.from_text.clone(),
                url: d.url.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
                method: d.method.clone(),
                full_size: a.size,
                full_sha256: a.sha256.clone(),
            });
        Some(UpdateOffer {
            version: r.version_text.clone(),
            url: a.url.clone(),
            signature: a.signature_b64.clone(),
            notes: Some(r.notes.clone()),
            pub_date: Some(r.pub_date.clone()),
            channel: via,
            rollout: bps as f64 / 100.0,
            rollback,
            telemetry_tokens: Default::default(),
            delta,
        })
    }

    /// The newest active release fully rolled out to what `channel` sees. A
    /// static file cannot do staged rollouts, so partial ones are left out.
    fn render_static(&self, channel: Channel) -> Option<Bytes> {
        let r = self.releases.iter().find(|r| {
            r.state == ReleaseState::Active && r.reach(channel).is_some_and(|(_, bps)| bps >= FULL)
        })?;
        let mut platforms = std::collections::BTreeMap::new();
        // One version for all platforms is all the static form can say: a
        // platform stopped on its own is left out (its installs find no update).
        for (p, a) in r
            .artifacts
            .iter()
            .filter(|(p, _)| r.state_on(**p) == ReleaseState::Active)
        {
            let entry = StaticPlatform {
                url: a.url.clone(),
                signature: a.signature_b64.clone(),
            };
            if p.bundle == p.os.default_bundle() {
                platforms.insert(p.short_key(), entry.clone());
            }
            platforms.insert(p.key(), entry);
        }
        let m = StaticManifest {
            version: r.version_text.clone(),
            notes: Some(r.notes.clone()),
            pub_date: Some(r.pub_date.clone()),
            platforms,
        };
        serde_json::to_vec(&m).ok().map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{ArtifactRow, ReleaseRow, RolloutRow};

    fn sig() -> String {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        minisign::sign(
            None,
            &kp.sk,
            std::io::Cursor::new(b"a"),
            Some("timestamp:1\tfile:a"),
            None,
        )
        .unwrap()
        .to_string()
    }

    /// (version, state, [(channel, basis points)])
    type Spec<'a> = (&'a str, ReleaseState, &'a [(&'a str, i64)]);

    fn state(releases: &[Spec]) -> State {
        let mut s = State {
            generation: 1,
            releases: vec![],
            artifacts: vec![],
            rollouts: vec![],
            platform_states: vec![],
            deltas: vec![],
        };
        for (v, st, rollouts) in releases {
            s.releases.push(ReleaseRow {
                version: v.to_string(),
                notes: format!("notes {v}"),
                state: *st,
                state_reason: None,
                published_at: 1_700_000_000,
            });
            s.artifacts.push(ArtifactRow {
                version: v.to_string(),
                platform: "linux-x86_64-appimage".into(),
                file_name: format!("pp_{v}.AppImage"),
                url: None,
                object_key: Some(format!("{v}/pp_{v}.AppImage")),
                size: 10,
                sha256: "00".into(),
                signature: sig(),
            });
            for (c, bps) in *rollouts {
                s.rollouts.push(RolloutRow {
                    version: v.to_string(),
                    channel: c.to_string(),
                    percent_bps: *bps,
                    since: 0,
                });
            }
        }
        s
    }

    fn linux() -> Platform {
        "linux-x86_64-appimage".parse().unwrap()
    }

    fn offered(
        snap: &Snapshot,
        channel: Channel,
        current: &str,
        id: Option<&Uuid>,
    ) -> Option<(String, bool)> {
        match snap.decide(linux(), channel, &Version::parse(current).unwrap(), id) {
            Decision::None => None,
            Decision::Offer {
                release, rollback, ..
            } => Some((snap.releases[release].version_text.clone(), rollback)),
        }
    }

    #[test]
    fn channels_see_their_own_and_wider_releases() {
        use ReleaseState::Active;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", Active, &[("beta", 10_000)]),
                ("1.2.0", Active, &[("canary", 10_000)]),
            ]),
            "http://u",
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "0.9.0", None),
            Some(("1.0.0".into(), false))
        );
        assert_eq!(
            offered(&snap, Channel::Beta, "0.9.0", None),
            Some(("1.1.0".into(), false))
        );
        assert_eq!(
            offered(&snap, Channel::Canary, "0.9.0", None),
            Some(("1.2.0".into(), false))
        );
        assert_eq!(offered(&snap, Channel::Canary, "1.2.0", None), None);
        assert_eq!(offered(&snap, Channel::Stable, "1.0.0", None), None);
    }

    #[test]
    fn partial_rollouts_skip_installs_without_an_id_and_fall_back_to_older_releases() {
        use ReleaseState::Active;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", Active, &[("stable", 0)]),
            ]),
            "http://u",
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "0.9.0", None),
            Some(("1.0.0".into(), false))
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "0.9.0", Some(&Uuid::new_v4())),
            Some(("1.0.0".into(), false))
        );
    }

    #[test]
    fn installs_on_a_rolled_back_release_go_back_to_the_previous_good_one() {
        use ReleaseState::*;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", Halted, &[("stable", 10_000)]),
                ("1.2.0", RolledBack, &[("stable", 10_000)]),
            ]),
            "http://u",
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "1.2.0", None),
            Some(("1.0.0".into(), true))
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "1.1.0", None),
            None,
            "halted: installs on it stay"
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "0.9.0", None),
            Some(("1.0.0".into(), false))
        );
    }

    #[test]
    fn a_platform_stopped_alone_is_not_offered_and_rolls_back_alone() {
        use ReleaseState::Active;
        let mut s = state(&[
            ("1.0.0", Active, &[("stable", 10_000)]),
            ("1.1.0", Active, &[("stable", 10_000)]),
        ]);
        for st in [&mut s] {
            for v in ["1.0.0", "1.1.0"] {
                st.artifacts.push(ArtifactRow {
                    version: v.into(),
                    platform: "windows-x86_64-nsis".into(),
                    file_name: format!("pp_{v}.exe"),
                    url: None,
                    object_key: Some(format!("{v}/pp_{v}.exe")),
                    size: 10,
                    sha256: "00".into(),
                    signature: sig(),
                });
            }
            st.platform_states.push(crate::db::PlatformStateRow {
                version: "1.1.0".into(),
                platform: "linux-x86_64-appimage".into(),
                state: ReleaseState::RolledBack,
                reason: Some("gate".into()),
            });
        }
        let snap = Snapshot::build(s, "http://u");
        let windows: Platform = "windows-x86_64-nsis".parse().unwrap();
        let on = |p: Platform, current: &str| match snap.decide(
            p,
            Channel::Stable,
            &Version::parse(current).unwrap(),
            None,
        ) {
            Decision::Offer {
                release, rollback, ..
            } => Some((snap.releases[release].version_text.clone(), rollback)),
            Decision::None => None,
        };
        assert_eq!(on(linux(), "1.0.0"), None, "linux is not offered 1.1.0");
        assert_eq!(
            on(linux(), "1.1.0"),
            Some(("1.0.0".into(), true)),
            "linux goes back"
        );
        assert_eq!(
            on(windows, "1.0.0"),
            Some(("1.1.0".into(), false)),
            "windows goes on"
        );
        assert_eq!(on(windows, "1.1.0"), None, "windows stays");
        let m = StaticManifest::parse(snap.static_manifests[0].as_ref().unwrap()).unwrap();
        assert_eq!(m.version, "1.1.0");
        assert!(
            !m.platforms.contains_key("linux-x86_64") && m.platforms.contains_key("windows-x86_64")
        );
    }

    #[test]
    fn static_manifest_lists_only_full_rollouts_with_both_keys() {
        use ReleaseState::Active;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", Active, &[("stable", 2_500)]),
            ]),
            "http://u",
        );
        let m = StaticManifest::parse(
            snap.static_manifests[Channel::Stable.index()]
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(m.version, "1.0.0");
        assert!(
            m.platforms.contains_key("linux-x86_64-appimage")
                && m.platforms.contains_key("linux-x86_64")
        );
        assert_eq!(
            m.platforms["linux-x86_64"].url,
            "http://u/v1/artifacts/1.0.0/pp_1.0.0.AppImage"
        );
    }

    /// 1.0.0 fully out on stable, 1.1.0 at `bps` on stable.
    fn staged(bps: i64) -> Arc<Snapshot> {
        use ReleaseState::Active;
        Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", Active, &[("stable", bps)]),
            ]),
            "http://u",
        )
    }

    fn gets_new(snap: &Snapshot, id: &Uuid) -> bool {
        offered(snap, Channel::Stable, "1.0.0", Some(id)) == Some(("1.1.0".into(), false))
    }

    /// Seeded, so the figures below are fixed and the test is not flaky.
    fn fleet(n: usize) -> Vec<Uuid> {
        use rand::{RngCore, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        (0..n)
            .map(|_| {
                let mut b = [0u8; 16];
                rng.fill_bytes(&mut b);
                uuid::Builder::from_random_bytes(b).into_uuid()
            })
            .collect()
    }

    #[test]
    fn a_rollout_reaches_its_share_of_installs_and_raising_it_keeps_them() {
        let ids = fleet(10_000);
        let mut previous: Vec<Uuid> = Vec::new();
        for bps in [0, 100, 500, 2_500, 5_000, 10_000] {
            let snap = staged(bps);
            let reached: Vec<Uuid> = ids
                .iter()
                .copied()
                .filter(|id| gets_new(&snap, id))
                .collect();
            let share = reached.len() as f64 / ids.len() as f64 * FULL as f64;
            assert!(
                (share - bps as f64).abs() <= 100.0,
                "{bps} bps reached {share} bps of installs"
            );
            assert!(
                previous.iter().all(|id| reached.contains(id)),
                "raising to {bps} bps dropped installs"
            );
            previous = reached;
        }
        assert_eq!(previous.len(), ids.len(), "100% reaches everybody");
    }

    #[test]
    fn buckets_are_independent_across_releases() {
        // The same installs must not be first in line for every release.
        let ids = fleet(10_000);
        let first_of_both = ids
            .iter()
            .filter(|id| bucket(id, "1.1.0") < 1_000 && bucket(id, "1.2.0") < 1_000)
            .count();
        assert!(
            (50..=150).contains(&first_of_both),
            "{first_of_both} of 10000 are in the first 10% of both (expected ≈ 100)"
        );
    }

    proptest::proptest! {
        #[test]
        fn raising_a_rollout_only_adds_installs(lo in 0i64..=10_000, hi in 0i64..=10_000, id in proptest::array::uniform16(0u8..)) {
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            let id = Uuid::from_bytes(id);
            let (at_lo, at_hi) = (gets_new(&staged(lo), &id), gets_new(&staged(hi), &id));
            // Offered at the lower percentage implies offered at the higher one...
            proptest::prop_assert!(!at_lo || at_hi, "offered at {} bps but not at {} bps", lo, hi);
            // ...because membership is exactly the install's stable bucket.
            proptest::prop_assert_eq!(at_lo, bucket(&id, "1.1.0") < lo as u32);
            // Every install is reached at 100% and none at 0%.
            proptest::prop_assert!(gets_new(&staged(10_000), &id), "not offered at 100%");
            proptest::prop_assert!(!gets_new(&staged(0), &id), "offered at 0%");
        }
    }

    #[test]
    fn a_rolled_back_install_rolls_forward_to_a_newer_active_release() {
        use ReleaseState::*;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", RolledBack, &[("stable", 10_000)]),
                ("1.2.0", Active, &[("stable", 10_000)]),
            ]),
            "http://u",
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "1.1.0", Some(&Uuid::new_v4())),
            Some(("1.2.0".into(), false)),
            "the fix, not a downgrade"
        );
    }

    #[test]
    fn a_rolled_back_install_rolls_back_when_no_newer_release_reaches_it() {
        use ReleaseState::*;
        let snap = Snapshot::build(
            state(&[
                ("1.0.0", Active, &[("stable", 10_000)]),
                ("1.1.0", RolledBack, &[("stable", 10_000)]),
                ("1.2.0", Active, &[("stable", 5_000)]),
            ]),
            "http://u",
        );
        let ids = fleet(200);
        let inside = ids.iter().find(|id| bucket(id, "1.2.0") < 5_000).unwrap();
        let outside = ids.iter().find(|id| bucket(id, "1.2.0") >= 5_000).unwrap();
        assert_eq!(
            offered(&snap, Channel::Stable, "1.1.0", Some(inside)),
            Some(("1.2.0".into(), false))
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "1.1.0", Some(outside)),
            Some(("1.0.0".into(), true)),
            "1.2.0 does not reach it yet: back to the last good release"
        );
        assert_eq!(
            offered(&snap, Channel::Stable, "1.1.0", None),
            Some(("1.0.0".into(), true))
        );
    }
}
