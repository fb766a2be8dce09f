#!/usr/bin/env bash
# Installs the host packages crio needs to run and to be tested, with apt,
# only when something is missing. Safe to run repeatedly.
set -euo pipefail

# package -> a file it installs (documentation; presence is asked of dpkg)
declare -A wanted=(
  [runc]=/usr/sbin/runc
  [conmon]=/usr/bin/conmon
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [iproute2]=/usr/sbin/ip
  [libzstd-dev]=/usr/include/zstd.h
  [zlib1g-dev]=/usr/include/zlib.h
  [zstd]=/usr/bin/zstd
  # optional at run time (loaded with dlopen): inflates small gzip layers 2 to 3 times faster than zlib
  [libdeflate0]=/usr/lib/x86_64-linux-gnu/libdeflate.so.0
  # for the tests: a real registry, htpasswd for its Basic auth, a static busybox for test images
  [docker-registry]=/usr/bin/docker-registry
  [apache2-utils]=/usr/bin/htpasswd
  [busybox-static]=/bin/busybox
  [file]=/usr/bin/file
  [curl]=/usr/bin/curl
  [openssl]=/usr/bin/openssl
)

missing=()
for pkg in "${!wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
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
