/*-------------------------------------------------------------------------
 *
 * xcheck_vector_text.c
 *	  Cross-check the frontend vector text parser against the real server.
 *
 * Every input is run through VecqVectorTextParse here and through
 * "SELECT $1::vector::text" on the server, and the two must agree:
 *
 *	- the parser accepts the input if and only if the server does;
 *	- when both accept, the server's output text equals what
 *	  VecqVectorTextFormat produces for the parsed floats;
 *	- when both reject, the server's SQLSTATE is the one the parser's status
 *	  stands for (22P02 malformed, 22000 invalid vector, 22003 out of range,
 *	  54000 too many dimensions), and a 22P02 error carries the message
 *	  'invalid input syntax for type vector: "<input>"' and a detail.
 *
 * Inputs come from files and directories named on the command line (each
 * file is one input, as in a libFuzzer corpus), from a cases file with one
 * C-escaped input per line (-c FILE), and from cases generated here:
 * boundary and random float4 values, random multi-element vectors and
 * vectors at and over the dimension limit.  An input is cut at its first NUL
 * byte, as the fuzz target does; inputs that are not valid UTF-8 cannot be
 * sent as text and are counted as skipped.
 *
 * Connection parameters come from the environment (PGHOST, PGPORT, PGUSER,
 * PGDATABASE, ...).  Exit status: 0 all agree, 1 some mismatch, 2 usage or
 * connection failure.
 *
 * test/fuzz/xcheck_vector_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libpq-fe.h"

#include "common/vector_text.h"

/* how many mismatches to describe in full before only counting them */
#define MAX_REPORTED 20

typedef struct XcheckStats
{
	long		inputs;			/* inputs sent to the server */
	long		accepted;		/* accepted by both */
	long		rejected;		/* rejected by both, same SQLSTATE */
	long		skipped;		/* not valid UTF-8 */
	long		mismatches;		/* any disagreement */
} XcheckStats;

static PGconn *conn;
static XcheckStats stats;
static bool verbose = false;

/* the SQLSTATE the server must report for a parser status */
static const char *
status_sqlstate(VecqTextStatus status)
{
	switch (status)
	{
		case VECQ_TEXT_OK:
			return NULL;
		case VECQ_TEXT_EMPTY:
		case VECQ_TEXT_NO_OPEN_BRACKET:
		case VECQ_TEXT_UNEXPECTED_END:
		case VECQ_TEXT_BAD_NUMBER:
		case VECQ_TEXT_EXPECTED_SEPARATOR:
		case VECQ_TEXT_TRAILING_JUNK:
			return "22P02";
		case VECQ_TEXT_NO_DIMENSIONS:
		case VECQ_TEXT_NAN:
		case VECQ_TEXT_INFINITE:
			return "22000";
		case VECQ_TEXT_OUT_OF_RANGE:
			return "22003";
		case VECQ_TEXT_TOO_MANY_DIMENSIONS:
			return "54000";
	}
	return "?????";
}

/*
 * Whether s is well-formed UTF-8 in the sense the server checks: shortest
 * forms only, no surrogates, nothing above U+10FFFF.
 */
static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		unsigned char lo = 0x80;
		unsigned char hi = 0xBF;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		}
		else
			return false;

		if (len - i <= (size_t) n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (int k = 2; k <= n; k++)
		{
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		}
		i += n + 1;
	}
	return true;
}

/* print an input for a human, escaping anything unprintable */
static void
print_escaped(FILE *f, const char *s)
{
	size_t		len = strlen(s);
	size_t		shown = len > 160 ? 160 : len;

	fputc('"', f);
	for (size_t i = 0; i < shown; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c >= 0x20 && c < 0x7F)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
	fputc('"', f);
	if (shown < len)
		fprintf(f, "... (%zu bytes)", len);
}

