#!/usr/bin/env bash
# Installs the host packages crio needs to run and to be tested, with apt,
# only when something is missing. Safe to run repeatedly.
set -euo pipefail

# package -> a file it installs, to tell whether it is present
declare -A wanted=(
  [runc]=/usr/sbin/runc
  [conmon]=/usr/bin/conmon
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [iproute2]=/usr/sbin/ip
)

missing=()
for pkg in "${!wanted[@]}"; do
  [ -e "${wanted[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-host-deps: missing ${missing[*]}; run as root to install them with apt" >&2
  exit 1
fi

echo "install-host-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pkg in "${missing[@]}"; do
  [ -e "${wanted[$pkg]}" ] || { echo "install-host-deps: $pkg installed but ${wanted[$pkg]} is missing" >&2; exit 1; }
done
