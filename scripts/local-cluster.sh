#!/usr/bin/env bash
# Builds fsdfsd and starts a local three-node swarm on the embedded SQLite catalog:
# a master on 127.0.0.1:4242 and two nodes on 4243 and 4244, each with its own data
# directory and a 1 GiB quota under $FSDFS_DEMO_DIR (default /tmp/fsdfs-demo).
#
#   scripts/local-cluster.sh          build, start, wait until all three nodes are up
#   scripts/local-cluster.sh stop     stop the three nodes (data directories are kept)
#   scripts/local-cluster.sh clean    stop and delete the data directories
set -euo pipefail
cd "$(dirname "$0")/.."

demo="${FSDFS_DEMO_DIR:-/tmp/fsdfs-demo}"
export FSDFS_SECRET="${FSDFS_SECRET:-local-demo-secret}"
export FSDFS_MASTER=127.0.0.1:4242
binary=.build/release/fsdfsd

stop() {
    for pidfile in "$demo"/*.pid; do
        [ -e "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        kill "$pid" 2>/dev/null && echo "stopping $(basename "$pidfile" .pid) (pid $pid)"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$pidfile"
    done
}

case "${1:-start}" in
    stop) stop; exit 0 ;;
    clean) stop; rm -rf "$demo"; echo "removed $demo"; exit 0 ;;
    start) ;;
    *) echo "usage: $0 [start|stop|clean]" >&2; exit 2 ;;
esac

bash .ci/install-packages
echo "building fsdfsd (release; the first build takes a few minutes)…"
swift build -c release --product fsdfsd
mkdir -p "$demo"
stop

start_node() {
    local name=$1 port=$2
    shift 2
    "$binary" serve --data "$demo/$name" --listen "127.0.0.1:$port" --quota 1G "$@" \
        >>"$demo/$name.log" 2>&1 &
    echo $! >"$demo/$name.pid"
    echo "started $name on 127.0.0.1:$port (data $demo/$name, log $demo/$name.log)"
}

start_node master 4242 --policies policies
start_node node1 4243 --master 127.0.0.1:4242
start_node node2 4244 --master 127.0.0.1:4242

for _ in $(seq 100); do
    alive=$("$binary" status --json 2>/dev/null | grep -o '"alive":true' | wc -l || true)
    [ "$alive" -ge 3 ] && break
    sleep 0.2
done
"$binary" status
cat <<TEXT

The swarm is up. In another terminal:

    export FSDFS_SECRET=$FSDFS_SECRET
    $binary put README.rst docs/README.rst
    $binary where docs/README.rst
    $binary status --watch

Stop it with: scripts/local-cluster.sh stop
TEXT
