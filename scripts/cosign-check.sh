#!/usr/bin/env bash
# cosign — a verifier we did not write — checks repro's output offline: the Sigstore bundle v0.3
# of a rebuild attestation and the plain DSSE envelope of the VSA, with the public key, and
# refuses the bundle once one byte of its payload changes. Runs cosign 2.5 from Debian trixie
# in a container made from scripts/images/cosign.toml (cached like the builder images), with no
# network and an empty trusted root (no transparency log to check: the key is the trust).
#
#   scripts/cosign-check.sh BUNDLE VSA PUBLIC_KEY ARTIFACT
#   REPRO=path/to/repro scripts/cosign-check.sh …
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPRO:-$repo/target/release/repro}
[ $# = 4 ] || { echo "usage: $0 BUNDLE VSA PUBLIC_KEY ARTIFACT" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$1" "$work/att.sigstore.json"; cp "$2" "$work/vsa.json"; cp "$3" "$work/key.pub"
cp "$4" "$work/artifact"
chmod -R a+rX "$work"
printf '%s' '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}' >"$work/trusted_root.json"

image=$("$bin" image build "$repo/scripts/images/cosign.toml" | awk '/image ID/ {print $3}')
[ -n "$image" ] || { echo "could not make the cosign image" >&2; exit 2; }
predicate() { # the predicate type of a DSSE payload, from a bundle or an envelope
  python3 - "$1" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
env = d.get("dsseEnvelope", d)
print(json.loads(base64.b64decode(env["payload"]))["predicateType"])
PY
}
cosign() {
  docker run --rm --network none -v "$work:/w:ro" "$image" cosign "$@"
}
att_type=$(predicate "$work/att.sigstore.json")
vsa_type=$(predicate "$work/vsa.json")

cosign verify-blob-attestation --bundle /w/att.sigstore.json --new-bundle-format --key /w/key.pub \
  --insecure-ignore-tlog --trusted-root /w/trusted_root.json --type "$att_type" /w/artifact
echo "cosign: the bundle verifies"
cosign verify-blob-attestation --signature /w/vsa.json --key /w/key.pub --insecure-ignore-tlog \
  --type "$vsa_type" /w/artifact
echo "cosign: the VSA's DSSE envelope verifies"

# One byte of the payload changed (the signature left as it was): cosign must refuse it.
python3 - "$work/att.sigstore.json" "$work/tampered.sigstore.json" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
payload = bytearray(base64.b64decode(d["dsseEnvelope"]["payload"]))
i = payload.index(b'"predicate"') + 2
payload[i] ^= 0x01
d["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
json.dump(d, open(sys.argv[2], "w"))
PY
chmod a+r "$work/tampered.sigstore.json"
if cosign verify-blob-attestation --bundle /w/tampered.sigstore.json --new-bundle-format \
     --key /w/key.pub --insecure-ignore-tlog --trusted-root /w/trusted_root.json \
     --type "$att_type" /w/artifact >"$work/tampered.out" 2>&1; then
  cat "$work/tampered.out" >&2
  echo "cosign accepted a bundle whose payload was changed" >&2
  exit 1
fi
echo "cosign: a bundle with one payload byte changed is refused ($(tail -n1 "$work/tampered.out"))"
