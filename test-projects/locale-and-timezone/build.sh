# A stamp script whose localized code path forgets TZ=UTC: the hour it prints differs only
# when the locale is not C *and* the time zone is not UTC.
set -eu
mkdir -p out
if [ "${LC_ALL:-C}" = C.UTF-8 ]; then
  hour=$(TZ=UTC date -d "@$SOURCE_DATE_EPOCH" +%H)
else
  hour=$(date -d "@$SOURCE_DATE_EPOCH" +%H)
fi
printf 'release hour %s\n' "$hour" > out/stamp.txt
