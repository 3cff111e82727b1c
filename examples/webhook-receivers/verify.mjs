// Receiving PFlow's webhook calls in Node.js (18 or later, no packages).
//
//     WEBHOOK_SECRET=<the endpoint's secret> node verify.mjs      # listens on http://127.0.0.1:9000/
//
// Every call carries X-PFlow-Signature (`sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` with the
// endpoint's secret), X-PFlow-Timestamp (Unix seconds), X-PFlow-Event (the event type) and X-PFlow-Delivery
// (the delivery id, the same on every attempt of one delivery: use it to drop a repeat).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

export const REPLAY_WINDOW_S = 300; // refuse signatures older (or newer) than five minutes

/** True when `signature` (X-PFlow-Signature) signs exactly `body` (the raw request body as a Buffer, before any
 * JSON parsing) at `timestamp` (X-PFlow-Timestamp), and that time is within the window. */
export function verify(secret, body, timestamp, signature, { now = Date.now() / 1000, windowS = REPLAY_WINDOW_S } = {}) {
  if (!/^\d+$/.test(String(timestamp ?? ""))) return false;
  if (Math.abs(now - Number(timestamp)) > windowS) return false;
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  const expected = Buffer.from(`sha256=${mac.digest("hex")}`);
  const given = Buffer.from(String(signature ?? ""));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function serve(secret, port) {
  const seen = new Set(); // delivery ids already handled (keep them in your database in real use)
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (!verify(secret, body, req.headers["x-pflow-timestamp"], req.headers["x-pflow-signature"])) {
        res.writeHead(401).end();
        return;
      }
      const delivery = req.headers["x-pflow-delivery"];
      if (!seen.has(delivery)) {
        seen.add(delivery);
        const event = JSON.parse(body.toString("utf8"));
        console.log(`${req.headers["x-pflow-event"]} ${event.ticket_id} ${event.event_id}`);
      }
      res.writeHead(204).end(); // any 2xx tells PFlow the delivery arrived; anything else is retried
    });
  });
  server.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}/`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error("set WEBHOOK_SECRET to the endpoint's secret");
    process.exit(1);
  }
  serve(secret, Number(process.env.PORT ?? 9000));
}
