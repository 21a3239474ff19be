#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build, the guest and the tests need,
# when they are missing. Usage: deps.sh [extra-package...]
set -euo pipefail

pkgs=(build-essential flex bison bc libelf-dev libssl-dev cpio kmod python3
      git qemu-system-x86 busybox-static sparse rt-tests stress-ng
      python3-ply python3-git
      # scripts/test-scx.sh: pahole for the kernel's BTF, clang >= 16 for
      # the BPF scheduler, libzstd.a for its static link (libelf uses it)
      dwarves clang-16 libzstd-dev
      "$@")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "==> installing: ${missing[*]}" >&2
[ "$(id -u)" -eq 0 ] || { echo "deps.sh: need root to install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
