# repro's Python download step: runs in the `default` builder image as an unprivileged user,
# network on. It downloads wheels only (`--only-binary :all:`), so no package's code runs while
# the network is on, and reads no pip configuration (HOME and PIP_CONFIG_FILE point away from
# anything a previous step could have written).
#
# $1: the requirements file to download (in /fetch/in, or /fetch/state for the second round).
# $2: `resolve` (with dependencies) or `exact` (a rebuild: pinned and hashed, no dependencies).
# In:  /fetch/in/constraints.txt (versions a hashed build lock pins; may be empty).
# Out: /fetch/out/python/*.whl
set -eu
export HOME=/tmp/home PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
cd /tmp
mkdir -p /fetch/out/python
requirements=$1
if [ "$requirements" = /fetch/state/hook-requires.txt ]; then
    # Written by a step that ran project code: only plain requirements pass, no options, no URLs.
    python3 /fetch/in/requirements-filter.py < "$requirements" > /tmp/round2.txt
    requirements=/tmp/round2.txt
fi
if [ ! -s "$requirements" ]; then
    exit 0
fi
if [ "$2" = exact ]; then
    exec python3 -m pip download --only-binary :all: --no-deps --require-hashes \
        --dest /fetch/out/python -r "$requirements"
fi
exec python3 -m pip download --only-binary :all: --dest /fetch/out/python \
    -c /fetch/in/constraints.txt -r "$requirements"
