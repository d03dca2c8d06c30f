"""Forced-token planning (web/static/forced.js: planForced/decodeForced) in Node, without a browser or a model: an
oracle that always wants the next token of the reference answer's own tokenization stands in for the model, under
the cesium emission schema. The loop must reproduce each answer, feed only the tokens the tokenizer itself writes
for the forced text (a real BPE tokenizer with merges, so token boundaries matter), and need far fewer passes than
tokens."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tiny_models import make_tiny_tokenizer

REPO = Path(__file__).resolve().parents[1]
FORCED = REPO / "web" / "static" / "forced.js"
VENDOR = [REPO / "web" / "static" / "vendor" / f for f in ("web-tokenizers.js", "web-xgrammar.js")]

ANSWERS = [
    '{"tool": "flyTo", "arguments": {"place": "Paris"}}',
    '{"tool": "zoom", "arguments": {"amount": 3}}',
    '{"tool": "addPoint", "arguments": {"place": "Tokyo", "color": "red"}}',
    '{"tool": "setSceneMode", "arguments": {"mode": "2D"}}',
]

# The vendored UMD bundles look for CommonJS `require` and `__filename` when they run in Node.
ORACLE = """
import fs from "node:fs";
import { createRequire } from "node:module";
globalThis.require = createRequire(import.meta.url);
globalThis.__filename = process.argv[1];
const { createGrammarTools, compileSchema, decodeForced, createMaskProcessor } = await import(process.env.FORCED_JS);
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const tools = await createGrammarTools(input.chatConfig, fs.readFileSync(input.tokenizer).buffer);
const stop = [...tools.stopTokens][0];
const out = [];
for (const answer of input.answers) {
  const wanted = [...tools.encode(answer), stop];
  let position = 0;
  const fedWrong = [];
  const allowed = (mask, id) => (mask[id >>> 5] >>> (id & 31)) & 1;
  const pick = (mask) => {
    if (allowed(mask, wanted[position])) return wanted[position];
    for (let id = 0; ; id++) if (allowed(mask, id)) return id;
  };
  const result = await decodeForced(tools, await compileSchema(tools, input.schema), {
    first: async (mask) => { position = 0; return pick(mask); },
    forward: async (ids, mask) => {
      ids.forEach((id, i) => { if (id !== wanted[position + i]) fedWrong.push(position + i); });
      position += ids.length;
      return pick(mask);
    },
    margin: () => position + 0.5,
  });
  out.push({ text: result.text, passes: result.passes, forced: result.forced, tokens: wanted.length, fedWrong,
             margins: result.margins });
}
// The logit processor: armed with a mask it keeps the best allowed token and notes its margin over the next allowed
// one; disarmed it leaves the logits alone and measures among those web-llm's grammar left (above -1e30).
const processor = createMaskProcessor();
const mask = new Int32Array(1);
mask[0] = 0b1101;  // ids 0, 2, 3 allowed
processor.mask = mask;
const armed = Array.from(processor.processLogits(new Float32Array([1, 9, 4, 3.5, -2])));
const armedPick = [processor.picked, processor.margin];
processor.mask = null;
processor.recording = [];
const logits = new Float32Array([-Infinity, 2, 7, -Infinity, 6.75]);
const disarmed = Array.from(processor.processLogits(logits));
processor.processSampledToken(2);
out.push({ armed, armedPick, disarmed, recording: processor.recording });
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_forced_text_is_fed_as_the_tokenizer_writes_it_in_few_passes(tmp_path):
    from webslm.domain import load_domain

    if not all(p.is_file() for p in VENDOR):
        pytest.fail("web/static/vendor/web-tokenizers.js or web-xgrammar.js is missing: run `make node-deps`")
    tokenizer = make_tiny_tokenizer(vocab=500)
    tokenizer.save_pretrained(tmp_path / "tok")
    chat_config = {"vocab_size": len(tokenizer), "tokenizer_info": {"token_postproc_method": "byte_level"},
                   "conv_template": {"stop_token_ids": [tokenizer.convert_tokens_to_ids("<|im_end|>")]}}
    script = tmp_path / "oracle.mjs"
    script.write_text(ORACLE)
    request = {"chatConfig": chat_config, "tokenizer": str(tmp_path / "tok" / "tokenizer.json"),
               "schema": json.dumps(load_domain("cesium").emission_schema()), "answers": ANSWERS}
    proc = subprocess.run(["node", str(script)], input=json.dumps(request), capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "FORCED_JS": FORCED.as_uri()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    *rows, processor = json.loads(proc.stdout.strip().splitlines()[-1])
    for answer, row in zip(ANSWERS, rows):
        assert row["text"] == answer and row["fedWrong"] == [], row
        assert row["forced"] > 0 and row["passes"] < row["tokens"], row
        # one margin per generated token (a sampled stop token too; none where the grammar left only the stop and no
        # pass ran): a sampled one's where it was sampled, null if forced
        margins = row["margins"]
        assert len(margins) in (row["tokens"], row["tokens"] - 1), row
        assert sum(m is None for m in margins) == row["forced"] and sum(m is not None for m in margins) == row["passes"]
        assert all(m is None or m == i + 0.5 for i, m in enumerate(margins)), margins
    assert [x > -9e29 for x in processor["armed"]] == [False, False, True, False, False], processor
    assert processor["armed"][2] == 0 and processor["armedPick"] == [2, 0.5], processor
    assert processor["disarmed"][1:3] == [2, 7] and processor["recording"] == [[2, 0.25]], processor
    assert sum(r["passes"] for r in rows) <= 0.6 * sum(r["tokens"] for r in rows), rows


def test_the_benchmark_finds_where_two_answers_part_and_by_what_margin():
    import importlib.util

    spec = importlib.util.spec_from_file_location("forced_loop", REPO / "bench" / "forced_loop.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    decode = lambda ids, skip_special_tokens=False: "".join(chr(ord("a") + i) for i in ids)  # noqa: E731
    plain = {"tokens": [0, 1, 2, 3, 9], "margins": [5.0, 2.0, 0.001, 1.0, 3.0]}
    forced = {"tokens": [0, 1, 4, 3], "margins": [5.0, None, 0.002, 1.0]}
    assert bench.divergence(plain, forced, decode) == {
        "at": 2, "before": "ab", "plain": "c", "forced": "e", "plain_margin": 0.001, "forced_margin": 0.002}
    assert bench.divergence(plain, dict(plain), decode) is None
    shorter = bench.divergence(plain, {"tokens": [0, 1, 2, 3], "margins": [5.0, None, 0.002, 1.0]}, decode)
    assert shorter["at"] == 4 and shorter["forced"] == "(end)" and shorter["forced_margin"] is None
    assert bench.divergence({"tokens": None}, forced, decode) is None
