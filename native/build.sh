#!/bin/sh
# Builds native/build/Release/floodgate_native.node offline, against the headers
# of the node binary on PATH (never downloads headers). Usable from any cwd:
#   sh native/build.sh
# Overrides: NODE_GYP=/path/to/node-gyp.js  NODEDIR=/prefix/with/include/node
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${NODE_GYP:-}" ]; then
  for cand in \
    "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
    "$(dirname "$(dirname "$(command -v node)")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" \
    /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
    /usr/share/nodejs/node-gyp/bin/node-gyp.js; do
    if [ -f "$cand" ]; then NODE_GYP=$cand; break; fi
  done
fi
[ -n "${NODE_GYP:-}" ] || { echo "native/build.sh: node-gyp not found; set NODE_GYP=/path/to/node-gyp.js" >&2; exit 1; }

if [ -z "${NODEDIR:-}" ]; then
  # First prefix holding include/node/node_api.h: the prefix node was built with
  # (official tarballs, nvm), the prefix of the running binary (/usr/bin/node ->
  # /usr on Debian), then npm's own `nodedir` setting.
  for cand in \
    "$(node -p 'process.config.variables.node_prefix || ""')" \
    "$(node -p 'require("path").resolve(process.execPath, "../..")')" \
    "$(npm config get nodedir 2>/dev/null || true)"; do
    if [ -n "$cand" ] && [ -f "$cand/include/node/node_api.h" ]; then NODEDIR=$cand; break; fi
  done
fi
[ -n "${NODEDIR:-}" ] && [ -f "$NODEDIR/include/node/node_api.h" ] || {
  echo "native/build.sh: Node headers (include/node/node_api.h) not found; set NODEDIR=<prefix>" >&2
  exit 1
}

cd "$here"
exec node "$NODE_GYP" rebuild --nodedir="$NODEDIR" --loglevel=warn
