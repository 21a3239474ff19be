#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unpack the pristine kernel source the series is tested on and print its
# directory. With KERNEL_SRC=<dir>, print that directory instead.
#
# The source is Debian's linux-source-6.12 package at the version named in
# KERNEL_VERSION; when the archive no longer serves it, the newest 6.12 is
# taken and a warning says so.
#
# Usage: fetch-source.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${KERNEL_SRC:-}" ]; then
	[ -f "$KERNEL_SRC/Makefile" ] && [ -d "$KERNEL_SRC/kernel/sched" ] ||
		die "KERNEL_SRC=$KERNEL_SRC is not a kernel tree"
	cd "$KERNEL_SRC" && pwd
	exit 0
fi

want=$(kernel_deb_version)
dl=$BUILD/dl
mkdir -p "$dl"

deb=$(ls "$dl"/linux-source-6.12_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
	cd "$dl"
	if ! apt-get download "linux-source-6.12=$want" >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1 || true
		if ! apt-get download "linux-source-6.12=$want" >/dev/null 2>&1; then
			echo "WARNING: linux-source-6.12 $want is no longer served;" \
			     "using the newest 6.12 (update KERNEL_VERSION)" >&2
			apt-get download linux-source-6.12 >/dev/null 2>&1 ||
				die "cannot download linux-source-6.12"
		fi
	fi
	deb=$(ls "$dl"/linux-source-6.12_*.deb | head -n1)
fi

ver=$(dpkg-deb -f "$deb" Version)
src=$BUILD/src/linux-$ver
if [ ! -f "$src/.unpacked" ]; then
	log "unpacking linux-source-6.12 $ver"
	rm -rf "$src" "$BUILD/src/deb"
	mkdir -p "$BUILD/src/deb" "$src"
	dpkg-deb -x "$deb" "$BUILD/src/deb"
	tar xf "$BUILD/src/deb"/usr/src/linux-source-6.12.tar.xz -C "$src" \
		--strip-components=1
	rm -rf "$BUILD/src/deb"
	touch "$src/.unpacked"
fi
echo "$src"
