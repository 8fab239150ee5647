#!/bin/sh
# `make data`: fills the data root ($TAPER_DATA, else ./data in the
# repository). Where the team's shared folder ../shared/data exists, every
# dataset in it is linked (relative links, so moving both together keeps
# them valid). Elsewhere the official CIFAR-100 binary archive is downloaded,
# its md5 checked, and unpacked to <root>/cifar-100-binary. Rerunning is
# safe: what is already there is left alone. data/README.md lists the other
# datasets and their layouts; those are fetched by hand.
set -eu
caller=$(pwd)
cd "$(dirname "$0")/.."
case "${TAPER_DATA:-}" in
  "") root=./data ;;
  /*) root=$TAPER_DATA ;;
  *) root=$caller/$TAPER_DATA ;;  # relative to where it was given, as in the programs
esac
shared=../shared/data
url=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz
md5=03b5dce01913d631647c71ecec9e9cb8

say() { echo "data: $*"; }
die() { echo "data: $*" >&2; exit 1; }

link_shared() {
  for src in "$shared"/*; do
    dest="$root/$(basename "$src")"
    if [ -L "$dest" ] && [ ! -e "$dest" ]; then
      die "$dest is a broken link; remove it and rerun"
    elif [ -e "$dest" ]; then
      say "$dest already present"
    else
      ln -s "$(realpath --relative-to="$root" "$src")" "$dest"
      say "linked $dest -> $src"
    fi
  done
}

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -O "$2" "$1"
  else
    die "need curl or wget to download $1"
  fi
}

fetch_cifar100() {
  dest="$root/cifar-100-binary"
  if [ -f "$dest/train.bin" ] && [ -f "$dest/test.bin" ]; then
    say "$dest already present"
    return
  fi
  archive="$root/cifar-100-binary.tar.gz"
  if [ ! -f "$archive" ]; then
    say "downloading $url (161 MiB)"
    download "$url" "$archive.part" || die "download of $url failed"
    mv "$archive.part" "$archive"
  fi
  sum=$(md5sum "$archive" | cut -d' ' -f1)
  if [ "$sum" != "$md5" ]; then
    rm -f "$archive"
    die "$archive has md5 $sum, expected $md5 (deleted; rerun to download again)"
  fi
  tar -xzf "$archive" -C "$root"
  rm -f "$archive"
  say "unpacked $dest"
}

mkdir -p "$root"
if [ -d "$shared" ]; then
  link_shared
else
  say "no $shared folder; fetching the public CIFAR-100 release"
  fetch_cifar100
fi
