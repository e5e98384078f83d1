#!/usr/bin/env bash
# Install the Debian 12 packages that building, testing and benchmarking
# need, skipping the ones already present. Runs apt-get as root, or through
# sudo otherwise.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    r-base-dev r-cran-rinside r-cran-rcpp
    libnng-dev libmbedtls-dev libcurl4-openssl-dev libboost-dev catch2
    r-cran-future r-cran-future.apply
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "install packages: not root and sudo is missing;" \
            "install as root: ${missing[*]}" >&2
        exit 1
    }
    sudo=(sudo)
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
