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
pub use platform::{Arch, BundleType, Os, Platform, PlatformError};
