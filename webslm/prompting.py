"""Prompts exactly as web-llm builds them from an mlc-chat-config `conv_template`.

web-llm does not run Jinja: it joins [system_template(system), role + role_content_sep + message + sep, ...,
assistant_role + role_empty_sep] and tokenizes each part separately. Every backend (torch, HTTP, browser) builds
the prompt this way so that they all see the same token ids.
"""

from __future__ import annotations

from webslm.errors import WebslmError


def prompt_parts(conv: dict, system: str | None, messages: list[dict]) -> list[str]:
    """Prompt pieces for `messages` (role/content dicts, no system) ending with the assistant's reply header."""
    system_message = conv.get("system_message", "") if system is None else system
    parts = []
    if system_message != "" or conv.get("render_empty_system_message", True):
        system_prompt = conv["system_template"].replace("{system_message}", system_message)
        if system_prompt:
            parts.append(system_prompt)
    seps = conv["seps"]
    content_sep = conv.get("role_content_sep", ": ")
    for i, message in enumerate(messages):
        role = message["role"]
        template = conv.get("role_templates", {}).get(role, "{%s_message}" % role)
        content = template.replace("{%s_message}" % role, message["content"]).replace("{function_string}", "")
        parts.append(conv["roles"][role] + content_sep + content + seps[i % len(seps)])
    parts.append(conv["roles"]["assistant"] + conv.get("role_empty_sep", ": "))
    return parts


def encode_prompt(tokenizer, conv: dict, system: str | None, messages: list[dict]) -> list[int]:
    """Token ids as web-llm computes them (each part encoded on its own, no special tokens added)."""
    ids = list(conv.get("system_prefix_token_ids") or [])
    for part in prompt_parts(conv, system, messages):
        ids.extend(tokenizer.encode(part, add_special_tokens=False))
    return ids


def chatml_template(tokenizer) -> dict:
    end = "<|im_end|>"
    stop_ids = [tokenizer.convert_tokens_to_ids(end)]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in stop_ids:
        stop_ids.append(tokenizer.eos_token_id)
    return {
        "name": "chatml",
        "system_template": "<|im_start|>system\n{system_message}<|im_end|>\n",
        "system_message": "You are a helpful assistant.",
        "roles": {"user": "<|im_start|>user", "assistant": "<|im_start|>assistant", "tool": "<|im_start|>user"},
        "role_templates": {"user": "{user_message}", "assistant": "{assistant_message}", "tool": "{tool_message}"},
        "messages": [],
        "seps": [f"{end}\n"],
        "role_content_sep": "\n",
        "role_empty_sep": "\n",
        "stop_str": [end],
        "stop_token_ids": stop_ids,
        "system_prefix_token_ids": None,
        "add_role_after_system_message": True,
    }


# Keyword arguments every chat-template rendering gets. Qwen3's template reasons in a <think> block unless
# `enable_thinking` is false, and then puts an empty one ("<think>\n\n</think>\n\n") after the reply header: a tool
# call is the whole answer, so thinking is off everywhere (training, torch, the browser). Templates without the flag
# ignore it.
TEMPLATE_FLAGS = {"enable_thinking": False}

# A sample conversation (two user turns, so an earlier assistant reply is history) the derived template must
# render exactly as the Jinja template does.
_SAMPLE_SYSTEM = "You control a globe."
_SAMPLE_MESSAGES = [{"role": "user", "content": "Fly to Paris"}, {"role": "assistant", "content": '{"tool": "zoom"}'},
                    {"role": "user", "content": "zoom in"}]


def reply_header(tokenizer) -> str:
    """What the Jinja template adds for `add_generation_prompt` (thinking off): the text the model's answer follows."""
    messages = [{"role": "system", "content": _SAMPLE_SYSTEM}, _SAMPLE_MESSAGES[0]]
    without = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False, **TEMPLATE_FLAGS)
    with_header = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                **TEMPLATE_FLAGS)
    if not with_header.startswith(without):
        raise WebslmError(f"the chat template's generation prompt does not extend the conversation: "
                          f"{without!r} -> {with_header!r}")
    return with_header[len(without):]


def conv_template_for(tokenizer) -> dict:
    """A web-llm conversation template equivalent to the tokenizer's Jinja chat template, thinking off.

    The reply header (role + `role_empty_sep`) is what the template's generation prompt adds, so Qwen3's empty
    <think> block is part of the prompt while earlier assistant turns stay without one, as in its template.
    Checked, not assumed: the template must render a sample conversation to exactly the text the Jinja
    template renders, or conversion stops with an error.
    """
    jinja = tokenizer.chat_template or ""
    if "<|im_start|>" not in jinja:
        raise WebslmError("unsupported chat template (only ChatML, e.g. SmolLM2, Qwen2.5 and Qwen3, is supported so "
                          "far)")
    conv = chatml_template(tokenizer)
    header = reply_header(tokenizer)
    if not header.startswith(conv["roles"]["assistant"]):
        raise WebslmError(f"the chat template's generation prompt {header!r} does not start with "
                          f"{conv['roles']['assistant']!r}")
    conv["role_empty_sep"] = header[len(conv["roles"]["assistant"]):]
    expected = tokenizer.apply_chat_template([{"role": "system", "content": _SAMPLE_SYSTEM}] + _SAMPLE_MESSAGES,
                                             tokenize=False, add_generation_prompt=True, **TEMPLATE_FLAGS)
    ours = "".join(prompt_parts(conv, _SAMPLE_SYSTEM, _SAMPLE_MESSAGES))
    if ours != expected:
        raise WebslmError(f"the derived conversation template renders differently from the model's chat template:"
                          f"\n  ours:     {ours!r}\n  template: {expected!r}")
    return conv
