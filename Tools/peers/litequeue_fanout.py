#!/usr/bin/env python3
"""litequeue (a SQLite-backed queue) on acty-bench's fan-out shape: G groups of 1 primer + F followers.

litequeue has one FIFO queue per database file and no groups, so the group ordering is emulated: every group's
primer is enqueued up front (one `put` each, as submit_group does one transaction per group), and the worker that
finishes a primer marks it done and enqueues its F followers in the same transaction. `--workers` threads share one
LiteQueue (its documented thread-safe use) and loop pop → execute → done; the executor does what EchoExecutor does
(decode the payload, build an output). File database in a temporary folder, litequeue's own settings (WAL,
synchronous=NORMAL). jobs/s = jobs / (time from the first put until every job is done). Prints one JSON line like
acty-bench.

    python litequeue_fanout.py --groups 2000 --followers 9 --workers 8
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--followers", type=int, default=9)
    parser.add_argument("--workers", type=int, default=8,
                        help="worker threads popping from the one queue (default 8; on a 2-core VM 1 thread gave "
                             "~2,400 jobs/s, 4 ~2,700, 8 ~3,600, 40 ~2,100: sqlite3 releases the GIL during I/O, "
                             "but all writes share one connection lock)")
    parser.add_argument("--primer-workers", type=int, default=8, help="accepted for symmetry; litequeue has no pools")
    parser.add_argument("--follower-workers", type=int, default=32, help="accepted for symmetry; litequeue has no pools")
    return parser.parse_args()


def run(args: argparse.Namespace, folder: str) -> dict:
    import importlib.metadata

    from litequeue import LiteQueue

    queue = LiteQueue(os.path.join(folder, "litequeue.db"))
    jobs = args.groups * (1 + args.followers)
    follower_payloads = [json.dumps({"agent": f"specialist:{i}"}) for i in range(args.followers)]

    state = {"done": 0, "succeeded": 0}
    state_lock = threading.Lock()
    wakeup = threading.Condition()
    finished = threading.Event()

    def execute(message) -> dict:
        return {"payload": json.loads(message.data)}  # what EchoExecutor does

    def worker() -> None:
        while not finished.is_set():
            message = queue.pop()
            if message is None:
                with wakeup:
                    wakeup.wait(0.005)
                continue
            output = execute(message)
            group = output["payload"].get("group")
            if group is not None:  # a primer: done, and its followers enqueued, in one transaction
                with queue.transaction(mode="IMMEDIATE"):
                    queue.done(message.message_id, claim_id=message.claim_id)
                    for payload in follower_payloads:
                        queue.put(payload)
                with wakeup:
                    wakeup.notify_all()
            else:
                queue.done(message.message_id, claim_id=message.claim_id)
            with state_lock:
                state["done"] += 1
                state["succeeded"] += 1
                if state["done"] == jobs:
                    finished.set()
                    with wakeup:
                        wakeup.notify_all()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for index in range(args.groups):
        queue.put(json.dumps({"agent": "coordinator", "group": f"group-{index}", "index": index}))
        with wakeup:
            wakeup.notify()
    submitted = time.perf_counter()
    finished.wait()
    elapsed = time.perf_counter() - start
    for thread in threads:
        thread.join()
    done_rows = queue.done_count()
    queue.close()

    return {
        "workload": "fanout",
        "implementation": "litequeue",
        "litequeue_version": importlib.metadata.version("litequeue"),
        "groups": args.groups,
        "followers": args.followers,
        "jobs": jobs,
        "succeeded": state["succeeded"],
        "done_rows": done_rows,
        "workers": args.workers,
        "primer_workers": args.primer_workers,
        "follower_workers": args.follower_workers,
        "seconds": elapsed,
        "submit_seconds": submitted - start,
        "jobs_per_second": jobs / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "synchronous": "NORMAL",
        "python": sys.version.split()[0],
    }


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="litequeue-fanout-") as folder:
        result = run(args, folder)
    print(json.dumps(result))
    if result["done_rows"] != result["jobs"]:
        sys.exit(f"litequeue_fanout.py: {result['done_rows']} of {result['jobs']} rows are done")


if __name__ == "__main__":
    main()
