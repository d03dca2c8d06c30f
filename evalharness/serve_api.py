"""`webslm serve-api`: an OpenAI-compatible /v1/chat/completions backed by transformers, for `webslm eval
--endpoint` and any OpenAI client. Prompts are built as web-llm builds them (encode_prompt), so the endpoint sees
the same token ids as the torch backend and the browser. Loopback only unless --host says otherwise.

`response_format` constrains the answer as web-llm does: {"type": "json_object"} to any JSON, with "schema" (a JSON
Schema, as an object or as JSON text, web-llm's form) to that schema; OpenAI's {"type": "json_schema",
"json_schema": {"schema": ...}} too. The response says whether the answer parses as JSON (`webslm.json_valid`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid

from evalharness.torch_backend import Sampling, generate_ids, prompt_ids, stop_token_ids
from pydantic import BaseModel, ConfigDict


# Request bodies (module level: FastAPI resolves these annotations by name, which fails for classes local to a function)
class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | None = ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[Message]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stream: bool | None = False
    response_format: dict | None = None


def create_app(model, tokenizer, conv: dict, model_name: str = "webslm"):
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="webslm serve-api")
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
            schema = (response_format.get("json_schema") or {}).get("schema")
            if schema is None:
                raise HTTPException(400, "response_format json_schema needs json_schema.schema")
        else:
            raise HTTPException(400, f"response_format type {kind!r} is not one of text, json_object, json_schema")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as e:
                raise HTTPException(400, f"response_format schema is not JSON: {e.msg} at column {e.colno}")
        key = json.dumps(schema, sort_keys=True)
        if key not in constraints:
            try:
                constraints[key] = SchemaConstraint(tokenizer, model.config.vocab_size, schema,
                                                    stop_token_ids(tokenizer, conv))
            except (RuntimeError, ValueError) as e:
                raise HTTPException(400, f"response_format schema cannot be compiled: {str(e).splitlines()[0]}")
        return constraints[key]

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "webslm"}]}

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest):
        from evalharness.predict import parse_json_text

        if request.stream:
            raise HTTPException(400, "stream=true is not supported by webslm serve-api")
        messages = [{"role": m.role, "content": m.content or ""} for m in request.messages]
        roles = {m["role"] for m in messages}
        if not messages or roles - {"system", "user", "assistant"}:
            raise HTTPException(400, f"messages must be system/user/assistant messages, got roles {sorted(roles)}")
        if messages[-1]["role"] != "user":
            raise HTTPException(400, "the last message must be the user's")
        if any(m["role"] == "system" for m in messages[1:]):
            raise HTTPException(400, "only the first message may be a system message")
        max_new = request.max_completion_tokens or request.max_tokens or 256
        sampling = Sampling(max_new_tokens=max(1, min(max_new, 2048)), temperature=request.temperature or 0.0,
                            top_p=request.top_p if request.top_p is not None else 1.0, seed=request.seed or 0)
        ids = prompt_ids(tokenizer, conv, messages)
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

    return app


def serve(model_dir: str, adapter=None, host: str = "127.0.0.1", port: int = 8001, device: str = "auto") -> None:
    import uvicorn

    from evalharness.torch_backend import load_model

    model, tokenizer, conv = load_model(model_dir, adapter, device)
    if adapter is not None:
        model = model.merge_and_unload()  # serving never needs the base alone; merged is faster
    name = str(adapter or model_dir)
    print(f"serving {name} at http://{host}:{port}/v1/chat/completions", flush=True)
    uvicorn.run(create_app(model, tokenizer, conv, name), host=host, port=port, log_level="warning")
