/**
 * The Responses requests the benchmark sends (bench/run.mjs and bench/instructions.mjs): a short
 * chat request, and one with tools and a 20-item history. Every request has `store: false`.
 */

/** The short request: instructions, one input string. */
export function simpleBody(stream) {
  return JSON.stringify({
    model: 'bench-model',
    instructions: 'You are a concise assistant.',
    input: 'Explain in three sentences what a reverse proxy does.',
    max_output_tokens: 256,
    stream,
    store: false,
  });
}

/** Tools and a 20-item history (16 messages, a function call with its output, 2 more messages). */
export function toolsBody() {
  const input = [];
  for (let i = 0; i < 8; i++) {
    input.push({
      role: 'user',
      content: `Question ${i}: what is the weather like in city number ${i}, and should I bring an umbrella?`,
    });
    input.push({
      type: 'message',
      role: 'assistant',
      content: [
        {
          type: 'output_text',
          text: `Answer ${i}: mild, with a chance of rain later in the afternoon; an umbrella is a good idea.`,
        },
      ],
    });
  }
  input.push({
    type: 'function_call',
    call_id: 'call_bench_1',
    name: 'get_weather',
    arguments: '{"city":"Paris","unit":"c"}',
  });
  input.push({
    type: 'function_call_output',
    call_id: 'call_bench_1',
    output: '{"temperature":18,"conditions":"cloudy"}',
  });
  input.push({ role: 'assistant', content: 'It is 18 degrees and cloudy in Paris.' });
  input.push({ role: 'user', content: 'And tomorrow? Compare it with Berlin and Madrid.' });
  const tool = (name, description) => ({
    type: 'function',
    name,
    description,
    strict: true,
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', description: 'City name, e.g. "Paris"' },
        unit: { type: 'string', enum: ['c', 'f'], description: 'Temperature unit' },
        days: { type: 'integer', description: 'How many days ahead (0 = today)' },
      },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  });
  return JSON.stringify({
    model: 'bench-model',
    instructions: 'You are a weather assistant. Use the tools when you need data.',
    input,
    tools: [
      tool('get_weather', 'Current weather for a city.'),
      tool('get_forecast', 'Forecast for a city.'),
      tool('get_air_quality', 'Air quality index for a city.'),
      tool('get_alerts', 'Weather alerts for a city.'),
    ],
    tool_choice: 'auto',
    parallel_tool_calls: true,
    temperature: 0.2,
    store: false,
  });
}
