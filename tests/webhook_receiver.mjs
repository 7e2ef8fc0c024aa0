// tests/webhook_receiver.mjs: a collector written the way the Standard
// Webhooks libraries tell one to be written, for tests/test_webhooks.c.
//
//   node tests/webhook_receiver.mjs NODE_MODULES PORT SECRET OUTFILE
//
// It inflates a gzip body, as a web framework does before the handler,
// and hands the payload with the headers to the npm standardwebhooks
// library's plain new Webhook(secret).verify(payload, headers) (the v1
// HMAC-SHA256 signature: SECRET is whsec_...). Verified: 200 with an empty
// body, and a line "verified BATCH_ID TRACE_ID" per event in OUTFILE.
// Refused: 400 with {"error": why}, and "refused WHY" in OUTFILE.
// NODE_MODULES is where scripts/npm-modules installed the library.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const [modules, port, secret, outfile] = process.argv.slice(2);
const require = createRequire(join(modules, '..', 'webhook_receiver.cjs'));
const { Webhook } = require('standardwebhooks');
const webhook = new Webhook(secret);
const INFLATE_MAX = 64 * 1024 * 1024;

function answer(res, status, body) {
	res.writeHead(status, body ? { 'Content-Type': 'application/json' } : {});
	res.end(body ? JSON.stringify(body) : '');
}

function take(req, raw, res) {
	let payload = raw;
	let batch;

	try {
		if (req.headers['content-encoding'] === 'gzip')
			payload = gunzipSync(raw, { maxOutputLength: INFLATE_MAX });
		batch = webhook.verify(payload, req.headers);
	} catch (e) {
		appendFileSync(outfile, `refused ${e.message}\n`);
		answer(res, 400, { error: e.message });
		return;
	}
	for (const ev of batch.events)
		appendFileSync(outfile, `verified ${batch.batch_id} ${ev.trace_id}\n`);
	answer(res, 200, null);
}

createServer((req, res) => {
	const parts = [];

	if (req.method !== 'POST') {
		answer(res, 405, { error: 'POST only' });
		return;
	}
	req.on('data', (c) => parts.push(c));
	req.on('end', () => take(req, Buffer.concat(parts), res));
}).listen(Number(port), '127.0.0.1');
