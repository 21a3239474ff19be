# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the scripts in this directory. Source it; it only
# defines variables derived from the repository layout and small functions.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
# The git work tree holding the pristine source plus the series.
LINUX=${LINUX:-$BUILD/linux}

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

log() {
	echo "==> $*" >&2
}

# The Debian package version the series is tested on (one place: KERNEL_VERSION).
kernel_deb_version() {
	head -n1 "$TOP/KERNEL_VERSION"
}
