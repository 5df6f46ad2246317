//! Round trips and every way a patch can be wrong, for each method.

use productivitypro_delta::{apply, build, inspect, sha256, DeltaError, Method, HEADER_LEN};
use proptest::prelude::*;

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
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

/// An "old" artifact and a "new" one that shares most of it: a few bytes
/// changed, a block inserted, a block moved — what a patch release does to
/// an uncompressed binary.
fn release_pair() -> (Vec<u8>, Vec<u8>) {
    let old = noise(7, 300_000);
    let mut new = old.clone();
    new[1000] ^= 0xff;
    new[150_000..150_004].copy_from_slice(b"v1.1");
    new.splice(200_000..200_000, noise(9, 5_000));
    let moved: Vec<u8> = new[10_000..30_000].to_vec();
    new.drain(10_000..30_000);
    new.extend_from_slice(&moved);
    (old, new)
}

#[test]
fn every_method_round_trips_a_release_pair_and_is_small() {
    let (old, new) = release_pair();
    for method in Method::GENERIC {
        let patch = build(&old, &new, method).unwrap();
        assert_eq!(apply(&old, &patch).unwrap(), new, "{method}");
        let header = inspect(&patch).unwrap();
        assert_eq!(header.method, method);
        assert_eq!(header.new_size, new.len() as u64);
        assert_eq!(header.new_sha256, sha256(&new));
        // 5 kB of new noise plus a few edits must not cost much more than
        // itself; chunks ship whole ~8 kB chunks around every edit.
        let budget = if method == Method::Chunked {
            120_000
        } else {
            20_000
        };
        assert!(
            patch.len() < budget,
            "{method}: {} bytes for a 5 kB change",
            patch.len()
        );
    }
}

#[test]
fn empty_artifacts_round_trip() {
    for method in Method::GENERIC {
        for (old, new) in [
            (vec![], vec![]),
            (vec![], b"abc".to_vec()),
            (b"abc".to_vec(), vec![]),
        ] {
            let patch = build(&old, &new, method).unwrap();
            assert_eq!(apply(&old, &patch).unwrap(), new, "{method}");
        }
    }
}

#[test]
fn wrong_base_is_refused_before_decoding() {
    let (old, new) = release_pair();
    let mut other = old.clone();
    other[5] ^= 1;
    for method in Method::GENERIC {
        let patch = build(&old, &new, method).unwrap();
        let err = apply(&other, &patch).unwrap_err();
        assert_eq!(err.code(), "delta_wrong_base", "{method}: {err}");
        let err = apply(&old[..old.len() - 1], &patch).unwrap_err();
        assert_eq!(err.code(), "delta_wrong_base", "{method}: {err}");
    }
}

#[test]
fn every_flipped_payload_byte_is_caught() {
    let (old, new) = release_pair();
    for method in Method::GENERIC {
        let patch = build(&old, &new, method).unwrap();
        let step = ((patch.len() - HEADER_LEN) / 50).max(1);
        for at in (HEADER_LEN..patch.len()).step_by(step) {
            let mut bad = patch.clone();
            bad[at] ^= 0x40;
            assert_eq!(
                apply(&old, &bad).unwrap_err(),
                DeltaError::Corrupt,
                "{method} byte {at}"
            );
        }
    }
}

#[test]
fn flipped_header_bytes_never_give_bytes_back() {
    let (old, new) = release_pair();
    let patch = build(&old, &new, Method::Zstd).unwrap();
    for at in 0..HEADER_LEN {
        let mut bad = patch.clone();
        bad[at] ^= 0x01;
        let err = apply(&old, &bad).unwrap_err();
        assert!(
            [
                "delta_malformed",
                "delta_unsupported_version",
                "delta_unknown_method",
                "delta_truncated",
                "delta_corrupt",
                "delta_wrong_base",
                "delta_too_large",
                "delta_decode_failed",
                "delta_result_mismatch",
            ]
            .contains(&err.code()),
            "byte {at}: {err}"
        );
    }
}

#[test]
fn a_forged_target_hash_is_a_result_mismatch() {
    // Someone rewrote the header's target digest and kept the payload hash
    // consistent: the decoder runs, and the result is still refused.
    let (old, new) = release_pair();
    let mut patch = build(&old, &new, Method::Chunked).unwrap();
    patch[52 + 8] ^= 0xff;
    assert_eq!(apply(&old, &patch).unwrap_err(), DeltaError::ResultMismatch);
}

