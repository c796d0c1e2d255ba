#!/usr/bin/env python3
"""Replication of many small files to a node that joins (issue #11, point 1).

Seeds COUNT files of SIZE bytes straight into the first node's data directory (with a swarm
id), starts it as a master with --recover so that it takes them into its catalog in one
inventory (N = 2 by policy, so K = 1), leaves safe mode, then starts a second node and times
until every file has K = 2 (status: underReplicated = 0).

usage: scripts/measure-small-copies.py [--catalog sqlite|mongodb] [--count 20000] [--size 4096]
       [--copy-batch 512] [--fsdfsd .build/release/fsdfsd]
"""
import argparse, json, os, re, shutil, socket, subprocess, sys, tempfile, time, uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--catalog", default="sqlite", choices=["sqlite", "mongodb"])
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--copy-batch", type=int, default=None)
    p.add_argument("--fsdfsd", default=".build/release/fsdfsd")
    p.add_argument("--secantusd", default=".venv/bin/secantusd-py")
    args = p.parse_args()
    binary = os.path.abspath(args.fsdfsd)
    work = tempfile.mkdtemp(prefix="fsdfs-small-copies-", dir="/tmp")
    env = dict(os.environ, FSDFS_SECRET="small-copies-measurement")
    procs = []
    try:
        first, second = os.path.join(work, "a"), os.path.join(work, "b")
        os.makedirs(os.path.join(first, ".fsdfs"))
        with open(os.path.join(first, ".fsdfs", "swarm-id"), "w") as f:
            f.write(str(uuid.uuid4()) + "\n")
        folder = os.path.join(first, "small")
        os.makedirs(folder)
        t = time.time()
        for i in range(args.count):
            with open(os.path.join(folder, f"{i}.bin"), "wb") as f:
                f.write(os.urandom(args.size))
        policies = os.path.join(work, "policies")
        os.makedirs(policies)
        with open(os.path.join(policies, "policy.toml"), "w") as f:
            f.write("[default]\nn = 2\n")
        catalog = []
        if args.catalog == "mongodb":
            log = open(os.path.join(work, "secantusd.log"), "w")
            server = subprocess.Popen([args.secantusd, "--host", "127.0.0.1", "--port", "0", "--storage-path", ":memory:"],
                                      stdout=log, stderr=log)
            procs.append(server)
            deadline = time.time() + 30
            port = None
            while time.time() < deadline and port is None:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(log.name).read())
                port = m and m.group(1)
                time.sleep(0.05)
            catalog = ["--catalog", f"mongodb://127.0.0.1:{port}/fsdfs_small?retryWrites=false"]
        master = f"127.0.0.1:{free_port()}"
        extra = ["--copy-batch", str(args.copy_batch)] if args.copy_batch else []
        common = ["--quota", "20G", "--report-interval", "1", "--max-load", "1000"]
        procs.append(subprocess.Popen(
            [binary, "serve", "--data", first, "--listen", master, "--recover", "--policies", policies] + common + catalog + extra,
            env=env, stdout=open(os.path.join(work, "a.log"), "w"), stderr=subprocess.STDOUT))

        def status():
            out = subprocess.run([binary, "status", "--json", "--master", master], env=env, capture_output=True, text=True)
            return json.loads(out.stdout) if out.returncode == 0 else None

        while True:
            s = status()
            if s and s["files"] == args.count and s.get("minKn") == -1:
                break
            time.sleep(0.5)
        seeded = time.time() - t
        subprocess.run([binary, "safe-mode", "leave", "--master", master], env=env, check=True, capture_output=True)
        start = time.time()
        procs.append(subprocess.Popen(
            [binary, "serve", "--data", second, "--listen", f"127.0.0.1:{free_port()}", "--master", master] + common,
            env=env, stdout=open(os.path.join(work, "b.log"), "w"), stderr=subprocess.STDOUT))
        while True:
            s = status()
            if s and s["underReplicated"] == 0 and s["files"] == args.count:
                break
            time.sleep(0.1)
        took = time.time() - start
        # Every file on the new node, byte for byte.
        for i in range(0, args.count, max(1, args.count // 100)):
            name = os.path.join("small", f"{i}.bin")
            assert open(os.path.join(first, name), "rb").read() == open(os.path.join(second, name), "rb").read(), name
        print(json.dumps({"catalog": args.catalog, "files": args.count, "size": args.size, "seconds": round(took, 2),
                          "filesPerSecond": round(args.count / took), "seedSeconds": round(seeded, 1)}))
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work, file=sys.stderr)


if __name__ == "__main__":
    main()
