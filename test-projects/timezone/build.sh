set -eu
mkdir -p out
date -d "@$SOURCE_DATE_EPOCH" "+released %Y-%m-%d %H:%M %Z" > out/RELEASE
