# repro's npm fetch step: runs in the `node` builder image as an unprivileged user, network on.
# `npm ci --ignore-scripts` downloads every package the lockfile pins into an npm cache, checking
# each against its integrity; with scripts off, no package's and no project's code runs. The
# project is copied to a scratch folder because npm ci writes node_modules/ beside package.json.
# npm_config_registry comes from the user's environment when set.
#
# In:  /src (the project, read-only: package.json, the lockfile, workspace folders).
# Out: /fetch/out/npm (an npm cache: _cacache/content-v2/… by digest, index-v5/… by URL).
set -eu
export HOME=/tmp/home npm_config_cache=/fetch/out/npm npm_config_update_notifier=false \
    npm_config_audit=false npm_config_fund=false
mkdir -p "$HOME" /fetch/state/project
cp -a /src/. /fetch/state/project/
rm -rf /fetch/state/project/node_modules
cd /fetch/state/project
npm ci --ignore-scripts --no-audit --no-fund
# Logs and timestamps npm keeps beside the cache are not dependencies.
rm -rf "$npm_config_cache/_logs" "$npm_config_cache/_update-notifier-last-checked" \
    "$npm_config_cache/_npx"
