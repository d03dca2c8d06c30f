"""Evaluate any OpenAI-compatible chat server (our `webslm serve-api`, vLLM, llama.cpp, ...) with the same metrics."""

from __future__ import annotations

import contextlib
import json
import time

from evalharness.predict import Generation, Run, answer_constraint
from webslm.rulebook import request_of
from webslm.errors import WebslmError


def chat_completions_url(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


def check_reachable(url: str, timeout: float = 5.0) -> None:
    import httpx

    target = chat_completions_url(url).rsplit("/chat/completions", 1)[0] + "/models"
    try:
        httpx.get(target, timeout=timeout)
    except httpx.HTTPError as e:
        raise WebslmError(f"cannot reach the endpoint {url} ({type(e).__name__}: {e}); is the server running? "
                          f"Start ours with `webslm serve-api --model DIR [--adapter DIR]`") from None


def endpoint_backend(url: str, model: str | None = None, max_tokens: int = 160, temperature: float = 0.0,
                     top_p: float = 1.0, seed: int | None = None, json_mode: bool = False, timeout: float = 300.0,
                     api_key: str | None = None, schema: dict | None = None, narrow=None):
    """A `Backend` posting each example to `url`; HTTP failures become scored empty answers, not crashes.
    json_mode asks for JSON (response_format json_object), constrained to `schema` when given (web-llm's form),
    with `narrow` (the domain's `rules.narrow`) narrowed to each request's evidence."""
    import httpx

    target = chat_completions_url(url)
    check_reachable(url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.Client(timeout=timeout, headers=headers)

    def generate(messages_list: list[list[dict]]) -> list[Generation]:
        out = []
        for messages in messages_list:
            body = {"model": model or "default", "messages": messages, "max_tokens": max_tokens,
                    "temperature": temperature, "top_p": top_p, "stream": False}
            if seed is not None:
                body["seed"] = seed
            if json_mode:
                asked = narrow([request_of(messages)])[0] if narrow and schema else schema
                body["response_format"] = {"type": "json_object", **({"schema": json.dumps(asked)} if asked else {})}
            began = time.perf_counter()
            try:
                response = client.post(target, json=body)
                seconds = time.perf_counter() - began
                if response.status_code != 200:
                    out.append(Generation("", seconds, error=f"HTTP {response.status_code}: {response.text[:200]}"))
                    continue
                data = response.json()
                text = data["choices"][0]["message"].get("content") or ""
                usage = data.get("usage") or {}
                out.append(Generation(text, seconds, usage.get("prompt_tokens"), usage.get("completion_tokens")))
            except httpx.ConnectError as e:
                raise WebslmError(f"lost the endpoint {url} during evaluation: {e}") from None
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as e:
                out.append(Generation("", time.perf_counter() - began, error=f"{type(e).__name__}: {e}"))
        return out

    return generate


@contextlib.contextmanager
def open_runs(args, domain):
    """`eval --endpoint URL`: one run answered by an OpenAI-compatible server."""
    if not args.endpoint:
        raise WebslmError("--backend endpoint needs --endpoint URL")
    schema, narrow = answer_constraint(args, domain)
    generate = endpoint_backend(args.endpoint, args.endpoint_model, args.max_new_tokens, args.temperature,
                                args.top_p, args.seed, json_mode=args.json_mode, schema=schema, narrow=narrow)
    yield [Run("endpoint", generate, {"endpoint": args.endpoint})]
