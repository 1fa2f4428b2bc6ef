#!/bin/sh
# Make sure Fashion-MNIST is on this machine: the Debian package puts its four IDX files in
# /usr/share/datasets/fashion-mnist/. Without root (or apt) the datamodule still finds the files in
# data/ or downloads them with torchvision, so this only warns.
set -u
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/t10k-labels-idx1-ubyte.gz" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Fashion-MNIST (Debian package dataset-fashion-mnist)…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null && exit 0
    echo "warning: could not install dataset-fashion-mnist; the datamodule will look in data/ or download" >&2
else
    echo "note: Fashion-MNIST is not in $DIR; as root, 'apt-get install dataset-fashion-mnist' puts it there." >&2
    echo "      Otherwise the datamodule looks in data/ or downloads it with torchvision." >&2
fi
