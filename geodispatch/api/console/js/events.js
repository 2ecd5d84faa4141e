// Server push: GET /events (Server-Sent Events) read with fetch, because EventSource cannot send
// the Authorization header and the key must never go into a URL. Each event carries an id; a
// reconnect sends Last-Event-ID and the server replays what was missed. After a reconnect the
// state is also reloaded (a server restart may have lost nothing, but the console cannot know).

import { getKey } from "./api.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

/**
 * Follow /events until stop() is called.
 * handlers: {event(type, data, id), open(firstTime), down(), unauthorized()}
 */
export function follow(handlers) {
  let stopped = false;
  let lastId = null;
  let controller = null;
  let delay = RETRY_MIN_MS;
  let connections = 0;

  async function connect() {
    while (!stopped) {
      controller = new AbortController();
      const headers = { Accept: "text/event-stream", Authorization: "Bearer " + getKey() };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      try {
        const response = await fetch("/events", { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401) { handlers.unauthorized(); return; }
        if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
        delay = RETRY_MIN_MS;
        handlers.open(connections++ === 0);
        await read(response.body.getReader());
      } catch (err) {
        if (stopped || err.name === "AbortError") return;
      }
      if (stopped) return;
      handlers.down();
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let type = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (id !== null) lastId = id;
    if (!data.length) return;
    let parsed;
    try { parsed = JSON.parse(data.join("\n")); } catch { return; }
    if (type === "unauthorized") { stopped = true; controller.abort(); handlers.unauthorized(); return; }
    handlers.event(type, parsed, id);
  }

  connect();
  return {
    stop() { stopped = true; if (controller) controller.abort(); },
    lastId: () => lastId,
  };
}
