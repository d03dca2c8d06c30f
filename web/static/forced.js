// Forced-token decoding: a tool call answered with far fewer forward passes than it has tokens. Where the request's
// grammar allows exactly one continuation (`{"tool": "`, the rest of a tool name, `", "arguments": {"`, closing
// brackets, a whole enum value), that text is tokenized and fed to the model together with the last sampled token
// in one pass; the model samples only where the grammar leaves a choice. Greedy only (the assistant's temperature 0).
//
// Everything goes through web-llm's public API on the engine already loaded (no fork):
//   engine.chat.completions.create({messages, max_tokens: 1})  the prompt, templated and prefilled by web-llm
//                                                              itself, and the answer's first token
//   engine.forwardTokensAndSample(ids, isPrefill)              forced text + the last token in one pass, KV kept
//   a LogitProcessor (handler.setLogitProcessorRegistry)       the grammar mask and the greedy pick on each of them
// plus the tokenizer and the grammar matcher from their own npm packages, the versions web-llm 0.2.86 bundles
// (@mlc-ai/web-tokenizers 0.1.6, @mlc-ai/web-xgrammar 0.1.27; web-llm does not export its copies).
//
// The grammar is the one torch constrains with (evalharness/constrained.py): the training data's separators ", "
// and ": " and no other whitespace. web-llm's json_object mode allows any whitespace between tokens, which would
// leave nothing forced after every `{`, `,` and `:`; so the plain loop (web-llm's own, one pass per token, kept for
// comparison) gets the same grammar, as EBNF (response_format {type: "grammar"}).
//
// Token boundaries: forced text must reach the model as the tokenizer would have written it. The answer so far plus
// the forced text is tokenized as a whole; it is fed only if that tokenization begins with the tokens already
// written, and only up to the last token that no allowed continuation could merge with (each first character the
// grammar allows next is appended and the text tokenized again). The rest is sampled as usual.
import { Tokenizer } from "./vendor/web-tokenizers.js";
import { Grammar, GrammarCompiler, GrammarMatcher, TokenizerInfo } from "./vendor/web-xgrammar.js";

export const SEPARATORS = [", ", ": "];
const NO_INDENT = -1;  // web-xgrammar's "indent: none", one line
// More first characters than this after a forced run (free text may follow): hold back its last token instead of
// tokenizing once per character.
const MAX_PROBES = 64;
const MASKED = -1e30;  // finite: WGSL softmax kernels need not handle infinities

// The tokenizer and a grammar compiler for one model, from its mlc-chat-config.json and tokenizer.json (bytes).
// The token table and its post-processing are what web-llm hands xgrammar for the same model.
export async function createGrammarTools(chatConfig, tokenizerJSON) {
  const tokenizer = await Tokenizer.fromJSON(tokenizerJSON);
  const table = tokenTable(tokenizer, tokenizerJSON);
  const info = chatConfig.tokenizer_info || {};
  const stopTokens = (chatConfig.conv_template && chatConfig.conv_template.stop_token_ids) || [];
  const tokenizerInfo = await TokenizerInfo.createTokenizerInfo(table, info.token_postproc_method || "raw",
    Boolean(info.prepend_space_in_encode), chatConfig.vocab_size, stopTokens);
  const compiler = await GrammarCompiler.createGrammarCompiler(tokenizerInfo);
  const leading = Array.from(tokenizer.encode(""));  // whatever encode adds to every text (none for ChatML models)
  const firstChars = new Map();
  return {
    tokenizer, compiler, stopTokens: new Set(stopTokens), vocabSize: chatConfig.vocab_size,
    encode: (text) => Array.from(tokenizer.encode(text)).slice(leading.length),
    decode: (ids) => tokenizer.decode(Int32Array.from(ids)),
    firstChar(id) {
      if (!firstChars.has(id)) firstChars.set(id, tokenizer.decode(Int32Array.of(id)).slice(0, 1));
      return firstChars.get(id);
    },
  };
}

// Token strings by id, as tokenizer.idToToken gives them (what web-llm hands xgrammar), read from tokenizer.json's
// vocabulary: 49k idToToken calls whose strings are kept took minutes in Node (fast one by one, not when kept).
function tokenTable(tokenizer, tokenizerJSON) {
  const size = tokenizer.getVocabSize();
  const model = JSON.parse(new TextDecoder().decode(tokenizerJSON));
  const vocab = model.model && model.model.vocab;
  const table = new Array(size);
  if (Array.isArray(vocab)) vocab.forEach(([token], id) => { table[id] = token; });  // Unigram: [token, score]
  else if (vocab) for (const [token, id] of Object.entries(vocab)) table[id] = token;  // BPE, WordPiece
  for (const added of model.added_tokens || []) table[added.id] = added.content;
  for (let id = 0; id < size; id++) if (table[id] === undefined) table[id] = tokenizer.idToToken(id);
  return table;
}

