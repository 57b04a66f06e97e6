// Drives the proxy's /v1/messages with the official `@anthropic-ai/sdk` Node SDK and prints
// what the SDK returned, one JSON object per line, for tests/conformance/test_anthropic_node.py.
// Usage: ANTHROPIC_BASE_URL=http://127.0.0.1:3456 node anthropic_node_check.mjs PROMPT [TOOL_PROMPT]
// With TOOL_PROMPT (the real CLI only: the replay CLI lists no client tools) it also runs a
// tool round trip, non-streamed then streamed: tool_use, then the tool_result follow-up.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ apiKey: "sk-node-test", maxRetries: 0, timeout: 60_000 });
const [prompt = "Hello", toolPrompt] = process.argv.slice(2);
const user = (content) => [{ role: "user", content }];
const emit = (kind, value) => console.log(JSON.stringify({ kind, value }));
const base = { model: "opus", max_tokens: 256 };

emit("message", await client.messages.create({ ...base, system: "Be brief.", messages: user(prompt) }));

const events = [];
const stream = client.messages.stream({ ...base, messages: user(prompt) });
let text = "";
stream.on("text", (piece) => (text += piece));
for await (const event of stream) events.push(event);
emit("stream", { events, text, final: await stream.finalMessage() });

const raw = [];
for await (const event of await client.messages.create({ ...base, messages: user(prompt), stream: true }))
  raw.push(event);
emit("raw_stream", raw);

const failure = async (call) => {
  try {
    await call();
    return null;
  } catch (err) {
    return {
      name: err.constructor.name,
      status: err.status,
      isNotFound: err instanceof Anthropic.NotFoundError,
      isBadRequest: err instanceof Anthropic.BadRequestError,
      error: err.error,
    };
  }
};
const missing = { ...base, model: "gpt-9-does-not-exist", messages: user(prompt) };
emit("error", await failure(() => client.messages.create(missing)));
emit("stream_error", await failure(() => client.messages.stream(missing).finalMessage()));
emit("bad_request", await failure(() => client.messages.create({ ...base, max_tokens: 0, messages: user(prompt) })));

if (toolPrompt) {
  const tools = [
    {
      name: "get_weather",
      description: "The weather in a city.",
      input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  ];
  for (const streamed of [false, true]) {
    const ask = async (messages) =>
      streamed
        ? await client.messages.stream({ ...base, messages, tools }).finalMessage()
        : await client.messages.create({ ...base, messages, tools });
    const messages = user(`${toolPrompt} ${streamed ? "streamed" : "plain"}`);
    const first = await ask(messages);
    const results = first.content
      .filter((block) => block.type === "tool_use")
      .map((block) => ({ type: "tool_result", tool_use_id: block.id, content: `sunny in ${block.input.city}` }));
    messages.push({ role: "assistant", content: first.content }, { role: "user", content: results });
    emit("tool_round_trip", { streamed, first, second: await ask(messages) });
  }
}