static void
mismatch(const char *source, const char *input, const char *fmt,
		 const char *a, const char *b)
{
	stats.mismatches++;
	if (stats.mismatches > MAX_REPORTED)
		return;
	fprintf(stderr, "MISMATCH [%s] ", source);
	print_escaped(stderr, input);
	fprintf(stderr, "\n  ");
	fprintf(stderr, fmt, a ? a : "(null)", b ? b : "(null)");
	fprintf(stderr, "\n");
}

/* run one input through both the parser and the server and compare */
static void
check_one(const char *source, const char *input)
{
	int			capacity = VecqVectorTextMaxElements(input);
	float	   *x = malloc(sizeof(float) * capacity);
	int			dim = 0;
	VecqTextError err;
	VecqTextStatus status;
	char	   *text = NULL;
	PGresult   *res;
	const char *params[1];

	if (x == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (!valid_utf8((const unsigned char *) input, strlen(input)))
	{
		stats.skipped++;
		free(x);
		return;
	}

	status = VecqVectorTextParse(input, x, capacity, &dim, &err);
	if (status == VECQ_TEXT_OK)
	{
		text = malloc(VecqVectorTextBufferSize(dim));
		if (text == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		VecqVectorTextFormat(x, dim, text);
	}

	params[0] = input;
	res = PQexecParams(conn, "SELECT $1::vector::text", 1, NULL, params,
					   NULL, NULL, 0);
	stats.inputs++;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		const char *out = PQgetvalue(res, 0, 0);

		if (status != VECQ_TEXT_OK)
			mismatch(source, input, "parser rejects (%s), server accepts: %s",
					 VecqTextStatusName(status), out);
		else if (strcmp(out, text) != 0)
			mismatch(source, input, "parser formats %s, server prints %s",
					 text, out);
		else
			stats.accepted++;
	}
	else if (PQresultStatus(res) == PGRES_FATAL_ERROR)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *want = status_sqlstate(status);

		if (state == NULL)
		{
			/* no SQLSTATE means the connection itself broke */
			fprintf(stderr, "server failure: %s", PQerrorMessage(conn));
			exit(2);
		}
		if (strcmp(state, "22021") == 0)
		{
			/* the server found the encoding bad after all */
			stats.inputs--;
			stats.skipped++;
		}
		else if (status == VECQ_TEXT_OK)
			mismatch(source, input, "parser accepts %s, server rejects: %s",
					 text, msg);
		else if (strcmp(state, want) != 0)
		{
			char		got[200];

			snprintf(got, sizeof(got), "%s %s", state, msg ? msg : "");
			mismatch(source, input,
					 "expected SQLSTATE %s, server reports %s", want, got);
		}
		else if (strcmp(want, "22P02") == 0)
		{
			/* malformed input: the message names the input, with a detail */
			const char *prefix = "invalid input syntax for type vector: \"";
			size_t		plen = strlen(prefix);
			size_t		ilen = strlen(input);

			if (msg == NULL ||
				strncmp(msg, prefix, plen) != 0 ||
				strncmp(msg + plen, input, ilen) != 0 ||
				strcmp(msg + plen + ilen, "\"") != 0)
				mismatch(source, input,
						 "22P02 message is not the standard one: %s%s",
						 msg, "");
			else if (detail == NULL || detail[0] == '\0')
				mismatch(source, input, "22P02 error without detail%s%s",
						 "", "");
			else
				stats.rejected++;
		}
		else
			stats.rejected++;

		if (verbose)
			fprintf(stderr, "  %s: %s\n", state, msg);
	}
	else
	{
		fprintf(stderr, "unexpected result status %s: %s",
				PQresStatus(PQresultStatus(res)), PQerrorMessage(conn));
		exit(2);
	}

	PQclear(res);
	free(text);
	free(x);
}

/* one corpus file is one input */
static void
check_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "could not read \"%s\"\n", path);
		exit(2);
	}
	buf = malloc(size + 1);
	if (buf == NULL || fread(buf, 1, size, f) != (size_t) size)
	{
		fprintf(stderr, "could not read \"%s\"\n", path);
		exit(2);
	}
	buf[size] = '\0';			/* and any embedded NUL ends it earlier */
	fclose(f);
	check_one(path, buf);
	free(buf);
}

