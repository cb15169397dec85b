#!/usr/bin/env bash
# redteam.sh — rebuild the red-team cases D1–D16 (../shared/REDTEAM.md, issue 12) with fresh
# variants and say, per case, what should happen, what did, and the figures the bars ask for.
#
# Every hostile input is generated here, with names, sizes and paths drawn from a random token
# per run (TOKEN=… to replay one), so no run repeats the reproductions in REDTEAM.md or in the
# tests. One line per check:
#
#   D3   PASS  expect: fallback within 2x the 3s budget | actual: exit 1, 3.4s, fallback shown | …
#
# Usage: scripts/redteam.sh [CASE...]       (default: all, e.g. `scripts/redteam.sh D3 D5`)
# Knobs (environment):
#   REPRO=path       the binary (default target/release/repro, else target/debug/repro)
#   NO_ENGINE=1      skip the cases that need the Docker engine (D1 D2-build D7 D8 D10 D15-build)
#   TOKEN=hex        replay the variants of an earlier run
#   KEEP=1           keep the work folder (printed at the end)
#   FULL=1           also run D4 with the default budgets (up to the 10-minute time budget)
# Exits 0 when every check passes, 1 when one fails, 2 on a setup error.
set -uo pipefail
export LC_ALL=C.UTF-8 TZ=UTC
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z ${REPRO:-} ]]; then
    REPRO=$REPO/target/release/repro
    [[ -x $REPRO ]] || REPRO=$REPO/target/debug/repro
fi
[[ -x $REPRO ]] || { echo "error: no repro binary at $REPRO (cargo build, or REPRO=)" >&2; exit 2; }
REPRO=$(cd "$(dirname "$REPRO")" && pwd)/$(basename "$REPRO")
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 2; }

