#!/usr/bin/env python3
"""Python acty 0.1.1 on acty-bench's fan-out shape: G groups of 1 primer + F followers.

Measured as in the Python semantics reference (section 10): `submit_group` called sequentially for every group,
no event sinks (event_bus=None), structlog filtered to WARNING, jobs/s = jobs / (time from the first submit_group
call until asyncio.gather of all futures returns; includes submission). Prints one JSON line like acty-bench.

    python acty_fanout.py --groups 2000 --followers 9 --primer-workers 8 --follower-workers 32 --executor echo
"""

import argparse
import asyncio
import json
import logging
import resource
import sys
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--followers", type=int, default=9)
    parser.add_argument("--primer-workers", type=int, default=8)
    parser.add_argument("--follower-workers", type=int, default=32)
    parser.add_argument("--executor", choices=["echo", "noop"], default="echo",
                        help="EchoExecutor (as measured in the semantics reference) or NoopExecutor")
    return parser.parse_args()


def quiet_logging() -> None:
    import structlog

    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


async def run(args: argparse.Namespace) -> dict:
    from acty import ActyEngine, EchoExecutor, EngineConfig, NoopExecutor

    executor = EchoExecutor() if args.executor == "echo" else NoopExecutor()
    engine = ActyEngine(
        executor=executor,
        config=EngineConfig(primer_workers=args.primer_workers, follower_workers=args.follower_workers),
    )
    follower_payloads = [{"agent": f"specialist:{i}"} for i in range(args.followers)]
    futures = []
    start = time.perf_counter()
    for index in range(args.groups):
        submission = await engine.submit_group(
            f"group-{index}", {"agent": "coordinator", "index": index}, list(follower_payloads)
        )
        if submission.primer is not None:
            futures.append(submission.primer)
        futures.extend(submission.followers)
    submitted = time.perf_counter()
    results = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await engine.close()

    succeeded = sum(1 for result in results if getattr(result, "ok", False))
    jobs = len(futures)
    return {
        "workload": "fanout",
        "implementation": "python-acty",
        "executor": args.executor,
        "groups": args.groups,
        "followers": args.followers,
        "jobs": jobs,
        "succeeded": succeeded,
        "primer_workers": args.primer_workers,
        "follower_workers": args.follower_workers,
        "seconds": elapsed,
        "submit_seconds": submitted - start,
        "jobs_per_second": jobs / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "python": sys.version.split()[0],
    }


def main() -> None:
    args = parse_args()
    quiet_logging()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    if result["succeeded"] != result["jobs"]:
        sys.exit(f"acty_fanout.py: only {result['succeeded']} of {result['jobs']} jobs succeeded")


if __name__ == "__main__":
    main()
