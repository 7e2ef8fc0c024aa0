// json_simdjson.cpp: simdjson's DOM parse behind extern "C", for
// bench/json_parsers.c only (oct itself does not link simdjson).
#include <simdjson.h>

static simdjson::dom::parser *p;

extern "C" int
sj_parse(const char *buf, size_t len)
{
	if (p == nullptr) {
		p = new simdjson::dom::parser();
		if (p->allocate(1 << 20, 64) != simdjson::SUCCESS)
			return -1;
	}
	simdjson::dom::element e;
	return p->parse(buf, len, true).get(e) == simdjson::SUCCESS ? 0 : -1;
}
