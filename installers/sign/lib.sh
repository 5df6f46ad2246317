# shellcheck shell=bash
# shellcheck disable=SC2034 # sign_root, gpg_sign_args: used by the scripts sourcing this
# Sourced by every installers/sign/* script. Secrets come only from the
# environment; they are never echoed, never passed on a command line where
# another tool can avoid it, and key material is written only into a
# private directory (mode 700, files 600) that is removed when the script
# exits, however it exits.
set +x
set -euo pipefail
umask 077

sign_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sign_name="$(basename "$0")"

die() {
  echo "$sign_name: $*" >&2
  exit 1
}

# need_env VAR...: every VAR set and non-empty (only names are printed).
need_env() {
  local missing=()
  for v in "$@"; do
    [ -n "${!v:-}" ] || missing+=("$v")
  done
  [ ${#missing[@]} -eq 0 ] || die "set ${missing[*]} in the environment (CI: repository or environment secrets)"
}

need_cmd() {
  for c in "$@"; do
    command -v "$c" >/dev/null || die "$c is not installed (Debian/Ubuntu: scripts/bootstrap --release)"
  done
}

# A private directory for key material, removed on exit.
secret_dir=""
cleanup_secrets() {
  if [ -n "$secret_dir" ] && [ -d "$secret_dir" ]; then
    # A gpg-agent started for this GNUPGHOME holds the key in memory.
    if [ -n "${GNUPGHOME:-}" ] && [ "${GNUPGHOME#"$secret_dir"}" != "$GNUPGHOME" ]; then
      gpgconf --kill all >/dev/null 2>&1 || true
    fi
    find "$secret_dir" -type f -exec shred -u {} + 2>/dev/null || true
    rm -rf "$secret_dir"
  fi
}
trap cleanup_secrets EXIT
new_secret_dir() {
  secret_dir="$(mktemp -d "${TMPDIR:-/tmp}/pp-sign.XXXXXXXX")"
  chmod 700 "$secret_dir"
}

# write_secret FILE VAR: the variable's value into FILE (mode 600).
write_secret() {
  install -m 600 /dev/null "$1"
  printf '%s' "${!2}" >"$1"
}

# gpg_session: a throwaway GNUPGHOME holding GPG_PRIVATE_KEY (ASCII-armoured
# secret key); sets GPG_FPR to its fingerprint and gpg_sign_args to what a
# signing `gpg` call needs (the passphrase, GPG_PASSPHRASE, goes through a
# file, never argv).
gpg_session() {
  need_env GPG_PRIVATE_KEY
  need_cmd gpg
  [ -n "$secret_dir" ] || new_secret_dir
  export GNUPGHOME="$secret_dir/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  echo "allow-loopback-pinentry" >"$GNUPGHOME/gpg-agent.conf"
  write_secret "$secret_dir/gpg-key.asc" GPG_PRIVATE_KEY
  install -m 600 /dev/null "$secret_dir/gpg-pass"
  printf '%s' "${GPG_PASSPHRASE:-}" >"$secret_dir/gpg-pass"
  gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$secret_dir/gpg-pass" \
    --import "$secret_dir/gpg-key.asc" 2>/dev/null || die "GPG_PRIVATE_KEY is not an importable secret key"
  shred -u "$secret_dir/gpg-key.asc" 2>/dev/null || rm -f "$secret_dir/gpg-key.asc"
  GPG_FPR="$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1=="fpr"{print $10; exit}')"
  [ -n "$GPG_FPR" ] || die "GPG_PRIVATE_KEY holds no secret key"
  gpg_sign_args=(--batch --yes --pinentry-mode loopback --passphrase-file "$secret_dir/gpg-pass"
    --local-user "$GPG_FPR" --digest-algo SHA512)
}
