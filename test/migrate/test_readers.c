/*-------------------------------------------------------------------------
 *
 * test_readers.c
 *	  Standalone test of vecq-migrate's readers of Chroma files:
 *	  src/migrate/chroma_pickle.c and src/migrate/chroma_hnsw.c.
 *
 *	test_readers [--fixtures DIR] [--write-seeds DIR] [GENERATED]
 *
 * Checks:
 *	- the two real index_metadata.pickle fixtures (Chroma 0.4 object form,
 *	  Chroma 1.x dict form) give the counts, fields and first and last
 *	  entries that Python's pickle module finds in them, and every prefix
 *	  of them is refused;
 *	- pickles built here byte by byte: protocols 2 to 5, dict and object
 *	  form, None fields, the memo and integer variants; and malformed or
 *	  hostile ones, each refused with the expected message and offset;
 *	- the fixtures' header.bin files, corrupted headers, and a small index
 *	  built here (delete mark, unaligned vectors, bounds), also through
 *	  chroma_hnsw_open on temporary directories;
 *	- with GENERATED (a directory made by make_hnsw_dir.mjs): for each of
 *	  its collections, found through chroma.sqlite3's segments table, every
 *	  element of the flushed index against expected.json: a non-deleted
 *	  element's label maps in index_metadata.pickle to the id whose vector
 *	  it holds (for cosine: that vector over its norm, with the norm in
 *	  length.bin); a deleted one is absent from the pickle.
 *
 * DIR defaults to $VECQ_CHROMA_FIXTURES or /work/shared/fixtures/chroma.
 * --write-seeds writes the valid pickles built here into DIR (the fuzz
 * seed corpus) and exits.
 *
 * One line per failed check; the last line is "N passed, N failed".  Exit
 * status 0 if nothing failed, 1 otherwise.
 *
 * test/migrate/test_readers.c
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "chroma_hnsw.h"
#include "chroma_pickle.h"

#define CANADA_SEGMENT "Canada_Immigration_LLM/canadiangovernment/07721914-534d-4a23-9003-9b3f00149d03"
#define CANADA_EMPTY_SEGMENT "Canada_Immigration_LLM/3db2e1ba-a770-4c90-afcd-d236510f1019"
#define SUPPORT_SEGMENT "customer_support_system-33d4583/3d81e605-c8cc-45d8-8af0-b7f7b59701e4"

static int	passed;
static int	failed;

static void
check(bool ok, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		passed++;
		return;
	}
	failed++;
	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* read a whole file; NULL (and *len 0) if it cannot be read */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	size_t		n = 0;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;)
	{
		size_t		got;

		if (n == cap)
		{
			uint8_t    *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL)
			{
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

static bool
write_file(const char *path, const void *data, size_t len)
{
	FILE	   *f = fopen(path, "wb");
	bool		ok;

	if (f == NULL)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

/* ---- building pickles -------------------------------------------------- */

typedef struct Buf
{
	uint8_t		data[4096];
	size_t		len;
} Buf;

static void
put(Buf *b, const void *p, size_t n)
{
	if (b->len + n > sizeof(b->data))
	{
		fprintf(stderr, "test pickle too long\n");
		exit(2);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
op(Buf *b, int c)
{
	uint8_t		x = (uint8_t) c;

	put(b, &x, 1);
}

static void
le(Buf *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		op(b, (int) ((v >> (8 * i)) & 0xff));
}

/* SHORT_BINUNICODE if short and protocol >= 4, else BINUNICODE */
static void
ustr(Buf *b, int proto, const char *s)
{
	size_t		n = strlen(s);

	if (proto >= 4 && n < 256)
	{
		op(b, 0x8c);
		le(b, n, 1);
	}
	else
	{
		op(b, 'X');
		le(b, n, 4);
	}
	put(b, s, n);
}

/* smallest BININT* form of v >= 0 */
static void
uint_op(Buf *b, uint64_t v)
{
	if (v < 256)
	{
		op(b, 'K');
		le(b, v, 1);
	}
	else if (v < 65536)
	{
		op(b, 'M');
		le(b, v, 2);
	}
	else if (v < 0x80000000u)
	{
		op(b, 'J');
		le(b, v, 4);
	}
	else
	{
		op(b, 0x8a);
		op(b, 8);
		le(b, v, 8);
	}
}

static const char *const small_ids[] = {"alpha", "b\xc3\xa9ta", "gamma-3"};
static const uint64_t small_labels[] = {1, 2, 300000};

/*
 * A three-entry label map as Python writes it: the object form through
 * GLOBAL (protocol 2, 3) or STACK_GLOBAL (4, 5) and NEWOBJ, ids memoized
 * and fetched again for label_to_id; or, with as_dict, the plain dict
 * form of Chroma 1.x with None for dimensionality and max_seq_id.
 */
static void
small_pickle(Buf *b, int proto, bool as_dict)
{
	int			memo = 0;
	int			first_id_memo;

	b->len = 0;
	op(b, 0x80);
	op(b, proto);
	if (proto >= 4)
	{
		/* one frame around the rest, its length patched in at the end */
		op(b, 0x95);
		le(b, 0, 8);
	}
	if (!as_dict)
	{
		if (proto >= 4)
		{
			ustr(b, proto, "chromadb.segment.impl.vector.local_persistent_hnsw");
			op(b, 0x94);
			ustr(b, proto, "PersistentData");
			op(b, 0x94);
			op(b, 0x93);
			op(b, 0x94);
			memo = 3;
		}
		else
		{
			const char *g = "cchromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\n";

			put(b, g, strlen(g));
			op(b, 'q');
			op(b, memo++);
		}
		op(b, ')');
		op(b, 0x81);
		op(b, 'q');
		op(b, memo++);
	}
	op(b, '}');
	op(b, 'q');
	op(b, memo++);
	op(b, '(');
	ustr(b, proto, "dimensionality");
	if (as_dict)
		op(b, 'N');
	else
		uint_op(b, 16);
	ustr(b, proto, "total_elements_added");
	uint_op(b, 3);
	ustr(b, proto, "max_seq_id");
	if (as_dict)
		op(b, 'N');
	else
	{
		/* LONG1 of 5 bytes */
		op(b, 0x8a);
		op(b, 5);
		le(b, 0x0123456789ULL, 5);
	}
	ustr(b, proto, "id_to_label");
	op(b, '}');
	op(b, '(');
	first_id_memo = memo;
	for (int i = 0; i < 3; i++)
	{
		ustr(b, proto, small_ids[i]);
		op(b, 'q');
		op(b, memo++);
		uint_op(b, small_labels[i]);
	}
	op(b, 'u');
	ustr(b, proto, "label_to_id");
	op(b, '}');
	op(b, '(');
	for (int i = 2; i >= 0; i--)
	{
		uint_op(b, small_labels[i]);
		op(b, 'h');
		op(b, first_id_memo + i);
	}
	op(b, 'u');
	ustr(b, proto, "id_to_seq_id");
	op(b, '}');
	op(b, 'u');
	if (!as_dict)
		op(b, 'b');
	op(b, '.');
	if (proto >= 4)
	{
		size_t		end = b->len;

		b->len = 3;
		le(b, end - 11, 8);
		b->len = end;
	}
}

/*
 * The same map through the other opcode variants: REDUCE instead of
 * NEWOBJ, DICT and SETITEM instead of SETITEMS, text PUT/GET, LONG_BINPUT,
 * LONG_BINGET and MEMOIZE, BINUNICODE8, LONG4, and an unknown key whose
 * value (a list of tuples, bools, bytes and a float) is ignored.
 */
static void
variant_pickle(Buf *b)
{
	b->len = 0;
	op(b, 0x80);
	op(b, 5);
	ustr(b, 5, "chromadb.segment.impl.vector.local_persistent_hnsw");
	ustr(b, 5, "PersistentData");
	op(b, 0x93);
	op(b, ')');
	op(b, 'R');
	op(b, '(');
	ustr(b, 5, "total_elements_added");
	op(b, 0x8b);				/* LONG4 of 2 bytes */
	le(b, 2, 4);
	le(b, 3, 2);
	ustr(b, 5, "dimensionality");
	op(b, 'N');
	ustr(b, 5, "id_to_label");
	op(b, '}');
	op(b, 'r');					/* LONG_BINPUT 7 */
	le(b, 7, 4);
	op(b, 0x8d);				/* BINUNICODE8 */
	le(b, strlen(small_ids[0]), 8);
	put(b, small_ids[0], strlen(small_ids[0]));
	put(b, "p0\n", 3);
	uint_op(b, small_labels[0]);
	op(b, 's');
	ustr(b, 5, small_ids[1]);
	op(b, 0x94);				/* MEMOIZE: slot 2 (two slots are used) */
	uint_op(b, small_labels[1]);
	op(b, 's');
	ustr(b, 5, small_ids[2]);
	op(b, 'q');
	op(b, 3);
	uint_op(b, small_labels[2]);
	op(b, 's');
	ustr(b, 5, "label_to_id");
	op(b, '(');
	uint_op(b, small_labels[0]);
	put(b, "g0\n", 3);
	uint_op(b, small_labels[1]);
	op(b, 'h');
	op(b, 2);
	uint_op(b, small_labels[2]);
	op(b, 'j');
	le(b, 3, 4);
	op(b, 'd');
	ustr(b, 5, "extra");
	op(b, ']');
	op(b, 'K');
	op(b, 1);
	op(b, 0x85);				/* TUPLE1 */
	op(b, 'a');
	op(b, '(');
	op(b, 0x88);
	op(b, 0x89);
	op(b, 0x86);				/* TUPLE2 */
	op(b, 'N');
	op(b, 'N');
	op(b, 'N');
	op(b, 0x87);				/* TUPLE3 */
	op(b, '(');
	op(b, 'C');
	op(b, 2);
	put(b, "\0\xff", 2);
	op(b, 'B');
	le(b, 0, 4);
	op(b, 0x8e);
	le(b, 1, 8);
	op(b, 'x');
	op(b, 't');
	op(b, 'G');
	put(b, "\x3f\xf8\0\0\0\0\0\0", 8);	/* 1.5 */
	op(b, 'e');
	op(b, 'd');
	op(b, 'b');
	op(b, '.');
}

/* ---- pickle tests ------------------------------------------------------- */

static void
test_fixture_pickle(const char *fixtures, const char *segment,
					size_t count, int64_t dim, int64_t max_seq, int64_t total,
					int is_object, int protocol,
					const char *first_id, uint64_t first_label,
					const char *last_id, uint64_t last_label)
{
	char		path[4096];
	uint8_t    *data;
	size_t		len;
	ChromaLabelMap map;
	char		err[256];
	int			rc;
	bool		all_labels = true;
	bool		prefixes_fail = true;

	snprintf(path, sizeof(path), "%s/%s/index_metadata.pickle", fixtures, segment);
	data = read_file(path, &len);
	check(data != NULL, "%s: cannot read", path);
	if (data == NULL)
		return;
	rc = chroma_pickle_label_map(data, len, &map, err, sizeof(err));
	check(rc == 0, "%s: %s", segment, err);
	if (rc == 0)
	{
		uint8_t    *seen = calloc(count + 1, 1);

		check(map.count == count, "%s: count %zu, expected %zu", segment, map.count, count);
		check(map.dimensionality == dim && map.max_seq_id == max_seq &&
			  map.total_elements_added == total,
			  "%s: dimensionality %lld max_seq_id %lld total %lld", segment,
			  (long long) map.dimensionality, (long long) map.max_seq_id,
			  (long long) map.total_elements_added);
		check(map.is_object == is_object && map.protocol == protocol,
			  "%s: is_object %d protocol %d", segment, map.is_object, map.protocol);
		check(map.count == count &&
			  strcmp(map.ids[0], first_id) == 0 && map.labels[0] == first_label &&
			  strcmp(map.ids[count - 1], last_id) == 0 &&
			  map.labels[count - 1] == last_label,
			  "%s: first or last entry differs", segment);
		/* labels are exactly 1..count in both fixtures */
		for (size_t i = 0; i < map.count; i++)
		{
			if (map.labels[i] < 1 || map.labels[i] > count || seen[map.labels[i]] ||
				strlen(map.ids[i]) != 36)
				all_labels = false;
			else
				seen[map.labels[i]] = 1;
		}
		check(all_labels, "%s: labels are not 1..%zu or ids not UUIDs", segment, count);
		free(seen);
		chroma_label_map_free(&map);
	}
	/* every proper prefix lacks STOP or more */
	for (size_t n = 0; n < len; n += (n < 300 ? 1 : 997))
	{
		if (chroma_pickle_label_map(data, n, &map, err, sizeof(err)) == 0)
		{
			prefixes_fail = false;
			chroma_label_map_free(&map);
		}
	}
	if (chroma_pickle_label_map(data, len - 1, &map, err, sizeof(err)) == 0)
		prefixes_fail = false;
	check(prefixes_fail, "%s: a prefix was accepted", segment);
	free(data);
}

static void
expect_small(const Buf *b, const char *what, int protocol, bool as_dict,
			 bool with_values)
{
	ChromaLabelMap map;
	char		err[256];
	int			rc = chroma_pickle_label_map(b->data, b->len, &map, err, sizeof(err));
	bool		ok;

	check(rc == 0, "%s: %s", what, err);
	if (rc != 0)
		return;
	ok = map.count == 3 && map.protocol == protocol && map.is_object == !as_dict;
	for (size_t i = 0; ok && i < 3; i++)
		ok = strcmp(map.ids[i], small_ids[i]) == 0 && map.labels[i] == small_labels[i];
	check(ok, "%s: wrong entries", what);
	if (with_values)
		check(as_dict ? (map.dimensionality == -1 && map.max_seq_id == -1 &&
						 map.total_elements_added == 3)
			  : (map.dimensionality == 16 && map.max_seq_id == 0x0123456789LL &&
				 map.total_elements_added == 3),
			  "%s: dimensionality %lld max_seq_id %lld total %lld", what,
			  (long long) map.dimensionality, (long long) map.max_seq_id,
			  (long long) map.total_elements_added);
	chroma_label_map_free(&map);
}

static void
test_small_pickles(const char *seed_dir)
{
	Buf			b;
	char		what[64];
	char		path[4096];

	for (int proto = 2; proto <= 5; proto++)
	{
		for (int d = 0; d <= 1; d++)
		{
			small_pickle(&b, proto, d);
			snprintf(what, sizeof(what), "protocol %d %s", proto, d ? "dict" : "object");
			if (seed_dir != NULL)
			{
				snprintf(path, sizeof(path), "%s/small_p%d_%s", seed_dir, proto,
						 d ? "dict" : "object");
				if (!write_file(path, b.data, b.len))
					check(false, "cannot write %s", path);
				continue;
			}
			expect_small(&b, what, proto, d, true);
		}
	}
	variant_pickle(&b);
	if (seed_dir != NULL)
	{
		snprintf(path, sizeof(path), "%s/variants_p5", seed_dir);
		if (!write_file(path, b.data, b.len))
			check(false, "cannot write %s", path);
		return;
	}
	{
		ChromaLabelMap map;
		char		err[256];
		int			rc = chroma_pickle_label_map(b.data, b.len, &map, err, sizeof(err));

		check(rc == 0, "variants: %s", err);
		if (rc == 0)
		{
			check(map.count == 3 && map.total_elements_added == 3 &&
				  map.dimensionality == -1 && map.max_seq_id == -1 &&
				  strcmp(map.ids[0], small_ids[0]) == 0 && map.labels[2] == 300000,
				  "variants: wrong values");
			chroma_label_map_free(&map);
		}
	}
}

/* a pickle from raw bytes must fail with msg in its message */
static void
expect_reject(const char *what, const void *data, size_t len, const char *msg)
{
	ChromaLabelMap map;
	char		err[256];
	int			rc = chroma_pickle_label_map(data, len, &map, err, sizeof(err));

	if (rc == 0)
		chroma_label_map_free(&map);
	check(rc == -1 && strstr(err, msg) != NULL && map.count == 0 && map.ids == NULL,
		  "%s: got rc %d \"%s\", expected \"%s\"", what, rc, rc ? err : "", msg);
}

#define REJECT(what, lit, msg) expect_reject(what, lit, sizeof(lit) - 1, msg)

/* a dict pickle (protocol 3) of the given id_to_label/label_to_id items */
static void
dict_pickle(Buf *b, const char *id_to_label_items, size_t n1,
			const char *label_to_id_items, size_t n2)
{
	b->len = 0;
	put(b, "\x80\x03}(", 4);
	ustr(b, 3, "id_to_label");
	put(b, "}(", 2);
	put(b, id_to_label_items, n1);
	op(b, 'u');
	if (label_to_id_items != NULL)
	{
		ustr(b, 3, "label_to_id");
		put(b, "}(", 2);
		put(b, label_to_id_items, n2);
		op(b, 'u');
	}
	put(b, "u.", 2);
}

#define DICT_REJECT(what, items1, items2, msg) \
	do { \
		Buf			b_; \
		dict_pickle(&b_, items1, sizeof(items1) - 1, items2, \
					items2 ? sizeof(items2) - 1 : 0); \
		expect_reject(what, b_.data, b_.len, msg); \
	} while (0)

static void
test_bad_pickles(void)
{
	Buf			b;
	char		deep[2 + 65];

	REJECT("empty", "", "no PROTO) at byte 0");
	REJECT("protocol 1", "\x80\x01}.", "unsupported pickle protocol 1 at byte 1");
	REJECT("protocol 6", "\x80\x06}.", "unsupported pickle protocol 6");
	REJECT("protocol 0 text", "(dp0\n.", "no PROTO");
	REJECT("INT opcode", "\x80\x02I1\n.", "unsupported pickle opcode 0x49 ('I') at byte 2");
	REJECT("POP opcode", "\x80\x02}0.", "unsupported pickle opcode 0x30 ('0') at byte 3");
	REJECT("second PROTO", "\x80\x02\x80\x02}.", "PROTO after the start at byte 2");
	REJECT("no STOP", "\x80\x02}", "pickle ends without STOP at byte 3");
	REJECT("trailing bytes", "\x80\x02}.x", "1 bytes after STOP at byte 4");
	REJECT("two values at STOP", "\x80\x02}}.", "STOP with 2 values");
	REJECT("mark at STOP", "\x80\x02(}.", "STOP with 1 values and 1 marks");
	REJECT("global os.system", "\x80\x02\x63os\nsystem\n)R.",
		   "global os.system is not allowed at byte 2");
	REJECT("global builtins.dict",
		   "\x80\x04\x8c\x08\x62uiltins\x8c\x04\x64ict\x93.",
		   "global builtins.dict is not allowed at byte 18");
	REJECT("global unterminated", "\x80\x02\x63os\nsystem", "unterminated argument");
	REJECT("STACK_GLOBAL of ints", "\x80\x04K\x01K\x02\x93.", "STACK_GLOBAL needs two strings");
	REJECT("string overrun", "\x80\x03X\xff\x00\x00\x00" "abc.", "string of 255 bytes overruns the input at byte 2");
	REJECT("BINUNICODE8 huge", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", "overruns");
	REJECT("truncated BININT", "\x80\x02J\x01\x02", "truncated argument of opcode 0x4a at byte 2");
	REJECT("bad UTF-8", "\x80\x03X\x02\x00\x00\x00\xc3\x28.", "invalid UTF-8 in a string at byte 7");
	REJECT("UTF-8 surrogate", "\x80\x03X\x03\x00\x00\x00\xed\xa0\x80.", "invalid UTF-8");
	REJECT("UTF-8 overlong", "\x80\x03X\x02\x00\x00\x00\xc0\x80.", "invalid UTF-8");
	REJECT("LONG1 of 9 bytes", "\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.",
		   "integer of 9 bytes exceeds 64 bits at byte 2");
	REJECT("LONG4 negative length", "\x80\x02\x8b\xff\xff\xff\xff.", "negative LONG4 length");
	REJECT("FRAME overrun", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}.",
		   "frame of 16 bytes overruns the input at byte 2");
	REJECT("empty memo", "\x80\x02h\x05.", "memo index 5 is empty at byte 2");
	REJECT("memo index too large", "\x80\x02}r\x00\x00\x00\x01.", "memo index 16777216 out of range");
	REJECT("PUT on empty stack", "\x80\x02q\x00}.", "stack underflow at byte 2");
	REJECT("bad text PUT", "\x80\x02}p1x\n.", "bad memo index");
	REJECT("SETITEM underflow", "\x80\x02}K\x01s.", "stack underflow at byte 5");
	REJECT("SETITEM into a list", "\x80\x02]K\x01K\x02s.", "cannot add items to type list");
	REJECT("APPEND into a dict", "\x80\x02}K\x01\x61.", "cannot add items to type dict");
	REJECT("SETITEMS without MARK", "\x80\x02}K\x01K\x02u.", "no MARK on the stack");
	REJECT("SETITEMS odd", "\x80\x02}(K\x01u.", "odd number of items for a dict");
	REJECT("SETITEMS below mark", "\x80\x02}((K\x01K\x01u.", "stack underflow at byte 9");
	REJECT("pop across MARK", "\x80\x02}(K\x01s.", "stack underflow");
	REJECT("TUPLE2 underflow", "\x80\x02K\x01\x86.", "stack underflow");
	REJECT("NEWOBJ of a dict", "\x80\x02})\x81.", "cannot call type dict at byte 4");
	REJECT("NEWOBJ with arguments",
		   "\x80\x02\x63\x63hromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\nK\x01\x85\x81.",
		   "PersistentData takes no arguments");
	REJECT("BUILD on a dict", "\x80\x02}}b.", "BUILD on type dict at byte 4");
	REJECT("BUILD with a list",
		   "\x80\x02\x63\x63hromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\n)\x81]b.",
		   "BUILD state of type list, not dict");
	REJECT("BUILD twice",
		   "\x80\x02\x63\x63hromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\n)\x81}b}b.",
		   "second BUILD of one object");
	REJECT("object without state",
		   "\x80\x02\x63\x63hromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\n)\x81.",
		   "PersistentData object has no attributes at byte 70");
	REJECT("root is a list", "\x80\x02].", "pickle holds type list, not dict or PersistentData at byte 2");
	REJECT("root is the class",
		   "\x80\x02\x63\x63hromadb.segment.impl.vector.local_persistent_hnsw\nPersistentData\n.",
		   "pickle holds type class");
	REJECT("no id_to_label", "\x80\x02}.", "no id_to_label at byte 2");
	REJECT("id_to_label a list", "\x80\x03}X\x0b\x00\x00\x00id_to_label]s.",
		   "id_to_label has type list, not dict at byte 19");
	REJECT("dimensionality a float",
		   "\x80\x03}X\x0e\x00\x00\x00\x64imensionalityG\x3f\xf0\0\0\0\0\0\0s.",
		   "dimensionality has type float, not int");
	REJECT("negative max_seq_id", "\x80\x03}X\x0a\x00\x00\x00max_seq_idJ\xff\xff\xff\xffs.",
		   "max_seq_id is negative at byte 18");
	REJECT("total_elements_added None",
		   "\x80\x03}X\x14\x00\x00\x00total_elements_addedNs.",
		   "total_elements_added has type None, not int");

	DICT_REJECT("int id", "K\x01K\x01", NULL, "id_to_label holds an id of type int, not str");
	DICT_REJECT("bytes id", "C\x01xK\x01", NULL, "id_to_label holds an id of type bytes");
	DICT_REJECT("negative label", "X\x01\x00\x00\x00xJ\xfe\xff\xff\xff", NULL,
				"id_to_label holds a label that is not an int >= 0");
	DICT_REJECT("bool label", "X\x01\x00\x00\x00x\x88", NULL, "not an int >= 0");
	DICT_REJECT("NUL in id", "X\x03\x00\x00\x00\x61\0bK\x01", NULL, "id with a NUL byte");
	DICT_REJECT("id twice", "X\x01\x00\x00\x00xK\x01X\x01\x00\x00\x00xK\x02", NULL,
				"id_to_label has an id twice");
	DICT_REJECT("label twice", "X\x01\x00\x00\x00xK\x01X\x01\x00\x00\x00yK\x01", NULL,
				"id_to_label has label 1 twice");
	DICT_REJECT("label_to_id mismatch", "X\x01\x00\x00\x00xK\x01",
				"K\x01X\x01\x00\x00\x00y",
				"label_to_id disagrees with id_to_label on label 1");
	DICT_REJECT("label_to_id other label", "X\x01\x00\x00\x00xK\x01",
				"K\x02X\x01\x00\x00\x00x", "label_to_id disagrees");
	DICT_REJECT("label_to_id longer", "X\x01\x00\x00\x00xK\x01",
				"K\x01X\x01\x00\x00\x00xK\x02X\x01\x00\x00\x00y",
				"label_to_id has 2 entries, id_to_label 1");
	DICT_REJECT("label_to_id label twice",
				"X\x01\x00\x00\x00xK\x01X\x01\x00\x00\x00yK\x02",
				"K\x01X\x01\x00\x00\x00xK\x01X\x01\x00\x00\x00y",
				"label_to_id has label 1 twice");
	DICT_REJECT("label_to_id str label", "X\x01\x00\x00\x00xK\x01",
				"X\x01\x00\x00\x00xX\x01\x00\x00\x00x",
				"label_to_id holds a label that is not an int >= 0");

	/* MARK nesting is bounded */
	memcpy(deep, "\x80\x02", 2);
	memset(deep + 2, '(', sizeof(deep) - 2);
	expect_reject("MARKs nested 65 deep", deep, sizeof(deep), "MARKs nested deeper than 64 at byte 66");

	/* an empty id_to_label is a valid (empty) map */
	dict_pickle(&b, "", 0, "", 0);
	{
		ChromaLabelMap map;
		char		err[256];
		int			rc = chroma_pickle_label_map(b.data, b.len, &map, err, sizeof(err));

		check(rc == 0 && map.count == 0 && map.ids == NULL, "empty maps: %s", err);
		chroma_label_map_free(&map);
	}

	/* a dict containing itself is data, not a loop */
	REJECT("self-containing dict", "\x80\x02}q\x00(K\x01h\x00u.", "no id_to_label");

	/* a message is cut to the buffer, and NULL err is allowed */
	{
		ChromaLabelMap map;
		char		err[8];

		check(chroma_pickle_label_map((const uint8_t *) "", 0, &map, err, sizeof(err)) == -1 &&
			  strlen(err) == 7, "short err buffer");
		check(chroma_pickle_label_map(NULL, 5, &map, NULL, 0) == -1, "NULL data and err");
	}
}

/* ---- hnsw tests --------------------------------------------------------- */

/* header.bin image of an index of dim floats, maxM0 = 2 M */
static void
make_header(uint8_t *h, uint64_t m, int dim, uint64_t max_elements,
			uint64_t count, int32_t maxlevel, uint32_t enterpoint)
{
	Buf			b;
	double		mult = 1 / log((double) m);
	uint64_t	bits;
	uint64_t	offset_data = 4 + 4 * 2 * m;

	memcpy(&bits, &mult, sizeof(bits));
	b.len = 0;
	le(&b, 1, 4);
	le(&b, 0, 8);
	le(&b, max_elements, 8);
	le(&b, count, 8);
	le(&b, offset_data + 4 * dim + 8, 8);
	le(&b, offset_data + 4 * dim, 8);
	le(&b, offset_data, 8);
	le(&b, (uint32_t) maxlevel, 4);
	le(&b, enterpoint, 4);
	le(&b, m, 8);
	le(&b, 2 * m, 8);
	le(&b, m, 8);
	le(&b, bits, 8);
	le(&b, 100, 8);
	memcpy(h, b.data, CHROMA_HNSW_HEADER_SIZE);
}

static void
test_fixture_header(const char *fixtures, const char *segment, uint64_t count,
					int dim, uint64_t max_elements, int32_t maxlevel,
					uint32_t enterpoint, bool has_level0)
{
	char		path[4096];
	uint8_t    *data;
	size_t		len;
	ChromaHnswIndex idx;
	char		err[512];
	int			rc;

	snprintf(path, sizeof(path), "%s/%s/header.bin", fixtures, segment);
	data = read_file(path, &len);
	check(data != NULL, "%s: cannot read", path);
	if (data == NULL)
		return;
	rc = chroma_hnsw_parse_header(data, len, &idx, err, sizeof(err));
	check(rc == 0, "%s: %s", path, err);
	check(rc == 0 && idx.cur_element_count == count && idx.dim == dim &&
		  idx.max_elements == max_elements && idx.maxlevel == maxlevel &&
		  idx.enterpoint == enterpoint && idx.M == 16 && idx.maxM == 16 &&
		  idx.maxM0 == 32 && idx.ef_construction == 100 &&
		  idx.offset_data == 132 && idx.size_data_per_element == 132 + 4 * (uint64_t) dim + 8 &&
		  fabs(idx.mult - 1 / log(16.0)) < 1e-12,
		  "%s: count %llu dim %d max %llu maxlevel %d ep %u", segment,
		  (unsigned long long) idx.cur_element_count, idx.dim,
		  (unsigned long long) idx.max_elements, (int) idx.maxlevel,
		  (unsigned) idx.enterpoint);
	free(data);

	/* data_level0.bin is absent from these snapshots */
	snprintf(path, sizeof(path), "%s/%s", fixtures, segment);
	rc = chroma_hnsw_open(path, &idx, err, sizeof(err));
	if (has_level0)
		check(rc == 0, "%s: open: %s", segment, err);
	else if (count > 0)
		check(rc == -1 && strstr(err, "data_level0.bin: No such file") != NULL,
			  "%s: open: rc %d %s", segment, rc, err);
	else
		check(rc == 0 && idx.level0 == NULL, "%s: open empty: %s", segment, err);
	if (rc == 0)
		chroma_hnsw_close(&idx);
}

/*
 * link_lists.bin of the support fixture (1119 elements, maxlevel 3, entry
 * 220): the levels, a list read independently (element 7's level 1: 6
 * neighbours, the first 1050), and damaged copies refused.
 */
static void
test_fixture_links(const char *fixtures)
{
	char		path[4096];
	uint8_t    *hdr;
	uint8_t    *links;
	uint8_t    *bad;
	size_t		hlen;
	size_t		llen;
	ChromaHnswIndex idx;
	char		err[512];
	int			levels[4] = {0, 0, 0, 0};
	uint32_t	ids[64];
	uint32_t	n;
	int			rc;
	size_t		at7 = 0;

	snprintf(path, sizeof(path), "%s/%s/header.bin", fixtures, SUPPORT_SEGMENT);
	hdr = read_file(path, &hlen);
	snprintf(path, sizeof(path), "%s/%s/link_lists.bin", fixtures, SUPPORT_SEGMENT);
	links = read_file(path, &llen);
	check(hdr != NULL && links != NULL && llen == 9712, "support link_lists: cannot read");
	if (hdr == NULL || links == NULL)
		return;
	rc = chroma_hnsw_parse_header(hdr, hlen, &idx, err, sizeof(err));
	check(rc == 0, "support header: %s", err);
	rc = chroma_hnsw_index_links(&idx, links, llen, err, sizeof(err));
	check(rc == 0, "support link_lists: %s", err);
	if (rc != 0)
		return;
	for (uint64_t i = 0; i < idx.cur_element_count; i++)
	{
		int			l = chroma_hnsw_level(&idx, i, err, sizeof(err));

		if (l >= 0 && l <= 3)
			levels[l]++;
	}
	check(levels[0] == 1047 && levels[1] == 68 && levels[2] == 3 && levels[3] == 1,
		  "support levels %d/%d/%d/%d, expected 1047/68/3/1",
		  levels[0], levels[1], levels[2], levels[3]);
	check(chroma_hnsw_level(&idx, 220, err, sizeof(err)) == 3, "entry 220 is not on level 3");
	rc = chroma_hnsw_neighbors(&idx, 7, 1, ids, 64, &n, err, sizeof(err));
	check(rc == 0 && n == 6 && ids[0] == 1050, "element 7 level 1: rc %d n %u first %u (%s)",
		  rc, (unsigned) n, rc == 0 ? (unsigned) ids[0] : 0, rc ? err : "");
	rc = chroma_hnsw_neighbors(&idx, 7, 2, ids, 64, &n, err, sizeof(err));
	check(rc == -1 && strstr(err, "has no level 2") != NULL, "element 7 level 2: %s", err);
	rc = chroma_hnsw_neighbors(&idx, 7, 1, ids, 3, &n, err, sizeof(err));
	check(rc == -1 && strstr(err, "more than 3 fit") != NULL, "element 7 into 3 slots: %s", err);
	/* data_level0.bin is absent from this snapshot: level 0 is refused */
	rc = chroma_hnsw_neighbors(&idx, 7, 0, ids, 64, &n, err, sizeof(err));
	check(rc == -1 && strstr(err, "beyond data_level0") != NULL, "element 7 level 0: %s", err);
	free(idx.links_at);
	idx.links_at = NULL;

	/* where element 7's size field is: after 7 empty ones */
	at7 = 7 * 4;
	bad = malloc(llen);
	memcpy(bad, links, llen);
	/* the first id of its level-1 list: 5000 */
	bad[at7 + 4 + 4] = 5000 & 0xff;
	bad[at7 + 4 + 5] = 5000 >> 8;
	bad[at7 + 4 + 6] = 0;
	bad[at7 + 4 + 7] = 0;
	rc = chroma_hnsw_index_links(&idx, bad, llen, err, sizeof(err));
	check(rc == 0, "id out of range indexes: %s", err);
	rc = chroma_hnsw_neighbors(&idx, 7, 1, ids, 64, &n, err, sizeof(err));
	check(rc == -1 && strstr(err, "links to element 5000") != NULL, "id out of range: %s", err);
	free(idx.links_at);
	idx.links_at = NULL;

	/* the last element has no upper levels: its size field is cut */
	rc = chroma_hnsw_index_links(&idx, links, llen - 1, err, sizeof(err));
	check(rc == -1 && strstr(err, "ends at element 1118 of 1119") != NULL, "truncated by 1: %s", err);
	bad = realloc(bad, llen + 3);
	memcpy(bad, links, llen);
	memset(bad + llen, 0, 3);
	rc = chroma_hnsw_index_links(&idx, bad, llen + 3, err, sizeof(err));
	check(rc == -1 && strstr(err, "3 bytes after the last element") != NULL, "3 trailing bytes: %s", err);
	rc = chroma_hnsw_index_links(&idx, links, 4 * 100, err, sizeof(err));
	check(rc == -1 && strstr(err, "400 bytes cannot hold the counts of 1119 elements") != NULL,
		  "truncated to 400 bytes: %s", err);
	memcpy(bad, links, llen);
	bad[at7] = 67;				/* a size that is not whole blocks */
	rc = chroma_hnsw_index_links(&idx, bad, llen, err, sizeof(err));
	check(rc == -1 && strstr(err, "not a multiple of 68") != NULL, "size 67: %s", err);
	memcpy(bad, links, llen);
	bad[at7] = (uint8_t) (68 * 3);	/* level 3 where the data has 1 */
	rc = chroma_hnsw_index_links(&idx, bad, llen, err, sizeof(err));
	check(rc == -1, "level 3 size for a level-1 element: accepted");
	idx.maxlevel = 0;
	rc = chroma_hnsw_index_links(&idx, links, llen, err, sizeof(err));
	check(rc == -1 && strstr(err, "but maxlevel is 0") != NULL, "maxlevel 0: %s", err);
	free(bad);
	free(links);
	free(hdr);
}

/* a corrupted copy of a valid header must be refused with msg */
static void
expect_bad_header(const char *what, const uint8_t *good, size_t at,
				  uint64_t value, int width, const char *msg)
{
	uint8_t		h[CHROMA_HNSW_HEADER_SIZE];
	ChromaHnswIndex idx;
	char		err[256];
	Buf			b;
	int			rc;

	memcpy(h, good, sizeof(h));
	b.len = 0;
	le(&b, value, width);
	memcpy(h + at, b.data, width);
	rc = chroma_hnsw_parse_header(h, sizeof(h), &idx, err, sizeof(err));
	check(rc == -1 && strstr(err, msg) != NULL, "%s: rc %d \"%s\", expected \"%s\"",
		  what, rc, rc ? err : "", msg);
}

static void
test_headers(void)
{
	uint8_t		h[CHROMA_HNSW_HEADER_SIZE];
	ChromaHnswIndex idx;
	char		err[256];
	uint64_t	nan_bits;
	double		nan_value = NAN;

	make_header(h, 16, 16, 100, 10, 1, 3);
	check(chroma_hnsw_parse_header(h, sizeof(h), &idx, err, sizeof(err)) == 0 &&
		  idx.dim == 16 && idx.level0 == NULL, "built header: %s", err);
	check(chroma_hnsw_parse_header(h, 99, &idx, err, sizeof(err)) == -1 &&
		  strcmp(err, "header is 99 bytes, expected 100") == 0, "short header: %s", err);
	check(chroma_hnsw_parse_header(NULL, 100, &idx, err, sizeof(err)) == -1,
		  "NULL header");

	expect_bad_header("version 2", h, 0, 2, 4, "persistence version 2, expected 1");
	expect_bad_header("offsetLevel0", h, 4, 8, 8, "offsetLevel0 8, expected 0");
	expect_bad_header("max_elements", h, 12, 5, 8, "cur_element_count 10 exceeds max_elements 5");
	expect_bad_header("max_elements 2^32", h, 12, 1ULL << 32, 8, "exceeds 2^32 - 1");
	expect_bad_header("size_data_per_element", h, 28, 1000, 8,
					  "size_data_per_element 1000, expected label_offset + 8 = 204");
	expect_bad_header("label_offset odd", h, 36, 199, 8, "label_offset 199 does not leave");
	expect_bad_header("label_offset zero dim", h, 36, 132, 8, "label_offset 132 does not leave");
	expect_bad_header("label_offset huge", h, 36, 132 + 4 * 65537, 8, "does not leave 1 to 65536 floats");
	expect_bad_header("offset_data", h, 44, 128, 8, "offset_data 128, expected 132 for maxM0 32");
	expect_bad_header("maxlevel -1", h, 52, UINT32_MAX, 4, "maxlevel -1, enterpoint 3 with 10 elements");
	expect_bad_header("enterpoint", h, 56, 10, 4, "maxlevel 1, enterpoint 10 with 10 elements");
	expect_bad_header("maxM 0", h, 60, 0, 8, "M 16, maxM 0, maxM0 32 out of range");
	expect_bad_header("maxM0 huge", h, 68, 70000, 8, "out of range");
	expect_bad_header("M 0", h, 76, 0, 8, "out of range");
	memcpy(&nan_bits, &nan_value, sizeof(nan_bits));
	expect_bad_header("mult NaN", h, 84, nan_bits, 8, "mult nan is not positive");
	expect_bad_header("mult 0", h, 84, 0, 8, "mult 0 is not positive");
	expect_bad_header("ef_construction 0", h, 92, 0, 8, "ef_construction is 0");

	make_header(h, 16, 16, 100, 0, -1, UINT32_MAX);
	check(chroma_hnsw_parse_header(h, sizeof(h), &idx, err, sizeof(err)) == 0,
		  "empty header: %s", err);
	expect_bad_header("empty with maxlevel 0", h, 52, 0, 4, "empty index with maxlevel 0");
}

/*
 * A 3-element index of dim 3 and M 2 (so maxM0 4: 20 bytes of links,
 * 12 of vector, 8 of label) in memory, read at an odd address; element 1
 * carries the delete mark, element 2 claims 5 links.
 */
static void
test_small_index(void)
{
	uint8_t		h[CHROMA_HNSW_HEADER_SIZE];
	uint8_t		storage[1 + 3 * 40];
	uint8_t    *level0 = storage + 1;
	const float vecs[3][3] = {{1.5f, -2.0f, 0.25f}, {0.0f, 1e-30f, -7.0f}, {3, 2, 1}};
	ChromaHnswIndex idx;
	char		err[256];
	uint64_t	label;
	bool		deleted;
	float		v[3];
	Buf			b;
	int			rc;

	make_header(h, 2, 3, 3, 3, 0, 0);
	check(chroma_hnsw_parse_header(h, sizeof(h), &idx, err, sizeof(err)) == 0 &&
		  idx.size_data_per_element == 40, "small header: %s", err);
	for (int i = 0; i < 3; i++)
	{
		uint32_t	links = (i == 2) ? 5 : 1;

		b.len = 0;
		if (i == 1)
			links |= 1u << 16;	/* byte 2, bit 0: deleted */
		le(&b, links, 4);
		le(&b, (i + 1) % 3, 4);
		le(&b, 0, 4);
		le(&b, 0, 4);
		le(&b, 0, 4);
		for (int d = 0; d < 3; d++)
		{
			uint32_t	bits;

			memcpy(&bits, &vecs[i][d], 4);
			le(&b, bits, 4);
		}
		le(&b, 1000 + i, 8);
		memcpy(level0 + 40 * i, b.data, 40);
	}
	idx.level0 = level0;
	idx.level0_len = 3 * 40;

	rc = chroma_hnsw_element(&idx, 0, &label, &deleted, v, err, sizeof(err));
	check(rc == 0 && label == 1000 && !deleted && memcmp(v, vecs[0], sizeof(v)) == 0,
		  "small element 0: %s", err);
	rc = chroma_hnsw_element(&idx, 1, &label, &deleted, v, err, sizeof(err));
	check(rc == 0 && label == 1001 && deleted && memcmp(v, vecs[1], sizeof(v)) == 0,
		  "small element 1: %s", err);
	rc = chroma_hnsw_element(&idx, 2, &label, &deleted, NULL, err, sizeof(err));
	check(rc == -1 && strcmp(err, "element 2 has 5 level-0 links, maxM0 is 4") == 0,
		  "small element 2: %s", err);
	rc = chroma_hnsw_element(&idx, 3, &label, &deleted, v, err, sizeof(err));
	check(rc == -1 && strcmp(err, "element 3 out of range (3 elements)") == 0,
		  "small element 3: %s", err);
	idx.level0_len = 2 * 40 + 39;
	rc = chroma_hnsw_element(&idx, 2, &label, &deleted, v, err, sizeof(err));
	check(rc == -1 && strstr(err, "element 2 lies beyond data_level0 (119 bytes)") != NULL,
		  "small element 2 cut: %s", err);
	check(chroma_hnsw_length(&idx, 0, v, err, sizeof(err)) == -1 &&
		  strstr(err, "no length.bin entry") != NULL, "no lengths: %s", err);
}

/* chroma_hnsw_open on files written into a temporary directory */
static void
test_open(void)
{
	char		dir[] = "/tmp/vecq-readers.XXXXXX";
	char		path[4200];
	uint8_t		h[CHROMA_HNSW_HEADER_SIZE];
	uint8_t		level0[2 * 40];
	float		lengths[2] = {2.5f, 4.0f};
	ChromaHnswIndex idx;
	char		err[4200];
	float		len;
	uint64_t	label;
	bool		deleted;
	int			rc;

	if (mkdtemp(dir) == NULL)
	{
		check(false, "mkdtemp: %s", strerror(errno));
		return;
	}
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == -1 && strstr(err, "header.bin: No such file") != NULL, "no header: %s", err);

	make_header(h, 2, 3, 2, 2, 0, 1);
	snprintf(path, sizeof(path), "%s/header.bin", dir);
	write_file(path, h, sizeof(h) - 1);
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == -1 && strstr(err, "header.bin: header is 99 bytes") != NULL,
		  "short header.bin: %s", err);
	write_file(path, h, sizeof(h));
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == -1 && strstr(err, "data_level0.bin: No such file") != NULL,
		  "no data_level0.bin: %s", err);

	memset(level0, 0, sizeof(level0));
	level0[40 + 32] = 7;		/* label of element 1 */
	snprintf(path, sizeof(path), "%s/data_level0.bin", dir);
	write_file(path, level0, 79);
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == -1 && strstr(err, "data_level0.bin: 79 bytes, 2 elements of 40 bytes need 80") != NULL,
		  "short data_level0.bin: %s", err);
	write_file(path, level0, 80);
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == 0 && idx.level0_len == 80 && idx.lengths == NULL, "open: %s", err);
	if (rc == 0)
	{
		check(chroma_hnsw_element(&idx, 1, &label, &deleted, NULL, err, sizeof(err)) == 0 &&
			  label == 7 && !deleted, "open element 1: %s", err);
		chroma_hnsw_close(&idx);
	}
	snprintf(path, sizeof(path), "%s/length.bin", dir);
	write_file(path, lengths, sizeof(lengths));
	rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
	check(rc == 0 && idx.lengths_len == 8, "open with length.bin: %s", err);
	if (rc == 0)
	{
		check(chroma_hnsw_length(&idx, 1, &len, err, sizeof(err)) == 0 && len == 4.0f,
			  "length of element 1: %s", err);
		chroma_hnsw_close(&idx);
		check(idx.level0 == NULL && idx.map_level0 == NULL, "close clears");
	}

	snprintf(path, sizeof(path), "%s/data_level0.bin", dir);
	unlink(path);
	if (mkdir(path, 0700) == 0)
	{
		rc = chroma_hnsw_open(dir, &idx, err, sizeof(err));
		check(rc == -1 && strstr(err, "data_level0.bin: Invalid argument") != NULL,
			  "data_level0.bin a directory: %s", err);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/length.bin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/header.bin", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- a directory made by make_hnsw_dir.mjs ------------------------------ */

typedef struct Expected
{
	const char *id;
	float		vec[64];
	bool		deleted;
} Expected;

/* the vector segment of a collection, from chroma.sqlite3 */
static bool
vector_segment(sqlite3 *db, const char *collection, char *seg, size_t seglen)
{
	sqlite3_stmt *st;
	bool		found = false;

	if (sqlite3_prepare_v2(db,
						   "SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'",
						   -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
	{
		snprintf(seg, seglen, "%s", (const char *) sqlite3_column_text(st, 0));
		found = true;
	}
	sqlite3_finalize(st);
	return found;
}

/*
 * Check one collection's flushed index against the records the generator
 * added.  The generator adds from one client in order, so Chroma hands
 * out labels in the order of the adds: record k (id "id-k") has label
 * k + 1; a deleted record's element keeps its label and vector but
 * carries the delete mark and is gone from the pickle.
 */
static void
check_generated_collection(const char *persist, const char *segment,
						   const char *name, const char *space,
						   const Expected *recs, size_t nrecs, int dim)
{
	char		path[8400];
	char		err[8400];
	uint8_t    *data;
	size_t		len;
	ChromaLabelMap map;
	ChromaHnswIndex idx;
	size_t	   *by_label;
	uint8_t    *seen;
	bool		cosine = strcmp(space, "cosine") == 0;
	int			bad_label = 0,
				bad_deleted = 0,
				bad_pickle = 0,
				bad_vector = 0,
				bad_length = 0,
				ndeleted = 0,
				nlive = 0;
	char		first_bad[256] = "";

	snprintf(path, sizeof(path), "%s/%s/index_metadata.pickle", persist, segment);
	data = read_file(path, &len);
	check(data != NULL, "%s: cannot read %s", name, path);
	if (data == NULL)
		return;
	if (chroma_pickle_label_map(data, len, &map, err, sizeof(err)) < 0)
	{
		check(false, "%s: %s", name, err);
		free(data);
		return;
	}
	free(data);
	snprintf(path, sizeof(path), "%s/%s", persist, segment);
	if (chroma_hnsw_open(path, &idx, err, sizeof(err)) < 0)
	{
		check(false, "%s: %s", name, err);
		chroma_label_map_free(&map);
		return;
	}
	check(idx.dim == dim && map.dimensionality == -1 && map.max_seq_id == -1 &&
		  map.total_elements_added == (int64_t) idx.cur_element_count &&
		  idx.cur_element_count > 1000 && idx.cur_element_count <= nrecs,
		  "%s: dim %d, pickle total %lld, %llu elements", name, idx.dim,
		  (long long) map.total_elements_added,
		  (unsigned long long) idx.cur_element_count);

	/* label -> pickle entry */
	by_label = malloc((nrecs + 2) * sizeof(size_t));
	seen = calloc(nrecs + 2, 1);
	for (size_t k = 0; k < nrecs + 2; k++)
		by_label[k] = SIZE_MAX;
	for (size_t i = 0; i < map.count; i++)
	{
		if (map.labels[i] <= nrecs)
			by_label[map.labels[i]] = i;
		else
			bad_pickle++;
	}

	for (uint64_t i = 0; i < idx.cur_element_count && i < nrecs; i++)
	{
		uint64_t	label;
		bool		deleted;
		float		v[64];
		const Expected *r;
		double		norm = 0;

		if (chroma_hnsw_element(&idx, i, &label, &deleted, v, err, sizeof(err)) < 0)
		{
			check(false, "%s: %s", name, err);
			break;
		}
		if (label < 1 || label > nrecs || seen[label])
		{
			if (bad_label++ == 0)
				snprintf(first_bad, sizeof(first_bad), "element %llu label %llu",
						 (unsigned long long) i, (unsigned long long) label);
			continue;
		}
		seen[label] = 1;
		r = &recs[label - 1];
		if (deleted != r->deleted)
			bad_deleted++;
		if (deleted)
		{
			ndeleted++;
			if (by_label[label] != SIZE_MAX)
				bad_pickle++;
		}
		else
		{
			nlive++;
			if (by_label[label] == SIZE_MAX ||
				strcmp(map.ids[by_label[label]], r->id) != 0)
				bad_pickle++;
		}
		for (int d = 0; d < dim; d++)
			norm += (double) r->vec[d] * r->vec[d];
		norm = sqrt(norm);
		for (int d = 0; d < dim; d++)
		{
			if (cosine ? fabs(v[d] - r->vec[d] / norm) > 1e-6 : v[d] != r->vec[d])
			{
				if (bad_vector++ == 0)
					snprintf(first_bad, sizeof(first_bad), "%s[%d] = %.9g, added %.9g",
							 r->id, d, v[d], r->vec[d]);
				break;
			}
		}
		if (cosine)
		{
			float		stored_norm;

			if (chroma_hnsw_length(&idx, i, &stored_norm, err, sizeof(err)) < 0 ||
				fabs(stored_norm - norm) > 1e-6 * norm)
				bad_length++;
		}
	}
	check(bad_label == 0, "%s: %d elements with bad or repeated labels (%s)", name,
		  bad_label, first_bad);
	check(bad_deleted == 0, "%s: %d elements with the wrong delete mark", name, bad_deleted);
	check(bad_pickle == 0 && (size_t) nlive == map.count,
		  "%s: %d pickle mismatches, %d live elements, %zu pickle entries", name,
		  bad_pickle, nlive, map.count);
	check(bad_vector == 0, "%s: %d vectors differ (%s)", name, bad_vector, first_bad);
	if (cosine)
		check(bad_length == 0, "%s: %d norms in length.bin differ", name, bad_length);
	check(ndeleted > 0, "%s: no deleted element", name);
	printf("%s (%s): %llu elements, %d deleted, %zu in the pickle\n", name, space,
		   (unsigned long long) idx.cur_element_count, ndeleted, map.count);

	free(by_label);
	free(seen);
	chroma_hnsw_close(&idx);
	chroma_label_map_free(&map);
}

static void
test_generated(const char *dir)
{
	char		path[4096];
	char		persist[4000];
	json_error_t jerr;
	json_t	   *root;
	json_t	   *colls;
	sqlite3    *db = NULL;
	int			dim;
	size_t		ci;
	json_t	   *coll;

	snprintf(path, sizeof(path), "%s/expected.json", dir);
	root = json_load_file(path, 0, &jerr);
	check(root != NULL, "%s: %s", path, root ? "" : jerr.text);
	if (root == NULL)
		return;
	dim = (int) json_integer_value(json_object_get(root, "dim"));
	colls = json_object_get(root, "collections");
	check(dim >= 1 && dim <= 64 && json_array_size(colls) == 3,
		  "expected.json: dim %d, %zu collections", dim, json_array_size(colls));

	snprintf(persist, sizeof(persist), "%s/persist", dir);
	snprintf(path, sizeof(path), "%s/chroma.sqlite3", persist);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
	{
		check(false, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		json_decref(root);
		return;
	}

	json_array_foreach(colls, ci, coll)
	{
		const char *name = json_string_value(json_object_get(coll, "name"));
		const char *space = json_string_value(json_object_get(coll, "space"));
		const char *cid = json_string_value(json_object_get(coll, "id"));
		json_t	   *jrecs = json_object_get(coll, "records");
		size_t		nrecs = json_array_size(jrecs);
		Expected   *recs = calloc(nrecs ? nrecs : 1, sizeof(Expected));
		char		segment[128];
		bool		ok = name && space && cid && nrecs > 0 && dim <= 64;
		size_t		k;
		json_t	   *jr;

		json_array_foreach(jrecs, k, jr)
		{
			json_t	   *emb = json_object_get(jr, "embedding");
			char		want[32];

			recs[k].id = json_string_value(json_object_get(jr, "id"));
			recs[k].deleted = json_is_true(json_object_get(jr, "deleted"));
			snprintf(want, sizeof(want), "id-%05zu", k);
			if (recs[k].id == NULL || strcmp(recs[k].id, want) != 0 ||
				json_array_size(emb) != (size_t) dim)
				ok = false;
			for (int d = 0; ok && d < dim; d++)
				recs[k].vec[d] = (float) json_number_value(json_array_get(emb, d));
		}
		check(ok, "expected.json: collection %zu malformed", ci);
		if (ok)
		{
			ok = vector_segment(db, cid, segment, sizeof(segment));
			check(ok, "%s: no vector segment in chroma.sqlite3", name);
		}
		if (ok)
			check_generated_collection(persist, segment, name, space, recs, nrecs, dim);
		free(recs);
	}
	sqlite3_close(db);
	json_decref(root);
}

int
main(int argc, char **argv)
{
	const char *fixtures = getenv("VECQ_CHROMA_FIXTURES");
	const char *generated = NULL;

	if (fixtures == NULL)
		fixtures = "/work/shared/fixtures/chroma";
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--fixtures") == 0 && i + 1 < argc)
			fixtures = argv[++i];
		else if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc)
		{
			test_small_pickles(argv[++i]);
			return failed ? 1 : 0;
		}
		else if (argv[i][0] != '-' && generated == NULL)
			generated = argv[i];
		else
		{
			fprintf(stderr, "usage: %s [--fixtures DIR] [--write-seeds DIR] [GENERATED]\n",
					argv[0]);
			return 2;
		}
	}

	test_fixture_pickle(fixtures, CANADA_SEGMENT, 2000, 1536, 2000, 2000, 1, 5,
						"bb3f72b2-6472-11ee-9b43-a233c30359ec", 1,
						"fbcec900-6787-11ee-9b43-a233c30359ec", 2000);
	test_fixture_pickle(fixtures, SUPPORT_SEGMENT, 1119, -1, -1, 1119, 0, 3,
						"e697a2b5-9363-4be6-96d1-465b10b4ff05", 1053,
						"f7fea4e9-15ec-40fb-87b2-0e1fa3a51b2a", 1051);
	test_small_pickles(NULL);
	test_bad_pickles();

	test_fixture_header(fixtures, CANADA_SEGMENT, 2000, 1536, 3262, 2, 75, false);
	test_fixture_header(fixtures, SUPPORT_SEGMENT, 1119, 768, 10000, 3, 220, false);
	test_fixture_header(fixtures, CANADA_EMPTY_SEGMENT, 0, 1536, 1000, -1, UINT32_MAX, false);
	test_fixture_header(fixtures, "Groww_Mutual_Funds/a6208e30-0936-4f3f-87be-dc3a7d55d007",
						0, 768, 100, -1, UINT32_MAX, true);
	test_headers();
	test_fixture_links(fixtures);
	test_small_index();
	test_open();

	if (generated != NULL)
		test_generated(generated);
	else
		printf("no generated directory given: skipping its checks\n");

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