static void
check_path(const char *path)
{
	struct stat st;
	DIR		   *dir;
	struct dirent *de;

	if (stat(path, &st) != 0)
	{
		fprintf(stderr, "could not stat \"%s\"\n", path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode))
	{
		check_file(path);
		return;
	}
	dir = opendir(path);
	if (dir == NULL)
	{
		fprintf(stderr, "could not open directory \"%s\"\n", path);
		exit(2);
	}
	while ((de = readdir(dir)) != NULL)
	{
		char		child[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		check_path(child);
	}
	closedir(dir);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Cases file: one input per line, with C escapes \t \n \v \f \r \\ \xHH.
 * Lines starting with '#' are comments; an empty line is the empty input
 * only when written as the single escape \e.
 */
static void
check_cases_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			lineno = 0;

	if (f == NULL)
	{
		fprintf(stderr, "could not open \"%s\"\n", path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char		input[8192];
		char		source[64];
		size_t		len = strlen(line);
		size_t		n = 0;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		for (size_t i = 0; i < len; i++)
		{
			char		c = line[i];

			if (c == '\\' && i + 1 < len)
			{
				c = line[++i];
				switch (c)
				{
					case 't':
						c = '\t';
						break;
					case 'n':
						c = '\n';
						break;
					case 'v':
						c = '\v';
						break;
					case 'f':
						c = '\f';
						break;
					case 'r':
						c = '\r';
						break;
					case 'e':
						continue;	/* nothing: marks an empty input */
					case 'x':
						if (i + 2 < len && hexval(line[i + 1]) >= 0 &&
							hexval(line[i + 2]) >= 0)
						{
							c = (char) (hexval(line[i + 1]) * 16 +
										hexval(line[i + 2]));
							i += 2;
						}
						break;
					default:
						break;	/* \\ and anything else: the char itself */
				}
			}
			input[n++] = c;
		}
		input[n] = '\0';
		snprintf(source, sizeof(source), "%s:%d", "cases", lineno);
		check_one(source, input);
	}
	fclose(f);
}

/* a small deterministic generator, so every run checks the same values */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state >> 16);
}

