"""A bridge worker for ActyProcessTests: what it does depends on the job's payload (see handle)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Python"))
import acty_bridge  # noqa: E402


def handle(job):
    payload = job.payload if isinstance(job.payload, dict) else {}
    action = payload.get("action", "echo")
    if action == "echo":
        return job.payload
    if action == "job":
        # The request as the worker saw it.
        return {key: getattr(job, key) for key in ("id", "group_key", "role", "follower_index", "lane", "attempt",
                                                   "payload", "group_context", "cache", "primer")}
    if action == "usage":
        return acty_bridge.Result({"pid": os.getpid()}, usage={"prompt_tokens": 11, "completion_tokens": 5,
                                                            "cached_prompt_tokens": 3})
    if action == "crash":
        # Dies on the first attempts, with a line on standard error that holds a secret to redact.
        if job.attempt <= payload.get("attempts", 1):
            print("worker %d dying on attempt %d; api_key=sk-test-0123456789abcdef" % (os.getpid(), job.attempt),
                  file=sys.stderr, flush=True)
            os._exit(3)
        return {"pid": os.getpid(), "attempt": job.attempt}
    if action == "hang":
        # Hangs on the first attempt after writing its pid to a file; answers the next.
        if job.attempt == 1:
            with open(payload["pid_file"] + ".tmp", "w") as pid_file:
                pid_file.write(str(os.getpid()))
            os.rename(payload["pid_file"] + ".tmp", payload["pid_file"])
            time.sleep(3600)
        return {"pid": os.getpid(), "attempt": job.attempt}
    if action == "noisy":
        # Far more standard error than a pipe holds: the executor must drain it while the job runs.
        line = "x" * 1023 + "\n"
        for _ in range(payload.get("kib", 2048)):
            sys.stderr.write(line)
        sys.stderr.write("last noisy line\n")
        sys.stderr.flush()
        return {"noisy": True}
    if action == "print":
        # Writes to standard output the way a library would: it must not reach the protocol.
        print("chatty library output")
        return {"printed": True}
    if action == "fail":
        if payload.get("retryable", True):
            if job.attempt <= payload.get("attempts", 1):
                raise acty_bridge.RetryableError("busy, try later", retry_after=payload.get("retry_after"),
                                                 rate_limited=payload.get("rate_limited", False),
                                                 usage={"prompt_tokens": 2})
            return {"attempt": job.attempt}
        raise acty_bridge.NonRetryableError("the input cannot be processed: %s" % payload.get("why", "no reason"))
    if action == "raise":
        raise ValueError("plain failure on attempt %d" % job.attempt)
    if action == "span":
        # Sleeps, and tells when it ran, by the system-wide monotonic clock, and in which process.
        start = time.monotonic()
        time.sleep(payload.get("seconds", 0.1))
        return {"pid": os.getpid(), "start": start, "end": time.monotonic()}
    raise acty_bridge.NonRetryableError("unknown action %r" % action)


def raw(mode):
    """Speaks the protocol by hand, badly: for the malformed-output tests."""
    import json
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        attempt = request["job"]["attempt"]
        if attempt == 1 and mode == "malformed":
            out.write("Traceback? no, just text\n")
        elif attempt == 1 and mode == "wrong-id":
            out.write(json.dumps({"id": request["id"] + 1000, "ok": True, "output": None}) + "\n")
        else:
            out.write(json.dumps({"id": request["id"], "ok": True, "output": {"pid": os.getpid(), "attempt": attempt}}) + "\n")
        out.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        raw(sys.argv[1])
    else:
        print("test worker %d starting" % os.getpid(), file=sys.stderr, flush=True)
        acty_bridge.serve(handle)
