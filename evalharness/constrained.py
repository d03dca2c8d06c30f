"""Schema-constrained decoding for the torch backend: the same constraint the demo page asks web-llm for.

Both sides compile the domain's emission schema with xgrammar (web-llm ships it as wasm), so a token the schema
cannot continue with is never chosen: borrowed arguments (`width` on a polygon) and invented enum values vanish in
torch as they do in the browser, and torch's accuracy is the accuracy the demo shows.
"""

from __future__ import annotations

import json


class SchemaConstraint:
    """Compiles a JSON schema once for a tokenizer; `processor()` gives a fresh logits processor per generate()."""

    def __init__(self, tokenizer, vocab_size: int, schema: dict | None, stop_token_ids: list[int]):
        """schema None: any JSON value."""
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
        compiler = xgr.GrammarCompiler(info)
        if schema is None:
            self.grammar = compiler.compile_builtin_json_grammar()
            return
        # The training data's separators (json.dumps' ", " and ": ") and no other whitespace: a model that drifts
        # cannot pad an answer with blanks until max_new_tokens.
        self.grammar = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))

    def processor(self):
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor(self.grammar)  # keeps one matcher per batch row: single use
