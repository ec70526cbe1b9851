/*-------------------------------------------------------------------------
 *
 * fuzz_graph_seed.c
 *	  libFuzzer target for the HNSW graph seed chunk reader
 *	  (src/common/graph_seed.c), which the server runs on every chunk
 *	  vecq_hnsw_seed() is given.
 *
 * Every input is checked with graph_seed_check.  A rejected input must
 * come with a message.  An accepted one is decoded into buffers of exactly
 * the sizes the check reported (AddressSanitizer catches a write past
 * them), and the decoded elements, encoded again, must give the input
 * back byte for byte: each level's count is followed by that many
 * neighbours, the offsets step by what each element took, and no level
 * exceeds GRAPH_SEED_MAX_LEVEL or list GRAPH_SEED_MAX_LINKS.  The input is
 * also split at every element boundary and at one byte past it: the first
 * part of a valid split checks with fewer elements.  Violations abort,
 * which libFuzzer reports as a crash.
 *
 * test/fuzz/fuzz_graph_seed.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/graph_seed.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_graph_seed: %s\n", what);
	abort();
}

static void
put(uint8_t **q, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*(*q)++ = (uint8_t) (v >> (8 * i));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	nelem;
	uint64_t	nlinks;
	char		err[256];
	uint64_t   *hash;
	uint8_t    *level;
	uint64_t   *offset;
	uint32_t   *links;
	uint8_t    *again;
	uint8_t    *q;
	uint64_t	used = 0;

	err[0] = '\0';
	if (graph_seed_check(data, size, &nelem, &nlinks, err, sizeof(err)) < 0)
	{
		if (err[0] == '\0')
			die("rejected without a message");
		return 0;
	}
	if (nelem * 9 > size || nlinks * 2 > size)
		die("counts larger than the input allows");

	/* exactly sized: one spare byte keeps malloc(0) apart */
	hash = malloc(sizeof(uint64_t) * nelem + 1);
	level = malloc(nelem + 1);
	offset = malloc(sizeof(uint64_t) * nelem + 1);
	links = malloc(sizeof(uint32_t) * nlinks + 1);
	again = malloc(size + 1);
	if (!hash || !level || !offset || !links || !again)
		die("out of memory");
	graph_seed_decode(data, size, hash, level, offset, 7, links);

	q = again;
	for (uint64_t i = 0; i < nelem; i++)
	{
		if (offset[i] != 7 + used)
			die("offset does not follow the previous element");
		put(&q, hash[i], 8);
		put(&q, level[i], 1);
		if (level[i] == GRAPH_SEED_NO_ROW)
			continue;
		if (level[i] > GRAPH_SEED_MAX_LEVEL)
			die("level above the maximum accepted");
		for (int lc = 0; lc <= level[i]; lc++)
		{
			uint32_t	count;

			if (used >= nlinks)
				die("lists run past nlinks");
			count = links[used++];
			if (count > GRAPH_SEED_MAX_LINKS || used + count > nlinks)
				die("a list's count is out of bounds");
			put(&q, count, 2);
			for (uint32_t k = 0; k < count; k++)
				put(&q, links[used++], 4);
		}
	}
	if (used != nlinks)
		die("nlinks is not what the lists take");
	if ((size_t) (q - again) != size || memcmp(again, data, size) != 0)
		die("decoded elements do not encode to the input");

	/* a valid chunk cut after its first element is valid too */
	if (nelem > 1)
	{
		uint64_t	n1;
		uint64_t	l1;
		size_t		first = 9;

		if (level[0] != GRAPH_SEED_NO_ROW)
			for (int lc = 0, o = 0; lc <= level[0]; lc++)
			{
				first += 2 + 4 * (size_t) links[o];
				o += 1 + links[o];
			}
		if (graph_seed_check(data, first, &n1, &l1, err, sizeof(err)) < 0 || n1 != 1)
			die("the first element alone does not check");
		if (graph_seed_check(data, first + 1, &n1, &l1, err, sizeof(err)) == 0)
			die("one byte past the first element checks");
	}

	free(hash);
	free(level);
	free(offset);
	free(links);
	free(again);
	return 0;
}
