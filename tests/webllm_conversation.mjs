// The prompt web-llm builds for a chat request, computed by web-llm's own conversation code (not a copy): the
// Conversation class, its Role/MessagePlaceholders enums and getConversationFromChatCompletionRequest are sliced out
// of the installed bundle and evaluated here, then driven as MLCEngine's prefill drives them (every message but the
// last into the conversation, then the last user message and the assistant's reply header).
// stdin: {"bundle": path of web-llm's lib/index.js, "conv_template": {...}, "messages": [{role, content}, ...]}
// stdout: the prompt array (JSON), one string per part, each tokenized on its own by web-llm.
import { readFileSync } from "node:fs";

const request = JSON.parse(readFileSync(0, "utf8"));
const source = readFileSync(request.bundle, "utf8");

function slice(start, end) {
  const from = source.indexOf(start);
  const to = source.indexOf(end, from + start.length);
  if (from < 0 || to < 0) throw new Error(`web-llm bundle changed: cannot find ${JSON.stringify(start)}`);
  return source.slice(from, to);
}

const errors = ["MessageOrderError", "SystemMessageOrderError", "ContentTypeError", "UnsupportedRoleError",
  "TextCompletionConversationError", "MultipleTextContentError"];
const code = [
  ...errors.map((name) => `class ${name} extends Error {}`),
  slice("var Role;\n", "const DefaultLogLevel"),
  slice("var MessagePlaceholders;\n", "function postInitAndCheckGenerationConfigValues"),
  slice("class Conversation {", "/**\n * Compare the states of two conversation instances."),
  slice("function getConversationFromChatCompletionRequest(", "\nfunction audioError("),
  "return { Role, getConversationFromChatCompletionRequest };",
].join("\n");
const { Role, getConversationFromChatCompletionRequest } = new Function(code)();

const messages = request.messages;
const conversation = getConversationFromChatCompletionRequest({ messages }, { conv_template: request.conv_template });
conversation.appendMessage(Role.user, messages[messages.length - 1].content);
conversation.appendReplyHeader(Role.assistant);
process.stdout.write(JSON.stringify(conversation.getPromptArray()));
