// One WebSocket-mode turn with the official Node SDK (npm `openai`, `ResponsesWS`), unchanged
// apart from its base URL; the test reads who the proxy says the client was.
// Run with NODE_PATH pointing at the SDK's node_modules (tests/client_identity.rs does).
const { OpenAI } = require('openai');
const { ResponsesWS } = require('openai/resources/responses/ws');

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const ws = new ResponsesWS(client);
const fail = (why) => {
  console.error(why);
  process.exit(1);
};
ws.on('error', (e) => fail(`error: ${e.message}`));
ws.on('response.completed', (event) => {
  console.log(`DONE ${event.response.id}`);
  ws.close({ code: 1000, reason: 'done' });
});
ws.on('close', () => process.exit(0));
ws.send({ type: 'response.create', model: process.env.MODEL, input: 'hello from node', store: false });
