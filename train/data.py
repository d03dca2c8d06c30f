"""Training data: chat or seed records -> conversations -> token ids with labels on the assistant's reply only, under
the chat template the model is trained with (and that web-llm's conversation template reproduces)."""

from __future__ import annotations

from pathlib import Path

from webslm.errors import Problem, ProblemsError, WebslmError
from webslm.prompting import TEMPLATE_FLAGS, conv_template_for, encode_prompt
from webslm.records import SEED_KEYS, read_lines, record_format, seed_to_chat


def load_conversations(path: Path, system_prompt: str) -> list[list[dict]]:
    """[system, user, assistant] message lists from a chat or seed JSONL file; every bad line is reported at once,
    before any model is loaded."""

    conversations, problems = [], []
    for line in read_lines(path):
        if line.problem:
            problems.append(line.problem)
            continue
        record = line.record
        if record_format(record) == "seed":
            missing = [k for k in SEED_KEYS if not isinstance(record.get(k), str) or not record.get(k).strip()]
            if missing:
                problems.append(Problem(line.where, missing[0], "missing, empty or not a string (a record is "
                                        "{\"instruction\", \"output\"} or {\"messages\": [...]})"))
                continue
            record = seed_to_chat(record, system_prompt)
        messages = record["messages"]
        roles = [m.get("role") if isinstance(m, dict) else None for m in messages] if isinstance(messages, list) else None
        if roles != ["system", "user", "assistant"]:
            problems.append(Problem(line.where, "messages", f"expected system, user, assistant messages, got {roles}"))
            continue
        bad = [i for i, m in enumerate(messages) if not isinstance(m.get("content"), str) or not m["content"].strip()]
        if bad:
            problems.append(Problem(line.where, f"messages[{bad[0]}].content", "missing, empty or not a string"))
            continue
        conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} bad record(s); nothing was trained")
    if not conversations:
        raise WebslmError(f"{path}: no training records")
    return conversations


def chatml_training_template(reply_header: str = "\n") -> str:
    """ChatML with trl's {% generation %} markers around the assistant's reply and its <|im_end|>, so the loss covers
    the answer and the stop token, never the prompt. `reply_header` follows '<|im_start|>assistant' as the prompt
    web-llm builds has it (conv_template_for's role_empty_sep): "\n", or Qwen3's "\n<think>\n\n</think>\n\n"
    with thinking off, which stays outside the loss like the rest of the prompt. The model's own template has no
    markers; training_chat_template checks the two render identically."""
    if "'" in reply_header or "\\" in reply_header:
        raise WebslmError(f"reply header {reply_header!r}: quotes and backslashes are not supported")
    return (
        "{% for message in messages %}"
        "{% if message['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant" + reply_header + "' }}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        "{{ '\n' }}"
        "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant" + reply_header + "' }}{% endif %}"
    )


CHATML_TRAINING_TEMPLATE = chatml_training_template()


def training_chat_template(tokenizer, conversations: list[list[dict]]) -> str:
    """The marked template, checked to render exactly like the model's own on these conversations (thinking off),
    and checked that the tokens of prompt-and-answer start with exactly the ids web-llm's prompt builder makes."""

    own = tokenizer.chat_template
    if not own or "<|im_start|>" not in own:
        raise WebslmError("the base model's chat template is not ChatML; only ChatML models (SmolLM2, Qwen2.5, "
                          "Qwen3) are supported so far")
    conv = conv_template_for(tokenizer)
    template = chatml_training_template(conv["role_empty_sep"])
    for messages in conversations[:16]:
        expected = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=own, **TEMPLATE_FLAGS)
        ours = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template)
        if ours != expected:
            raise WebslmError(f"the training template renders differently from the model's chat template:\n"
                              f"  ours:     {ours!r}\n  template: {expected!r}")
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            chat_template=template)["input_ids"]
        prompt = encode_prompt(tokenizer, conv, messages[0]["content"], messages[1:2])
        if list(ids[:len(prompt)]) != prompt:
            raise WebslmError("training tokens differ from the prompt tokens web-llm would build; the trained "
                              "model would see different ids at inference")
    return template


def tokenize_records(tokenizer, conversations: list[list[dict]], max_length: int, path: Path) -> list[dict]:
    """`input_ids` and `labels` (-100 outside the assistant's reply and its stop token) per record, with the
    tokenizer's (training) chat template. A record longer than `max_length` is an error naming its line: cutting it
    would cut the answer the loss is about. (load_conversations refuses a file with any bad line, so record i is
    line i + 1.)"""

    records, problems = [], []
    for number, messages in enumerate(conversations, start=1):
        out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        ids = list(out["input_ids"])
        if len(ids) > max_length:
            problems.append(Problem(f"{path}:{number}", "messages", f"{len(ids)} tokens, more than --max-length "
                                    f"{max_length}; raise --max-length or shorten the record"))
            continue
        labels = [token if answer else -100 for token, answer in zip(ids, out["assistant_masks"])]
        records.append({"input_ids": ids, "labels": labels})
    if problems:
        raise ProblemsError(problems, f"{path}: {len(problems)} record(s) too long; nothing was trained")
    return records
