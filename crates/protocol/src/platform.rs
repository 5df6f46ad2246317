//! The platform an artifact is built for, spelled the way
//! tauri-plugin-updater fills `{{target}}`, `{{arch}}` and `{{bundle_type}}`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("unknown target {0:?}: expected linux, windows or darwin")]
    UnknownOs(String),
    #[error("unknown arch {0:?}: expected x86_64, i686, aarch64, armv7 or riscv64")]
    UnknownArch(String),
    #[error("unknown bundle type {0:?}: expected appimage, deb, rpm, nsis, msi or app")]
    UnknownBundle(String),
    #[error("bundle type {bundle} does not exist on {os}")]
    BundleNotOnOs { os: Os, bundle: BundleType },
    #[error(
        "malformed platform {0:?}: expected {{os}}-{{arch}}-{{bundle}}, e.g. linux-x86_64-appimage"
    )]
    Malformed(String),
}

macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident, $err:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = PlatformError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(PlatformError::$err(other.to_string())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

name_enum!(
    /// `{{target}}` in the plugin's URL template.
    Os, UnknownOs, { Linux => "linux", Windows => "windows", Darwin => "darwin" }
);
name_enum!(
    Arch, UnknownArch, {
        X86_64 => "x86_64", I686 => "i686", Aarch64 => "aarch64", Armv7 => "armv7", Riscv64 => "riscv64",
    }
);
name_enum!(
    BundleType, UnknownBundle, {
        AppImage => "appimage", Deb => "deb", Rpm => "rpm", Nsis => "nsis", Msi => "msi", App => "app",
    }
);

impl BundleType {
    pub fn os(self) -> Os {
        match self {
            BundleType::AppImage | BundleType::Deb | BundleType::Rpm => Os::Linux,
            BundleType::Nsis | BundleType::Msi => Os::Windows,
            BundleType::App => Os::Darwin,
        }
    }
}

impl Os {
    /// The bundle an `{os}-{arch}` entry of a static manifest stands for: what
    /// an install whose binary was not stamped by the bundler most likely is.
    pub fn default_bundle(self) -> BundleType {
        match self {
            Os::Linux => BundleType::AppImage,
            Os::Windows => BundleType::Nsis,
            Os::Darwin => BundleType::App,
        }
    }
}

/// One artifact slot of a release: `linux-x86_64-appimage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: Os,
    pub arch: Arch,
    pub bundle: BundleType,
}

impl Platform {
    pub fn new(os: Os, arch: Arch, bundle: BundleType) -> Result<Self, PlatformError> {
        if bundle.os() != os {
            return Err(PlatformError::BundleNotOnOs { os, bundle });
        }
        Ok(Platform { os, arch, bundle })
    }

    /// `{os}-{arch}-{bundle}`, the static manifest's first lookup key.
    pub fn key(self) -> String {
        format!("{}-{}-{}", self.os, self.arch, self.bundle)
    }

    /// `{os}-{arch}`, the static manifest's fallback key.
    pub fn short_key(self) -> String {
        format!("{}-{}", self.os, self.arch)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.os, self.arch, self.bundle)
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The arch itself contains `_` but never `-`, so splitting on `-` is exact.
        let mut parts = s.split('-');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), Some(bundle), None) => {
                Platform::new(os.parse()?, arch.parse()?, bundle.parse()?)
            }
            _ => Err(PlatformError::Malformed(s.to_string())),
        }
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valid_platform_round_trips_through_its_key() {
        for &os in Os::ALL {
            for &arch in Arch::ALL {
                for &bundle in BundleType::ALL {
                    match Platform::new(os, arch, bundle) {
                        Ok(p) => assert_eq!(p.key().parse::<Platform>(), Ok(p)),
                        Err(e) => assert_eq!(e, PlatformError::BundleNotOnOs { os, bundle }),
                    }
                }
            }
        }
    }

    #[test]
    fn bad_keys_say_which_part_is_wrong() {
        assert!(matches!(
            "linux-x86_64".parse::<Platform>(),
            Err(PlatformError::Malformed(_))
        ));
        assert!(matches!(
            "beos-x86_64-deb".parse::<Platform>(),
            Err(PlatformError::UnknownOs(_))
        ));
        assert!(matches!(
            "linux-sparc-deb".parse::<Platform>(),
            Err(PlatformError::UnknownArch(_))
        ));
        assert!(matches!(
            "linux-x86_64-zip".parse::<Platform>(),
            Err(PlatformError::UnknownBundle(_))
        ));
        assert!(matches!(
            "windows-x86_64-deb".parse::<Platform>(),
            Err(PlatformError::BundleNotOnOs { .. })
        ));
        assert!(matches!(
            "linux-x86_64-deb-x".parse::<Platform>(),
            Err(PlatformError::Malformed(_))
        ));
    }
}
