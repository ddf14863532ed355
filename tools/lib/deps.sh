# Sourced by the top-level scripts: installs the Debian 12 packages a step
# needs, and only those that are missing. Runs apt-get as root, or through
# sudo when not root.

# Packages to build libperc, the daemons, perc-tool and the tests (GLib,
# libwebsockets with its GLib event loop, and libnice for the daemons;
# libopus for perc-endpoint's real audio;
# openssl, the command, makes the demo's certificates).
PERC_BUILD_PACKAGES="build-essential cmake ninja-build pkg-config git openssl libssl-dev libcjson-dev
    libglib2.0-dev libwebsockets-dev libwebsockets-evlib-glib libnice-dev libopus-dev"
# Packages the tests need on top: CMocka, libsrtp2 (the independent SRTP
# oracle), clang and its runtime (sanitizers and libFuzzer), tshark (checks
# that our injected EKTKey record decrypts with a good tag on the wire),
# chromium (renders perc-signaling's status page headless), docker-compose
# (validates docker/compose.yml; no container engine runs on CI), jq (the
# e2e scenarios read the endpoints' --stats JSON), iproute2 (their network
# namespaces, veth pairs, bridge and tc netem), iptables (their loss where
# the kernel has no netem), curl (the MDD's /metrics), python3 (the wire
# check's TunnelMessage and DTLS analysis, the macro benchmarks' summary),
# valgrind (memcheck as a taint tracker: secrets compared in constant time).
PERC_TEST_PACKAGES="libcmocka-dev libsrtp2-dev clang libclang-rt-14-dev tshark chromium
    docker-compose jq iproute2 iptables curl python3 valgrind"
# Packages the demo (tools/demo.sh) needs on top of the build: dumpcap
# (from tshark's dependencies) to capture the conference.
PERC_DEMO_PACKAGES="tshark"
# Packages bench/run.sh needs on top of the build: valgrind (callgrind
# instruction counts of the hot paths), gnuplot without X (PNG plots) and
# python3 (the macro benchmarks' summary).
PERC_BENCH_PACKAGES="valgrind gnuplot-nox python3"

perc_missing_packages() {
    local missing=""
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $pkg"
        fi
    done
    echo "$missing"
}

perc_install_packages() {
    local missing
    missing=$(perc_missing_packages "$@")
    [ -z "$missing" ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "error: missing Debian packages:$missing; run as root or install sudo" >&2
            return 1
        fi
    fi
    echo "== installing Debian packages:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}
