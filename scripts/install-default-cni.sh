#!/usr/bin/env bash
# Installs contrib/cni/11-crio-ipv4-bridge.conflist into the CNI config dir,
# only when that dir holds no network configuration yet.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CNI_CONFIG_DIR:-/etc/cni/net.d}
mkdir -p "$dir"
if ls "$dir"/*.conflist "$dir"/*.conf "$dir"/*.json >/dev/null 2>&1; then
  exit 0
fi
install -m 0644 contrib/cni/11-crio-ipv4-bridge.conflist "$dir/"
echo "install-default-cni: installed $dir/11-crio-ipv4-bridge.conflist"
