"""Schema-constrained decoding for the torch backend: the same constraint the demo page asks web-llm for.

Both sides compile the domain's emission schema with xgrammar (web-llm ships it as wasm), so a token the schema
cannot continue with is never chosen: borrowed arguments (`width` on a polygon) and invented enum values vanish in
torch as they do in the browser, and torch's accuracy is the accuracy the demo shows. With `narrow` (the rulebook's, webslm.rulebook) each request
gets its own schema whose names are the request's words, compiled per request as the page does (0.26-0.33 s for the cesium and CAD schemas on 2 CPU cores).
"""

from __future__ import annotations

import json


class SchemaConstraint:
    """Compiles a JSON schema for a tokenizer; `processor()` gives a fresh logits processor per generate()."""

    def __init__(self, tokenizer, vocab_size: int, schema: dict | None, stop_token_ids: list[int], narrow=None):
        """schema None: any JSON value. narrow(requests) -> one schema per request: each request's own schema
        (the domain's `rules.narrow`, which narrows the domain's emission schema to the request's evidence)."""
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=narrow is None)
        self.schema = schema
        self.narrow = narrow
        self.copy_from_request = narrow is not None and schema is not None
        if schema is None:
            self.grammar = self.compiler.compile_builtin_json_grammar()
        elif not self.copy_from_request:
            self.grammar = self._compile(schema)

    def _compile(self, schema: dict):
        # The training data's separators (json.dumps' ", " and ": ") and no other whitespace: a model that drifts
        # cannot pad an answer with blanks until max_new_tokens.
        return self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))

    def processor(self, requests: list[str]):
        """A logits processor for one generate() over these requests (one per batch row): single use."""
        from xgrammar.contrib.hf import LogitsProcessor

        if not self.copy_from_request:
            return LogitsProcessor(self.grammar)
        return LogitsProcessor([self._compile(schema) for schema in self.narrow(requests)])