// The same, fetched from a model's folder URL (ending in "/", as web-llm resolves it).
export async function fetchGrammarTools(modelUrl) {
  const get = async (name) => {
    const response = await fetch(new URL(name, modelUrl));
    if (!response.ok) throw new Error(`${new URL(name, modelUrl)}: HTTP ${response.status}`);
    return response;
  };
  const chatConfig = await (await get("mlc-chat-config.json")).json();
  const tokenizerJSON = await (await get("tokenizer.json")).arrayBuffer();
  return createGrammarTools(chatConfig, tokenizerJSON);
}

const schemaText = (schema) => (typeof schema === "string" ? schema : JSON.stringify(schema));

export const compileSchema = (tools, schema) => tools.compiler.compileJSONSchema(schemaText(schema), false, NO_INDENT, SEPARATORS);

// The same grammar as EBNF, for web-llm's response_format {type: "grammar", grammar}.
export async function schemaEBNF(schema) {
  const grammar = await Grammar.fromJSONSchema(schemaText(schema), false, NO_INDENT, SEPARATORS);
  try {
    return grammar.toString();
  } finally {
    grammar.dispose();
  }
}

const allows = (mask, id) => (mask[id >>> 5] >>> (id & 31)) & 1;

function allowedIds(mask, vocabSize) {
  const ids = [];
  for (let word = 0; word < mask.length; word++) {
    let bits = mask[word];
    while (bits !== 0) {
      const bit = 31 - Math.clz32(bits & -bits);
      const id = word * 32 + bit;
      if (id < vocabSize) ids.push(id);
      bits &= bits - 1;
    }
  }
  return ids;
}

const commonPrefix = (a, b) => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

// The tokens to feed after `answer` (the tokens written so far, all accepted by `matcher`) without sampling, and
// the mask for the token sampled after them: {tokens, mask, complete}. The tokens are accepted into the matcher.
// `complete`: nothing but a stop token may follow (no pass is needed to end the answer).
export async function planForced(tools, matcher, answer) {
  const jump = matcher.findJumpForwardString();
  let tokens = [];
  let before = null, ids = null;
  if (jump) {
    before = tools.decode(answer);
    ids = tools.encode(before + jump);
    // Fed only where the tokenizer writes the answer so far as it was written (a byte-level token that ends inside
    // a character decodes lossily and fails this test too).
    if (commonPrefix(ids, answer) === answer.length) tokens = ids.slice(answer.length);
  }
  let accepted = 0;
  while (accepted < tokens.length && matcher.acceptToken(tokens[accepted])) accepted++;
  tokens = tokens.slice(0, accepted);
  let mask = await matcher.getNextTokenBitmask();
  const next = allowedIds(mask, tools.vocabSize);
  const complete = next.length > 0 && next.every((id) => tools.stopTokens.has(id));
  if (complete || !tokens.length) return { tokens, mask, complete };
  // Keep only the tokens no allowed continuation would merge with.
  const chars = new Set(next.filter((id) => !tools.stopTokens.has(id)).map((id) => tools.firstChar(id)));
  let keep = tokens.length;
  if (chars.size > MAX_PROBES) keep -= 1;
  else {
    const text = before + jump;
    for (const c of chars) keep = Math.min(keep, commonPrefix(tools.encode(text + c), ids) - answer.length);
  }
  keep = Math.max(0, keep);
  if (keep < tokens.length) {
    matcher.rollBack(tokens.length - keep);
    tokens = tokens.slice(0, keep);
    mask = await matcher.getNextTokenBitmask();
  }
  return { tokens, mask, complete: false };
}

