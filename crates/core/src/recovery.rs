//! Recovery keys: 256 random bits shown once as Crockford base32 in groups
//! of four, with a 24-bit checksum so a typo is reported as a typo rather
//! than as "wrong key".

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::{SecretKey, SecureRng, KEY_LEN};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_LEN: usize = 3;
/// 35 bytes = 280 bits = 56 characters.
const ENCODED_LEN: usize = 56;
const GROUP: usize = 4;

/// A recovery key. Its text form is the only copy the user gets.
#[derive(Clone)]
pub struct RecoveryKey(SecretKey);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryKeyError {
    #[error("recovery key looks mistyped: character `{ch}` (position {position}) is not used in recovery keys")]
    BadCharacter { ch: char, position: usize },
    #[error(
        "recovery key looks mistyped: it has {got} characters, a recovery key has {ENCODED_LEN}"
    )]
    BadLength { got: usize },
    #[error("recovery key looks mistyped: its checksum does not match (check each group of four characters)")]
    BadChecksum,
}

impl RecoveryKey {
    pub fn generate(rng: &mut dyn SecureRng) -> Self {
        RecoveryKey(SecretKey::random(rng))
    }

    pub fn secret(&self) -> &SecretKey {
        &self.0
    }

    fn checksum(secret: &[u8]) -> [u8; CHECK_LEN] {
        let d = Sha256::new()
            .chain_update(b"productivitypro/recovery-checksum")
            .chain_update(secret)
            .finalize();
        [d[0], d[1], d[2]]
    }

    /// The text to show the user, e.g. `7K3M-Q9TA-…` (14 groups).
    pub fn display_text(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + CHECK_LEN));
        bytes.extend_from_slice(self.0.expose());
        bytes.extend_from_slice(&Self::checksum(self.0.expose()));
        let mut chars = Zeroizing::new(String::with_capacity(ENCODED_LEN + ENCODED_LEN / GROUP));
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut n = 0;
        for &b in bytes.iter() {
            acc = (acc << 8) | b as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                if n > 0 && n % GROUP == 0 {
                    chars.push('-');
                }
                chars.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
                n += 1;
            }
        }
        chars
    }

    /// Parses what a person typed: case, spaces and dashes do not matter,
    /// and the look-alikes I/L (→1) and O (→0) are accepted.
    pub fn parse(text: &str) -> Result<Self, RecoveryKeyError> {
        let mut values = Zeroizing::new(Vec::with_capacity(ENCODED_LEN));
        for (position, ch) in text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .enumerate()
        {
            let up = match ch.to_ascii_uppercase() {
                'I' | 'L' => '1',
                'O' => '0',
                c => c,
            };
            let v = ALPHABET.iter().position(|a| *a as char == up).ok_or(
                RecoveryKeyError::BadCharacter {
                    ch,
                    position: position + 1,
                },
            )?;
            values.push(v as u8);
        }
        if values.len() != ENCODED_LEN {
            return Err(RecoveryKeyError::BadLength { got: values.len() });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + CHECK_LEN));
        let (mut acc, mut bits) = (0u32, 0u32);
        for &v in values.iter() {
            acc = (acc << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
            }
        }
        let (secret, check) = bytes.split_at(KEY_LEN);
        if Self::checksum(secret) != check {
            return Err(RecoveryKeyError::BadChecksum);
        }
        Ok(RecoveryKey(SecretKey::from_slice(secret).ok_or(
            RecoveryKeyError::BadLength { got: values.len() },
        )?))
    }
}

/// A group as typed, read the way [`RecoveryKey::parse`] reads it.
fn normalise_typed(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect()
}

impl RecoveryKey {
    /// How many groups of four the text form has.
    pub const GROUPS: usize = ENCODED_LEN / GROUP;

    /// Whether each `(group, text)` — group numbers from 1 — is what the
    /// key says there: "I saved it" is confirmed by typing a few groups
    /// back. Case, spaces and look-alikes are forgiven as in `parse`; a
    /// group number out of range or no answers at all is never a match.
    pub fn confirms(&self, answers: &[(usize, &str)]) -> bool {
        let text = self.display_text();
        let groups: Vec<&str> = text.split('-').collect();
        !answers.is_empty()
            && answers.iter().all(|(n, typed)| {
                n.checked_sub(1)
                    .and_then(|i| groups.get(i))
                    .is_some_and(|g| normalise_typed(typed) == *g)
            })
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn key(seed: u64) -> RecoveryKey {
        RecoveryKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn text_form_is_fourteen_groups_of_four() {
        let t = key(1).display_text();
        let groups: Vec<&str> = t.split('-').collect();
        assert_eq!(groups.len(), 14);
        assert!(groups.iter().all(|g| g.len() == 4));
    }

    #[test]
    fn parses_what_people_type() {
        let k = key(2);
        let t = k.display_text();
        let sloppy = t
            .to_lowercase()
            .replace('-', " ")
            .replace('1', "l")
            .replace('0', "o");
        let back = RecoveryKey::parse(&sloppy).unwrap();
        assert_eq!(back.secret().expose(), k.secret().expose());
    }

    #[test]
    fn mistypes_are_reported_as_mistypes() {
        let t = key(3).display_text().to_string();
        assert!(matches!(
            RecoveryKey::parse(&t[..t.len() - 1]),
            Err(RecoveryKeyError::BadLength { .. })
        ));
        assert!(matches!(
            RecoveryKey::parse(&format!("{t}U")),
            Err(RecoveryKeyError::BadCharacter { ch: 'U', .. })
        ));
    }

    #[test]
    fn typed_back_groups_confirm_the_key() {
        let k = key(4);
        let t = k.display_text().to_string();
        let groups: Vec<&str> = t.split('-').collect();
        assert_eq!(groups.len(), RecoveryKey::GROUPS);
        let sloppy = groups[6].to_lowercase().replace('1', "l");
        assert!(k.confirms(&[(2, groups[1]), (7, &sloppy)]));
        assert!(!k.confirms(&[(2, groups[2])]), "wrong group");
        assert!(!k.confirms(&[(2, groups[1]), (3, "ZZZZ")]), "one wrong");
        assert!(!k.confirms(&[(0, groups[0])]), "groups count from 1");
        assert!(!k.confirms(&[(15, "AAAA")]), "out of range");
        assert!(!k.confirms(&[]), "nothing typed");
    }

    proptest! {
        #[test]
        fn any_single_character_substitution_is_caught(seed: u64, pos in 0usize..56, delta in 1u8..32) {
            let t: Vec<u8> = key(seed).display_text().bytes().filter(|b| *b != b'-').collect();
            let mut bad = t.clone();
            let v = ALPHABET.iter().position(|a| *a == bad[pos]).unwrap() as u8;
            bad[pos] = ALPHABET[((v + delta) % 32) as usize];
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(RecoveryKey::parse(&bad).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = RecoveryKey::parse(&s);
        }
    }
}
