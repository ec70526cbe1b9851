/*-------------------------------------------------------------------------
 *
 * fuzz_chroma_hnsw.c
 *	  libFuzzer target for the hnswlib segment reader
 *	  (src/migrate/chroma_hnsw.c).
 *
 * The first CHROMA_HNSW_HEADER_SIZE (100) bytes of an input are header.bin,
 * the rest stands for data_level0.bin and, read from its start, length.bin.
 * A header that passes must describe a consistent layout, and every
 * element must then read within the data or fail cleanly: reading all
 * elements (at most as many as fit, plus one more to check the bounds)
 * must never crash or read outside the input.  The same bytes are also
 * read as link_lists.bin (chroma_hnsw_index_links): when they index, every
 * element's level and its lists on every level (and one above) are read,
 * and an accepted list must fit its level's maximum and name only
 * elements that exist.
 *
 * Seeds (corpus_chroma_hnsw/): header.bin of the fixtures (empty and
 * flushed, 384 to 1536 dimensions), and flushed Chroma 1.0 indexes made by
 * make_hnsw_dir.mjs (l2 and cosine, 16 dimensions), cut to their first 4
 * elements with header counts to match; the support fixture's header with
 * its link_lists.bin (links_support).
 *
 * test/fuzz/fuzz_chroma_hnsw.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "chroma_hnsw.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ChromaHnswIndex idx;
	char		err[256];
	float	   *vec;
	uint64_t	n;

	if (size < CHROMA_HNSW_HEADER_SIZE)
	{
		if (chroma_hnsw_parse_header(data, size, &idx, err, sizeof(err)) == 0)
			abort();
		return 0;
	}
	if (chroma_hnsw_parse_header(data, CHROMA_HNSW_HEADER_SIZE, &idx,
								 err, sizeof(err)) < 0)
		return 0;
	if (idx.dim < 1 || idx.dim > CHROMA_HNSW_MAX_DIM ||
		idx.offset_data + 4 * (uint64_t) idx.dim != idx.label_offset ||
		idx.label_offset + 8 != idx.size_data_per_element ||
		idx.cur_element_count > idx.max_elements)
		abort();

	idx.level0 = data + CHROMA_HNSW_HEADER_SIZE;
	idx.level0_len = size - CHROMA_HNSW_HEADER_SIZE;
	idx.lengths = idx.level0;
	idx.lengths_len = idx.level0_len;

	vec = malloc(idx.dim * sizeof(float));
	if (vec == NULL)
		abort();
	n = idx.level0_len / idx.size_data_per_element + 1;
	if (n > idx.cur_element_count)
		n = idx.cur_element_count;
	for (uint64_t i = 0; i < n; i++)
	{
		uint64_t	label;
		bool		deleted;
		float		length;
		int			rc;

		rc = chroma_hnsw_element(&idx, i, &label, &deleted, vec, err, sizeof(err));
		if (rc == 0 && (i + 1) * idx.size_data_per_element > idx.level0_len)
			abort();
		chroma_hnsw_length(&idx, i, &length, err, sizeof(err));
	}
	{
		uint64_t	label;
		bool		deleted;

		if (chroma_hnsw_element(&idx, idx.cur_element_count, &label, &deleted,
								vec, err, sizeof(err)) == 0)
			abort();
	}
	free(vec);

	/*
	 * The same bytes as link_lists.bin: indexed, then every element's
	 * level and lists read; an accepted list fits its level's maximum and
	 * names only existing elements
	 */
	if (chroma_hnsw_index_links(&idx, idx.level0, idx.level0_len, err, sizeof(err)) == 0)
	{
		uint64_t	room = idx.maxM0 > idx.maxM ? idx.maxM0 : idx.maxM;
		uint32_t   *ids = malloc(sizeof(uint32_t) * room);

		if (ids == NULL)
			abort();
		for (uint64_t i = 0; i < idx.cur_element_count; i++)
		{
			int			level = chroma_hnsw_level(&idx, i, err, sizeof(err));

			if (level < 0 || level > idx.maxlevel)
				abort();
			for (int lc = 0; lc <= level + 1; lc++)
			{
				uint32_t	n;

				if (chroma_hnsw_neighbors(&idx, i, lc, ids, (uint32_t) room, &n,
										  err, sizeof(err)) != 0)
					continue;
				if (lc > level || n > (lc == 0 ? idx.maxM0 : idx.maxM))
					abort();
				for (uint32_t k = 0; k < n; k++)
					if (ids[k] >= idx.cur_element_count)
						abort();
			}
		}
		free(ids);
		free(idx.links_at);
	}
	return 0;
}
