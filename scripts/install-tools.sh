#!/usr/bin/env bash
# Installs, on Debian, the tools a job needs when they are missing; does nothing when all are
# there. Groups (any number of them):
#   images  mmdebstrap and the trixie archive keys, to make the builder images
#   tests   everything the test suite uses: the tools that make real fixtures (gcc, zip, GNU tar
#           and the compressors, ar, llvm-ar, dpkg-deb, cpio, rpmbuild, git), Chromium for the
#           HTML report, PostgreSQL, iproute2, docker-registry and openssh-server for the fleet
#           tests, python3 able to make a venv (the tests put securesystemslib in one under
#           ~/.cache/repro on first use), cargo-nextest, and the images group (engine
#           tests make a builder image when it is missing)
# Installing needs root; `apt-get update` runs once, and only when a package is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

images=0 tests=0
for group in "$@"; do
  case $group in
    images) images=1 ;;
    tests) tests=1 images=1 ;;
    *) echo "usage: $0 images|tests..." >&2; exit 2 ;;
  esac
done

packages=()
need() { # COMMAND PACKAGE: PACKAGE when COMMAND is not on PATH
  command -v "$1" >/dev/null 2>&1 || packages+=("$2")
}

if ((images)); then
  need mmdebstrap mmdebstrap
  [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || packages+=(debian-archive-keyring)
fi
if ((tests)); then
  for tool in zip:zip unzip:unzip xz:xz-utils zstd:zstd bzip2:bzip2 gcc:gcc python3:python3 \
              tar:tar gzip:gzip git:git ar:binutils dpkg-deb:dpkg llvm-ar:llvm chromium:chromium \
              cpio:cpio rpmbuild:rpm; do
    need "${tool%%:*}" "${tool#*:}"
  done
  # The fleet tests start their own PostgreSQL server and a second dockerd on a bridge of their own.
  [ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
  need ip iproute2
  # The registry the fleet's image-by-digest test pushes to and pulls from.
  need docker-registry docker-registry
  # The sshd the fleet's ssh:// engine test starts on a port of its own.
  [ -x /usr/sbin/sshd ] || packages+=(openssh-server)
  # The TLS engine test makes its CA and certificates with the openssl CLI; the npm and Go
  # dependency tests serve their registries with python3's http.server.
  need openssl openssl
  # Debian's python3 makes venvs only with python3-venv (it carries ensurepip).
  python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
fi

if ((${#packages[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing ${packages[*]}" >&2
    echo "hint: run this as root, or apt-get install ${packages[*]}" >&2
    exit 2
  fi
  echo "install-tools: installing ${packages[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if ((tests)) && ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-tools: installing cargo-nextest" >&2
  cargo install --locked --quiet cargo-nextest
fi
