"""Tests of the release scripts (scripts/check-version, scripts/changelog,
scripts/canary-alert) on throwaway repositories and files: each script runs
as a real process, as the workflows run it.

    python3 -m unittest discover -s scripts/tests -v
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent
ROOT = SCRIPTS.parent


def run(*args, cwd=None, env=None):
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


class CheckVersion(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        (self.tmp / "app").mkdir()
        (self.tmp / "own").mkdir()
        (self.tmp / "src-tauri").mkdir()
        (self.tmp / "ui").mkdir()
        (self.tmp / "Cargo.toml").write_text(
            '[workspace]\nmembers = ["app", "own"]\n[workspace.package]\nversion = "1.2.3"\n')
        (self.tmp / "app/Cargo.toml").write_text('[package]\nname = "app"\nversion.workspace = true\n')
        (self.tmp / "own/Cargo.toml").write_text('[package]\nname = "own"\nversion = "1.2.3"\n')
        (self.tmp / "Cargo.lock").write_text(
            'version = 4\n[[package]]\nname = "app"\nversion = "1.2.3"\n'
            '[[package]]\nname = "own"\nversion = "1.2.3"\n'
            '[[package]]\nname = "serde"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n')
        (self.tmp / "src-tauri/tauri.conf.json").write_text('{"productName": "P"}')
        (self.tmp / "ui/package.json").write_text('{"name": "ui", "version": "1.2.3"}')
        (self.tmp / "ui/package-lock.json").write_text(
            '{"name": "ui", "version": "1.2.3", "packages": {"": {"version": "1.2.3"}}}')

    def check(self, tag):
        return run(SCRIPTS / "check-version", "--root", self.tmp, tag)

    def test_every_field_matching_passes(self):
        r = self.check("v1.2.3")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("every version field is 1.2.3", r.stdout)

    def test_a_member_with_its_own_version_is_named(self):
        (self.tmp / "own/Cargo.toml").write_text('[package]\nname = "own"\nversion = "1.2.2"\n')
        r = self.check("v1.2.3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISMATCH  own/Cargo.toml version (own) = 1.2.2", r.stdout)

    def test_tauri_conf_version_and_package_json_path_are_checked(self):
        (self.tmp / "src-tauri/tauri.conf.json").write_text('{"version": "1.2.4"}')
        (self.tmp / "src-tauri/tauri.macos.conf.json").write_text('{"version": "../ui/package.json"}')
        r = self.check("v1.2.3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISMATCH  src-tauri/tauri.conf.json version = 1.2.4", r.stdout)
        self.assertIn("ok        src-tauri/tauri.macos.conf.json version -> ../ui/package.json = 1.2.3", r.stdout)

    def test_a_stale_lockfile_fails(self):
        (self.tmp / "ui/package-lock.json").write_text(
            '{"name": "ui", "version": "1.2.3", "packages": {"": {"version": "1.2.0"}}}')
        r = self.check("v1.2.3")
        self.assertEqual(r.returncode, 1)
        self.assertIn('MISMATCH  ui/package-lock.json packages[""].version = 1.2.0', r.stdout)

    def test_a_cargo_lock_without_the_member_fails(self):
        (self.tmp / "Cargo.lock").write_text('version = 4\n[[package]]\nname = "app"\nversion = "1.2.3"\n')
        r = self.check("v1.2.3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISMATCH  Cargo.lock own = (missing)", r.stdout)

    def test_the_tag_must_be_v_semver(self):
        for tag in ["1.2.3", "v1.2", "v01.2.3", "release-1", ""]:
            r = self.check(tag)
            self.assertEqual(r.returncode, 2, tag)
            self.assertIn("is not v<semver>", r.stderr)

    def test_a_prerelease_tag_must_match_exactly(self):
        self.assertEqual(self.check("v1.2.3-beta.1").returncode, 1)

    def test_the_repository_itself_is_consistent(self):
        version = run("cargo", "metadata", "--no-deps", "--format-version", "1", cwd=ROOT)
        if version.returncode != 0:
            self.skipTest("cargo metadata unavailable")
        v = next(p["version"] for p in json.loads(version.stdout)["packages"] if p["name"] == "productivitypro")
        r = run(SCRIPTS / "check-version", f"v{v}")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Changelog(unittest.TestCase):
    def setUp(self):
        self.repo = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.repo)
        self.env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
        self.git("init", "-q", "-b", "main")

    def git(self, *args):
        r = run("git", *args, cwd=self.repo, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def commit(self, message):
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def test_sections_since_the_previous_tag(self):
        self.commit("feat: before the last release")
        self.git("tag", "v1.0.0")
        self.commit("feat(ui): quick add remembers the list")
        self.commit("fix: sync retries after a 503")
        self.commit("perf(core): unlock decrypts on two threads")
        self.commit("feat(api)!: drop the v0 update route")
        self.commit("refactor: split the vault module\n\nBREAKING CHANGE: the backup format is v3")
        self.commit("docs: releasing runbook")
        self.commit("benchmarks.md: new figures")
        self.git("tag", "v1.1.0")
        self.commit("fix: after the tag")
        out = run(SCRIPTS / "changelog", "-C", self.repo, "v1.1.0").stdout
        self.assertIn("Changes since v1.0.0.", out)
        self.assertNotIn("before the last release", out)
        self.assertNotIn("after the tag", out)
        sections = [line for line in out.splitlines() if line.startswith("### ")]
        self.assertEqual(sections, ["### Breaking changes", "### Features", "### Fixes",
                                    "### Performance", "### Maintenance", "### Other changes"])
        self.assertRegex(out, r"- \*\*api:\*\* drop the v0 update route \([0-9a-f]{10}\)")
        self.assertIn("- split the vault module", out.split("### Features")[0])
        self.assertIn("- **ui:** quick add remembers the list", out)
        self.assertIn("- docs: releasing runbook", out)
        self.assertIn("- benchmarks.md: new figures", out)

    def test_first_release_takes_the_whole_history(self):
        self.commit("feat: one")
        out = run(SCRIPTS / "changelog", "-C", self.repo, "v0.1.0").stdout
        self.assertIn("The first release.", out)
        self.assertIn("- one", out)

    def test_merges_are_left_out(self):
        self.commit("feat: base")
        self.git("checkout", "-q", "-b", "topic")
        self.commit("fix: on the branch")
        self.git("checkout", "-q", "main")
        self.commit("feat: on main")
        self.git("merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
        out = run(SCRIPTS / "changelog", "-C", self.repo, "v0.2.0").stdout
        self.assertNotIn("Merge topic", out)
        self.assertIn("- on the branch", out)


def status_json(state="rolled_back"):
    health = {"installs": 400, "crashed_installs": 20, "update_installs": 100,
              "failed_update_installs": 2, "sessions": 900, "crashes": 31,
              "updates_installed": 98, "updates_failed": 2}
    failing = {"state": "failing", "reason": "crash rate 5.00% > 2.00%"}
    return {
        "window": {"hours": 24, "since": "2026-11-29T12:00:00Z"},
        "releases": [
            {"version": "1.3.0", "state": state, "state_reason": "gate failed: crash rate 5.00% > 2.00%",
             "published_at": "2026-11-29T08:00:00Z",
             "channels": [{"channel": "canary", "percent": 1.0, "since": "2026-11-29T08:00:00Z",
                           "health": health, "gate": failing}],
             "platforms": [{"platform": "windows-x86_64-nsis", "state": state, "health": health,
                            "gate": failing}],
             "health": health, "gate": failing},
            {"version": "1.2.0", "state": "active", "published_at": "2026-11-01T08:00:00Z",
             "channels": [], "platforms": [], "health": {}, "gate": {"state": "passing"}},
        ],
    }


def audit_json():
    return {"entries": [
        {"id": 41, "at": "2026-11-30T11:10:00Z", "actor": "gate", "action": "rollback", "version": "1.3.0",
         "detail": "active -> rolled_back: gate failed: crash rate 5.00% > 2.00%"},
        {"id": 40, "at": "2026-11-30T10:00:00Z", "actor": "ci", "action": "rollout", "version": "1.3.0",
         "detail": "canary 1%"},
        {"id": 12, "at": "2026-11-20T10:00:00Z", "actor": "alice", "action": "halt", "version": "1.1.0",
         "detail": "active -> halted: bad sync"},
    ]}


class CanaryAlert(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.status = self.tmp / "status.json"
        self.audit = self.tmp / "audit.json"
        self.status.write_text(json.dumps(status_json()))
        self.audit.write_text(json.dumps(audit_json()))

    def alert(self, *args, env=None):
        return run(SCRIPTS / "canary-alert", "--status", self.status, "--audit", self.audit,
                   "--now", "2026-11-30T12:00:00Z", *args, env=env)

    def test_a_gate_rollback_is_reported_with_its_figures(self):
        r = self.alert("--print")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("# Release 1.3.0 rolled back by the update service's gates", out)
        self.assertIn("Audit entry #41: `rollback`", out)
        self.assertIn("Gate verdict: **failing** — crash rate 5.00% > 2.00%", out)
        self.assertIn("| channel canary at 1.0% | 400 | 5.00% (20/400) | 2.00% (2/100) | 900 | 31 | failing: crash rate 5.00% > 2.00% |", out)
        self.assertIn("| windows-x86_64-nsis (rolled_back) | 400 |", out)
        self.assertIn("<!-- canary-alert audit-41 -->", out)
        self.assertNotIn("1.1.0", out, "an old halt outside the window is not reported again")

    def test_nothing_to_report(self):
        self.audit.write_text(json.dumps({"entries": audit_json()["entries"][1:]}))
        r = self.alert("--print")
        self.assertEqual(r.returncode, 0)
        self.assertIn("no halt or rollback in the last 180 min", r.stdout)

    def test_a_halt_by_a_person_names_them(self):
        r = self.alert("--print", "--window-minutes", str(60 * 24 * 11))
        self.assertIn("# Release 1.1.0 halted by alice", r.stdout)
        self.assertIn("The service's status no longer lists 1.1.0", r.stdout)

    def test_issue_mode_opens_one_issue_and_never_a_duplicate(self):
        # A stand-in `gh` on PATH that records its calls: the issue list
        # answers from a file the create call appends to.
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        log = self.tmp / "gh.log"
        created = self.tmp / "created"
        (bin_dir / "gh").write_text(
            "#!/bin/sh\n"
            f'echo "$1 $2" >>"{log}"\n'
            'if [ "$2" = list ]; then\n'
            f'  if [ -f "{created}" ]; then echo 1; else echo 0; fi\n'
            "else\n"
            f'  touch "{created}"; echo https://github.com/o/r/issues/7\n'
            "fi\n")
        (bin_dir / "gh").chmod(0o755)
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
        first = self.alert("--issue", env=env)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("issues/7", first.stdout)
        second = self.alert("--issue", env=env)
        self.assertIn("audit #41 already reported", second.stdout)
        self.assertEqual(log.read_text().split("\n").count("issue create"), 1)

    def test_webhook_mode_needs_its_url(self):
        r = self.alert("--webhook", env={"CANARY_WEBHOOK_URL": ""})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("CANARY_WEBHOOK_URL is not set", r.stderr)

    def test_webhook_mode_posts_the_report(self):
        import http.server
        import threading
        got = []

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        url = f"http://127.0.0.1:{srv.server_port}/hook"
        r = self.alert("--webhook", env={"CANARY_WEBHOOK_URL": url})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(got), 1)
        self.assertIn("Release 1.3.0 rolled back", got[0]["text"])
        self.assertNotIn(url, r.stdout + r.stderr, "the webhook URL is a secret")


if __name__ == "__main__":
    unittest.main()