TOKEN=${TOKEN:-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')}
# A number 1..250 from the token, for sizes and names.
N=$(( (16#${TOKEN:0:4} % 250) + 1 ))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redteam.XXXXXX")
CONTAINERS=()
cleanup() {
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
    if [[ ${KEEP:-0} == 1 ]]; then echo "work folder kept: $WORK"; else chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
# result CASE PASS|FAIL|SKIP EXPECTED ACTUAL [FIGURES]
result() {
    local figures=${5:-}
    printf '%-4s %-4s  expect: %s | actual: %s%s\n' "$1" "$2" "$3" "$4" "${figures:+ | $figures}"
    [[ $2 == FAIL ]] && FAILS=$((FAILS + 1))
    return 0
}
check() { # check CASE CONDITION-EXIT EXPECTED ACTUAL [FIGURES]
    if [[ $2 == 0 ]]; then result "$1" PASS "$3" "$4" "${5:-}"; else result "$1" FAIL "$3" "$4" "${5:-}"; fi
}
want() { # want CASE: whether the case was asked for
    [[ ${#CASES[@]} == 0 ]] && return 0
    local c; for c in "${CASES[@]}"; do [[ $c == "$1" ]] && return 0; done; return 1
}
engine() { # engine CASE: whether the engine cases run (prints SKIP otherwise)
    if [[ ${NO_ENGINE:-0} == 1 ]]; then result "$1" SKIP "(engine case)" "NO_ENGINE=1"; return 1; fi
    return 0
}
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
# run LABEL TIMEOUT CMD...: runs with a wall timeout; sets RC, T (seconds), OUT (stdout+stderr file).
run() {
    local label=$1 limit=$2; shift 2
    OUT=$WORK/$label.out
    local t0; t0=$(now)
    timeout --kill-after=5 "$limit" "$@" >"$OUT" 2>&1
    RC=$?
    T=$(secs "$t0" "$(now)")
}
commit_all() { git -C "$1" add -A && git -C "$1" -c user.name=rt -c user.email=rt@example.org commit -qm "$2"; }
CASES=("$@")

cd "$WORK" || exit 2
echo "# repro red team: token $TOKEN, binary $REPRO, work $WORK"

# Signing statements the way any DSSE signer does (the key comes from `repro keygen`), so
# verify is tried on statements repro itself would never sign.
cat >sign.py <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)
statement = open(sys.argv[2], 'rb').read()
ptype = 'application/vnd.in-toto+json'
pae = b'DSSEv1 %d %s %d %s' % (len(ptype), ptype.encode(), len(statement), statement)
sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
json.dump({'payload': base64.b64encode(statement).decode(), 'payloadType': ptype,
           'signatures': [{'keyid': '', 'sig': base64.b64encode(sig).decode()}]}, sys.stdout)
PY
payload() { python3 -c "import base64,json,sys; print(json.dumps(json.loads(base64.b64decode(json.load(open(sys.argv[1]))['payload']))))" "$1"; }
"$REPRO" keygen --out "$WORK/k" >/dev/null 2>&1 || { echo "error: repro keygen failed" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# D3: a GNU sparse tar member whose header claims ≥ 1 PiB (GNU tar makes the sparse member,
# the header is patched the way an attacker would: every map offset and the real size moved).
if want D3; then
    size=$(( (2 + N % 3) * 1024 * 1024 * 1024 + N * 4096 ))
    claim=$(( (1 << 50) + N * (1 << 30) ))
    for side in a b; do
        rm -f "blob-$TOKEN"; truncate -s "$size" "blob-$TOKEN"
        printf '%s' "$side" | dd of="blob-$TOKEN" bs=1 seek=$((size - 1 - N)) conv=notrunc status=none
        tar --sparse -cf "plain-$side.tar" "blob-$TOKEN"
    done
    rm -f "blob-$TOKEN"
    cat >sparse.py <<'PY'
import sys
src, dst, claim = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = bytearray(open(src, 'rb').read()); h = d[:512]
assert h[156:157] == b'S', 'not a GNU sparse member'
def num(f):
    if f[0] & 0x80: return int.from_bytes(f[1:], 'big')
    return int(f.rstrip(b'\0 ').decode() or '0', 8)
enc = lambda v: b'\x80' + v.to_bytes(11, 'big')
real = num(h[483:495]); shift = claim - real
for i in range(4):
    o = 386 + 24 * i
    if num(h[o:o + 12]) or num(h[o + 12:o + 24]) or i == 0:
        h[o:o + 12] = enc(num(h[o:o + 12]) + shift)
h[483:495] = enc(claim)
h[148:156] = b' ' * 8; h[148:156] = ('%06o\0 ' % sum(h)).encode(); d[:512] = h
open(dst, 'wb').write(d)
PY
    python3 sparse.py plain-a.tar "huge-$N-a.tar" "$claim" && python3 sparse.py plain-b.tar "huge-$N-b.tar" "$claim" \
        || { echo "error: could not make the sparse tar" >&2; exit 2; }
    budget=$(( 2 + N % 4 ))
    run d3-both 120 "$REPRO" diff --time-budget "${budget}s" "huge-$N-a.tar" "huge-$N-b.tar"
    fb=$(grep -ciE 'budget|fallback|compared by' "$OUT")
    ok=$(python3 -c "print(0 if $RC == 1 and $T <= 2 * $budget and $fb > 0 else 1)")
    check D3 "$ok" "differ, fallback shown, within 2x the ${budget}s budget" \
        "exit $RC in ${T}s, $fb fallback line(s)" "claim $((claim >> 40)) TiB, file $(stat -c %s "huge-$N-a.tar") B"
    # One side hostile, nested: a normal tar against the sparse one, gzipped, inside directories.
    mkdir -p "n-a/deep-$N" "n-b/deep-$N"
    gzip -c plain-a.tar >"n-a/deep-$N/x.tar.gz"; gzip -c "huge-$N-b.tar" >"n-b/deep-$N/x.tar.gz"
    run d3-nested 120 "$REPRO" diff --time-budget "${budget}s" n-a n-b
    fb=$(grep -ciE 'budget|fallback|compared by' "$OUT")
    ok=$(python3 -c "print(0 if $RC == 1 and $T <= 2 * $budget and $fb > 0 else 1)")
    check D3 "$ok" "one hostile side in dir/tar.gz: differ, fallback, within 2x ${budget}s" "exit $RC in ${T}s, $fb fallback line(s)"
    # No --time-budget: the default expansion budget must stop it.
    run d3-default 900 "$REPRO" diff "huge-$N-a.tar" "huge-$N-b.tar"
    fb=$(grep -ciE 'budget|fallback|compared by' "$OUT")
    ok=$(python3 -c "print(0 if $RC == 1 and $fb > 0 else 1)")
    check D3 "$ok" "default budgets: differ, fallback shown, ends" "exit $RC in ${T}s, $fb fallback line(s)"
    rm -f plain-*.tar huge-*.tar; rm -rf n-a n-b
fi

# D4: nested zips, 32 GiB of decoded leaves per side in ~32 MB (a shape other than REDTEAM's).
if want D4; then
    cat >nested.py <<'PY'
import io, sys, zipfile
fill, path, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
leaf = bytes([fill]) * (128 << 20)
b = io.BytesIO()
with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
    for i in range(8): z.writestr(f'{tok}-leaf{i}.dat', leaf)
cur = b.getvalue()
for layer, width in enumerate((4, 8)):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_STORED) as z:
        for i in range(width): z.writestr(f'layer{layer}-{tok}-{i}.zip', cur)
    cur = b.getvalue()
open(path, 'wb').write(cur)
PY
    python3 nested.py $((N % 7)) nest-a.zip "$TOKEN" && python3 nested.py $((N % 7 + 1)) nest-b.zip "$TOKEN" \
        || { echo "error: could not make the nested zips" >&2; exit 2; }
    mb=$(( ($(stat -c %s nest-a.zip) + $(stat -c %s nest-b.zip)) >> 20 ))
    budget=$(( 3 + N % 3 ))
    run d4-budget 300 "$REPRO" diff --time-budget "${budget}s" nest-a.zip nest-b.zip
    fb=$(grep -ciE 'budget|fallback|compared by' "$OUT")
    ok=$(python3 -c "print(0 if $RC == 1 and $T <= 2 * $budget and $fb > 0 else 1)")
    check D4 "$ok" "differ, fallback shown, within 2x the ${budget}s budget" "exit $RC in ${T}s, $fb fallback line(s)" \
        "64 GiB decoded in $mb MB of zips"
    if [[ ${FULL:-0} != 1 ]]; then
        result D4 SKIP "default budgets (10 min time budget)" "FULL=1 runs it"
        rm -f nest-*.zip
    fi
fi
if want D4 && [[ ${FULL:-0} == 1 ]]; then
    /usr/bin/time -v -o d4.time timeout 1300 "$REPRO" diff nest-a.zip nest-b.zip >d4-default.out 2>&1; RC=$?
    wall=$(awk -F': ' '/Elapsed/ {print $2}' d4.time); rss=$(awk -F': ' '/Maximum resident/ {print $2}' d4.time)
    fb=$(grep -ciE 'budget|fallback|compared by' d4-default.out)
    ok=$(( RC == 1 && fb > 0 ? 0 : 1 ))
    check D4 "$ok" "default budgets: within 2x the default 600s time budget, fallback shown" \
        "exit $RC in $wall, $fb fallback line(s)" "peak RSS $((rss / 1024)) MiB"
    rm -f nest-*.zip
fi

# D5: verify a FAILED verdict, a provenance, a foreign predicate, no subject — none is VALID
# without --any-predicate; a PASSED rebuild attestation is (the control).
if want D5; then
    printf 'artifact %s\n' "$TOKEN" >"art-$N.bin"
    dig=$(sha256sum "art-$N.bin" | cut -d' ' -f1)
    statement() { # statement PREDICATE-TYPE PREDICATE-JSON SUBJECTS-JSON
        printf '{"_type":"https://in-toto.io/Statement/v1","subject":%s,"predicateType":"%s","predicate":%s}' "$3" "$1" "$2"
    }
    subj="[{\"name\":\"dist/art-$N.bin\",\"digest\":{\"sha256\":\"$dig\"}}]"
    RB=https://github.com/repro/repro/attestation/rebuild/v1
    v5() { # v5 LABEL EXPECT-RC STATEMENT [VERIFY-ARGS...]
        local label=$1 expect=$2 st=$3; shift 3
        printf '%s' "$st" >"$label.json"; python3 sign.py k.key.pem "$label.json" >"$label.dsse"
        run "d5-$label" 60 "$REPRO" verify "$label.dsse" --key k.pub.pem --artifact "art-$N.bin" "$@"
        local said; said=$(grep -oE '^(VALID|INVALID)' "$OUT" | head -1)
        local ok=1; if [[ $expect == 0 ]]; then ((RC == 0)) && ok=0; else ((RC != 0)) && [[ $said != VALID ]] && ok=0; fi
        local why; why=$(sed -n 2p "$OUT" | sed 's/^ *//; s/ (by default.*//' | cut -c1-90)
        check D5 "$ok" "$label: $( ((expect == 0)) && echo VALID || echo 'not VALID')" "exit $RC, ${said:-nothing}${why:+: $why}"
    }
    v5 passed-control 0 "$(statement $RB "{\"verdict\":\"PASSED\",\"tok\":\"$TOKEN\"}" "$subj")"
    v5 failed 1 "$(statement $RB "{\"verdict\":\"FAILED\"}" "$subj")"
    v5 verdict-with-space 1 "$(statement $RB "{\"verdict\":\"PASSED \"}" "$subj")"
    v5 verdict-lowercase 1 "$(statement $RB "{\"verdict\":\"passed\"}" "$subj")"
    v5 provenance 1 "$(statement https://slsa.dev/provenance/v1 '{"buildDefinition":{},"runDetails":{}}' "$subj")"
    v5 foreign 1 "$(statement "https://example.org/$TOKEN/v$N" '{"ok":true}' "$subj")"
    v5 foreign-any-predicate 0 "$(statement "https://example.org/$TOKEN/v$N" '{"ok":true}' "$subj")" --any-predicate
    v5 vsa-failed 1 "$(statement https://slsa.dev/verification_summary/v1 '{"verificationResult":"FAILED"}' "$subj")"
    v5 no-subject 1 "$(statement $RB '{"verdict":"PASSED"}' '[]')"
    v5 subject-missing-key 1 "$(printf '{"_type":"https://in-toto.io/Statement/v1","predicateType":"%s","predicate":{"verdict":"PASSED"}}' $RB)"
    v5 other-artifact 1 "$(statement $RB '{"verdict":"PASSED"}' "[{\"name\":\"x\",\"digest\":{\"sha256\":\"$(printf '%064x' "$N")\"}}]")"
fi

# D6: verify --artifact of a sparse 4 GiB file: peak RSS (bar < 100 MiB), and it works under a
# 1 GiB address-space limit.
if want D6; then
    big=$(( (4 << 30) + N * 513 ))
    truncate -s "$big" "huge-artifact-$N.iso"
    dig=$(python3 -c "
import hashlib, sys
h = hashlib.sha256(); z = bytes(1 << 20); n = $big
while n: k = min(n, len(z)); h.update(z[:k]); n -= k
print(h.hexdigest())")
    printf '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"huge-artifact-%s.iso","digest":{"sha256":"%s"}}],"predicateType":"https://github.com/repro/repro/attestation/rebuild/v1","predicate":{"verdict":"PASSED"}}' "$N" "$dig" >big.json
    python3 sign.py k.key.pem big.json >big.dsse
    /usr/bin/time -v -o d6.time "$REPRO" verify big.dsse --key k.pub.pem --artifact "huge-artifact-$N.iso" >d6.out 2>&1; RC=$?
    rss=$(awk -F': ' '/Maximum resident/ {print $2}' d6.time); wall=$(awk -F': ' '/Elapsed/ {print $2}' d6.time)
    ok=$(( RC == 0 && rss < 100 * 1024 ? 0 : 1 ))
    check D6 "$ok" "VALID, peak RSS < 100 MiB" "exit $RC, peak RSS $((rss / 1024)) MiB" "$((big >> 20)) MiB artifact hashed in $wall"
    prlimit --as=$((1 << 30)) "$REPRO" verify big.dsse --key k.pub.pem --artifact "huge-artifact-$N.iso" >/dev/null 2>&1; RC=$?
    check D6 "$RC" "VALID under a 1 GiB address-space limit" "exit $RC"
    rm -f "huge-artifact-$N.iso"
fi

# D9: names with control, C1, bidi and Markdown characters: nothing raw reaches the text or
# Markdown report, two names that differ only in an escape sequence stay apart.
if want D9; then
    cat >names.py <<'PY'
import os, sys
tok = sys.argv[1]
names = [f'cr{tok}\rfake', f'esc{tok}\x1b[1;31mX', f'esc{tok}\x1b[1;32mX', f'nel{tok}\u0085x',
         f'csi{tok}\u009b2J', f'lri{tok}\u2066evil\u2069', f'rlo{tok}\u202egpj.exe', f'del{tok}\x7fx',
         f'bs{tok}\x08\x08x', f'bel{tok}\x07', f'tick{tok}`` [link](mailto:evil-{tok}@x.example) ``',
         f'nl{tok}\n\n## repro: identical {tok}\n\nx', f'pipe{tok}|col|', f'lt{tok}<script>x<\u2215script>']
for d in ('ca', 'cb'):
    os.makedirs(d, exist_ok=True)
    for n in names:
        open(os.path.join(d, n), 'w').write(d + n)
PY
    python3 names.py "$TOKEN"
    "$REPRO" diff --color never -v ca cb >d9.txt 2>&1; RC=$?
    "$REPRO" diff --markdown d9.md ca cb >/dev/null 2>&1
    cat >rawscan.py <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
bad = [c for c in data if (ord(c) < 32 and c not in '\n') or 0x7f <= ord(c) <= 0x9f
       or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]
print(len(bad))
PY
    raw_txt=$(python3 rawscan.py d9.txt); raw_md=$(python3 rawscan.py d9.md)
    shown=$(grep -c "$TOKEN" d9.txt)
    distinct=$(grep -cE "esc$TOKEN.*1;3[12]m" d9.txt)
    ok=$(( RC == 1 && raw_txt == 0 && shown >= 14 && distinct >= 2 ? 0 : 1 ))
    check D9 "$ok" "text: differ, 14 names shown, none raw, ESC names apart" \
        "exit $RC, $shown lines name the token, $raw_txt raw control/bidi chars, ESC pair on $distinct lines"
    heading=$(grep -cE "^#+ .*repro: identical $TOKEN" d9.md)
    mdshown=$(grep -c "$TOKEN" d9.md)
    # A link is harmless only inside a code span; count links outside code spans.
    live=$(python3 - "$TOKEN" <<'PY'
import re, sys
tok = sys.argv[1]; text = open('d9.md', encoding='utf-8', errors='replace').read()
n = 0
for line in text.splitlines():
    outside = re.sub(r'(`+)(.*?)\1', '', line)
    n += len(re.findall(r'\]\(mailto:evil-' + tok, outside))
print(n)
PY
)
    ok=$(( raw_md == 0 && heading == 0 && live == 0 && mdshown >= 14 ? 0 : 1 ))
    check D9 "$ok" "markdown: no raw controls, no injected heading or live link, every name shown" \
        "$raw_md raw, $heading heading(s), $live live link(s), $mdshown lines name the token"
    rm -rf ca cb
fi

# D2 (diff): names that are not UTF-8, next to the name a lossy decoding would give them.
if want D2; then
    python3 - "$TOKEN" <<'PY'
import os, sys
tok = sys.argv[1].encode()
for side in (b'ua', b'ub'):
    for d in (b'sub-' + tok + b'\x80\xfe', b'sub-' + tok + b'\xef\xbf\xbd\xef\xbf\xbd'):
        os.makedirs(side + b'/' + d, exist_ok=True)
    open(side + b'/sub-' + tok + b'\x80\xfe/f\xc0', 'wb').write(side)   # differs
    open(side + b'/sub-' + tok + b'\xef\xbf\xbd\xef\xbf\xbd/f\xef\xbf\xbd', 'wb').write(b'same')
PY
    run d2-diff 60 "$REPRO" diff --color never ua ub
    esc=$(grep -c '\\x80\\xfe' "$OUT")
    ok=$(( RC == 1 && esc > 0 ? 0 : 1 ))
    check D2 "$ok" "diff: differ, the non-UTF-8 name shown escaped" "exit $RC, escaped name on $esc line(s)"
    rm -rf ua ub
fi

# D12: pseudo-files whose stat size is 0.
if want D12; then
    run d12 30 "$REPRO" diff /proc/loadavg /proc/uptime
    check D12 $(( RC == 1 ? 0 : 1 )) "/proc/loadavg vs /proc/uptime: differ" "exit $RC"
    run d12b 30 "$REPRO" diff /proc/sys/kernel/ostype /proc/sys/kernel/ostype
    check D12 $(( RC == 0 ? 0 : 1 )) "a pseudo-file against itself: identical" "exit $RC"
fi

# D11: keygen never follows a symlink at either half, never overwrites without --force.
if want D11; then
    mkdir -p "keys-$N" trusted; printf 'trusted %s\n' "$TOKEN" >"trusted/ci-$N.pub.pem"
    ln -s "../trusted/ci-$N.pub.pem" "keys-$N/sign.pub.pem"
    run d11a 30 "$REPRO" keygen --out "keys-$N/sign"
    same=$(grep -c "trusted $TOKEN" "trusted/ci-$N.pub.pem")
    check D11 $(( RC != 0 && same == 1 ? 0 : 1 )) "symlinked public key: refused, target intact" "exit $RC, target intact: $same"
    cp "trusted/ci-$N.pub.pem" "keys-$N/rel.pub.pem"
    run d11b 30 "$REPRO" keygen --out "keys-$N/rel"
    same=$(grep -c "trusted $TOKEN" "keys-$N/rel.pub.pem")
    check D11 $(( RC != 0 && same == 1 ? 0 : 1 )) "existing public key, no private: refused without --force" "exit $RC, kept: $same"
    ln -s "$WORK/planted-$N.pem" "keys-$N/dang.key.pem"
    run d11c 30 "$REPRO" keygen --out "keys-$N/dang"
    planted=$([[ -e $WORK/planted-$N.pem ]] && echo 1 || echo 0)
    check D11 $(( RC != 0 && planted == 0 ? 0 : 1 )) "dangling symlink at the private key: refused" "exit $RC, link target $([[ -e $WORK/planted-$N.pem ]] && echo written || echo absent)"
    run d11d 30 "$REPRO" keygen --out "keys-$N/dang" --force
    planted=$([[ -e $WORK/planted-$N.pem || -L keys-$N/dang.key.pem ]] && echo 1 || echo 0)
    check D11 $(( RC == 0 && planted == 0 ? 0 : 1 )) \
        "--force replaces the link itself, never writes through it" "exit $RC, link target $([[ -e $WORK/planted-$N.pem ]] && echo written || echo absent)"
fi

# D13: Ed25519 private keys readable by OpenSSL and pyca.
if want D13; then
    "$REPRO" keygen --ed25519 --out "ed-$N" >/dev/null 2>&1
    openssl pkey -in "ed-$N.key.pem" -noout >d13.out 2>&1; o=$?
    python3 -c "
from cryptography.hazmat.primitives import serialization as s
k = s.load_pem_private_key(open('ed-$N.key.pem','rb').read(), None)
p = s.load_pem_public_key(open('ed-$N.pub.pem','rb').read())
assert k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw) == p.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)" 2>>d13.out; p=$?
    check D13 $(( o == 0 && p == 0 ? 0 : 1 )) "openssl and pyca read the key; it matches the public key" "openssl exit $o, pyca exit $p"
fi

# D14: depth costs linear time (nested gzip, two depths).
if want D14; then
    d1=$(( 600 + N )); d2=$(( 2 * d1 ))
    for d in "$d1" "$d2"; do
        python3 -c "
import gzip
for s in 'ab':
    b = ('%s-$TOKEN\n' % s).encode()
    for _ in range($d): b = gzip.compress(b, mtime=0)
    open('deep$d-%s.gz' % s, 'wb').write(b)"
    done
    /usr/bin/time -v -o d14a.time "$REPRO" diff --max-depth 100000 "deep$d1-a.gz" "deep$d1-b.gz" >/dev/null 2>&1; ra=$?
    /usr/bin/time -v -o d14b.time "$REPRO" diff --max-depth 100000 "deep$d2-a.gz" "deep$d2-b.gz" >/dev/null 2>&1; rb=$?
    ta=$(awk -F': ' '/Elapsed/ {print $2}' d14a.time); tb=$(awk -F': ' '/Elapsed/ {print $2}' d14b.time)
    ma=$(awk -F': ' '/Maximum resident/ {print $2}' d14a.time); mb=$(awk -F': ' '/Maximum resident/ {print $2}' d14b.time)
    ratio=$(python3 -c "
def s(t):
    p = [float(x) for x in t.split(':')]; return sum(v * 60 ** i for i, v in enumerate(reversed(p)))
print(f'{max(s(\"$tb\"), 0.05) / max(s(\"$ta\"), 0.05):.2f}')")
    ok=$(python3 -c "print(0 if $ra == 1 and $rb == 1 and $ratio < 3 else 1)")
    check D14 "$ok" "twice the depth costs < 3x the time (linear ~2x, quadratic ~4x)" "exit $ra/$rb, ratio $ratio" \
        "depth $d1: $ta, $((ma / 1024)) MiB; depth $d2: $tb, $((mb / 1024)) MiB"
    rm -f deep*.gz
fi

# Projects for the build cases.
project() { # project DIR COMMAND-JSON OUTPUTS-JSON [EXTRA-TOML]
    mkdir -p "$1"; git -C "$1" init -q -b main
    printf '[build]\ncommand = %s\noutputs = %s\n%s' "$2" "$3" "${4:-}" >"$1/repro.toml"
    echo "$TOKEN" >"$1/README"
    commit_all "$1" init
}

# D2 (builds): two outputs whose names differ only in bytes that are not UTF-8, one random.
if want D2; then
    project "coll-$N" '["sh", "build.sh"]' '["dist/**"]'
    printf '%s\n' 'mkdir -p dist' "head -c 32 /dev/urandom > \"dist/\$(printf 'r\\301')\"" \
        "echo same > \"dist/\$(printf 'r\\300')\"" "echo same > \"dist/\$(printf 'r\\357\\277\\275')\"" >"coll-$N/build.sh"
    commit_all "coll-$N" build
    run d2-local 300 "$REPRO" check "coll-$N" --local --no-isolate --color never
    esc=$(grep -c 'r\\xc1' "$OUT")
    check D2 $(( RC == 1 && esc > 0 ? 0 : 1 )) "check --local: not reproducible, dist/r\\xc1 named" "exit $RC, escaped name on $esc line(s)"
fi

# D16: a control run that times out shows its log, and --keep keeps it.
if want D16; then
    project "slow-$N" "[\"sh\", \"-c\", \"echo marker-$TOKEN-started >&2; sleep 600\"]" '["out/**"]'
    run d16 120 "$REPRO" check "slow-$N" --local --no-isolate --timeout "$(( 3 + N % 3 ))s" --keep "keep16-$N"
    shown=$(grep -c "marker-$TOKEN-started" "$OUT"); kept=$(grep -rl "marker-$TOKEN-started" "keep16-$N" 2>/dev/null | wc -l)
    check D16 $(( RC != 0 && shown > 0 && kept > 0 ? 0 : 1 )) "timed out: log tail shown, --keep keeps the log" \
        "exit $RC in ${T}s, log shown: $shown, kept files with it: $kept"
fi

# D15: output globs leaving the source root are refused.
if want D15; then
    for glob in "out/../../../etc/shadow-$N" "/etc/os-release" "../$TOKEN/**" "out/./../../x"; do
        project "glob-$N-${#glob}" '["sh", "-c", "mkdir -p out && echo x > out/x"]' "[\"out/**\", \"$glob\"]"
        run d15 120 "$REPRO" check "glob-$N-${#glob}" --local --no-isolate
        said=$(grep -c -F -- "$glob" "$OUT")
        check D15 $(( RC == 2 && said > 0 ? 0 : 1 )) "glob $glob: refused (exit 2, named)" "exit $RC, named: $said"
    done
fi

# ---------------------------------------------------------------- cases that need the engine
# A project built with `repro build`, the provenance that attacks start from.
base_provenance() {
    [[ -f prov.json ]] && return 0
    project "base-$N" "[\"sh\", \"-c\", \"mkdir -p out && printf %s $TOKEN > out/art-$N.txt\"]" '["out/**"]'
    "$REPRO" build "base-$N" --key k.key.pem -o prov.json --out-dir dist >base-build.out 2>&1 \
        || { echo "error: repro build of the base project failed:" >&2; tail -20 base-build.out >&2; return 1; }
}
# evil_provenance OUT SOURCE-PATH BUILD-UPDATE-JSON: the base provenance pointed at the evil
# repository's commit, with the build changed, subject = sha256 of TOKEN (what the command writes).
evil_provenance() {
    python3 - "$1" "$2" "$3" "$TOKEN" "$N" <<'PY'
import base64, json, subprocess, hashlib, sys
out, path, update, tok, n = sys.argv[1:]
st = json.loads(base64.b64decode(json.load(open('prov.json'))['payload']))
ep = st['predicate']['buildDefinition']['externalParameters']
sha = subprocess.check_output(['git', '-C', 'evil', 'rev-parse', 'HEAD']).decode().strip()
ep['source'] = {'uri': f'git+https://example.org/{tok}@refs/heads/main', 'digest': {'sha1': sha}, 'path': path}
ep['build'].update(command=['sh', '-c', f'mkdir -p out; printf %s {tok} > out/leak-{n}.txt; cat * >&2 || true'],
                   outputs=['out/**'])
ep['build'].update(json.loads(update))
st['subject'] = [{'name': f'out/leak-{n}.txt', 'digest': {'sha256': hashlib.sha256(tok.encode()).hexdigest()}}]
json.dump(st, open(out, 'w'))
PY
}
if want D1 && engine D1 && base_provenance; then
    mkdir -p "host-$N" && printf 'SECRET-%s\n' "$TOKEN" >"host-$N/id_$N"
    mkdir -p evil/real && git -C evil init -q -b main
    ln -s "$WORK/host-$N" "evil/src-$N"; ln -s "../host-$N" "evil/rel-$N"; echo ok >evil/real/file
    commit_all evil evil
    for path in "src-$N" "rel-$N" "real/../src-$N"; do
        evil_provenance "e1-$N.json" "$path" '{}'
        rm -f e1-att.json
        run d1-link 600 "$REPRO" rebuild "e1-$N.json" --source evil --key k.key.pem -o e1-att.json
        leaked=$(grep -c "SECRET-$TOKEN" "$OUT")
        signed=$([[ -s e1-att.json ]] && echo 1 || echo 0)
        check D1 $(( RC != 0 && leaked == 0 && signed == 0 ? 0 : 1 )) "source.path $path (symlink to a host dir): refused, nothing signed" \
            "exit $RC, secret in output: $leaked, attestation: $([[ -s e1-att.json ]] && echo written || echo none)"
    done
    evil_provenance "e2-$N.json" real '{"network": true, "memory_bytes": 0, "timeout_secs": 0}'
    rm -f e2-att.json
    run d1-net 600 "$REPRO" rebuild "e2-$N.json" --source evil --key k.key.pem -o e2-att.json
    signed=$([[ -s e2-att.json ]] && echo 1 || echo 0)
    check D1 $(( RC != 0 && signed == 0 ? 0 : 1 )) "network:true, memory 0: refused without --network" \
        "exit $RC, attestation: $([[ -s e2-att.json ]] && echo written || echo none)"
    run d1-net-granted 600 "$REPRO" rebuild "e2-$N.json" --source evil --key k.key.pem -o e2-att.json --network --allow-non-hermetic
    granted=$( [[ -s e2-att.json ]] && payload e2-att.json | python3 -c "
import json, sys; p = json.load(sys.stdin)['predicate']; g = p.get('granted', {})
print(f\"verdict={p.get('verdict')} network={g.get('network')} memory={g.get('memoryBytes')} timeout={g.get('timeoutSecs')}\")")
    ok=$( [[ $granted == *network=True* && $granted != *memory=0* && $granted != *memory=None* && $granted != *timeout=0* ]] && echo 0 || echo 1)
    check D1 "$ok" "--network --allow-non-hermetic: signed predicate records network, memory clamped" "exit $RC, ${granted:-no attestation}"
    # A hidden change (skip-worktree / assume-unchanged) in the checkout a build is made from.
    cp -r "base-$N" "hidden-$N"
    printf 'mkdir -p out && printf EVIL > out/art-%s.txt\n' "$N" >"hidden-$N/evil.sh"
    git -C "hidden-$N" update-index --assume-unchanged README
    echo "changed $TOKEN" >>"hidden-$N/README"
    git -C "hidden-$N" update-index --skip-worktree repro.toml
    sed -i "s|mkdir -p out && printf %s $TOKEN|mkdir -p out \&\& printf EVIL|" "hidden-$N/repro.toml"
    run d1-hidden-build 600 "$REPRO" build "hidden-$N" --key k.key.pem -o hidden-prov.json
    named=$(grep -cE 'README|repro.toml' "$OUT")
    check D1 $(( RC != 0 && named > 0 ? 0 : 1 )) "build of a checkout with hidden changes: refused, files named" "exit $RC, named on $named line(s)"
    rm -f hidden-att.json
    run d1-hidden-rebuild 900 "$REPRO" rebuild prov.json --source "hidden-$N" --provenance-key k.pub.pem --key k.key.pem -o hidden-att.json
    v=$( [[ -s hidden-att.json ]] && payload hidden-att.json | python3 -c "import json,sys; print(json.load(sys.stdin)['predicate'].get('verdict'))")
    evil=$(grep -c EVIL "$OUT")
    check D1 $(( RC == 0 && evil == 0 ? 0 : 1 )) "rebuild from that checkout builds the commit (PASSED on the commit's bytes)" "exit $RC, verdict ${v:-none}, EVIL built: $evil"
fi

if want D8 && engine D8 && base_provenance; then
    [[ -d evil ]] || { mkdir -p evil/real && git -C evil init -q -b main && echo ok >evil/real/file && commit_all evil evil; }
    evil_provenance "e8-$N.json" real "{\"control_path\": \"/../../../../../../../../..$WORK/escape-$N\"}"
    run d8 600 "$REPRO" rebuild "e8-$N.json" --source evil --local --allow-unisolated --keep "keep8-$N"
    escaped=$([[ -e $WORK/escape-$N ]] && echo 1 || echo 0)
    check D8 $(( RC != 0 && escaped == 0 ? 0 : 1 )) "--local with control_path ..: refused, nothing outside scratch" \
        "exit $RC, escape folder: $([[ -e $WORK/escape-$N ]] && echo created || echo absent)"
fi

if want D7 && engine D7; then
    mib=$(( 4096 + N ))
    for where in "\$HOME/.cache-$N" "/tmp/fill-$N" "/var/tmp/fill-$N" "out/fill-$N" "/dev/shm/fill-$N" "/run/lock/fill-$N"; do
        dir=$(basename "$(dirname "$where/x")")
        name="disk-$N-$(printf '%s' "$where" | tr -c 'a-z0-9' _)"
        project "$name" "[\"sh\", \"-c\", \"mkdir -p $where && dd if=/dev/zero of=$where/blob bs=1M count=$mib && mkdir -p out && echo done > out/ok\"]" '["out/ok"]'
        run d7 900 "$REPRO" check "$name" --no-isolate --runs 2 --color never
        copied=$(grep -cE "^$mib\+0 records out|$((mib << 20)) bytes" "$OUT")
        why=$(grep -m1 -oiE '[^.]*(disk|no space|limit)[^.]*' "$OUT" | head -1 | cut -c1-110)
        check D7 $(( RC != 0 && copied == 0 ? 0 : 1 )) "$mib MiB into $where: stopped, says why" "exit $RC in ${T}s: ${why:-no reason shown}"
    done
fi

if want D10 && engine D10; then
    project "dead-$N" '["sh", "-c", "sleep 100000"]' '["out/**"]'
    lim=$(( 15 + N % 5 ))
    "$REPRO" check "dead-$N" --no-isolate --timeout "${lim}s" >d10.out 2>&1 &
    pid=$!
    started=""; for _ in $(seq 120); do
        mapfile -t ids < <(docker ps -q --filter "label=dev.repro.pid=$pid")
        if (( ${#ids[@]} > 0 )); then started=$(now); break; fi; sleep 1
    done
    deadline=""; (( ${#ids[@]} > 0 )) && deadline=$(docker inspect -f '{{index .Config.Labels "dev.repro.deadline"}}' "${ids[0]}" 2>/dev/null)
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    if [[ -z $started ]]; then
        result D10 FAIL "containers carry a deadline" "no container with the pid label appeared"
    else
        mapfile -t all < <(docker ps -aq --filter "label=dev.repro.pid=$pid")
        CONTAINERS+=("${all[@]}")
        stopped=""; for _ in $(seq $(( lim + 60 ))); do
            running=$(docker ps -q --filter "label=dev.repro.pid=$pid" | wc -l)
            if (( running == 0 )); then stopped=$(now); break; fi; sleep 1
        done
        if [[ -n $stopped ]]; then
            check D10 0 "SIGKILLed repro: containers stop themselves at the ${lim}s timeout" "stopped $(secs "$started" "$stopped")s after the kill" "deadline label ${deadline:-none}"
        else
            result D10 FAIL "SIGKILLed repro: containers stop themselves" "still running $((lim + 60))s later"
        fi
    fi
fi

if want D2 && engine D2; then
    project "names-$N" '["sh", "build.sh"]' '["out/**"]'
    printf '%s\n' 'mkdir -p out' "echo a > \"out/\$(printf 'n\\376')\"" "echo b > \"out/\$(printf 'n\\377')\"" \
        "echo c > \"out/\$(printf 'n\\357\\277\\275')\"" >"names-$N/build.sh"
    commit_all "names-$N" build
    run d2-build 600 "$REPRO" build "names-$N" --key k.key.pem -o names-prov.json --out-dir "names-dist-$N"
    subjects=$( [[ -s names-prov.json ]] && payload names-prov.json | python3 -c "import json,sys; s=json.load(sys.stdin)['subject']; print(len({x['name'] for x in s}), len({x['digest']['sha256'] for x in s}))")
    files=$(find "names-dist-$N" -type f 2>/dev/null | wc -l)
    ok=$( { [[ $subjects == "3 3" ]] || { (( RC != 0 )) && grep -qiE 'name|utf' "$OUT"; }; } && echo 0 || echo 1)
    check D2 "$ok" "build: 3 distinct subjects for 3 outputs (or a clear refusal)" "exit $RC, subjects (names, digests): ${subjects:-none}, files in --out-dir: $files"
fi

echo "# $FAILS failing check(s); token $TOKEN"
exit $(( FAILS > 0 ? 1 : 0 ))
