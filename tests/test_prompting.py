"""One prompt text for training (torch), evaluation (torch) and the browser (web-llm's conversation code on the
mlc-chat-config's conv_template), with Qwen3's thinking off: tiny ChatML and Qwen3-style models, no downloads."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.tiny_models import make_tiny_model
from webslm import REPO_ROOT

WEBLLM_BUNDLE = REPO_ROOT / "node_modules" / "@mlc-ai" / "web-llm" / "lib" / "index.js"
SYSTEM = "You control a globe. Answer with one JSON tool call."
ANSWER = '{"tool": "flyTo", "arguments": {"place": "Paris"}}'
CONVERSATIONS = {  # the request the page sends: a single command, and one with an earlier exchange as history
    "single": [{"role": "user", "content": "fly to Paris"}],
    "history": [{"role": "user", "content": "fly to Rome"}, {"role": "assistant", "content": ANSWER},
                {"role": "user", "content": "now zoom in"}],
}
EMPTY_THINK = "<think>\n\n</think>\n\n"


def webllm_prompt(conv_template: dict, messages: list[dict]) -> list[str]:
    """The prompt parts web-llm 0.2.86's own Conversation code builds for a chat request."""
    assert shutil.which("node") and WEBLLM_BUNDLE.is_file(), "needs node and node_modules (make node-deps)"
    request = {"bundle": str(WEBLLM_BUNDLE), "conv_template": conv_template, "messages": messages}
    out = subprocess.run(["node", str(REPO_ROOT / "tests" / "webllm_conversation.mjs")], input=json.dumps(request),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module", params=["llama", "qwen3"])
def model(request, tmp_path_factory):
    from transformers import AutoTokenizer

    model_dir = make_tiny_model(tmp_path_factory.mktemp(request.param) / "model", arch=request.param)
    return request.param, model_dir, AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def browser_conv(model):
    """conv_template exactly as `webslm convert` writes it into mlc-chat-config.json."""
    from convert.chat_config import chat_config
    from convert.models.config import read_decoder_config

    _, model_dir, tokenizer = model
    return chat_config(model_dir, read_decoder_config(model_dir), "q4f32_1", tokenizer)["conv_template"]


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_torch_and_the_browser_build_the_jinja_template_s_prompt_with_thinking_off(model, browser_conv, name):
    from evalharness.torch_backend import prompt_ids
    from webslm.prompting import conv_template_for

    arch, _, tokenizer = model
    messages = [{"role": "system", "content": SYSTEM}] + CONVERSATIONS[name]
    jinja = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    browser = webllm_prompt(browser_conv, messages)
    assert "".join(browser) == jinja
    # torch (eval) tokenizes the same parts as web-llm does, one by one
    browser_ids = [i for part in browser for i in tokenizer.encode(part, add_special_tokens=False)]
    assert prompt_ids(tokenizer, conv_template_for(tokenizer), messages) == browser_ids
    if arch == "qwen3":
        assert jinja.endswith("<|im_start|>assistant\n" + EMPTY_THINK)
        assert jinja.count("<think>") == 1, "an earlier assistant turn has no think block, as in Qwen3's template"
    else:
        assert "<think>" not in jinja


def test_training_renders_the_prompt_then_trains_on_the_answer_only(model, browser_conv):
    from train.data import tokenize_records, training_chat_template

    arch, _, tokenizer = model
    conversation = [{"role": "system", "content": SYSTEM}, CONVERSATIONS["single"][0],
                    {"role": "assistant", "content": ANSWER}]
    template = training_chat_template(tokenizer, [conversation])  # raises if it renders unlike the model's own
    text = tokenizer.apply_chat_template(conversation, tokenize=False, chat_template=template)
    prompt = "".join(webllm_prompt(browser_conv, conversation[:2]))
    assert text == prompt + ANSWER + "<|im_end|>\n"
    assert (EMPTY_THINK in prompt) == (arch == "qwen3")

    tokenizer.chat_template, own = template, tokenizer.chat_template
    try:
        record = tokenize_records(tokenizer, [conversation], max_length=512, path=REPO_ROOT / "x.jsonl")[0]
    finally:
        tokenizer.chat_template = own
    trained = [t for t, label in zip(record["input_ids"], record["labels"]) if label != -100]
    assert tokenizer.decode(trained) == ANSWER + "<|im_end|>", "the think block is prompt, never trained on"
