"""The worker side of Acty's ProcessExecutor: JSON lines on standard input and output, standard library only.

A worker reads one request line, calls your handler with the job, and writes one response line::

    import acty_bridge

    def handle(job):
        return {"answer": job.payload["question"].upper()}

    if __name__ == "__main__":
        acty_bridge.serve(handle)

The handler may be a plain function or a coroutine function. It returns the job's output (anything JSON can
represent) or ``Result(output, usage={...})`` to report tokens. Exceptions become error responses: their class name
and message are the job's error; ``NonRetryableError`` fails the job at once; ``RetryableError(retry_after=2.5)``
asks for the retry no sooner than that; any other exception fails the attempt retryably. The traceback goes to
standard error, which the executor keeps for its error messages.

While the handler runs, ``print`` and anything else written to standard output goes to standard error instead, so
it cannot corrupt the protocol. The worker exits when its standard input ends.

Run ``python3 acty_bridge.py --echo`` for a worker that answers each job with its payload.
"""

import asyncio
import inspect
import json
import os
import sys
import traceback

__all__ = ["Job", "Result", "RetryableError", "NonRetryableError", "serve", "echo"]


class RetryableError(Exception):
    """Fails the attempt; the engine retries it (attempts permitting), no sooner than ``retry_after`` seconds."""

    def __init__(self, message="", *, retry_after=None, rate_limited=False, usage=None):
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.usage = usage


class NonRetryableError(Exception):
    """Fails the job at once, whatever attempts are left: retrying cannot fix it (bad input, a refused request)."""

    def __init__(self, message="", *, usage=None):
        super().__init__(message)
        self.usage = usage


class Result:
    """A handler's output together with the tokens the call used.

    ``usage`` is a dict with any of ``prompt_tokens``, ``completion_tokens`` and ``cached_prompt_tokens``.
    """

    def __init__(self, output, usage=None):
        self.output = output
        self.usage = usage


class Job:
    """One attempt of a job, as the executor sent it."""

    __slots__ = ("id", "group_key", "role", "follower_index", "lane", "attempt", "payload", "group_context",
                 "cache", "primer", "raw")

    def __init__(self, raw):
        self.raw = raw
        self.id = raw.get("id")
        self.group_key = raw.get("group_key")
        self.role = raw.get("role")
        self.follower_index = raw.get("follower_index")
        self.lane = raw.get("lane")
        self.attempt = raw.get("attempt")
        self.payload = raw.get("payload")
        self.group_context = raw.get("group_context")
        #: ``{"key": ..., "provider_ref": ...}`` when the group has a cache key, else None.
        self.cache = raw.get("cache")
        #: For a follower when the executor sends primers: ``{"payload": ..., "output": ...}``, else None.
        self.primer = raw.get("primer")

    def __repr__(self):
        return "Job(id=%r, group_key=%r, role=%r, attempt=%r)" % (self.id, self.group_key, self.role, self.attempt)


def _usage(value):
    if not isinstance(value, dict):
        return None
    keys = ("prompt_tokens", "completion_tokens", "cached_prompt_tokens")
    return {key: int(value.get(key) or 0) for key in keys}


def _error_response(request_id, error):
    response = {
        "id": request_id,
        "ok": False,
        "error": {"type": type(error).__name__, "message": str(error)},
        "retryable": not isinstance(error, NonRetryableError),
    }
    if isinstance(error, RetryableError):
        if error.retry_after is not None:
            response["retry_after"] = float(error.retry_after)
        if error.rate_limited:
            response["rate_limited"] = True
    usage = _usage(getattr(error, "usage", None))
    if usage is not None:
        response["usage"] = usage
    return response


def _answer(handler, loop, request_id, job):
    try:
        result = handler(job)
        if inspect.isawaitable(result):
            result = loop.run_until_complete(result)
    except Exception as error:  # noqa: BLE001 - every handler failure becomes an error response
        traceback.print_exc(file=sys.stderr)
        return _error_response(request_id, error)
    response = {"id": request_id, "ok": True}
    if isinstance(result, Result):
        response["output"] = result.output
        usage = _usage(result.usage)
        if usage is not None:
            response["usage"] = usage
    else:
        response["output"] = result
    return response


def _encode(response):
    try:
        return json.dumps(response, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        # The output is not JSON (an object, NaN): retrying the same code would give the same output.
        failure = NonRetryableError("the handler's output cannot be written as JSON: %s" % error)
        return json.dumps(_error_response(response.get("id"), failure), separators=(",", ":"))


def serve(handler, *, input=None, output=None):
    """Answers requests with ``handler(job)`` until standard input ends (or ``input``, a binary stream, does).

    Responses go to the process's real standard output (or ``output``), one flushed line each; descriptor 1 is
    pointed at standard error for the handler's own writes.
    """
    if input is None:
        input = sys.stdin.buffer
    if output is None:
        sys.stdout.flush()
        output = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    loop = asyncio.new_event_loop()
    try:
        while True:
            line = input.readline()
            if not line:
                return
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                request_id = request["id"]
                job = Job(request["job"])
            except (ValueError, KeyError, TypeError) as error:
                response = _error_response(None, NonRetryableError("the request is not valid: %s" % error))
            else:
                response = _answer(handler, loop, request_id, job)
            output.write(_encode(response).encode("utf-8") + b"\n")
            output.flush()
    finally:
        loop.close()


def echo(job):
    """A handler that answers each job with its payload."""
    return job.payload


if __name__ == "__main__":
    if sys.argv[1:] == ["--echo"]:
        serve(echo)
    else:
        sys.stderr.write("usage: python3 acty_bridge.py --echo   (or import acty_bridge and call serve(handler))\n")
        sys.exit(2)
