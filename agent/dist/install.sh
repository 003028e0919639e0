#!/usr/bin/env bash
# Installs the dashledger agent on a Raspberry Pi (Debian/Raspberry Pi OS, arm64).
#
#   sudo agent/dist/install.sh path/to/dashledger-agent [models-dir] [deployment.json]
#   sudo ./install.sh [deployment.json]     # from the scripts/build-pi tarball: binary and models
#                                           # are found next to this script
#
# Installs runtime packages (GStreamer plugins), the binary, the models, the operator's deployment
# file, a config skeleton, the systemd unit and a system user; creates the keystore on first
# install (prints the device address to register with the operator and the owner wallet address
# to fund). Safe to re-run: an existing config, deployment file or keystore is never replaced.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: install.sh path/to/dashledger-agent [models-dir] [deployment.json], or ./install.sh [deployment.json] in the unpacked tarball"
if [ -x "$here/dashledger-agent" ] && [ -d "$here/models" ] && { [ $# -le 1 ] && [[ "${1:-}" != */dashledger-agent ]]; }; then
  # Unpacked scripts/build-pi tarball.
  bin="$here/dashledger-agent"; models="$here/models"; deployment="${1:-}"
else
  bin="${1:?$usage}"
  models="${2:-$here/../../models}"
  deployment="${3:-}"
fi
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }
[ -x "$bin" ] || { echo "install.sh: $bin is not an executable" >&2; exit 1; }

apt-get install -y --no-install-recommends \
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav

id dashledger >/dev/null 2>&1 || useradd --system --home /var/lib/dashledger --shell /usr/sbin/nologin dashledger
install -d -o dashledger -g dashledger -m 0750 /var/lib/dashledger /var/lib/dashledger/state
install -d -m 0755 /etc/dashledger /usr/local/share/dashledger/models
install -m 0755 "$bin" /usr/local/bin/dashledger-agent
doc="$here/agent.md"; [ -f "$doc" ] || doc="$here/../../docs/agent.md"
if [ -f "$doc" ]; then install -D -m 0644 "$doc" /usr/share/doc/dashledger-agent/agent.md; fi
if [ -d "$models" ]; then
  install -m 0644 "$models"/*.onnx "$models"/*.card.json /usr/local/share/dashledger/models/ 2>/dev/null || true
fi

if [ -n "$deployment" ] && [ ! -f /etc/dashledger/deployment.json ]; then
  install -m 0644 "$deployment" /etc/dashledger/deployment.json
fi

if [ ! -f /etc/dashledger/agent.toml ]; then
  cat > /etc/dashledger/agent.toml <<'TOML'
# dashledger agent configuration; `dashledger-agent print-config` shows every key and its value.
watch_dir = "/media/dashcam/segments"
state_dir = "/var/lib/dashledger/state"
keystore = "/var/lib/dashledger/keystore.json"
keystore_password_file = "/etc/dashledger/keystore.password"
# The event button's file (the camera directory is read-only for the service).
event_file = "/var/lib/dashledger/EVENT"

[cloud]
url = "https://cloud.example.invalid"

[chain]
rpc_url = "https://rpc.example.invalid"
# The operator's deployment file (contract addresses, chain id).
deployments = "/etc/dashledger/deployment.json"
# "relayer": the cloud pays for EC creation; "direct": the owner wallet pays (must be funded).
ec_via = "relayer"

[owner]
# Answer requests automatically (kfrag + deposit from the owner wallet) when the reward is at
# least this many wei. Off by default: use `dashledger-agent requests` / `approve`.
auto_approve = false
auto_approve_min_reward_wei = "0"
poll_secs = 30

[detect]
models_dir = "/usr/local/share/dashledger/models"
backbone = "effnet-lite0"

[location]
source = "gpsd:127.0.0.1:2947"
TOML
  echo "install.sh: wrote /etc/dashledger/agent.toml; set watch_dir, cloud.url and chain.rpc_url"
fi
if [ ! -f /etc/dashledger/keystore.password ]; then
  umask 077
  head -c 32 /dev/urandom | base64 > /etc/dashledger/keystore.password
  chown root:dashledger /etc/dashledger/keystore.password
  chmod 0640 /etc/dashledger/keystore.password
fi
if [ ! -f /var/lib/dashledger/keystore.json ]; then
  sudo -u dashledger DASHLEDGER_AGENT_CONFIG=/etc/dashledger/agent.toml /usr/local/bin/dashledger-agent init
  echo "install.sh: keystore created; register device_address with the cloud operator and fund"
  echo "            wallet_address (it pays deposits and gas for approve/decline/claim/withdraw)"
fi

install -m 0644 "$here/dashledger-agent.service" /etc/systemd/system/dashledger-agent.service
systemctl daemon-reload
systemctl enable --now dashledger-agent.service
systemctl --no-pager status dashledger-agent.service || true
