// Drives the proxy's /v1/responses with the official `openai` Node SDK's Responses client and
// prints what the SDK returned, one JSON object per line, for tests/e2e/test_responses.py.
// Usage: OPENAI_BASE_URL=http://127.0.0.1:3456/v1 node openai_node_responses.mjs PROMPT TOOL_PROMPT
// TOOL_PROMPT makes the model call `get_weather`: the function-call round trip is run twice,
// not streamed (the output sent back with previous_response_id) and streamed (the whole item
// list sent back, store: false).
import OpenAI from "openai";

const client = new OpenAI({ apiKey: "sk-node-test", maxRetries: 0 });
const prompt = process.argv[2] ?? "Hello";
const toolPrompt = process.argv[3] ?? "What is the weather in Paris?";
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

const tools = [
  {
    type: "function",
    name: "get_weather",
    description: "Weather of a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
    strict: false,
  },
];
const callsOf = (response) => response.output.filter((item) => item.type === "function_call");

// Not streamed: the model's call, then its output with previous_response_id.
const asked = await client.responses.create({ model: "sonnet", input: toolPrompt, tools });
const [call] = callsOf(asked);
const answered = await client.responses.create({
  model: "sonnet",
  tools,
  previous_response_id: asked.id,
  input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny 21C" }],
});
emit("tool_json", {
  calls: callsOf(asked),
  first: asked,
  final: answered,
  output_text: answered.output_text,
});

// Streamed: the call, then the whole conversation sent back (nothing stored).
const streamPrompt = `${toolPrompt} (streamed)`;
const callStream = client.responses.stream({
  model: "sonnet",
  input: streamPrompt,
  tools,
  store: false,
});
const callKinds = [];
for await (const event of callStream) callKinds.push(event.type);
const streamedCall = await callStream.finalResponse();
const [sCall] = callsOf(streamedCall);
const items = [
  { role: "user", content: streamPrompt },
  ...streamedCall.output,
  { type: "function_call_output", call_id: sCall.call_id, output: "cloudy 12C" },
];
const resultStream = client.responses.stream({ model: "sonnet", input: items, tools, store: false });
const resultKinds = [];
for await (const event of resultStream) resultKinds.push(event.type);
const streamedFinal = await resultStream.finalResponse();
emit("tool_stream", {
  calls: callsOf(streamedCall),
  callKinds,
  resultKinds,
  first: streamedCall,
  final: streamedFinal,
  output_text: streamedFinal.output_text,
});
