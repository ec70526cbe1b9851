/*-------------------------------------------------------------------------
 *
 * chroma_pickle.c
 *	  A restricted pickle machine for Chroma's index_metadata.pickle.
 *
 * A pickle is a program for a stack machine: each opcode is one byte,
 * followed by its argument bytes, and pushes, pops or combines values on
 * a stack.  MARK pushes a marker; opcodes such as SETITEMS and TUPLE take
 * everything above the topmost marker.  A memo (an array indexed by small
 * integers) lets a value appear more than once: Python's pickler stores
 * each string it writes (MEMOIZE or BINPUT) and writes later occurrences
 * as BINGET/LONG_BINGET, which is how label_to_id refers to the ids of
 * id_to_label.  STOP ends the program; the value on the stack is the
 * result.  Integers are little-endian, BINFLOAT is a big-endian double.
 *
 * The machine below knows only the opcodes the two shapes of
 * index_metadata.pickle use (see chroma_pickle.h) plus their close
 * variants; values are plain data (None, bool, int within int64, float,
 * str, bytes, tuple, list, dict) and the single allowed class
 * PersistentData, which NEWOBJ or REDUCE can only instantiate empty and
 * BUILD can only give a dict as its attributes.  Nothing is ever called.
 *
 * Values live in chunks of nodes owned by the machine and are freed all
 * at once; containers hold pointers to nodes, so a memoized value shared
 * by several containers, or even a dict that contains itself, costs
 * nothing to free and needs no recursion to walk.  Each opcode creates at
 * most one node or one container slot and takes at least one byte, so
 * memory stays within a small multiple of the input length; memo indexes
 * are bounded by the input length, MARK nesting by PICKLE_MAX_MARKS.
 *
 * Strings are kept as pointers into the input and must be valid UTF-8
 * (no surrogates); embedding ids must also be free of NUL bytes, since
 * the caller gets them as C strings.
 *
 * src/migrate/chroma_pickle.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chroma_pickle.h"

/* opcodes accepted (names as in Python's pickletools) */
#define OP_MARK				'('
#define OP_STOP				'.'
#define OP_BININT			'J'
#define OP_BININT1			'K'
#define OP_BININT2			'M'
#define OP_NONE				'N'
#define OP_BINUNICODE		'X'
#define OP_BINBYTES			'B'
#define OP_SHORT_BINBYTES	'C'
#define OP_BINFLOAT			'G'
#define OP_EMPTY_DICT		'}'
#define OP_DICT				'd'
#define OP_SETITEM			's'
#define OP_SETITEMS			'u'
#define OP_EMPTY_TUPLE		')'
#define OP_TUPLE			't'
#define OP_EMPTY_LIST		']'
#define OP_APPEND			'a'
#define OP_APPENDS			'e'
#define OP_GLOBAL			'c'
#define OP_REDUCE			'R'
#define OP_BUILD			'b'
#define OP_PUT				'p'
#define OP_BINPUT			'q'
#define OP_LONG_BINPUT		'r'
#define OP_GET				'g'
#define OP_BINGET			'h'
#define OP_LONG_BINGET		'j'
#define OP_PROTO			0x80
#define OP_NEWOBJ			0x81
#define OP_TUPLE1			0x85
#define OP_TUPLE2			0x86
#define OP_TUPLE3			0x87
#define OP_NEWTRUE			0x88
#define OP_NEWFALSE			0x89
#define OP_LONG1			0x8a
#define OP_LONG4			0x8b
#define OP_SHORT_BINUNICODE 0x8c
#define OP_BINUNICODE8		0x8d
#define OP_BINBYTES8		0x8e
#define OP_STACK_GLOBAL		0x93
#define OP_MEMOIZE			0x94
#define OP_FRAME			0x95

/* the one class a pickle may name */
#define PERSISTENT_DATA_MODULE "chromadb.segment.impl.vector.local_persistent_hnsw"
#define PERSISTENT_DATA_NAME "PersistentData"

/* deepest MARK nesting accepted (Chroma's pickles use 2) */
#define PICKLE_MAX_MARKS	64

/* longest decimal memo index of PUT/GET */
#define PICKLE_MAX_DIGITS	10

#define NODES_PER_CHUNK		1024

typedef enum PickleKind
{
	PK_NONE,
	PK_BOOL,
	PK_INT,
	PK_FLOAT,
	PK_STR,
	PK_BYTES,
	PK_TUPLE,
	PK_LIST,
	PK_DICT,					/* items are key, value, key, value, ... */
	PK_CLASS,					/* PersistentData itself */
	PK_OBJECT					/* an instance of PersistentData */
} PickleKind;

typedef struct PickleValue PickleValue;

