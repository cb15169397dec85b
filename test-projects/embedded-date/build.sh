set -eu
mkdir -p out
printf "version 1.0, built %s\n" "$(date +%Y-%m-%dT%H:%M)" > out/version.txt
