#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt (or the
# list given as the argument, e.g. scripts/fuzz-packages.txt) that are
# missing. As root it runs apt-get; otherwise it prints the exact command and
# fails, so that `make` stops with instructions instead of a compiler error.
set -eu
list="${1:-$(dirname "$0")/debian-packages.txt}"
missing=""
for pkg in $(grep -v '^#' "$list"); do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "taper: missing Debian packages:$missing" >&2
  echo "taper: install them with:  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "taper: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
