"""`webslm serve-api`: an OpenAI-compatible /v1/chat/completions backed by transformers, for `webslm eval
--endpoint` and any OpenAI client. Prompts are built as web-llm builds them (encode_prompt), so the endpoint sees
the same token ids as the torch backend and the browser. Loopback only unless --allow-remote.

`response_format` constrains the answer as web-llm does: {"type": "json_object"} to any JSON, with "schema" (a JSON
Schema, as an object or as JSON text, web-llm's form) to that schema; OpenAI's {"type": "json_schema",
"json_schema": {"schema": ...}} too. The response says whether the answer parses as JSON (`webslm.json_valid`).

Every refusal is a 400 in OpenAI's error form ({"error": {"message", "type": "invalid_request_error", "param"}}), so
an OpenAI client raises it naming the field: a body that is not JSON or holds NaN/Infinity, a field of the wrong
type or out of range (max_tokens < 1, temperature < 0, top_p outside (0, 1], seed outside 0..2^63-1), a prompt that
fills the model's context (refused before waiting for the generation lock). HEAD and the Host-header check come from
webslm/serving.py, shared with `webslm serve`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalharness.torch_backend import Sampling, generate_ids, prompt_ids, stop_token_ids
from webslm.serving import check_bind_host, check_port_free, finish_server_app
from webslm.strict_json import JSONInputError, parse_json

DEFAULT_MAX_TOKENS = 256
MAX_NEW_TOKENS = 2048  # one answer's ceiling, whatever max_tokens asks: generation holds the only lock


# Request bodies (module level: FastAPI resolves annotations by name, which fails for names local to a function).
# Strict: `true` is not max_tokens 1 and "0.5" is not a top_p.
class Message(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: str
    content: str | None = ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    model: str | None = None
    messages: list[Message]
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)  # within torch.manual_seed's range
    stream: bool | None = False
    response_format: dict | None = None


class InvalidRequest(Exception):
    """A 400 in OpenAI's error form; `param` names the request field at fault."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


