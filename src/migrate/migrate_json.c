/*-------------------------------------------------------------------------
 *
 * migrate_json.c
 *	  Writes metadata objects as JSON text for jsonb.
 *
 * Parsing is jansson's (migrate_persist.c); this side only writes, and
 * exists for one reason: numbers.  A float metadata value must reach jsonb
 * as the shortest decimal that reads back as the same double (0.1, not
 * jansson's 0.10000000000000001, which jsonb would keep and which would
 * then not equal a filter's 0.1), and an integral float keeps a ".0" so
 * that it stays a float (Chroma tells 1 and 1.0 apart).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>

#include "migrate.h"

static void
put(MigrateJson *js, const char *s, size_t n)
{
	if (js->len + n + 1 > js->cap)
	{
		size_t		cap = js->cap ? js->cap * 2 : 256;

		while (cap < js->len + n + 1)
			cap *= 2;
		js->data = pg_realloc(js->data, cap);
		js->cap = cap;
	}
	memcpy(js->data + js->len, s, n);
	js->len += n;
	js->data[js->len] = '\0';
}

void
json_begin_object(MigrateJson *js)
{
	js->len = 0;
	js->members = 0;
	put(js, "{", 1);
}

void
json_end_object(MigrateJson *js)
{
	put(js, "}", 1);
}

/* a string value (or key): RFC 8259 escapes; the bytes are UTF-8 */
void
json_string(MigrateJson *js, const char *s, int len)
{
	static const char hex[] = "0123456789abcdef";
	int			start = 0;

	if (len < 0)
		len = strlen(s);
	put(js, "\"", 1);
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		esc[7];
		int			n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(js, s + start, i - start);
		start = i + 1;
		esc[0] = '\\';
		switch (c)
		{
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			case '\b':
				esc[1] = 'b';
				break;
			case '\f':
				esc[1] = 'f';
				break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				n = 6;
		}
		put(js, esc, n);
	}
	put(js, s + start, len - start);
	put(js, "\"", 1);
}

void
json_key(MigrateJson *js, const char *key)
{
	if (js->members++ > 0)
		put(js, ",", 1);
	json_string(js, key, -1);
	put(js, ":", 1);
}

void
json_int(MigrateJson *js, int64_t v)
{
	char		buf[32];

	put(js, buf, snprintf(buf, sizeof(buf), "%lld", (long long) v));
}

/* false for NaN and infinities, which JSON cannot hold */
bool
json_double(MigrateJson *js, double v)
{
	char		buf[40];
	int			n = 0;

	if (!isfinite(v))
		return false;
	for (int prec = 1; prec <= 17; prec++)
	{
		n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strpbrk(buf, ".eEn") == NULL)
	{
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	put(js, buf, n);
	return true;
}

void
json_bool(MigrateJson *js, bool v)
{
	if (v)
		put(js, "true", 4);
	else
		put(js, "false", 5);
}

/* text that already is a JSON value (an array made with the calls above) */
void
json_raw(MigrateJson *js, const char *s)
{
	put(js, s, strlen(s));
}

void
json_free(MigrateJson *js)
{
	pg_free(js->data);
	js->data = NULL;
	js->len = js->cap = 0;
}
