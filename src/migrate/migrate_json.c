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

#include <ctype.h>
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
mjson_begin_object(MigrateJson *js)
{
	js->len = 0;
	js->members = 0;
	put(js, "{", 1);
}

void
mjson_end_object(MigrateJson *js)
{
	put(js, "}", 1);
}

/* a string value (or key): RFC 8259 escapes; the bytes are UTF-8 */
void
mjson_string(MigrateJson *js, const char *s, int len)
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
mjson_key(MigrateJson *js, const char *key)
{
	if (js->members++ > 0)
		put(js, ",", 1);
	mjson_string(js, key, -1);
	put(js, ":", 1);
}

void
mjson_int(MigrateJson *js, int64_t v)
{
	char		buf[32];

	put(js, buf, snprintf(buf, sizeof(buf), "%lld", (long long) v));
}

/*
 * A double as the shortest decimal that reads back as the same double,
 * written out in plain notation with a fraction ("100.0", "0.001"): jsonb
 * keeps a number's digits and scale as written, so an exponent form
 * ("1e+02") would come back as the integer 100.  False for NaN and the
 * infinities, which JSON cannot hold.
 */
bool
mjson_double(MigrateJson *js, double v)
{
	char		buf[40];
	char		digits[20];
	int			nd = 0;
	int			exp;
	char	   *e;

	if (!isfinite(v))
		return false;
	for (int prec = 0; prec <= 16; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* buf is [-]d[.ddd]e[+-]xx */
	e = strchr(buf, 'e');
	exp = atoi(e + 1);
	for (char *p = buf; p < e; p++)
		if (isdigit((unsigned char) *p))
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (buf[0] == '-')
		put(js, "-", 1);
	if (exp < 0)
	{
		put(js, "0.", 2);
		for (int i = 0; i < -exp - 1; i++)
			put(js, "0", 1);
		put(js, digits, nd);
	}
	else
	{
		for (int i = 0; i <= exp; i++)
			put(js, i < nd ? &digits[i] : "0", 1);
		put(js, ".", 1);
		if (nd > exp + 1)
			put(js, digits + exp + 1, nd - exp - 1);
		else
			put(js, "0", 1);
	}
	return true;
}

void
mjson_bool(MigrateJson *js, bool v)
{
	if (v)
		put(js, "true", 4);
	else
		put(js, "false", 5);
}

/* text that already is a JSON value (an array made with the calls above) */
void
mjson_raw(MigrateJson *js, const char *s)
{
	put(js, s, strlen(s));
}

void
mjson_free(MigrateJson *js)
{
	pg_free(js->data);
	js->data = NULL;
	js->len = js->cap = 0;
}
