#!/usr/bin/env bash
# The release-pipeline and rebuilder flow, as a new user runs it, on a bundled test-project:
# keygen, `repro build` (signed SLSA provenance), `repro rebuild` (attestation, bundle, VSA),
# `repro verify`, securesystemslib's verification (when installed), then a provenance whose
# subject digest the source does not build (exit 1, nothing signed). Prints the time of each
# step. The project is copied into a fresh git repository, so the checkout's state is irrelevant.
#
#   scripts/demo-rebuild.sh [PROJECT]      # default: c-make-ok (any of test-projects/)
#   REPRO=path/to/repro scripts/demo-rebuild.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
project=${1:-c-make-ok}
bin=${REPRO:-$repo/target/release/repro}
[ -x "$bin" ] || { echo "build repro first: cargo build --release (or set REPRO=…)" >&2; exit 2; }
[ -d "$repo/test-projects/$project" ] || { echo "no test-project $project" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { # step NAME EXPECTED-EXIT COMMAND…: runs, times, and checks the exit code
  local name=$1 want=$2; shift 2
  local t0 t1 code=0
  t0=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>"$work/$name.err" || code=$?
  t1=$(date +%s.%N)
  printf '%-34s exit %s (want %s)  %6.2fs\n' "$name" "$code" "$want" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
  if [ "$code" != "$want" ]; then cat "$work/$name.out" "$work/$name.err" >&2; exit 1; fi
}

mkdir -p "$work/src"
cp -r "$repo/test-projects/$project" "$work/src/$project"
rm -f "$work/src/$project/expected.toml"
git -C "$work/src" init -q -b main
git -C "$work/src" add -A
git -C "$work/src" -c user.name=demo -c user.email=demo@example.org commit -qm "import $project"
src=$work/src/$project

step keygen 0 "$bin" keygen --out "$work/release"
step build 0 "$bin" build "$src" --key "$work/release.key.pem" -o "$work/provenance.json" \
  --out-dir "$work/dist"
step verify-provenance 0 "$bin" verify "$work/provenance.json" --key "$work/release.pub.pem" \
  --expect predicateType=https://slsa.dev/provenance/v1
step rebuild 0 "$bin" rebuild "$work/provenance.json" --source "$src" \
  --provenance-key "$work/release.pub.pem" --key "$work/release.key.pem" \
  -o "$work/att.json" --bundle "$work/att.sigstore.json" --vsa "$work/vsa.json"
artifact=$(find "$work/dist" -type f | head -n1)
step verify-attestation 0 "$bin" verify "$work/att.json" --key "$work/release.pub.pem" \
  --artifact "$artifact" --expect predicate.verdict=PASSED
step verify-vsa 0 "$bin" verify "$work/vsa.json" --key "$work/release.pub.pem" \
  --expect predicate.verificationResult=PASSED
step verify-bundle 0 "$bin" verify "$work/att.sigstore.json" --key "$work/release.pub.pem"
# The tests' securesystemslib venv (made on their first run) when there is one, else python3.
sslib_python=${REPRO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/repro}/venv/sslib-1.6.0/bin/python3
[ -x "$sslib_python" ] || sslib_python=python3
if "$sslib_python" -c 'import securesystemslib, cryptography' 2>/dev/null; then
  step securesystemslib 0 "$sslib_python" - "$work/att.json" "$work/release.pub.pem" <<'PY'
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
key = SSlibKey.from_crypto(load_pem_public_key(open(sys.argv[2], "rb").read()))
Envelope.from_dict(json.load(open(sys.argv[1]))).verify([key], 1)
PY
else
  echo "securesystemslib                   skipped (scripts/test.sh makes its venv)"
fi
# cosign, a verifier we did not write, on the bundle and the VSA (offline, in a trixie container).
if [ "${REPRO_SKIP_COSIGN:-0}" != 1 ]; then
  step cosign 0 env REPRO="$bin" "$repo/scripts/cosign-check.sh" "$work/att.sigstore.json" \
    "$work/vsa.json" "$work/release.pub.pem" "$artifact"
  sed 's/^/    /' "$work/cosign.out"
fi
# A published digest the source does not build: FAILED, exit 1, nothing signed.
python3 - "$work/provenance.json" "$work/tampered.json" <<'PY'
import base64, json, sys
statement = json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))
statement["subject"][0]["digest"]["sha256"] = "0" * 64
json.dump(statement, open(sys.argv[2], "w"))
PY
step rebuild-mismatch 1 "$bin" rebuild "$work/tampered.json" --source "$src" \
  --key "$work/release.key.pem" -o "$work/att-bad.json"
[ ! -e "$work/att-bad.json" ] || { echo "a failed rebuild wrote an attestation" >&2; exit 1; }
grep -E 'MISMATCH|matches published' "$work/rebuild-mismatch.out" | sed 's/^/    /'
echo "demo-rebuild $project: all steps as expected"
