set -eu
mkdir -p out
printf "%s\n" b B a A _x ä > words
sort words > out/sorted-words.txt
