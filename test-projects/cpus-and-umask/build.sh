# A packaging step with a fallback path taken only on a single-CPU machine with a group-
# writable umask: the output differs only when num-cpus and umask vary together.
set -eu
mkdir -p out
if [ "$(nproc)" -gt 1 ] || [ "$(umask)" = 0022 ]; then
  echo "packed with the parallel packer" > out/pack.log
else
  echo "packed with the fallback packer" > out/pack.log
fi
