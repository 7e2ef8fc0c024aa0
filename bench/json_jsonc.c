/* json_jsonc.c: json-c for bench/json_parsers.c (its headers and jansson's
 * cannot meet in one file). */
#include <stddef.h>

#include <json-c/json.h>

int	p_jsonc(const char *, size_t);

int
p_jsonc(const char *b, size_t n)
{
	struct json_tokener	*t = json_tokener_new_ex(65);
	struct json_object	*o;
	int			 ok;

	json_tokener_set_flags(t, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(t, b, (int)n);
	ok = o != NULL && json_tokener_get_error(t) == json_tokener_success &&
	    json_tokener_get_parse_end(t) == n;
	json_object_put(o);
	json_tokener_free(t);
	return ok ? 0 : -1;
}

