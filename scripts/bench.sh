#!/usr/bin/env bash
# The fsdfs benchmark (issue #11): builds fsdfsd and fsdfs-bench in release mode, installs the
# peers it compares against if missing (nginx from Debian; curl and openssl), and runs
#
#   .build/release/fsdfs-bench [options]
#
# which starts its own swarms, nginx and (for the MongoDB run) SecantusDB, prints a table
# (figure | fsdfs | peer | ratio | goal | ok?) and writes every figure to bench-results.json.
#
#   scripts/bench.sh                                        everything, default sizes
#   scripts/bench.sh --small-files 5000 --big-node-files 100000   a quicker run
#   scripts/bench.sh --only small,big --json-out /tmp/b.json
#   scripts/bench.sh --help                                 every option and what each figure means
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing the benchmark's peers: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# The peer stores uploads with nginx's WebDAV module (PUT).
if ! PATH="$PATH:/usr/sbin" nginx -V 2>&1 | grep -q -- --with-http_dav_module; then
    echo "this nginx has no WebDAV module (nginx -V lacks --with-http_dav_module): install nginx-light or nginx-full" >&2
    exit 1
fi

# The MongoDB run uses SecantusDB from the test venv (`bash .ci/run` installs it).
if [ -z "${FSDFS_SECANTUSD:-}" ] && [ -x .venv/bin/secantusd-py ]; then
    export FSDFS_SECANTUSD="$PWD/.venv/bin/secantusd-py"
fi

echo "building fsdfsd and fsdfs-bench (release; the first build takes several minutes)…" >&2
swift build -c release --product fsdfsd >&2
swift build -c release --product fsdfs-bench >&2
PATH="$PATH:/usr/sbin" exec .build/release/fsdfs-bench "$@"