async def read_chat_request(request: Request) -> ChatRequest:
    """The body as a ChatRequest, or InvalidRequest naming the first field at fault and its value."""
    raw = await request.body()
    try:
        body = parse_json(raw.decode("utf-8"), "the request body")
    except UnicodeDecodeError as e:
        raise InvalidRequest(f"the request body is not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                             f"send JSON as UTF-8") from None
    except JSONInputError as e:  # NaN, Infinity or 1e999 in a field; bad syntax or deep nesting in the whole body
        field = e.problem.field or None
        what_to_do = "send a finite number" if field else "send one JSON object"
        raise InvalidRequest(f"{field or 'the request body'}: {e.reason}; {what_to_do}", field) from None
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(map(str, first["loc"])) or None
        got = "" if first["type"] == "missing" else f", got {json.dumps(first['input'])[:80]}"
        raise InvalidRequest(f"{field or 'the request body'}: {first['msg']}{got}", field) from None


def create_app(model, tokenizer, conv: dict, model_name: str = "webslm", host: str = "127.0.0.1"):
    """The app, answering Host headers that name `host` or loopback."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI(title="webslm serve-api")
    context = model.config.max_position_embeddings  # prompt and answer together
    lock = threading.Lock()  # one generation at a time: the model is not re-entrant and CPU cores are few
    constraints: dict[str, object] = {}  # schema JSON -> compiled constraint (compiling takes ~1 s)

    def constraint_for(response_format: dict | None):
        from evalharness.constrained import SchemaConstraint

        kind = (response_format or {}).get("type", "text")
        if kind == "text":
            return None
        if kind == "json_object":
            schema = response_format.get("schema")
        elif kind == "json_schema":
            json_schema = response_format.get("json_schema")
            schema = json_schema.get("schema") if isinstance(json_schema, dict) else None
            if schema is None:
                raise InvalidRequest("response_format json_schema needs json_schema.schema", "response_format")
        else:
            raise InvalidRequest(f"response_format type {kind!r} is not one of text, json_object, json_schema",
                                 "response_format.type")
        if isinstance(schema, str):
            try:
                schema = parse_json(schema, "response_format schema")
            except JSONInputError as e:
                raise InvalidRequest(f"response_format schema is not JSON as a browser reads it: {e.reason}",
                                     "response_format") from None
        key = json.dumps(schema, sort_keys=True)
        if key not in constraints:
            try:
                constraints[key] = SchemaConstraint(tokenizer, model.config.vocab_size, schema,
                                                    stop_token_ids(tokenizer, conv))
            except (RuntimeError, ValueError) as e:
                raise InvalidRequest(f"response_format schema cannot be compiled: {str(e).splitlines()[0]}",
                                     "response_format") from None
        return constraints[key]

    @app.exception_handler(InvalidRequest)
    async def invalid_request(request, exc: InvalidRequest):
        return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error", "param": exc.param,
                                       "code": None}}, status_code=400)

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "webslm"}]}

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest = Depends(read_chat_request)):
        from evalharness.predict import parse_json_text

        if request.stream:
            raise InvalidRequest("stream=true is not supported by webslm serve-api; send stream=false", "stream")
        messages = [{"role": m.role, "content": m.content or ""} for m in request.messages]
        roles = {m["role"] for m in messages}
        if not messages or roles - {"system", "user", "assistant"}:
            raise InvalidRequest(f"messages must be system/user/assistant messages, got roles {sorted(roles)}",
                                 "messages")
        if messages[-1]["role"] != "user":
            raise InvalidRequest("the last message must be the user's", "messages")
        if any(m["role"] == "system" for m in messages[1:]):
            raise InvalidRequest("only the first message may be a system message", "messages")
        ids = prompt_ids(tokenizer, conv, messages)
        if len(ids) >= context:
            raise InvalidRequest(f"the prompt is {len(ids)} tokens; this model's context holds {context} tokens for "
                                 f"prompt and answer together: shorten the messages", "messages")
        asked = next((n for n in (request.max_completion_tokens, request.max_tokens) if n is not None),
                     DEFAULT_MAX_TOKENS)
        sampling = Sampling(max_new_tokens=min(asked, MAX_NEW_TOKENS, context - len(ids)),
                            temperature=request.temperature or 0.0,
                            top_p=request.top_p if request.top_p is not None else 1.0, seed=request.seed or 0)
        with lock:
            constraint = constraint_for(request.response_format)
            began = time.perf_counter()
            [(new, _)] = generate_ids(model, tokenizer, conv, [ids], sampling, batch_size=1, constraint=constraint)
            seconds = time.perf_counter() - began
        text = tokenizer.decode(new, skip_special_tokens=True)
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model or model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "length" if len(new) >= sampling.max_new_tokens else "stop"}],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(new), "total_tokens": len(ids) + len(new),
                      "extra": {"e2e_latency_s": seconds,
                                "decode_tokens_per_s": len(new) / seconds if seconds > 0 else None}},
        }
        if (request.response_format or {}).get("type") in ("json_object", "json_schema"):
            body["webslm"] = {"json_valid": parse_json_text(text)[1] is None}
        return body

    finish_server_app(app, host)
    return app


def serve(model_dir: str, adapter=None, host: str = "127.0.0.1", port: int = 8001, device: str = "auto",
          allow_remote: bool = False) -> None:
    import uvicorn

    from evalharness.torch_backend import load_model

    check_bind_host(host, allow_remote, "the model at /v1/chat/completions")  # before the minutes of loading
    check_port_free(host, port)
    model, tokenizer, conv = load_model(model_dir, adapter, device)
    if adapter is not None:
        model = model.merge_and_unload()  # serving never needs the base alone; merged is faster
    name = str(adapter or model_dir)
    print(f"serving {name} at http://{host}:{port}/v1/chat/completions", flush=True)
    uvicorn.run(create_app(model, tokenizer, conv, name, host), host=host, port=port, log_level="warning")