struct PickleValue
{
	PickleKind	kind;
	size_t		pos;			/* offset of the opcode that made it */
	union
	{
		int64_t		ival;		/* PK_BOOL, PK_INT */
		double		fval;		/* PK_FLOAT */
		struct					/* PK_STR, PK_BYTES: points into the input */
		{
			const uint8_t *ptr;
			size_t		len;
		}			str;
		struct					/* PK_TUPLE, PK_LIST, PK_DICT */
		{
			PickleValue **items;
			size_t		n;
			size_t		cap;
		}			seq;
		PickleValue *state;		/* PK_OBJECT: BUILD's dict, or NULL */
	}			u;
};

typedef struct NodeChunk
{
	struct NodeChunk *next;
	size_t		used;
	PickleValue nodes[NODES_PER_CHUNK];
} NodeChunk;

typedef struct PickleMachine
{
	const uint8_t *data;
	size_t		len;
	size_t		pos;			/* next byte to read */
	size_t		op_pos;			/* offset of the current opcode */
	NodeChunk  *chunks;
	PickleValue **stack;
	size_t		depth;
	size_t		stack_cap;
	size_t		marks[PICKLE_MAX_MARKS];	/* stack depth at each MARK */
	int			nmarks;
	PickleValue **memo;			/* memo[i] or NULL; memo_cap slots */
	size_t		memo_cap;
	size_t		memo_count;		/* filled slots: MEMOIZE's next index */
	int			protocol;
	char	   *err;
	size_t		errlen;
} PickleMachine;

/* one id_to_label or label_to_id entry, for sorting */
typedef struct LabelEntry
{
	const uint8_t *id;
	size_t		id_len;
	uint64_t	label;
	size_t		pos;			/* where the entry's value was made */
} LabelEntry;

static const char *const kind_names[] = {
	"None", "bool", "int", "float", "str", "bytes", "tuple", "list",
	"dict", "class", "object"
};

