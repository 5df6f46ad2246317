use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Update channels, from the widest audience to the earliest builds.
///
/// A channel sees its own releases and those of every wider channel: canary
/// installs are offered canary, beta and stable releases; beta installs beta
/// and stable; stable installs stable only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Stable,
    Beta,
    Canary,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Stable, Channel::Beta, Channel::Canary];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Beta => "beta",
            Channel::Canary => "canary",
        }
    }

    /// Index into per-channel arrays, in `ALL` order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether installs on `self` are offered releases published to `other`.
    pub fn sees(self, other: Channel) -> bool {
        other <= self
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?}: expected stable, beta or canary")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stable" => Ok(Channel::Stable),
            "beta" => Ok(Channel::Beta),
            "canary" => Ok(Channel::Canary),
            other => Err(UnknownChannel(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_channels_are_seen_by_earlier_ones() {
        use Channel::*;
        assert!(Canary.sees(Canary) && Canary.sees(Beta) && Canary.sees(Stable));
        assert!(!Beta.sees(Canary) && Beta.sees(Beta) && Beta.sees(Stable));
        assert!(!Stable.sees(Canary) && !Stable.sees(Beta) && Stable.sees(Stable));
    }

    #[test]
    fn parses_only_known_names() {
        assert_eq!("beta".parse::<Channel>(), Ok(Channel::Beta));
        assert!("Beta".parse::<Channel>().is_err());
        assert!("nightly".parse::<Channel>().is_err());
    }
}
