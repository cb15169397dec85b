#!/usr/bin/env bash
# real-projects.sh: `repro check` on real projects as their registries publish them — crates from
# crates.io (the .crate, untarred) and sdists from PyPI — with the dependency phase fetching what
# they need. Prints one row per project: exit code, verdict, dependency count, seconds, and for
# a failure the first error line.
#
# Usage: scripts/real-projects.sh [LIST]
#        scripts/real-projects.sh --fetch KIND NAME VERSION   (download only; prints the folder)
#   LIST: a file with one project a line, `crate NAME VERSION` or `pypi NAME VERSION` (`#`
#   comments); without it, the default set below (12 crates, 12 sdists, none from the issue's
#   list). Downloads are cached in ~/.cache/repro/real-projects/<kind>-<name>-<version>/, each a git
#   repository with one commit at a fixed time (the SOURCE_DATE_EPOCH of every check), so reruns
#   download nothing.
# Knobs: REPRO (the binary; default target/debug/repro, built when missing), OUT (folder for the
#   JSON reports and logs; default a temp folder, kept), ISOLATE_BUDGET (culprit isolation cap for
#   unreproducible projects; default 4), TIMEOUT (per project, default 30m), DEPS_STORE.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${REPRO_REAL_PROJECTS:-${XDG_CACHE_HOME:-$HOME/.cache}/repro/real-projects}
mkdir -p "$cache"

default_list() {
  cat <<'LIST'
crate cfg-if 1.0.0
crate bitflags 2.6.0
crate once_cell 1.19.0
crate smallvec 1.13.2
crate either 1.13.0
crate scopeguard 1.2.0
crate lazy_static 1.5.0
crate fnv 1.0.7
crate ryu 1.0.18
crate strsim 0.11.1
crate unicode-width 0.1.13
crate glob 0.3.1
pypi six 1.16.0
pypi idna 3.7
pypi attrs 23.2.0
pypi iniconfig 2.0.0
pypi packaging 24.1
pypi pluggy 1.5.0
pypi tomli 2.0.1
pypi typing_extensions 4.12.2
pypi wheel 0.43.0
pypi markupsafe 2.1.5
pypi certifi 2024.7.4
pypi charset-normalizer 3.3.2
LIST
}

# fetch KIND NAME VERSION: prints the project folder (a git repository), downloading it once.
fetch() {
  local kind=$1 name=$2 version=$3 dir="$cache/$1-$2-$3" tmp
  if [ ! -d "$dir/.git" ]; then
    tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
    case $kind in
      crate)
        curl -sSfL --retry 3 "https://static.crates.io/crates/$name/$name-$version.crate" |
          tar -xz --no-same-owner -C "$tmp" || { rm -rf "$tmp"; return 1; } ;;
      pypi)
        python3 -m pip download --quiet --no-deps --no-binary :all: "$name==$version" -d "$tmp/dl" >&2
        local sdist
        sdist=$(find "$tmp/dl" -maxdepth 1 -name '*.tar.gz' | head -1)
        [ -n "$sdist" ] || { echo "no sdist for $name $version" >&2; rm -rf "$tmp"; return 1; }
        { tar -xzf "$sdist" --no-same-owner -C "$tmp" && rm -rf "$tmp/dl"; } || { rm -rf "$tmp"; return 1; } ;;
      *) echo "unknown kind $kind" >&2; rm -rf "$tmp"; return 1 ;;
    esac
    # The archive holds one top folder; that folder becomes the repository as a user would make
    # it (`git add -A`): a published .gitignore that names the Cargo.lock it ships leaves the
    # lockfile out, and the dependency phase then resolves one.
    local top
    top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
    (cd "$top" && git init -q -b main . && git add -A &&
      GIT_AUTHOR_NAME=repro GIT_AUTHOR_EMAIL=repro@example.org GIT_COMMITTER_NAME=repro \
      GIT_COMMITTER_EMAIL=repro@example.org GIT_AUTHOR_DATE=@1700000000 \
      GIT_COMMITTER_DATE=@1700000000 git commit -qm "$name $version as published") >&2 || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir" && mv "$top" "$dir" && rm -rf "$tmp"
  fi
  echo "$dir"
}

if [ "${1:-}" = --fetch ]; then
  [ $# -eq 4 ] || { echo "usage: $0 --fetch KIND NAME VERSION" >&2; exit 2; }
  fetch "$2" "$3" "$4"
  exit
fi
bin=${REPRO:-$repo/target/debug/repro}
[ -x "$bin" ] || (cd "$repo" && cargo build --quiet)
out=${OUT:-$(mktemp -d /tmp/repro-real-projects.XXXXXX)}
ISOLATE_BUDGET=${ISOLATE_BUDGET:-4} TIMEOUT=${TIMEOUT:-30m}
mkdir -p "$out"
if [ $# -ge 1 ]; then list=$(cat "$1"); else list=$(default_list); fi
store_args=()
[ -z "${DEPS_STORE:-}" ] || store_args=(--deps-store "$DEPS_STORE")

printf '%-34s %4s  %-20s %5s %7s  %s\n' project exit verdict deps seconds "first error"
while read -r kind name version; do
  case $kind in '' | '#'*) continue ;; esac
  label="$kind $name $version"
  if ! dir=$(fetch "$kind" "$name" "$version" 2>"$out/$name.fetch.log"); then
    printf '%-34s %4s  %-20s %5s %7s  %s\n' "$label" - download - - "$(head -1 "$out/$name.fetch.log")"
    continue
  fi
  json=$out/$name-$version.json log=$out/$name-$version.log
  rm -f "$json"
  t0=$EPOCHREALTIME
  set +e
  timeout "$TIMEOUT" "$bin" check "$dir" --isolate-budget "$ISOLATE_BUDGET" "${store_args[@]}" \
    --json "$json" --color never >"$log" 2>&1
  rc=$?
  set -e
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
  read -r verdict deps < <(python3 - "$json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    print(r.get("verdict", "-"), len(r.get("dependencies") or []))
except (OSError, ValueError):
    print("-", "-")
PY
  )
  err=""
  if [ "$rc" -gt 1 ]; then
    # The build's own first error line when there is one, else repro's.
    err=$(grep -E '^(error|ERROR)' "$log" | grep -v -m1 '^error: the control build' ||
      grep -m1 -iE 'error|refus|failed|cannot' "$log" || head -1 "$log")
  fi
  printf '%-34s %4s  %-20s %5s %7s  %s\n' "$label" "$rc" "$verdict" "$deps" "$secs" "${err:0:120}"
done <<<"$list"
echo "# reports and logs: $out"
