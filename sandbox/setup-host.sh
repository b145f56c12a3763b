#!/bin/sh
# Install what the host needs for the bwrap and docker sandboxes (run as root; idempotent).
#   docker.io    dockerd + containerd + runc (the daemon; `harness` starts it when not running)
#   debootstrap  builds the offline sandbox image's Debian rootfs (`harness sandbox build --offline`)
#   bubblewrap   the bwrap backend
# Re-running is harmless: with everything installed it does nothing (no apt-get update).
set -eu
PATH="$PATH:/usr/sbin:/sbin"

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh: must run as root" >&2
    exit 1
fi

PACKAGES="docker.io debootstrap bubblewrap ca-certificates"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi

command -v dockerd >/dev/null
command -v debootstrap >/dev/null
command -v bwrap >/dev/null
echo "setup-host.sh: docker.io, debootstrap and bubblewrap are installed"
