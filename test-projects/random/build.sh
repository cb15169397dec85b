set -eu
mkdir -p out
printf "build-id %s\n" "$(od -An -N8 -tx1 /dev/urandom | tr -d " ")" > out/build-id.txt
