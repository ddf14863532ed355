#!/usr/bin/env bash
# The project's main job. Until the daemons (perc-kmf, perc-mdd,
# perc-signaling, perc-endpoint) exist, it builds perc-tool and prints the
# project's published PERC test vectors: double encryption, Media
# Distributor relay with OHB, EKT fields, tunnel messages and the DTLS-SRTP
# key split, each computed by libperc at run time.
# Installs the Debian packages it needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib/deps.sh

perc_install_packages $PERC_BUILD_PACKAGES
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPERC_TESTS=OFF >/dev/null
ninja -C build/release -j "$jobs" perc-tool >/dev/null
exec build/release/tools/perc-tool vectors