static float
bits_to_float(uint32_t bits)
{
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* check one float spelled three ways: shortest, %.9g and %.17g */
static void
check_float_spellings(float f)
{
	char		buf[128];

	/* VecqVectorTextFormat spells it the way the server's output does */
	VecqVectorTextFormat(&f, 1, buf);
	check_one("generated:shortest", buf);
	snprintf(buf, sizeof(buf), "[%.9g]", (double) f);
	check_one("generated:%.9g", buf);
	snprintf(buf, sizeof(buf), "[ %.17g ]", (double) f);
	check_one("generated:%.17g", buf);
}

/* a vector of n copies of elem, with optional whitespace around it */
static void
check_repeated(const char *source, const char *elem, int n, const char *pad)
{
	size_t		elen = strlen(elem);
	size_t		plen = strlen(pad);
	char	   *buf = malloc((elen + 1) * n + 2 * plen + 3);
	char	   *p = buf;

	if (buf == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	memcpy(p, pad, plen);
	p += plen;
	*p++ = '[';
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = ',';
		memcpy(p, elem, elen);
		p += elen;
	}
	*p++ = ']';
	memcpy(p, pad, plen);
	p += plen;
	*p = '\0';
	check_one(source, buf);
	free(buf);
}

static void
check_generated(int nrandom)
{
	static const uint32_t boundary[] = {
		0x00000000,				/* 0 */
		0x00000001,				/* smallest subnormal */
		0x00000002,
		0x000fffff,
		0x007fffff,				/* largest subnormal */
		0x00800000,				/* smallest normal */
		0x00800001,
		0x33800000,				/* 2^-24 */
		0x34000000,				/* FLT_EPSILON */
		0x3dcccccd,				/* 0.1f */
		0x3e99999a,				/* 0.3f */
		0x3f7fffff,
		0x3f800000,				/* 1 */
		0x3f800001,
		0x4b7fffff,				/* 2^24 - 1 */
		0x4b800000,				/* 2^24 */
		0x4b800001,
		0x5f000000,				/* 2^63 */
		0x7f000000,
		0x7f7ffffe,
		0x7f7fffff,				/* FLT_MAX */
		0x7f800000,				/* infinity */
		0x7fc00000,				/* NaN */
		0x7f800001,				/* signalling NaN */
	};
	int			nb = (int) (sizeof(boundary) / sizeof(boundary[0]));

	for (int i = 0; i < nb; i++)
	{
		check_float_spellings(bits_to_float(boundary[i]));
		check_float_spellings(bits_to_float(boundary[i] | 0x80000000));
	}

	/* random bit patterns: every exponent, both signs, some NaN and inf */
	for (int i = 0; i < nrandom; i++)
		check_float_spellings(bits_to_float(rng_next()));

	/* random vectors of random finite values with random spacing */
	for (int i = 0; i < nrandom / 10; i++)
	{
		static const char *const spaces[] = {"", "", " ", "\t", "\n ", "\r\n"};
		char		buf[8192];
		char	   *p = buf;
		int			dim = 1 + (int) (rng_next() % 100);

		p += sprintf(p, "%s[", spaces[rng_next() % 6]);
		for (int k = 0; k < dim; k++)
		{
			float		f;

			do
				f = bits_to_float(rng_next());
			while (!isfinite(f));
			p += sprintf(p, "%s%s%.9g%s", k > 0 ? "," : "",
						 spaces[rng_next() % 6], (double) f,
						 spaces[rng_next() % 6]);
		}
		sprintf(p, "]%s", spaces[rng_next() % 6]);
		check_one("generated:vector", buf);
	}

	/* at and over the dimension limit, with short and longest elements */
	check_repeated("generated:dim16000", "1", VECQ_MAX_DIM, "");
	check_repeated("generated:dim16000", "-1.1754942e-38", VECQ_MAX_DIM, " ");
	check_repeated("generated:dim16000", "0x1p-149", VECQ_MAX_DIM, "\n");
	check_repeated("generated:dim16001", "1", VECQ_MAX_DIM + 1, "");
	check_repeated("generated:dim16001", "nan", VECQ_MAX_DIM + 1, "");
	check_repeated("generated:dim20000", "2.5", 20000, "");
}

static void
usage(const char *progname)
{
	fprintf(stderr,
			"usage: %s [-v] [-n RANDOM] [-c CASESFILE] [FILE|DIR]...\n"
			"Checks that the vector text parser and the server agree.\n"
			"Connects with the PG* environment variables.\n"
			"  -c CASESFILE  one C-escaped input per line\n"
			"  -n RANDOM     random float values to generate (default 1000)\n"
			"  -v            print every server error\n",
			progname);
	exit(2);
}

int
main(int argc, char **argv)
{
	int			nrandom = 1000;
	int			i;

	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "could not connect: %s", PQerrorMessage(conn));
		return 2;
	}

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			nrandom = atoi(argv[++i]);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			check_cases_file(argv[++i]);
		else if (argv[i][0] == '-')
			usage(argv[0]);
		else
			check_path(argv[i]);
	}
	check_generated(nrandom);

	if (stats.mismatches > MAX_REPORTED)
		fprintf(stderr, "... and %ld more mismatches\n",
				stats.mismatches - MAX_REPORTED);
	printf("xcheck vector_text: %ld inputs, %ld accepted, %ld rejected, "
		   "%ld skipped (not UTF-8), %ld mismatches\n",
		   stats.inputs, stats.accepted, stats.rejected, stats.skipped,
		   stats.mismatches);

	PQfinish(conn);
	return stats.mismatches > 0 ? 1 : 0;
}
