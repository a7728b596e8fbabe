#!/usr/bin/env bash
# Install the Debian 12 packages the exchange needs to build, run and test.
# Idempotent: installs only what is missing.  Needs root (or sudo).
set -euo pipefail

packages=(
	postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
	libpq-dev build-essential python3 python3-psycopg2 libtap-parser-sourcehandler-pgtap-perl
	patroni python3-etcd etcd-server etcd-client haproxy pgbackrest
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Debian starts the packaged etcd on 127.0.0.1:2379, where the local cluster
# (scripts/cluster.sh) runs its own: disable the service we just installed.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