// One greedy answer under `compiled` (compileSchema's result). The model is reached through two functions that
// each run one forward pass and return the token picked under `mask` (a grammar bitmask):
//   first(mask)        the prompt's prefill
//   forward(ids, mask) `ids` appended to the KV cache
// {ids, text, finish_reason ("stop" | "length"), passes, forced, sampled, passes_s: [seconds of each pass],
//  after_first_s: seconds from the first pass's end to the answer's}.
export async function decodeForced(tools, compiled, { first, forward, maxTokens = 256, interrupted = () => false,
                                                     margin = () => null }) {
  const matcher = await GrammarMatcher.createGrammarMatcher(compiled);
  const answer = [];
  // trace: [fed text, sampled text]; margins: per answer token, the sampled one's margin (margin()), null if forced
  const stats = { passes: 0, forced: 0, sampled: 0, passes_s: [], trace: [], margins: [] };
  const pass = async (run) => {
    if (interrupted()) throw new Error("interrupted");
    const started = performance.now();
    const token = await run();
    stats.passes_s.push((performance.now() - started) / 1000);
    stats.passes += 1;
    stats.sampled += 1;
    stats.margins.push(margin());
    if (!matcher.acceptToken(token)) throw new Error(`the grammar refused sampled token ${token} after ${JSON.stringify(tools.decode(answer))}`);
    return token;
  };
  let finish = "stop";
  try {
    const startMask = await matcher.getNextTokenBitmask();
    let token = await pass(() => first(startMask));
    const firstDone = performance.now();
    stats.after_first_s = () => (performance.now() - firstDone) / 1000;
    while (!tools.stopTokens.has(token)) {
      answer.push(token);
      if (answer.length >= maxTokens) { finish = "length"; break; }
      const plan = await planForced(tools, matcher, answer);
      const room = maxTokens - answer.length;
      if (plan.tokens.length > room) {  // the cap falls inside forced text: the answer ends there, unfinished
        answer.push(...plan.tokens.slice(0, room));
        stats.margins.push(...Array(room).fill(null));
        stats.forced += room;
        finish = "length";
        break;
      }
      answer.push(...plan.tokens);
      stats.margins.push(...plan.tokens.map(() => null));
      stats.forced += plan.tokens.length;
      if (plan.complete) break;  // only a stop token may follow: the answer is done without another pass
      if (answer.length >= maxTokens) { finish = "length"; break; }
      token = await pass(() => forward([token, ...plan.tokens], plan.mask));
      stats.trace.push([tools.decode(plan.tokens), tools.decode([token])]);
    }
  } finally {
    matcher.dispose();
  }
  const afterFirst = stats.after_first_s ? stats.after_first_s() : 0;
  return { ids: answer, text: tools.decode(answer), finish_reason: finish, ...stats, after_first_s: afterFirst };
}

// A LogitProcessor for web-llm (MLCEngine's logitProcessorRegistry) that does nothing until armed with a grammar
// mask; armed, it keeps only the best allowed token, so whatever web-llm's sampler then runs picks exactly that one.
// web-llm calls processLogits on every sampled token of the model it is registered for, so disarm it after each pass.
// Each call also notes the pick's margin: its logit minus the best other allowed token's (disarmed, web-llm has
// already masked the grammar's refusals to -inf), which says how near a tie a greedy choice was. Recording (the plain
// loop), it keeps every sampled token with its margin.
export function createMaskProcessor() {
  const processor = {
    mask: null,
    picked: -1,
    margin: null,
    recording: null,  // [[token, margin], ...] while web-llm's own loop answers
    processLogits(logits) {
      const mask = processor.mask;
      let best = -1, bestValue = -Infinity, second = -Infinity;
      for (let id = 0; id < logits.length; id++) {
        const value = logits[id];
        if (mask ? !allows(mask, id) : !(value > MASKED)) continue;
        if (value > bestValue) { second = bestValue; best = id; bestValue = value; }
        else if (value > second) second = value;
      }
      processor.margin = best >= 0 && second > -Infinity ? bestValue - second : null;
      if (!mask) return logits;
      if (best < 0) throw new Error("the grammar allows no token here");
      logits.fill(MASKED);
      logits[best] = 0;
      processor.picked = best;
      return logits;
    },
    processSampledToken(token) {
      if (processor.recording) processor.recording.push([token, processor.margin]);
    },
    // web-llm resets the processor whenever it resets the chat, which a completion does before its prefill: the
    // mask is the loop's to clear (after each pass), not web-llm's.
    resetState() {},
  };
  return processor;
}

