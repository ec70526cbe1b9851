/*-------------------------------------------------------------------------
 *
 * fuzz_chroma_pickle.c
 *	  libFuzzer target for the index_metadata.pickle reader
 *	  (src/migrate/chroma_pickle.c).
 *
 * Each input is a whole pickle.  The reader must never crash, leak or
 * read outside the input, must leave an empty map with a message on
 * failure, and on success return what it promises: count ids that are
 * NUL-terminated, unique, and labels that are unique.
 *
 * Seeds (corpus_chroma_pickle/): the two real fixture pickles (fixture_*:
 * Chroma 0.4 object form, protocol 5; Chroma 1.x dict form, protocol 3),
 * pickles written by Python's pickle module for protocols 2-5 in both
 * forms with a stand-in PersistentData class (py_*: 7 ids, one non-ASCII,
 * one of 300 characters), and those built by test_readers --write-seeds
 * (small_*, variants_p5).
 *
 * test/fuzz/fuzz_chroma_pickle.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chroma_pickle.h"

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ChromaLabelMap map;
	char		err[256];

	if (chroma_pickle_label_map(data, size, &map, err, sizeof(err)) < 0)
	{
		if (err[0] == '\0' || map.count != 0 || map.ids != NULL || map.labels != NULL)
			abort();
		return 0;
	}
	if (map.count > 0)
	{
		uint64_t   *labels = malloc(map.count * sizeof(uint64_t));

		if (labels == NULL)
			abort();
		for (size_t i = 0; i < map.count; i++)
		{
			/* an id is a string within the input */
			if (strlen(map.ids[i]) >= size)
				abort();
			labels[i] = map.labels[i];
		}
		qsort(labels, map.count, sizeof(uint64_t), cmp_u64);
		for (size_t i = 1; i < map.count; i++)
			if (labels[i] == labels[i - 1])
				abort();
		free(labels);
	}
	chroma_label_map_free(&map);
	return 0;
}
