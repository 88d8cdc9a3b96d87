// Connects to an AlphaHub-compatible server with the official Phoenix JavaScript client, joins
// one algorithm's channel and prints, one JSON object a line: {"event":"joined"} once joined,
// then {"event":"new_signals","payload":...} for the first signal, and exits 0.
// Usage: node phoenix_client.js BASE_URL EMAIL PASSWORD ALGO_ID
"use strict";
const { Socket } = require("phoenix");
const WebSocket = require("ws");

const [baseUrl, email, password, algoId] = process.argv.slice(2);
const fail = (code, message) => {
  process.stderr.write(message + "\n");
  process.exit(code);
};
setTimeout(() => fail(4, "timed out"), 20000).unref();

async function main() {
  const form = new URLSearchParams({ "user[email]": email, "user[password]": password });
  const response = await fetch(baseUrl + "/api/v1/session", { method: "POST", body: form });
  if (response.status !== 200) fail(2, `login answered HTTP ${response.status}`);
  const token = (await response.json()).data.token;

  const socket = new Socket(baseUrl.replace(/^http/, "ws") + "/socket", {
    transport: WebSocket,
    params: { api_token: token },
    heartbeatIntervalMs: 1000,
  });
  socket.onError(() => process.stderr.write("socket error\n"));
  socket.connect();
  const channel = socket.channel(`algorithms:${algoId}`, {});
  channel.on("new_signals", (payload) => {
    console.log(JSON.stringify({ event: "new_signals", payload }));
    socket.disconnect(() => process.exit(0));
  });
  channel
    .join()
    .receive("ok", () => console.log(JSON.stringify({ event: "joined" })))
    .receive("error", (reply) => fail(3, "join refused: " + JSON.stringify(reply)))
    .receive("timeout", () => fail(3, "join timed out"));
}

main().catch((error) => fail(1, String(error)));
