set -eu
mkdir -p out
find src -type f > out/MANIFEST
