/*-------------------------------------------------------------------------
 *
 * graph_seed.c
 *	  Checking and decoding chunks of an HNSW graph seed (format in
 *	  graph_seed.h).  Plain C99 without PostgreSQL, so that the fuzzer
 *	  (test/fuzz/fuzz_graph_seed.c) runs exactly the code the server does.
 *
 * src/common/graph_seed.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>

#include "common/graph_seed.h"

static int	fail(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint32_t
get16(const uint8_t *p)
{
	return ((uint32_t) p[0] << 8) | (uint32_t) p[1];
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

int
graph_seed_check(const uint8_t *p, size_t len, uint64_t *nelem,
				 uint64_t *nlinks, char *err, size_t errlen)
{
	size_t		pos = 0;

	*nelem = 0;
	*nlinks = 0;
	while (pos < len)
	{
		int			level;

		if (len - pos < 9)
			return fail(err, errlen, "element %llu ends inside its hash and level",
						(unsigned long long) *nelem);
		level = p[pos + 8];
		pos += 9;
		if (level != GRAPH_SEED_NO_ROW)
		{
			if (level > GRAPH_SEED_MAX_LEVEL)
				return fail(err, errlen, "element %llu has level %d, above %d",
							(unsigned long long) *nelem, level, GRAPH_SEED_MAX_LEVEL);
			for (int lc = 0; lc <= level; lc++)
			{
				uint32_t	count;

				if (len - pos < 2)
					return fail(err, errlen, "element %llu ends before the count of level %d",
								(unsigned long long) *nelem, lc);
				count = get16(p + pos);
				pos += 2;
				if (count > GRAPH_SEED_MAX_LINKS)
					return fail(err, errlen, "element %llu lists %u neighbours on level %d, more than %d",
								(unsigned long long) *nelem, (unsigned) count, lc,
								GRAPH_SEED_MAX_LINKS);
				if ((len - pos) / 4 < (size_t) count)
					return fail(err, errlen, "element %llu ends inside its neighbours of level %d",
								(unsigned long long) *nelem, lc);
				pos += (size_t) count * 4;
				*nlinks += 1 + count;
			}
		}
		(*nelem)++;
	}
	return 0;
}

void
graph_seed_decode(const uint8_t *p, size_t len, uint64_t *hash, uint8_t *level,
				  uint64_t *offset, uint64_t links_base, uint32_t *links)
{
	size_t		pos = 0;
	uint64_t	i = 0;
	uint64_t	n = 0;

	while (pos < len)
	{
		int			lv;

		hash[i] = ((uint64_t) get32(p + pos) << 32) | (uint64_t) get32(p + pos + 4);
		lv = p[pos + 8];
		level[i] = (uint8_t) lv;
		offset[i] = links_base + n;
		pos += 9;
		i++;
		if (lv == GRAPH_SEED_NO_ROW)
			continue;
		for (int lc = 0; lc <= lv; lc++)
		{
			uint32_t	count = get16(p + pos);

			pos += 2;
			links[n++] = count;
			for (uint32_t k = 0; k < count; k++, pos += 4)
				links[n++] = get32(p + pos);
		}
	}
}