static int	report(char *err, size_t errlen, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/*
 * Write "<message> at byte <pos>" into err; return -1.
 */
static int
report(char *err, size_t errlen, size_t pos, const char *fmt,...)
{
	char		msg[200];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s at byte %zu", msg, pos);
	return -1;
}

#define FAIL(m, pos, ...) report((m)->err, (m)->errlen, (pos), __VA_ARGS__)

/*
 * Copy up to 48 bytes of s into dst as printable ASCII (others as '?'),
 * for naming a rejected global in a message.
 */
static void
printable(char *dst, size_t dstlen, const uint8_t *s, size_t n)
{
	size_t		i;

	if (n > 48)
		n = 48;
	if (n > dstlen - 1)
		n = dstlen - 1;
	for (i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char) s[i] : '?';
	dst[n] = '\0';
}

/*
 * Is s[0..n) valid UTF-8: shortest forms only, no surrogates, nothing
 * above U+10FFFF?  On failure *bad is the offset of the bad sequence.
 */
static bool
valid_utf8(const uint8_t *s, size_t n, size_t *bad)
{
	size_t		i = 0;

	while (i < n)
	{
		uint8_t		c = s[i];
		size_t		k;
		uint32_t	cp;
		uint32_t	min;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
		{
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		}
		else if (c >= 0xe0 && c <= 0xef)
		{
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		}
		else if (c >= 0xf0 && c <= 0xf4)
		{
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		}
		else
		{
			*bad = i;
			return false;
		}
		if (n - i <= k)
		{
			*bad = i;
			return false;
		}
		for (size_t j = 1; j <= k; j++)
		{
			if ((s[i + j] & 0xc0) != 0x80)
			{
				*bad = i;
				return false;
			}
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		{
			*bad = i;
			return false;
		}
		i += k + 1;
	}
	return true;
}

static uint64_t
read_le(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ---- nodes, stack and memo ---------------------------------------------- */

static PickleValue *
new_value(PickleMachine *m, PickleKind kind)
{
	PickleValue *v;

	if (m->chunks == NULL || m->chunks->used == NODES_PER_CHUNK)
	{
		NodeChunk  *c = malloc(sizeof(NodeChunk));

		if (c == NULL)
		{
			FAIL(m, m->op_pos, "out of memory");
			return NULL;
		}
		c->next = m->chunks;
		c->used = 0;
		m->chunks = c;
	}
	v = &m->chunks->nodes[m->chunks->used++];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->pos = m->op_pos;
	return v;
}

static void
free_machine(PickleMachine *m)
{
	while (m->chunks != NULL)
	{
		NodeChunk  *next = m->chunks->next;

		for (size_t i = 0; i < m->chunks->used; i++)
		{
			PickleValue *v = &m->chunks->nodes[i];

			if (v->kind == PK_TUPLE || v->kind == PK_LIST || v->kind == PK_DICT)
				free(v->u.seq.items);
		}
		free(m->chunks);
		m->chunks = next;
	}
	free(m->stack);
	free(m->memo);
	m->stack = NULL;
	m->memo = NULL;
}

/* append item to the tuple, list or dict seq */
static int
seq_append(PickleMachine *m, PickleValue *seq, PickleValue *item)
{
	if (seq->u.seq.n == seq->u.seq.cap)
	{
		size_t		cap = seq->u.seq.cap ? seq->u.seq.cap * 2 : 8;
		PickleValue **items = realloc(seq->u.seq.items, cap * sizeof(PickleValue *));

		if (items == NULL)
			return FAIL(m, m->op_pos, "out of memory");
		seq->u.seq.items = items;
		seq->u.seq.cap = cap;
	}
	seq->u.seq.items[seq->u.seq.n++] = item;
	return 0;
}

static int
push(PickleMachine *m, PickleValue *v)
{
	if (v == NULL)
		return -1;
	if (m->depth == m->stack_cap)
	{
		size_t		cap = m->stack_cap ? m->stack_cap * 2 : 64;
		PickleValue **stack = realloc(m->stack, cap * sizeof(PickleValue *));

		if (stack == NULL)
			return FAIL(m, m->op_pos, "out of memory");
		m->stack = stack;
		m->stack_cap = cap;
	}
	m->stack[m->depth++] = v;
	return 0;
}

/* lowest stack slot the current opcode may touch: above the last MARK */
static size_t
floor_depth(const PickleMachine *m)
{
	return m->nmarks > 0 ? m->marks[m->nmarks - 1] : 0;
}

/* the value n places below the top (0 = top), or NULL with err set */
static PickleValue *
peek(PickleMachine *m, size_t n)
{
	if (m->depth - floor_depth(m) <= n)
	{
		FAIL(m, m->op_pos, "stack underflow");
		return NULL;
	}
	return m->stack[m->depth - 1 - n];
}

static PickleValue *
pop(PickleMachine *m)
{
	PickleValue *v = peek(m, 0);

	if (v != NULL)
		m->depth--;
	return v;
}

/* pop the last MARK; *start is the stack depth it recorded */
static int
pop_mark(PickleMachine *m, size_t *start)
{
	if (m->nmarks == 0)
		return FAIL(m, m->op_pos, "no MARK on the stack");
	*start = m->marks[--m->nmarks];
	return 0;
}

static int
memo_put(PickleMachine *m, uint64_t idx)
{
	PickleValue *top = peek(m, 0);

	if (top == NULL)
		return -1;
	/* a real pickle spends at least a byte per memo entry */
	if (idx >= m->len)
		return FAIL(m, m->op_pos, "memo index %llu out of range",
					(unsigned long long) idx);
	if (idx >= m->memo_cap)
	{
		size_t		cap = m->memo_cap ? m->memo_cap : 64;
		PickleValue **memo;

		while (cap <= idx)
			cap *= 2;
		memo = realloc(m->memo, cap * sizeof(PickleValue *));
		if (memo == NULL)
			return FAIL(m, m->op_pos, "out of memory");
		memset(memo + m->memo_cap, 0, (cap - m->memo_cap) * sizeof(PickleValue *));
		m->memo = memo;
		m->memo_cap = cap;
	}
	if (m->memo[idx] == NULL)
		m->memo_count++;
	m->memo[idx] = top;
	return 0;
}

static int
memo_get(PickleMachine *m, uint64_t idx)
{
	if (idx >= m->memo_cap || m->memo[idx] == NULL)
		return FAIL(m, m->op_pos, "memo index %llu is empty",
					(unsigned long long) idx);
	return push(m, m->memo[idx]);
}

/* ---- reading arguments -------------------------------------------------- */

static bool
have(const PickleMachine *m, uint64_t n)
{
	return n <= m->len - m->pos;
}

/* read an n-byte little-endian unsigned argument */
static int
read_uint(PickleMachine *m, int n, uint64_t *v)
{
	if (!have(m, n))
		return FAIL(m, m->op_pos, "truncated argument of opcode 0x%02x",
					m->data[m->op_pos]);
	*v = read_le(m->data + m->pos, n);
	m->pos += n;
	return 0;
}

/* read a line ending in '\n' (GLOBAL, PUT, GET); *line excludes the '\n' */
static int
read_line(PickleMachine *m, const uint8_t **line, size_t *n)
{
	const uint8_t *nl = memchr(m->data + m->pos, '\n', m->len - m->pos);

	if (nl == NULL)
		return FAIL(m, m->op_pos, "unterminated argument of opcode 0x%02x",
					m->data[m->op_pos]);
	*line = m->data + m->pos;
	*n = nl - *line;
	m->pos += *n + 1;
	return 0;
}

/* the decimal memo index of PUT or GET */
static int
read_decimal(PickleMachine *m, uint64_t *v)
{
	const uint8_t *line;
	size_t		n;

	if (read_line(m, &line, &n) < 0)
		return -1;
	if (n == 0 || n > PICKLE_MAX_DIGITS)
		return FAIL(m, m->op_pos, "bad memo index");
	*v = 0;
	for (size_t i = 0; i < n; i++)
	{
		if (line[i] < '0' || line[i] > '9')
			return FAIL(m, m->op_pos, "bad memo index");
		*v = *v * 10 + (line[i] - '0');
	}
	return 0;
}

/* push a str or bytes of n bytes that follow */
static int
push_string(PickleMachine *m, PickleKind kind, uint64_t n)
{
	PickleValue *v;
	size_t		bad;

	if (!have(m, n))
		return FAIL(m, m->op_pos, "string of %llu bytes overruns the input",
					(unsigned long long) n);
	if (kind == PK_STR && !valid_utf8(m->data + m->pos, n, &bad))
		return FAIL(m, m->pos + bad, "invalid UTF-8 in a string");
	v = new_value(m, kind);
	if (v == NULL)
		return -1;
	v->u.str.ptr = m->data + m->pos;
	v->u.str.len = n;
	m->pos += n;
	return push(m, v);
}

/* LONG1/LONG4: n bytes of little-endian two's complement, at most 8 */
static int
push_long(PickleMachine *m, uint64_t n)
{
	PickleValue *v;
	uint64_t	u;

	if (n > 8)
		return FAIL(m, m->op_pos, "integer of %llu bytes exceeds 64 bits",
					(unsigned long long) n);
	if (!have(m, n))
		return FAIL(m, m->op_pos, "truncated integer");
	u = read_le(m->data + m->pos, (int) n);
	if (n > 0 && n < 8 && (m->data[m->pos + n - 1] & 0x80))
		u |= ~(uint64_t) 0 << (8 * n);
	m->pos += n;
	v = new_value(m, PK_INT);
	if (v == NULL)
		return -1;
	memcpy(&v->u.ival, &u, sizeof(u));
	return push(m, v);
}

static int
push_int(PickleMachine *m, int64_t i)
{
	PickleValue *v = new_value(m, PK_INT);

	if (v == NULL)
		return -1;
	v->u.ival = i;
	return push(m, v);
}

/* GLOBAL / STACK_GLOBAL: only PersistentData resolves */
static int
push_class(PickleMachine *m, const uint8_t *mod, size_t modlen,
		   const uint8_t *name, size_t namelen)
{
	char		pmod[64];
	char		pname[64];

	if (modlen == strlen(PERSISTENT_DATA_MODULE) &&
		memcmp(mod, PERSISTENT_DATA_MODULE, modlen) == 0 &&
		namelen == strlen(PERSISTENT_DATA_NAME) &&
		memcmp(name, PERSISTENT_DATA_NAME, namelen) == 0)
		return push(m, new_value(m, PK_CLASS));
	printable(pmod, sizeof(pmod), mod, modlen);
	printable(pname, sizeof(pname), name, namelen);
	return FAIL(m, m->op_pos, "global %s.%s is not allowed", pmod, pname);
}

/* NEWOBJ / REDUCE: PersistentData() with no arguments */
static int
push_object(PickleMachine *m)
{
	PickleValue *args = pop(m);
	PickleValue *cls = args ? pop(m) : NULL;

	if (cls == NULL)
		return -1;
	if (cls->kind != PK_CLASS)
		return FAIL(m, m->op_pos, "cannot call type %s", kind_names[cls->kind]);
	if (args->kind != PK_TUPLE || args->u.seq.n != 0)
		return FAIL(m, m->op_pos, "PersistentData takes no arguments");
	return push(m, new_value(m, PK_OBJECT));
}

/* TUPLE1..3: a tuple of the top n values */
static int
push_tuple(PickleMachine *m, size_t n)
{
	PickleValue *t;

	if (m->depth - floor_depth(m) < n)
		return FAIL(m, m->op_pos, "stack underflow");
	t = new_value(m, PK_TUPLE);
	if (t == NULL)
		return -1;
	for (size_t i = m->depth - n; i < m->depth; i++)
		if (seq_append(m, t, m->stack[i]) < 0)
			return -1;
	m->depth -= n;
	return push(m, t);
}

/*
 * DICT, TUPLE, SETITEMS, APPENDS: move everything above the last MARK into
 * a new container of the kind (target NULL) or into target, the value just
 * below the MARK, which must be of that kind.
 */
static int
collect_marked(PickleMachine *m, PickleKind kind, bool into_below)
{
	size_t		start = 0;
	PickleValue *target;

	if (pop_mark(m, &start) < 0)
		return -1;
	if (kind == PK_DICT && (m->depth - start) % 2 != 0)
		return FAIL(m, m->op_pos, "odd number of items for a dict");
	if (into_below)
	{
		if (start <= floor_depth(m))
			return FAIL(m, m->op_pos, "stack underflow");
		target = m->stack[start - 1];
		if (target->kind != kind)
			return FAIL(m, m->op_pos, "cannot add items to type %s",
						kind_names[target->kind]);
	}
	else
	{
		target = new_value(m, kind);
		if (target == NULL)
			return -1;
	}
	for (size_t i = start; i < m->depth; i++)
		if (seq_append(m, target, m->stack[i]) < 0)
			return -1;
	m->depth = start;
	return into_below ? 0 : push(m, target);
}

/* ---- the machine -------------------------------------------------------- */

/*
 * Run the pickle; on STOP set *result to the value left on the stack.
 */
static int
run(PickleMachine *m, PickleValue **result)
{
	uint64_t	u;

	if (m->len < 2 || m->data[0] != OP_PROTO)
		return FAIL(m, 0, "not a pickle of protocol 2 or later (no PROTO)");
	if (m->data[1] < 2 || m->data[1] > 5)
		return FAIL(m, 1, "unsupported pickle protocol %d", m->data[1]);
	m->protocol = m->data[1];
	m->pos = 2;

	for (;;)
	{
		uint8_t		op;
		int			rc = 0;

		if (m->pos >= m->len)
			return FAIL(m, m->len, "pickle ends without STOP");
		m->op_pos = m->pos;
		op = m->data[m->pos++];
		switch (op)
		{
			case OP_FRAME:
				/* frames only help buffering; check that it fits */
				if ((rc = read_uint(m, 8, &u)) == 0 && !have(m, u))
					rc = FAIL(m, m->op_pos, "frame of %llu bytes overruns the input",
							  (unsigned long long) u);
				break;
			case OP_STOP:
				if (m->nmarks != 0 || m->depth != 1)
					return FAIL(m, m->op_pos, "STOP with %zu values and %d marks on the stack",
								m->depth, m->nmarks);
				if (m->pos != m->len)
					return FAIL(m, m->pos, "%zu bytes after STOP", m->len - m->pos);
				*result = m->stack[0];
				return 0;

			case OP_MARK:
				if (m->nmarks == PICKLE_MAX_MARKS)
					return FAIL(m, m->op_pos, "MARKs nested deeper than %d",
								PICKLE_MAX_MARKS);
				m->marks[m->nmarks++] = m->depth;
				break;

			case OP_NONE:
				rc = push(m, new_value(m, PK_NONE));
				break;
			case OP_NEWTRUE:
			case OP_NEWFALSE:
				{
					PickleValue *v = new_value(m, PK_BOOL);

					if (v != NULL)
						v->u.ival = (op == OP_NEWTRUE);
					rc = push(m, v);
				}
				break;
			case OP_BININT1:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = push_int(m, (int64_t) u);
				break;
			case OP_BININT2:
				if ((rc = read_uint(m, 2, &u)) == 0)
					rc = push_int(m, (int64_t) u);
				break;
			case OP_BININT:
				if ((rc = read_uint(m, 4, &u)) == 0)
					rc = push_int(m, (int32_t) (uint32_t) u);
				break;
			case OP_LONG1:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = push_long(m, u);
				break;
			case OP_LONG4:
				if ((rc = read_uint(m, 4, &u)) == 0)
				{
					if (u & 0x80000000u)
						rc = FAIL(m, m->op_pos, "negative LONG4 length");
					else
						rc = push_long(m, u);
				}
				break;
			case OP_BINFLOAT:
				if (!have(m, 8))
					rc = FAIL(m, m->op_pos, "truncated float");
				else
				{
					PickleValue *v = new_value(m, PK_FLOAT);
					uint64_t	bits = 0;

					for (int i = 0; i < 8; i++)
						bits = (bits << 8) | m->data[m->pos + i];
					m->pos += 8;
					if (v != NULL)
						memcpy(&v->u.fval, &bits, sizeof(bits));
					rc = push(m, v);
				}
				break;

			case OP_SHORT_BINUNICODE:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = push_string(m, PK_STR, u);
				break;
			case OP_BINUNICODE:
				if ((rc = read_uint(m, 4, &u)) == 0)
					rc = push_string(m, PK_STR, u);
				break;
			case OP_BINUNICODE8:
				if ((rc = read_uint(m, 8, &u)) == 0)
					rc = push_string(m, PK_STR, u);
				break;
			case OP_SHORT_BINBYTES:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = push_string(m, PK_BYTES, u);
				break;
			case OP_BINBYTES:
				if ((rc = read_uint(m, 4, &u)) == 0)
					rc = push_string(m, PK_BYTES, u);
				break;
			case OP_BINBYTES8:
				if ((rc = read_uint(m, 8, &u)) == 0)
					rc = push_string(m, PK_BYTES, u);
				break;

			case OP_EMPTY_DICT:
				rc = push(m, new_value(m, PK_DICT));
				break;
			case OP_EMPTY_LIST:
				rc = push(m, new_value(m, PK_LIST));
				break;
			case OP_EMPTY_TUPLE:
				rc = push(m, new_value(m, PK_TUPLE));
				break;
			case OP_TUPLE1:
			case OP_TUPLE2:
			case OP_TUPLE3:
				rc = push_tuple(m, op - OP_TUPLE1 + 1);
				break;
			case OP_TUPLE:
				rc = collect_marked(m, PK_TUPLE, false);
				break;
			case OP_DICT:
				rc = collect_marked(m, PK_DICT, false);
				break;
			case OP_SETITEMS:
				rc = collect_marked(m, PK_DICT, true);
				break;
			case OP_APPENDS:
				rc = collect_marked(m, PK_LIST, true);
				break;
			case OP_SETITEM:
			case OP_APPEND:
				{
					size_t		n = (op == OP_SETITEM) ? 2 : 1;
					PickleKind	kind = (op == OP_SETITEM) ? PK_DICT : PK_LIST;
					PickleValue *target = peek(m, n);

					if (target == NULL)
						return -1;
					if (target->kind != kind)
						return FAIL(m, m->op_pos, "cannot add items to type %s",
									kind_names[target->kind]);
					for (size_t i = m->depth - n; i < m->depth && rc == 0; i++)
						rc = seq_append(m, target, m->stack[i]);
					m->depth -= n;
				}
				break;

			case OP_GLOBAL:
				{
					const uint8_t *mod;
					const uint8_t *name;
					size_t		modlen;
					size_t		namelen;

					if ((rc = read_line(m, &mod, &modlen)) == 0 &&
						(rc = read_line(m, &name, &namelen)) == 0)
						rc = push_class(m, mod, modlen, name, namelen);
				}
				break;
			case OP_STACK_GLOBAL:
				{
					PickleValue *name = pop(m);
					PickleValue *mod = name ? pop(m) : NULL;

					if (mod == NULL)
						return -1;
					if (mod->kind != PK_STR || name->kind != PK_STR)
						return FAIL(m, m->op_pos, "STACK_GLOBAL needs two strings");
					rc = push_class(m, mod->u.str.ptr, mod->u.str.len,
									name->u.str.ptr, name->u.str.len);
				}
				break;
			case OP_NEWOBJ:
			case OP_REDUCE:
				rc = push_object(m);
				break;
			case OP_BUILD:
				{
					PickleValue *state = pop(m);
					PickleValue *obj = state ? peek(m, 0) : NULL;

					if (obj == NULL)
						return -1;
					if (obj->kind != PK_OBJECT)
						return FAIL(m, m->op_pos, "BUILD on type %s", kind_names[obj->kind]);
					if (state->kind != PK_DICT)
						return FAIL(m, m->op_pos, "BUILD state of type %s, not dict",
									kind_names[state->kind]);
					if (obj->u.state != NULL)
						return FAIL(m, m->op_pos, "second BUILD of one object");
					obj->u.state = state;
				}
				break;

			case OP_MEMOIZE:
				rc = memo_put(m, m->memo_count);
				break;
			case OP_BINPUT:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = memo_put(m, u);
				break;
			case OP_LONG_BINPUT:
				if ((rc = read_uint(m, 4, &u)) == 0)
					rc = memo_put(m, u);
				break;
			case OP_PUT:
				if ((rc = read_decimal(m, &u)) == 0)
					rc = memo_put(m, u);
				break;
			case OP_BINGET:
				if ((rc = read_uint(m, 1, &u)) == 0)
					rc = memo_get(m, u);
				break;
			case OP_LONG_BINGET:
				if ((rc = read_uint(m, 4, &u)) == 0)
					rc = memo_get(m, u);
				break;
			case OP_GET:
				if ((rc = read_decimal(m, &u)) == 0)
					rc = memo_get(m, u);
				break;

			case OP_PROTO:
				return FAIL(m, m->op_pos, "PROTO after the start");
			default:
				if (op >= 0x20 && op < 0x7f)
					return FAIL(m, m->op_pos, "unsupported pickle opcode 0x%02x ('%c')",
								op, op);
				return FAIL(m, m->op_pos, "unsupported pickle opcode 0x%02x", op);
		}
		if (rc < 0)
			return -1;
	}
}

/* ---- from values to the label map --------------------------------------- */

static bool
is_str(const PickleValue *v, const char *s)
{
	return v->kind == PK_STR && v->u.str.len == strlen(s) &&
		memcmp(v->u.str.ptr, s, v->u.str.len) == 0;
}

/* an int >= 0, or None (-1) when none_ok */
static int
get_count(PickleMachine *m, const PickleValue *v, const char *key,
		  bool none_ok, int64_t *out)
{
	if (v->kind == PK_NONE && none_ok)
	{
		*out = -1;
		return 0;
	}
	if (v->kind != PK_INT)
		return FAIL(m, v->pos, "%s has type %s, not int", key, kind_names[v->kind]);
	if (v->u.ival < 0)
		return FAIL(m, v->pos, "%s is negative", key);
	*out = v->u.ival;
	return 0;
}

/*
 * Turn the items of a dict of str -> int (id_to_label, ids_are_keys) or
 * int -> str (label_to_id) into entries.  Labels must be >= 0, ids free of
 * NULs.  *out is malloc'd (NULL for an empty dict).
 */
static int
dict_entries(PickleMachine *m, const PickleValue *dict, const char *what,
			 bool ids_are_keys, LabelEntry **out)
{
	size_t		n = dict->u.seq.n / 2;
	LabelEntry *e;

	*out = NULL;
	if (n == 0)
		return 0;
	e = malloc(n * sizeof(LabelEntry));
	if (e == NULL)
		return FAIL(m, dict->pos, "out of memory");
	for (size_t i = 0; i < n; i++)
	{
		const PickleValue *id = dict->u.seq.items[2 * i + !ids_are_keys];
		const PickleValue *label = dict->u.seq.items[2 * i + ids_are_keys];

		if (id->kind != PK_STR)
		{
			free(e);
			return FAIL(m, id->pos, "%s holds an id of type %s, not str", what,
						kind_names[id->kind]);
		}
		if (memchr(id->u.str.ptr, '\0', id->u.str.len) != NULL)
		{
			free(e);
			return FAIL(m, id->pos, "%s holds an id with a NUL byte", what);
		}
		if (label->kind != PK_INT || label->u.ival < 0)
		{
			free(e);
			return FAIL(m, label->pos, "%s holds a label that is not an int >= 0",
						what);
		}
		e[i].id = id->u.str.ptr;
		e[i].id_len = id->u.str.len;
		e[i].label = (uint64_t) label->u.ival;
		e[i].pos = dict->u.seq.items[2 * i + 1]->pos;
	}
	*out = e;
	return 0;
}

static int
cmp_id(const LabelEntry *a, const LabelEntry *b)
{
	size_t		n = a->id_len < b->id_len ? a->id_len : b->id_len;
	int			c = memcmp(a->id, b->id, n);

	if (c != 0)
		return c;
	return (a->id_len > b->id_len) - (a->id_len < b->id_len);
}

static int
cmp_by_id(const void *a, const void *b)
{
	return cmp_id(a, b);
}

static int
cmp_by_label(const void *a, const void *b)
{
	const LabelEntry *x = a;
	const LabelEntry *y = b;

	return (x->label > y->label) - (x->label < y->label);
}

/* sort e by label and fail on a repeated label */
static int
sort_labels(PickleMachine *m, LabelEntry *e, size_t n, const char *what)
{
	if (n > 1)
		qsort(e, n, sizeof(LabelEntry), cmp_by_label);
	for (size_t i = 1; i < n; i++)
		if (e[i].label == e[i - 1].label)
			return FAIL(m, e[i].pos, "%s has label %llu twice", what,
						(unsigned long long) e[i].label);
	return 0;
}

/*
 * Check that id_to_label (n entries e) has unique ids and labels and, if
 * label_to_id is given, that it is exactly the inverse.
 */
static int
check_maps(PickleMachine *m, const LabelEntry *e, size_t n,
		   const PickleValue *label_to_id)
{
	LabelEntry *s = NULL;
	LabelEntry *inv = NULL;
	int			rc = 0;

	if (n > 0)
	{
		s = malloc(n * sizeof(LabelEntry));
		if (s == NULL)
			return FAIL(m, 0, "out of memory");
		memcpy(s, e, n * sizeof(LabelEntry));
		qsort(s, n, sizeof(LabelEntry), cmp_by_id);
		for (size_t i = 1; i < n && rc == 0; i++)
			if (cmp_id(&s[i], &s[i - 1]) == 0)
				rc = FAIL(m, s[i].pos, "id_to_label has an id twice");
		if (rc == 0)
			rc = sort_labels(m, s, n, "id_to_label");
	}
	if (rc == 0 && label_to_id != NULL)
	{
		size_t		ninv = label_to_id->u.seq.n / 2;

		rc = dict_entries(m, label_to_id, "label_to_id", false, &inv);
		if (rc == 0 && ninv != n)
			rc = FAIL(m, label_to_id->pos,
					  "label_to_id has %zu entries, id_to_label %zu", ninv, n);
		if (rc == 0)
			rc = sort_labels(m, inv, n, "label_to_id");
		for (size_t i = 0; i < n && rc == 0; i++)
			if (inv[i].label != s[i].label || cmp_id(&inv[i], &s[i]) != 0)
				rc = FAIL(m, inv[i].pos,
						  "label_to_id disagrees with id_to_label on label %llu",
						  (unsigned long long) inv[i].label);
	}
	free(s);
	free(inv);
	return rc;
}

/* fill map from the decoded root value */
static int
extract(PickleMachine *m, const PickleValue *root, ChromaLabelMap *map)
{
	const PickleValue *dict = root;
	const PickleValue *id_to_label = NULL;
	const PickleValue *label_to_id = NULL;
	LabelEntry *e = NULL;
	size_t		n;

	if (root->kind == PK_OBJECT)
	{
		if (root->u.state == NULL)
			return FAIL(m, root->pos, "PersistentData object has no attributes");
		dict = root->u.state;
		map->is_object = 1;
	}
	else if (root->kind != PK_DICT)
		return FAIL(m, root->pos, "pickle holds type %s, not dict or PersistentData",
					kind_names[root->kind]);

	/* later duplicates win, as in Python; unknown keys are ignored */
	for (size_t i = 0; i + 1 < dict->u.seq.n; i += 2)
	{
		const PickleValue *k = dict->u.seq.items[i];
		const PickleValue *v = dict->u.seq.items[i + 1];
		int			rc = 0;

		if (is_str(k, "dimensionality"))
			rc = get_count(m, v, "dimensionality", true, &map->dimensionality);
		else if (is_str(k, "max_seq_id"))
			rc = get_count(m, v, "max_seq_id", true, &map->max_seq_id);
		else if (is_str(k, "total_elements_added"))
			rc = get_count(m, v, "total_elements_added", false,
						   &map->total_elements_added);
		else if (is_str(k, "id_to_label") || is_str(k, "label_to_id") ||
				 is_str(k, "id_to_seq_id"))
		{
			if (v->kind != PK_DICT)
				return FAIL(m, v->pos, "%.*s has type %s, not dict",
							(int) k->u.str.len, (const char *) k->u.str.ptr,
							kind_names[v->kind]);
			if (is_str(k, "id_to_label"))
				id_to_label = v;
			else if (is_str(k, "label_to_id"))
				label_to_id = v;
		}
		if (rc < 0)
			return -1;
	}
	if (id_to_label == NULL)
		return FAIL(m, dict->pos, "no id_to_label");

	n = id_to_label->u.seq.n / 2;
	if (dict_entries(m, id_to_label, "id_to_label", true, &e) < 0)
		return -1;
	if (check_maps(m, e, n, label_to_id) < 0)
	{
		free(e);
		return -1;
	}

	if (n > 0)
	{
		map->ids = calloc(n, sizeof(char *));
		map->labels = malloc(n * sizeof(uint64_t));
		if (map->ids == NULL || map->labels == NULL)
		{
			free(e);
			return FAIL(m, id_to_label->pos, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++)
	{
		map->ids[i] = malloc(e[i].id_len + 1);
		if (map->ids[i] == NULL)
		{
			free(e);
			return FAIL(m, e[i].pos, "out of memory");
		}
		memcpy(map->ids[i], e[i].id, e[i].id_len);
		map->ids[i][e[i].id_len] = '\0';
		map->labels[i] = e[i].label;
		map->count = i + 1;
	}
	free(e);
	return 0;
}

int
chroma_pickle_label_map(const uint8_t *data, size_t len, ChromaLabelMap *map,
						char *err, size_t errlen)
{
	PickleMachine m;
	PickleValue *root = NULL;
	int			rc;

	memset(map, 0, sizeof(*map));
	map->dimensionality = -1;
	map->max_seq_id = -1;
	map->total_elements_added = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	memset(&m, 0, sizeof(m));
	m.data = data;
	m.len = data ? len : 0;
	m.err = err;
	m.errlen = errlen;

	rc = run(&m, &root);
	if (rc == 0)
	{
		map->protocol = m.protocol;
		rc = extract(&m, root, map);
	}
	free_machine(&m);
	if (rc < 0)
	{
		chroma_label_map_free(map);
		map->dimensionality = -1;
		map->max_seq_id = -1;
		map->total_elements_added = -1;
	}
	return rc;
}

void
chroma_label_map_free(ChromaLabelMap *map)
{
	if (map->ids != NULL)
	{
		for (size_t i = 0; i < map->count; i++)
			free(map->ids[i]);
	}
	free(map->ids);
	free(map->labels);
	map->ids = NULL;
	map->labels = NULL;
	map->count = 0;
}
