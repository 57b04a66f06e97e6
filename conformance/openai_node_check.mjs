// Drives the proxy with the official `openai` Node SDK and prints what the SDK returned,
// one JSON object per line, for tests/conformance/test_openai_node.py to check.
// Usage: OPENAI_BASE_URL=http://127.0.0.1:3456/v1 node openai_node_check.mjs PROMPT
import OpenAI from "openai";

const client = new OpenAI({ apiKey: "sk-node-test", maxRetries: 0 });
const prompt = process.argv[2] ?? "Hello";
const messages = [{ role: "user", content: prompt }];
const emit = (kind, value) => console.log(JSON.stringify({ kind, value }));

const completion = await client.chat.completions.create({ model: "opus", messages });
emit("completion", completion);

const stream = await client.chat.completions.create({
  model: "sonnet",
  messages,
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) emit("chunk", chunk);

const models = [];
for await (const model of client.models.list()) models.push(model);
emit("models", models);

try {
  await client.chat.completions.create({ model: "gpt-9-does-not-exist", messages });
  emit("error", null);
} catch (err) {
  emit("error", {
    name: err.constructor.name,
    status: err.status,
    isNotFound: err instanceof OpenAI.NotFoundError,
    error: err.error,
  });
}
