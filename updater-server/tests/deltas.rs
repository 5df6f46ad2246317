//! Delta updates (issue 10) against the real service on loopback, SQLite and
//! PostgreSQL: patches are built in the background after a publish,
//! announced only to installs on a version a patch starts from, served like
//! artifacts, and rebuild exactly the bytes the release's signature covers.

mod common;

use std::time::Duration;

use common::{code_of, Harness};
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::manifest::{DeltaOffer, UpdateOffer};
use productivitypro_protocol::{signature, Channel};

const DEB: &str = "linux-x86_64-deb";
const CHECK: &str = "/v1/update/linux/x86_64";

/// Deterministic pseudo-random bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Release `i`'s artifact: the same 300 kB base with a small change per
/// release, as a patch release changes a binary.
fn artifact(i: u64) -> Vec<u8> {
    let mut bytes = noise(42, 300_000);
    for k in 0..i {
        let at = 1_000 + (k as usize) * 50_000;
        bytes.splice(at..at + 16, noise(100 + k, 400));
    }
    bytes
}

fn file_name(version: &str) -> String {
    format!("productivitypro_{version}_amd64.deb")
}

async fn publish(h: &Harness, version: &str, bytes: &[u8]) {
    let name = file_name(version);
    let req = PublishRequest {
        version: version.into(),
        notes: format!("notes {version}"),
        channel: Channel::Stable,
        percent: 100.0,
        artifacts: vec![ArtifactSpec {
            platform: DEB.parse().unwrap(),
            file_name: name.clone(),
            signature: h.key.sign(bytes, &name, version),
            url: None,
        }],
    };
    let r = h
        .publish_raw(&req, vec![(DEB.into(), bytes.to_vec())])
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn offer(h: &Harness, current: &str) -> UpdateOffer {
    h.check(&format!("{CHECK}/{current}?bundle_type=deb"), None)
        .await
        .unwrap()
        .expect("an update is offered")
}

/// Waits (bounded) for the background builder to announce a patch.
async fn wait_for_delta(h: &Harness, current: &str) -> (UpdateOffer, DeltaOffer) {
    for _ in 0..600 {
        let o = offer(h, current).await;
        if let Some(d) = o.delta.clone() {
            return (o, d);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delta from {current} was announced within 60 s");
}

async fn get(h: &Harness, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut rb = h.http.get(url);
    if let Some(r) = range {
        rb = rb.header("Range", r);
    }
    rb.send().await.unwrap()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_release_is_offered_as_a_delta_that_rebuilds_the_signed_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        // Patches from the one release below only: 0.9.0 → 1.1.0 gets none.
        let h = Harness::start_with(&db, |c| c.deltas.from_releases = 1).await;
        let (a09, a10, a11) = (artifact(0), artifact(1), artifact(2));
        publish(&h, "0.9.0", &a09).await;
        publish(&h, "1.0.0", &a10).await;
        publish(&h, "1.1.0", &a11).await;

        let (o, d) = wait_for_delta(&h, "1.0.0").await;
        assert_eq!(o.version, "1.1.0");
        assert_eq!(d.from, "1.0.0");
        assert_eq!(d.method, "zstd");
        assert_eq!(d.full_size, a11.len() as u64);
        assert_eq!(d.full_sha256, hex(&productivitypro_delta::sha256(&a11)));
        assert!(
            d.size * 10 < d.full_size,
            "a 400-byte change costs {} of {} bytes",
            d.size,
            d.full_size
        );
        assert_eq!(
            d.url,
            format!("{}/v1/deltas/1.1.0/{DEB}/1.0.0", h.base),
            "the patch route"
        );

        // The raw JSON carries exactly the documented shape.
        let raw: serde_json::Value = h
            .http
            .get(format!("{}{CHECK}/1.0.0?bundle_type=deb", h.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let keys: Vec<&str> = raw["delta"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "from",
                "fullSha256",
                "fullSize",
                "method",
                "sha256",
                "size",
                "url"
            ]
        );

        // An install on 0.9.0 is offered 1.1.0 too, but no patch starts there.
        let old = offer(&h, "0.9.0").await;
        assert_eq!(old.version, "1.1.0");
        assert_eq!(old.delta, None, "no patch 0.9.0 → 1.1.0 was built");
        // Another bundle of the same version has no artifact, hence no offer.
        assert_eq!(
            h.check(&format!("{CHECK}/1.0.0?bundle_type=rpm"), None)
                .await
                .unwrap(),
            None
        );

        // The patch downloads with its announced size and hash, and rebuilds
        // exactly 1.1.0's bytes, which the offer's signature verifies.
        let r = get(&h, &d.url, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["etag"].to_str().unwrap(),
            format!("\"{}\"", d.sha256)
        );
        let patch = r.bytes().await.unwrap().to_vec();
        assert_eq!(patch.len() as u64, d.size);
        assert_eq!(hex(&productivitypro_delta::sha256(&patch)), d.sha256);
        let rebuilt = productivitypro_delta::apply(&a10, &patch).unwrap();
        assert!(rebuilt == a11, "the rebuilt artifact is 1.1.0's");
        let key = signature::parse_public_key(&h.key.public_b64()).unwrap();
        let sig_text = signature::decode_base64(&o.signature).unwrap();
        signature::verify_bytes(&key, &sig_text, &file_name("1.1.0"), &rebuilt).unwrap();
        // Applied to the wrong base (0.9.0's), it refuses.
        assert_eq!(
            productivitypro_delta::apply(&a09, &patch)
                .unwrap_err()
                .code(),
            "delta_wrong_base"
        );

        // Resumed downloads: a byte range of the patch.
        let r = get(&h, &d.url, Some("bytes=10-99")).await;
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()["content-range"].to_str().unwrap(),
            format!("bytes 10-99/{}", d.size)
        );
        assert!(r.bytes().await.unwrap()[..] == patch[10..100]);
        let r = get(&h, &d.url, Some(&format!("bytes={}-", d.size))).await;
        assert_eq!(code_of(r).await, (416, "range_not_satisfiable".into()));
        let r = h.http.head(&d.url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-length"].to_str().unwrap(),
            d.size.to_string()
        );

        // Patches that do not exist are 404s with a code.
        for path in [
            format!("/v1/deltas/1.1.0/{DEB}/0.9.0"),
            "/v1/deltas/1.1.0/linux-x86_64-rpm/1.0.0".to_string(),
            "/v1/deltas/1.1.0/not-a-platform/1.0.0".to_string(),
            format!("/v1/deltas/9.9.9/{DEB}/1.0.0"),
        ] {
            let r = get(&h, &format!("{}{path}", h.base), None).await;
            assert_eq!(code_of(r).await, (404, "unknown_delta".into()), "{path}");
        }

        // 1.0.0 got its own patch from 0.9.0 when it was published.
        let r = get(&h, &format!("{}/v1/deltas/1.0.0/{DEB}/0.9.0", h.base), None).await;
        assert_eq!(r.status(), 200);
        let p = r.bytes().await.unwrap();
        assert!(productivitypro_delta::apply(&a09, &p).unwrap() == a10);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stored_patch_fails_to_apply_and_the_full_download_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let (a10, a11) = (artifact(1), artifact(2));
        publish(&h, "1.0.0", &a10).await;
        publish(&h, "1.1.0", &a11).await;
        let (o, d) = wait_for_delta(&h, "1.0.0").await;

        // Damage the stored patch behind the service's back.
        let patches: Vec<_> = files_under(&h.dir.path().join("artifacts"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "ppdelta"))
            .collect();
        assert_eq!(patches.len(), 1, "{patches:?}");
        let mut bytes = std::fs::read(&patches[0]).unwrap();
        let at = bytes.len() - 10;
        bytes[at] ^= 0x55;
        std::fs::write(&patches[0], &bytes).unwrap();

        let patch = get(&h, &d.url, None).await.bytes().await.unwrap();
        let err = productivitypro_delta::apply(&a10, &patch).unwrap_err();
        assert_eq!(err.code(), "delta_corrupt", "{err}");
        // A truncated download is refused too.
        let err = productivitypro_delta::apply(&a10, &patch[..patch.len() / 2]).unwrap_err();
        assert_eq!(err.code(), "delta_truncated", "{err}");

        // The app's fallback: the full artifact, which verifies.
        let full = get(&h, &o.url, None).await.bytes().await.unwrap();
        assert!(full[..] == a11[..]);
        let key = signature::parse_public_key(&h.key.public_b64()).unwrap();
        let sig_text = signature::decode_base64(&o.signature).unwrap();
        signature::verify_bytes(&key, &sig_text, &file_name("1.1.0"), &full).unwrap();
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_delta_is_announced_when_artifacts_are_too_large_no_method_builds_or_patches_are_too_big(
) {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| c.deltas.max_artifact_bytes = 1000).await;
        publish(&h, "1.0.0", &artifact(1)).await;
        publish(&h, "1.1.0", &artifact(2)).await;
        // The builder runs right after each publish; give it a moment and
        // wake it once more: still nothing to announce.
        tokio::time::sleep(Duration::from_millis(500)).await;
        h.server.state.delta_wake.notify_one();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(offer(&h, "1.0.0").await.delta, None);
        h.stop().await;

        // Only the .deb method, and these artifacts are not .debs: the build
        // fails, is recorded as failed (not retried), and nothing is announced.
        let db2 = db.replace("updater.db", "updater2.db");
        let db2 = if db2 == db {
            fresh_postgres(&db).await
        } else {
            db2
        };
        let h = Harness::start_with(&db2, |c| c.deltas.methods = vec!["deb".into()]).await;
        publish(&h, "1.0.0", &artifact(1)).await;
        publish(&h, "1.1.0", &artifact(2)).await;
        let attempts = async {
            for _ in 0..600 {
                let a = h.server.state.db.delta_attempts().await.unwrap();
                if !a.is_empty() {
                    return a;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the failed build was never recorded");
        }
        .await;
        assert_eq!(
            attempts,
            [("1.1.0".to_string(), DEB.to_string(), "1.0.0".to_string())]
        );
        assert_eq!(offer(&h, "1.0.0").await.delta, None);
        h.stop().await;

        // Unrelated artifacts: every patch would be the whole artifact,
        // more than max_patch_percent, so none is kept.
        let db3 = db.replace("updater.db", "updater3.db");
        let db3 = if db3 == db {
            fresh_postgres(&db).await
        } else {
            db3
        };
        let h = Harness::start_with(&db3, |c| c.deltas.max_patch_percent = 50).await;
        publish(&h, "1.0.0", &noise(1, 100_000)).await;
        publish(&h, "1.1.0", &noise(2, 100_000)).await;
        for _ in 0..600 {
            if !h.server.state.db.delta_attempts().await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(h.server.state.db.delta_attempts().await.unwrap().len(), 1);
        assert_eq!(offer(&h, "1.0.0").await.delta, None);
        h.stop().await;
    }
}

/// Another fresh database on the test PostgreSQL server.
async fn fresh_postgres(_used: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    common::databases(tmp.path())
        .await
        .into_iter()
        .find(|d| d.starts_with("postgres"))
        .expect("a PostgreSQL URL")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