// The worker's side: greedy answers on `engine` (an MLCEngine whose logitProcessorRegistry holds `processor` for
// the loaded model), one at a time (the page queues them). request: {decode, modelUrl, messages, schema, maxTokens}
// -> {text, finish_reason, usage}; usage.extra adds decode, forward_passes (the prompt's prefill counts one), the
// answer's tokens and margins (per token, the greedy pick's margin over the next allowed token; null where forced;
// plain's end with its stop token) and, forced, the tokens fed in (forced_tokens) and sampled (sampled_tokens) and
// forced_trace ([fed text, sampled text] per pass after the prompt's). decode: "forced", "plain", or "forced-stepwise" (a diagnostic: the forced
// loop with each fed token in a pass of its own, web-llm's decode kernel as in the plain loop; where its answer
// equals the plain loop's and "forced" differs, the difference is the prefill kernel's arithmetic).
export function createAnswerer(engine, processor) {
  const toolsByUrl = new Map();
  let stop = false;

  async function toolsFor(modelUrl) {
    if (!toolsByUrl.has(modelUrl)) toolsByUrl.set(modelUrl, fetchGrammarTools(modelUrl));
    try {
      return await toolsByUrl.get(modelUrl);
    } catch (e) {
      toolsByUrl.delete(modelUrl);
      throw e;
    }
  }

  async function armed(mask, run) {
    processor.mask = mask;
    processor.picked = -1;
    try {
      await run();
    } finally {
      processor.mask = null;
    }
    if (processor.picked < 0) throw new Error("the logit processor was not called: is it registered for this model?");
    return processor.picked;
  }

  // web-llm's own loop: one forward pass per token.
  async function plain({ messages, schema, maxTokens }) {
    const grammar = await schemaEBNF(schema);
    const sampled = [];
    processor.recording = sampled;
    let reply;
    try {
      reply = await engine.chat.completions.create({
        messages, temperature: 0, max_tokens: maxTokens, response_format: { type: "grammar", grammar },
      });
    } finally {
      processor.recording = null;
    }
    const usage = reply.usage;
    return { text: reply.choices[0].message.content || "", finish_reason: reply.choices[0].finish_reason,
             usage: { ...usage, extra: { ...usage.extra, decode: "plain", forward_passes: usage.completion_tokens,
                                         tokens: sampled.map(([token]) => token),
                                         margins: sampled.map(([, margin]) => margin) } } };
  }

  async function forced({ decode, modelUrl, messages, schema, maxTokens }) {
    const started = performance.now();
    const tools = await toolsFor(modelUrl);
    const compileStarted = performance.now();
    const compiled = await compileSchema(tools, schema);
    const grammarS = (performance.now() - compileStarted) / 1000;
    let prompt = null;
    await engine.resetChat();  // a fresh KV cache: every request is a new conversation
    try {
      const result = await decodeForced(tools, compiled, {
        maxTokens,
        interrupted: () => stop,
        margin: () => processor.margin,
        // web-llm templates and prefills the prompt itself, exactly as for a plain answer, and samples the first token.
        first: (mask) => armed(mask, async () => {
          prompt = await engine.chat.completions.create({ messages, max_tokens: 1, temperature: 0 });
        }),
        forward: decode === "forced-stepwise"
          ? async (ids, mask) => {
            for (const id of ids.slice(0, -1)) await engine.forwardTokensAndSample([id], false);  // sample unused
            return armed(mask, () => engine.forwardTokensAndSample(ids.slice(-1), false));
          }
          : (ids, mask) => armed(mask, () => engine.forwardTokensAndSample(ids, ids.length > 1)),
      });
      const promptTokens = prompt.usage.prompt_tokens;
      const firstS = result.passes_s[0];
      const wallS = (performance.now() - started) / 1000;
      return {
        text: result.text,
        finish_reason: result.finish_reason,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: result.ids.length,
          total_tokens: promptTokens + result.ids.length,
          extra: {
            decode,
            forward_passes: result.passes,
            forced_tokens: result.forced,
            sampled_tokens: result.sampled,
            forced_trace: result.trace,
            tokens: result.ids,
            margins: result.margins,
            time_to_first_token_s: firstS,
            prefill_tokens_per_s: promptTokens / firstS,
            // the answer's tokens after the first per second from the first to the end (forced ones included)
            decode_tokens_per_s: result.after_first_s > 0 ? (result.ids.length - 1) / result.after_first_s : null,
            grammar_init_s: grammarS,
            e2e_latency_s: wallS,
          },
        },
      };
    } finally {
      compiled.dispose();
      await engine.resetChat();  // the KV cache holds tokens web-llm's conversation does not know about
    }
  }

  return {
    answer(request) {
      stop = false;
      if (request.decode === "plain") return plain(request);
      if (request.decode === "forced" || request.decode === "forced-stepwise") return forced(request);
      throw new Error(`decode: ${JSON.stringify(request.decode)} is not "forced", "plain" or "forced-stepwise"`);
    },
    interrupt() { stop = true; },
  };
}