#[test]
fn truncation_anywhere_is_refused() {
    let (old, new) = release_pair();
    for method in Method::GENERIC {
        let patch = build(&old, &new, method).unwrap();
        for len in [
            0,
            4,
            8,
            20,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + 1,
            patch.len() / 2,
            patch.len() - 1,
        ] {
            let err = apply(&old, &patch[..len]).unwrap_err();
            assert!(
                ["delta_malformed", "delta_truncated"].contains(&err.code()),
                "{method} cut at {len}: {err}"
            );
        }
        let mut longer = patch.clone();
        longer.push(0);
        assert_eq!(apply(&old, &longer).unwrap_err().code(), "delta_truncated");
    }
}

#[test]
fn unknown_version_and_method_are_named() {
    let (old, new) = release_pair();
    let patch = build(&old, &new, Method::Bsdiff).unwrap();
    let mut v2 = patch.clone();
    v2[8..10].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(
        apply(&old, &v2).unwrap_err(),
        DeltaError::UnsupportedVersion(2)
    );
    let mut m9 = patch.clone();
    m9[10] = 9;
    assert_eq!(apply(&old, &m9).unwrap_err(), DeltaError::UnknownMethod(9));
    assert_eq!(
        apply(&old, b"PK\x03\x04 not a patch").unwrap_err().code(),
        "delta_malformed"
    );
}

#[test]
fn a_huge_declared_size_is_refused_before_allocating() {
    let (old, new) = release_pair();
    let mut patch = build(&old, &new, Method::Zstd).unwrap();
    patch[52..60].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(apply(&old, &patch).unwrap_err().code(), "delta_too_large");
}

#[test]
fn method_names_round_trip() {
    for method in Method::ALL {
        assert_eq!(method.as_str().parse::<Method>().unwrap(), method);
        assert_eq!(Method::from_byte(method.to_byte()).unwrap(), method);
    }
    assert!("xdelta".parse::<Method>().is_err());
}

/// `new` derived from `old` by a few random edits (the shape patches are for).
fn similar_pair() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        proptest::collection::vec(any::<u8>(), 0..20_000),
        proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                0usize..3,
                proptest::collection::vec(any::<u8>(), 0..200),
            ),
            0..6,
        ),
    )
        .prop_map(|(old, edits)| {
            let mut new = old.clone();
            for (at, kind, bytes) in edits {
                let pos = if new.is_empty() {
                    0
                } else {
                    at.index(new.len() + 1)
                };
                match kind {
                    0 => {
                        new.splice(pos..pos, bytes);
                    }
                    1 => {
                        let end = (pos + bytes.len()).min(new.len());
                        new.drain(pos..end);
                    }
                    _ => {
                        let end = (pos + bytes.len()).min(new.len());
                        new[pos..end].copy_from_slice(&bytes[..end - pos]);
                    }
                }
            }
            (old, new)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn apply_build_is_identity_on_similar_inputs((old, new) in similar_pair(), m in 0usize..3) {
        let method = Method::GENERIC[m];
        let patch = build(&old, &new, method).unwrap();
        prop_assert_eq!(apply(&old, &patch).unwrap(), new);
    }

    #[test]
    fn apply_build_is_identity_on_unrelated_inputs(
        old in proptest::collection::vec(any::<u8>(), 0..5_000),
        new in proptest::collection::vec(any::<u8>(), 0..5_000),
        m in 0usize..3,
    ) {
        let method = Method::GENERIC[m];
        let patch = build(&old, &new, method).unwrap();
        prop_assert_eq!(apply(&old, &patch).unwrap(), new);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        garbage in proptest::collection::vec(any::<u8>(), 0..2_000),
        m in 0usize..4,
    ) {
        // Payload hash made consistent, so the decoder itself sees garbage
        // (the .deb method's too: its header is set by hand).
        let (old, new) = (noise(3, 4_000), noise(4, 4_000));
        let mut patch = build(&old, &new, Method::GENERIC[m % 3]).unwrap();
        patch[10] = Method::ALL[m].to_byte();
        patch.truncate(HEADER_LEN);
        patch[92..100].copy_from_slice(&(garbage.len() as u64).to_le_bytes());
        patch[100..132].copy_from_slice(&sha256(&garbage));
        patch.extend_from_slice(&garbage);
        let err = apply(&old, &patch).unwrap_err();
        prop_assert!(["delta_decode_failed", "delta_result_mismatch"].contains(&err.code()), "{}", err);
    }
}
