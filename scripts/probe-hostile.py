#!/usr/bin/env python3
"""Probes a running fsdfs node the way an attacker on its network could (issue #13, point 1),
and prints figures:

1. CONCURRENT unsigned POSTs announcing a 60 MB body each, whose bodies are then sent slowly:
   the node's RSS before and at its highest while they are refused (the node must refuse
   each from its headers, before reading the body, and close the connection).
2. IDLE idle sockets opened at once from another loopback address (127.0.0.2): how many the
   node kept (its per-address cap closes the others), and whether signed calls (`fsdfsd
   status`, a put and a get) still work meanwhile.

Usage: probe-hostile.py HOST:PORT NODE_PID FSDFSD_BINARY [--concurrent 200] [--idle 4000]
FSDFS_SECRET must be set for the signed calls."""
import argparse
import os
import socket
import subprocess
import tempfile
import threading
import time


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def unsigned_post(host, port, results, index):
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=30)
        sock.sendall(b"POST /v1/copy HTTP/1.1\r\nHost: fsdfs\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n")
        sent = 0
        chunk = b"x" * 65536
        sock.settimeout(0.05)
        answer = b""
        # 20 MB/s at most, until the node answers and closes.
        while sent < 60_000_000:
            try:
                data = sock.recv(4096)
                if data:
                    answer += data
                else:
                    break
            except socket.timeout:
                pass
            try:
                sock.sendall(chunk)
                sent += len(chunk)
            except OSError:
                break
            time.sleep(len(chunk) / 20e6)
        results[index] = (answer.split(b"\r\n", 1)[0].decode(errors="replace"), sent, time.monotonic() - started)
        sock.close()
    except OSError as error:
        results[index] = ("error: %s" % error, 0, time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("pid", type=int)
    parser.add_argument("fsdfsd")
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--idle", type=int, default=4000)
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    port = int(port)

    before = rss_mib(args.pid)
    results = [None] * args.concurrent
    threads = [threading.Thread(target=unsigned_post, args=(host, port, results, i)) for i in range(args.concurrent)]
    peak = before
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_mib(args.pid))
        time.sleep(0.05)
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    sent = sum(r[1] for r in results) / 1e6
    slowest = max(r[2] for r in results)
    print("unsigned 60 MB POSTs: %d at once; answers %s; %.1f MB of bodies sent before the node closed (%.1f MB each at most); slowest refusal %.2f s"
          % (args.concurrent, statuses, sent, max(r[1] for r in results) / 1e6, slowest))
    print("node RSS: %.1f MiB before, %.1f MiB at most during (+%.1f MiB)" % (before, peak, peak - before))

    sockets = []
    refused = 0
    for _ in range(args.idle):
        try:
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.connect((host, port))
            sockets.append(sock)
        except OSError:
            refused += 1
    time.sleep(1)
    closed = 0
    for sock in sockets:
        sock.settimeout(0.001)
        try:
            if sock.recv(1) == b"":
                closed += 1
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            closed += 1
    environment = dict(os.environ, FSDFS_MASTER=args.address)
    started = time.monotonic()
    status = subprocess.run([args.fsdfsd, "status"], env=environment, capture_output=True, text=True)
    with tempfile.NamedTemporaryFile() as local:
        local.write(os.urandom(100_000))
        local.flush()
        put = subprocess.run([args.fsdfsd, "put", local.name, "probe/while-flooded.bin"], env=environment, capture_output=True, text=True)
        get = subprocess.run([args.fsdfsd, "get", "probe/while-flooded.bin", local.name + ".back"], env=environment, capture_output=True, text=True)
        same = get.returncode == 0 and open(local.name, "rb").read() == open(local.name + ".back", "rb").read()
        if os.path.exists(local.name + ".back"):
            os.unlink(local.name + ".back")
    print("idle sockets from 127.0.0.2: %d opened, %d closed by the node at once, %d kept (%d not even connected)"
          % (args.idle, closed, len(sockets) - closed, refused))
    print("meanwhile: status exit %d, put exit %d, get exit %d and %s, in %.2f s; node RSS %.1f MiB"
          % (status.returncode, put.returncode, get.returncode, "the same bytes" if same else "DIFFERENT bytes",
             time.monotonic() - started, rss_mib(args.pid)))
    for sock in sockets:
        sock.close()


if __name__ == "__main__":
    main()
