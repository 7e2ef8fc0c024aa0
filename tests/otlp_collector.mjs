// tests/otlp_collector.mjs: an OTLP/HTTP collector for tests/test_otlp_push.c
// that decodes what octd pushes with push_format = otlp using a decoder
// nobody here wrote: the protobufjs root that the npm package
// @opentelemetry/otlp-transformer@0.52.1 ships (build/src/generated/root.js,
// generated from the official opentelemetry-proto files).
//
//   node tests/otlp_collector.mjs NODE_MODULES PORT SECRET OUTFILE [ANSWERS]
//
// Each request is one JSON line in OUTFILE: {path, status (answered),
// at (ms on a monotonic clock, when the request had arrived), signed (the
// webhook-signature's v1 HMAC over the body before compression verifies
// with SECRET, whsec_...), headers (the request's), body (the
// Export*ServiceRequest as JSON: ids as hex, 64-bit numbers as strings),
// error (when it cannot be decoded: then 400)}.
// ANSWERS, comma-separated, say how the requests are answered in turn:
// a status (503 adds Retry-After: 0), STATUS/S (that status with
// Retry-After: S), "partial" (200 with a partial_success that rejected 1),
// "bad" (400 with a google.rpc.Status if a span's model is "bad", else 200,
// from then on), "silent" (never answered: its line is written when the
// client hangs up, with status 0 and gave_up_ms, how long it waited);
// once used up, 200.
import { appendFileSync } from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const [modules, port, secret, outfile, answers = ''] = process.argv.slice(2);
const require = createRequire(join(modules, '..', 'otlp_collector.cjs'));
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const pkg = require('@opentelemetry/otlp-transformer/package.json');
const v1 = root.opentelemetry.proto.collector;
const kinds = {
	'/v1/traces': [v1.trace.v1.ExportTraceServiceRequest,
	    v1.trace.v1.ExportTraceServiceResponse, 'rejectedSpans'],
	'/v1/logs': [v1.logs.v1.ExportLogsServiceRequest,
	    v1.logs.v1.ExportLogsServiceResponse, 'rejectedLogRecords'],
	'/v1/metrics': [v1.metrics.v1.ExportMetricsServiceRequest,
	    v1.metrics.v1.ExportMetricsServiceResponse, 'rejectedDataPoints'],
};
const queue = answers.split(',').filter((a) => a !== '');
let refuseBad = false;

if (pkg.version !== '0.52.1')
	throw new Error(`otlp-transformer ${pkg.version}, not 0.52.1`);

function hmacOk(req, payload) {
	const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
	const id = req.headers['webhook-id'];
	const ts = req.headers['webhook-timestamp'];
	const want = createHmac('sha256', key).update(`${id}.${ts}.`)
	    .update(payload).digest();
	for (const s of (req.headers['webhook-signature'] || '').split(' ')) {
		if (!s.startsWith('v1,'))
			continue;
		const got = Buffer.from(s.slice(3), 'base64');
		if (got.length === want.length && timingSafeEqual(got, want))
			return true;
	}
	return false;
}

function hasBadModel(body) {
	for (const rs of body.resourceSpans || [])
		for (const ss of rs.scopeSpans || [])
			for (const sp of ss.spans || [])
				for (const kv of sp.attributes || [])
					if (kv.key === 'gen_ai.request.model' &&
					    kv.value.stringValue === 'bad')
						return true;
	return false;
}

function mono() {
	return Number(process.hrtime.bigint() / 1000000n);
}

// A request never answered: its line once the client gives up on it.
function silent(line, res) {
	res.on('close', () => {
		line.status = 0;
		line.gave_up_ms = mono() - line.at;
		appendFileSync(outfile, JSON.stringify(line) + '\n');
	});
}

function take(req, raw, res) {
	const line = { path: req.url, at: mono(), headers: req.headers };
	const kind = kinds[req.url];
	let status = 200;
	let answer = null;
	let retryAfter = null;

	try {
		if (kind === undefined)
			throw new Error(`no OTLP path: ${req.url}`);
		const payload = req.headers['content-encoding'] === 'gzip' ?
		    gunzipSync(raw) : raw;
		line.signed = hmacOk(req, payload);
		const msg = kind[0].decode(payload);
		line.body = kind[0].toObject(msg, { longs: String,
		    bytes: String, defaults: false });
		for (const x of ['traceId', 'spanId', 'parentSpanId'])
			hex(line.body, x);
	} catch (e) {
		line.error = e.message;
		status = 400;
	}
	if (status === 200) {
		const a = queue.length > 0 ? queue.shift() : '200';
		if (a === 'silent')
			return silent(line, res);
		if (a === 'bad')
			refuseBad = true;
		else if (a === 'partial')
			answer = kind[1].encode(kind[1].fromObject({
			    partialSuccess: { [kind[2]]: 1,
			    errorMessage: 'one refused' } })).finish();
		else {
			[status, retryAfter] = a.split('/');
			status = Number(status);
		}
		if (refuseBad && hasBadModel(line.body)) {
			// google.rpc.Status { code: 3, message }, as OTLP says
			const m = Buffer.from('a span has a bad model');
			answer = Buffer.concat([Buffer.from([0x08, 0x03, 0x12,
			    m.length]), m]);
			status = 400;
		}
	}
	line.status = status;
	appendFileSync(outfile, JSON.stringify(line) + '\n');
	const h = { 'Content-Type': 'application/x-protobuf' };
	if (retryAfter !== undefined && retryAfter !== null)
		h['Retry-After'] = retryAfter;
	else if (status === 503)
		h['Retry-After'] = '0';
	res.writeHead(status, h);
	res.end(answer !== null ? Buffer.from(answer) : '');
}

// base64 ids (protobufjs' bytes as String) to hex, everywhere in o.
function hex(o, key) {
	if (Array.isArray(o)) {
		o.forEach((x) => hex(x, key));
	} else if (o !== null && typeof o === 'object') {
		for (const k of Object.keys(o)) {
			if (k === key && typeof o[k] === 'string')
				o[k] = Buffer.from(o[k], 'base64').toString('hex');
			else
				hex(o[k], key);
		}
	}
}

createServer((req, res) => {
	const parts = [];

	req.on('data', (c) => parts.push(c));
	req.on('end', () => take(req, Buffer.concat(parts), res));
}).listen(Number(port), '127.0.0.1');
