#!/usr/bin/env python3
"""Python acty 0.1.1 on acty-bench's `dependencies --shape chain` shape: G groups of 1 primer + F followers, group i
depending on group i-1 (ON_DONE), timed against the same groups without dependencies, each in a fresh engine.

Measured like acty_fanout.py: `submit_group` called sequentially, no event sinks, structlog at WARNING, NoopExecutor;
seconds from the first `submit_group` to `gather` of all futures. Prints one JSON line like acty-bench.

    python acty_chain.py --groups 2000 --followers 0
"""

import argparse
import asyncio
import json
import resource
import sys
import time

from acty_fanout import quiet_logging


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--followers", type=int, default=0)
    parser.add_argument("--primer-workers", type=int, default=8)
    parser.add_argument("--follower-workers", type=int, default=32)
    return parser.parse_args()


async def timed(args: argparse.Namespace, chained: bool) -> float:
    from acty import ActyEngine, EngineConfig, NoopExecutor
    from acty_core.lifecycle import GroupDependency, GroupDependencyPolicy

    engine = ActyEngine(
        executor=NoopExecutor(),
        config=EngineConfig(primer_workers=args.primer_workers, follower_workers=args.follower_workers),
    )
    futures = []
    start = time.perf_counter()
    for index in range(args.groups):
        depends_on = []
        if chained and index > 0:
            depends_on = [GroupDependency(group_id=f"group-{index - 1}", policy=GroupDependencyPolicy.ON_DONE)]
        submission = await engine.submit_group(
            f"group-{index}", {"index": index}, [{"follower": i} for i in range(args.followers)], depends_on=depends_on
        )
        if submission.primer is not None:
            futures.append(submission.primer)
        futures.extend(submission.followers)
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await engine.close()
    return elapsed


async def run(args: argparse.Namespace) -> dict:
    untied = await timed(args, chained=False)
    chained = await timed(args, chained=True)
    return {
        "workload": "dependencies",
        "implementation": "python-acty",
        "shape": "chain",
        "groups": args.groups,
        "followers": args.followers,
        "seconds": chained,
        "seconds_without_dependencies": untied,
        "ratio": chained / untied,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python": sys.version.split()[0],
    }


def main() -> None:
    args = parse_args()
    quiet_logging()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
