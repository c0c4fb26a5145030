"""Runs LangChain runnables as an Acty ProcessExecutor worker: the original's LangChainRunnableExecutor use case.

A job's payload is ``{"runnable": "chat"|"review", "input": ..., "config": {...}}`` (or that object nested under
``"payload"``). The worker calls ``runnable.ainvoke(input, config=config)`` and answers ``{"output": ...}`` (a
runnable that returns a mapping answers that mapping). Messages travel in LangChain's ``messages_to_dict`` format,
``{"type": "human", "data": {"content": "..."}}``, both ways; the model's ``usage_metadata`` becomes the attempt's
token usage.

The model is ``langchain_core``'s ``GenericFakeChatModel``, so the example needs no network or key: it answers
with ``ACTY_FAKE_ANSWERS`` (a JSON list of strings) in turn. Swap in a real chat model (``ChatOpenAI(...)``) and
nothing else changes.

Needs ``langchain-core`` (``pip install langchain-core``) and ``acty_bridge.py`` (``Python/`` of the Acty
repository, or the folder in ``ACTY_BRIDGE_DIR``).
"""

import itertools
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("ACTY_BRIDGE_DIR", os.path.join(HERE, "..", "..", "Python")))

import acty_bridge  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, messages_from_dict, messages_to_dict  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder  # noqa: E402

DEFAULT_ANSWERS = ["The release looks ready.", "Rollback plan: revert the deploy.", "No risky migrations found."]
ANSWERS = json.loads(os.environ.get("ACTY_FAKE_ANSWERS", "null")) or DEFAULT_ANSWERS


def fake_model():
    """A chat model that needs no network: it answers ANSWERS in turn, with made-up token counts."""
    replies = [
        AIMessage(content=answer, usage_metadata={
            "input_tokens": 20, "output_tokens": len(answer.split()), "total_tokens": 20 + len(answer.split()),
            "input_token_details": {"cache_read": 16},
        })
        for answer in ANSWERS
    ]
    return GenericFakeChatModel(messages=itertools.cycle(replies))


MODEL = fake_model()
RUNNABLES = {
    # input: a list of messages (or a string).
    "chat": MODEL,
    # input: {"product": ..., "notes": ..., "history": [messages]?}
    "review": ChatPromptTemplate.from_messages([
        ("system", "You review release notes for {product}. Answer in one line."),
        MessagesPlaceholder("history", optional=True),
        ("human", "{notes}"),
    ]) | MODEL,
}


def _is_message(value):
    return isinstance(value, dict) and set(value) == {"type", "data"} and isinstance(value["data"], dict)


def to_langchain(value):
    """Turns ``{"type", "data"}`` objects (alone, in lists, in mappings) into LangChain messages."""
    if _is_message(value):
        return messages_from_dict([value])[0]
    if isinstance(value, list):
        return [to_langchain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_langchain(item) for key, item in value.items()}
    return value


def from_langchain(value):
    """Turns LangChain messages (alone, in lists, in mappings) into ``{"type", "data"}`` objects."""
    if isinstance(value, BaseMessage):
        return messages_to_dict([value])[0]
    if isinstance(value, (list, tuple)):
        return [from_langchain(item) for item in value]
    if isinstance(value, dict):
        return {key: from_langchain(item) for key, item in value.items()}
    return value


def usage_of(result):
    """The job's token usage from a message's ``usage_metadata``, or None."""
    usage = getattr(result, "usage_metadata", None)
    if not usage:
        return None
    details = usage.get("input_token_details") or {}
    return {"prompt_tokens": usage.get("input_tokens", 0), "completion_tokens": usage.get("output_tokens", 0),
            "cached_prompt_tokens": details.get("cache_read", 0)}


async def handle(job):
    payload = job.payload
    if isinstance(payload, dict) and "input" not in payload and isinstance(payload.get("payload"), dict):
        payload = payload["payload"]
    if not isinstance(payload, dict) or "input" not in payload:
        raise acty_bridge.NonRetryableError("the payload needs an 'input' (and optionally 'runnable' and 'config')")
    name = payload.get("runnable", "chat")
    runnable = RUNNABLES.get(name)
    if runnable is None:
        raise acty_bridge.NonRetryableError("no runnable named %r; this worker has %s" % (name, ", ".join(sorted(RUNNABLES))))
    config = dict(payload.get("config") or {})
    config["metadata"] = dict(config.get("metadata") or {}, acty_job_id=job.id, acty_group_key=job.group_key)
    result = await runnable.ainvoke(to_langchain(payload["input"]), config=config)
    output = result if isinstance(result, dict) else {"output": result}
    return acty_bridge.Result(from_langchain(output), usage=usage_of(result))


if __name__ == "__main__":
    acty_bridge.serve(handle)
