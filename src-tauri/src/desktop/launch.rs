//! What a launch asks for: `--quick-add`, `--autostarted`, or a
//! `productivitypro://add?title=…` link (the only argument, as the desktop
//! entry passes it). A link's text is never saved directly: it goes to
//! quick add, where the user sees what the grammar made of it and confirms.

use crate::desktop::autostart::AUTOSTARTED_ARG;
use crate::error::{IpcError, IpcResult};

pub const QUICK_ADD_ARG: &str = "--quick-add";
pub const SCHEME: &str = "productivitypro";
/// Longer quick-add text from a link is refused (a link is a title).
pub const MAX_LINK_TEXT: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub quick_add: bool,
    pub autostarted: bool,
    /// A `productivitypro://` argument, unparsed.
    pub link: Option<String>,
}

/// `--version` (or `-V`) anywhere in the arguments: print the version and
/// exit before anything else starts. Installers, package managers' smoke
/// tests and support scripts run it, so it must open no window, take no
/// single-instance lock, write no log and never open the vault.
pub fn version_requested<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> bool {
    args.into_iter()
        .any(|a| matches!(a.as_ref(), "--version" | "-V"))
}

/// What `--version` prints: the name the binary is installed under and the
/// version the app was built as: Tauri's package version, which the
/// bundler writes into the package and the updater compares offers with
/// (the workspace's unless a build overrides it, as `tauri build --config`
/// and scripts/e2e-update do), so the three never disagree.
pub fn version_line(version: &impl std::fmt::Display) -> String {
    format!("productivitypro {version}")
}

/// Reads the arguments after the program name.
pub fn parse_args<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> Launch {
    let mut l = Launch::default();
    for a in args {
        let a = a.as_ref();
        if a == QUICK_ADD_ARG {
            l.quick_add = true;
        } else if a == AUTOSTARTED_ARG {
            l.autostarted = true;
        } else if a
            .get(..SCHEME.len() + 1)
            .is_some_and(|p| p.eq_ignore_ascii_case(&format!("{SCHEME}:")))
        {
            l.link = Some(a.to_string());
        }
    }
    l
}

/// The quick-add text a link carries: `productivitypro://add?title=Pay%20rent%20tomorrow`
/// (`text=` is accepted too).
pub fn link_text(link: &str) -> IpcResult<String> {
    let bad = |why: &str| IpcError::invalid(format!("this link cannot be used ({why})"));
    let url = tauri::Url::parse(link).map_err(|_| bad("it is not a URL"))?;
    if !url.scheme().eq_ignore_ascii_case(SCHEME) {
        return Err(bad("it is not a productivitypro:// link"));
    }
    // `productivitypro://add?…` has the action as host; `productivitypro:add?…` as path.
    let action = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| url.path().trim_matches('/'));
    if !action.eq_ignore_ascii_case("add") {
        return Err(bad("only productivitypro://add?title=… is supported"));
    }
    let text = url
        .query_pairs()
        .find(|(k, _)| k == "title" || k == "text")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| bad("it has no title"))?;
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.is_empty() {
        return Err(bad("its title is empty"));
    }
    if clean.chars().count() > MAX_LINK_TEXT {
        return Err(bad("its title is too long"));
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(parse_args(Vec::<String>::new()), Launch::default());
        let l = parse_args(["--quick-add"]);
        assert!(l.quick_add && !l.autostarted && l.link.is_none());
        assert!(parse_args(["--autostarted"]).autostarted);
        let l = parse_args(["productivitypro://add?title=x"]);
        assert_eq!(l.link.as_deref(), Some("productivitypro://add?title=x"));
        assert_eq!(parse_args(["https://example.com"]).link, None);
    }

    #[test]
    fn version_is_asked_with_either_spelling_only() {
        assert!(version_requested(["--version"]));
        assert!(version_requested(["--quick-add", "-V"]));
        assert!(!version_requested(Vec::<String>::new()));
        assert!(!version_requested(["--versions", "-v", "version"]));
        assert!(!version_requested([
            "productivitypro://add?title=--version"
        ]));
        assert_eq!(
            version_line(&"1.2.3-beta.1"),
            "productivitypro 1.2.3-beta.1"
        );
    }

    #[test]
    fn links_carry_quick_add_text() {
        assert_eq!(
            link_text("productivitypro://add?title=Pay%20rent%20tomorrow%209am%20%23home%20!1")
                .unwrap(),
            "Pay rent tomorrow 9am #home !1"
        );
        assert_eq!(
            link_text("productivitypro://add?title=Buy+milk+%40shop").unwrap(),
            "Buy milk @shop"
        );
        assert_eq!(link_text("productivitypro:add?text=hi").unwrap(), "hi");
        assert_eq!(
            link_text("productivitypro://add?title=a%0Ab%09c").unwrap(),
            "a b c"
        );
        for bad in [
            "productivitypro://delete?title=x",
            "productivitypro://add",
            "productivitypro://add?title=%20%20",
            "https://add?title=x",
            "not a url",
        ] {
            assert_eq!(
                link_text(bad).unwrap_err().code,
                "invalid_argument",
                "{bad}"
            );
        }
        let long = format!(
            "productivitypro://add?title={}",
            "a".repeat(MAX_LINK_TEXT + 1)
        );
        assert!(link_text(&long).is_err());
    }
}
