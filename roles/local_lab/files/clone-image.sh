#!/bin/sh
# Copy the base image IMAGE to a host directory DEST (DEST.tmp first, then rename).
# Usage: clone-image.sh IMAGE DEST
set -eu
image=$1 dest=$2
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$dest")"
cp -a --reflink=auto "$image" "$tmp"
mv "$tmp" "$dest"
