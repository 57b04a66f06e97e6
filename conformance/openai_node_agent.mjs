// A client agent loop with the official `openai` Node SDK: chat.completions.create with two
// tools, run each requested call, send the results back as role "tool" messages, repeat until
// the model answers in text (at most 5 tool rounds). Prints one JSON line:
// {"rounds", "final", "tool_calls": names in order, "finish_reasons": one per model call}.
// Usage: node openai_node_agent.mjs BASE_URL API_KEY MODEL PROMPT [stream]
//   (or OPENAI_BASE_URL, OPENAI_API_KEY, AGENT_MODEL, AGENT_PROMPT, AGENT_STREAM=stream)
// Streaming gathers tool call deltas by `index`: id and name from the first, arguments joined.
import OpenAI from "openai";

const [baseURL, apiKey, modelArg, prompt, streamArg] = process.argv.slice(2);
const env = process.env;
const model = modelArg || env.AGENT_MODEL || "sonnet";
const stream = ["stream", "1", "true"].includes(streamArg ?? env.AGENT_STREAM ?? "");
const client = new OpenAI({
  baseURL: baseURL || env.OPENAI_BASE_URL,
  apiKey: apiKey || env.OPENAI_API_KEY || "sk-node-agent",
  maxRetries: 0,
  timeout: 120000,
});
const MAX_ROUNDS = 5;

const impls = {
  get_weather: ({ city }) => `sunny 21C in ${city}`,
  get_time: ({ city }) => `12:00 in ${city}`,
};
const tool = (name, description) => ({
  type: "function",
  function: {
    name,
    description,
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" } },
      required: ["city"],
    },
  },
});
const tools = [
  tool("get_weather", "Current weather in a city."),
  tool("get_time", "Local time in a city."),
];

function runTool(name, args) {
  const impl = impls[name];
  if (!impl) return `error: no tool ${name}`;
  try {
    return impl(JSON.parse(args || "{}"));
  } catch (err) {
    return `error: ${err.message}`;
  }
}

async function ask(messages) {
  if (!stream) {
    const completion = await client.chat.completions.create({ model, messages, tools });
    const choice = completion.choices[0];
    return {
      text: choice.message.content ?? "",
      calls: choice.message.tool_calls ?? [],
      finish: choice.finish_reason,
    };
  }
  const chunks = await client.chat.completions.create({ model, messages, tools, stream: true });
  let text = "";
  let finish = null;
  const calls = [];
  for await (const chunk of chunks) {
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? "";
      for (const part of choice.delta?.tool_calls ?? []) {
        const call = (calls[part.index] ??= {
          id: null,
          type: "function",
          function: { name: "", arguments: "" },
        });
        call.id ??= part.id ?? null;
        call.function.name += part.function?.name ?? "";
        call.function.arguments += part.function?.arguments ?? "";
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  return { text, calls: calls.filter(Boolean), finish };
}

const messages = [{ role: "user", content: prompt || env.AGENT_PROMPT || "Hello" }];
const names = [];
const finishes = [];
let rounds = 0;
let final = "";
for (;;) {
  const { text, calls, finish } = await ask(messages);
  finishes.push(finish);
  final = text;
  if (calls.length === 0 || rounds === MAX_ROUNDS) break;
  rounds += 1;
  messages.push({ role: "assistant", content: text || null, tool_calls: calls });
  for (const call of calls) {
    names.push(call.function.name);
    const output = runTool(call.function.name, call.function.arguments);
    messages.push({ role: "tool", tool_call_id: call.id, content: output });
  }
}
console.log(JSON.stringify({ rounds, final, tool_calls: names, finish_reasons: finishes }));
