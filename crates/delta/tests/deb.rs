//! The .deb-aware method on packages dpkg-deb builds here, as
//! installers/linux/normalize-deb does (`--root-owner-group -Zgzip -z9`).

use std::path::Path;
use std::process::Command;

use productivitypro_delta::{apply, build, Method};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Low entropy, like code: compresses, as a real binary does.
            (x % 16) as u8
        })
        .collect()
}

/// A .deb of `version` holding `binary`, or None without dpkg-deb.
fn deb(dir: &Path, version: &str, binary: &[u8]) -> Option<Vec<u8>> {
    let root = dir.join(format!("root-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        format!("Package: pp-test\nVersion: {version}\nArchitecture: amd64\nMaintainer: t <t@example.com>\nDescription: test\n"),
    )
    .unwrap();
    std::fs::write(root.join("usr/bin/pp"), binary).unwrap();
    let out = dir.join(format!("pp_{version}.deb"));
    let status = Command::new("dpkg-deb")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["--root-owner-group", "-Zgzip", "-z9", "--build"])
        .arg(&root)
        .arg(&out)
        .output();
    match status {
        Ok(o) if o.status.success() => Some(std::fs::read(out).unwrap()),
        Ok(o) => panic!("dpkg-deb failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) if std::env::var_os("CI").is_some() => panic!("CI needs dpkg-deb"),
        Err(_) => {
            eprintln!("dpkg-deb not found: skipped");
            None
        }
    }
}

#[test]
fn a_deb_patch_rebuilds_the_package_exactly_and_is_far_smaller_than_a_raw_patch() {
    let dir = tempfile::tempdir().unwrap();
    let old_bin = noise(1, 2_000_000);
    let mut new_bin = old_bin.clone();
    new_bin[100..110].copy_from_slice(b"0.1.1-test");
    new_bin[1_500_000..1_500_004].copy_from_slice(&[9, 9, 9, 9]);
    let Some(old) = deb(dir.path(), "0.1.0", &old_bin) else {
        return;
    };
    let new = deb(dir.path(), "0.1.1", &new_bin).unwrap();
    let patch = build(&old, &new, Method::Deb).unwrap();
    assert!(apply(&old, &patch).unwrap() == new);
    let raw = build(&old, &new, Method::Zstd).unwrap();
    assert!(
        patch.len() * 5 < raw.len(),
        "deb patch {} bytes, raw zstd patch {} bytes",
        patch.len(),
        raw.len()
    );
}

#[test]
fn the_deb_method_refuses_what_it_cannot_rebuild_exactly() {
    // Not a .deb at all.
    let err = build(b"old bytes", b"new bytes", Method::Deb).unwrap_err();
    assert_eq!(err.code(), "delta_build_failed", "{err}");
    // An ar whose gzip member another compressor wrote (level 1): decoding
    // works, recompressing at level 9 does not give its bytes back, so no
    // patch is built rather than a wrong one.
    let member = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        e.write_all(&noise(5, 100_000)).unwrap();
        e.finish().unwrap()
    };
    let mut ar = b"!<arch>\n".to_vec();
    ar.extend_from_slice(
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            "data.tar.gz",
            0,
            0,
            0,
            100644,
            member.len()
        )
        .as_bytes(),
    );
    ar.extend_from_slice(&member);
    if member.len() % 2 == 1 {
        ar.push(b'\n');
    }
    let err = build(&ar, &ar, Method::Deb).unwrap_err();
    assert_eq!(err.code(), "delta_build_failed", "{err}");
    assert!(err.to_string().contains("does not rebuild"), "{err}");
}
