# repro's cargo fetch step: runs in the `rust` builder image as an unprivileged user, network on.
# It resolves (only when the project ships no Cargo.lock) and downloads; it builds nothing and
# runs no build script. cargo checks every .crate against the lockfile's checksum.
#
# In:  /src (the project, read-only), /fetch/in/Cargo.lock (a rebuild's recorded lockfile).
# Out: /fetch/out/Cargo.lock (the lockfile used), /fetch/out/vendor/NAME-VERSION/ (the crates).
set -eu
out=/fetch/out
work=/fetch/state/src
export CARGO_HOME=/fetch/state/cargo-home
export CARGO_TERM_COLOR=never

# cargo writes the lockfile into the workspace, and /src is read-only: work on a copy.
mkdir -p "$work" "$out/vendor"
tar -C /src --exclude=./target --exclude=./.git -cf - . | tar -C "$work" -xf -
if [ -f /fetch/in/Cargo.lock ]; then
    cp /fetch/in/Cargo.lock "$work/Cargo.lock"
fi
if [ ! -f "$work/Cargo.lock" ]; then
    echo "repro: the project has no Cargo.lock; resolving one for $(cargo --version)" >&2
    CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
        cargo generate-lockfile --manifest-path "$work/Cargo.toml"
fi
cargo vendor --locked --versioned-dirs --manifest-path "$work/Cargo.toml" "$out/vendor" >/dev/null
cp "$work/Cargo.lock" "$out/Cargo.lock"
