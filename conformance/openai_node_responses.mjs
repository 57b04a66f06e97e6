// Drives the proxy's /v1/responses with the official `openai` Node SDK's Responses client and
// prints what the SDK returned, one JSON object per line, for tests/e2e/test_responses.py.
// Usage: OPENAI_BASE_URL=http://127.0.0.1:3456/v1 node openai_node_responses.mjs PROMPT
import OpenAI from "openai";

const client = new OpenAI({ apiKey: "sk-node-test", maxRetries: 0 });
const prompt = process.argv[2] ?? "Hello";
const emit = (kind, value) => console.log(JSON.stringify({ kind, value }));

const created = await client.responses.create({ model: "sonnet", input: prompt });
emit("created", { response: created, output_text: created.output_text });

const stream = client.responses.stream({
  model: "sonnet",
  input: "and then?",
  previous_response_id: created.id,
});
const kinds = [];
for await (const event of stream) kinds.push(event.type);
const final = await stream.finalResponse();
emit("stream", { kinds, response: final, output_text: final.output_text });

const retrieved = await client.responses.retrieve(final.id);
emit("retrieved", retrieved);

try {
  await client.responses.create({ model: "gpt-9-does-not-exist", input: prompt });
  emit("error", null);
} catch (err) {
  emit("error", {
    name: err.constructor.name,
    status: err.status,
    isNotFound: err instanceof OpenAI.NotFoundError,
    error: err.error,
  });
}
