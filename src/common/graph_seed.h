/*-------------------------------------------------------------------------
 *
 * graph_seed.h
 *	  The wire format of an HNSW graph seed and the vector hash it names
 *	  rows by.  Shared by the server (src/hnsw/hnsw_seed.c) and by clients
 *	  that send a seed (vecq-migrate); plain C99, no PostgreSQL headers.
 *
 * A graph seed is a proximity graph made elsewhere (Chroma's hnswlib
 * files, for vecq-migrate) that the next CREATE INDEX ... USING hnsw on
 * the seeded table in the same session takes instead of searching for
 * every row's neighbours.  It is sent with vecq_hnsw_seed(table, chunk) in
 * chunks, each a run of whole elements.  Elements are numbered 0, 1, 2, ...
 * across all chunks of a table, in the order sent: the element's ordinal.
 * All integers are big-endian (network order, as in binary COPY):
 *
 *	element  := hash:uint64 level:uint8 lists
 *	lists    := (nothing, when level is GRAPH_SEED_NO_ROW)
 *			  | list{level + 1}, for levels 0, 1, ..., level
 *	list	 := count:uint16 neighbour:uint32{count}
 *
 * hash is graph_seed_vector_hash() of the vector the element's row holds
 * (the float4 elements as stored, before any normalisation); the build
 * gives a row the element whose hash matches.  level is the element's top
 * level, at most GRAPH_SEED_MAX_LEVEL, or GRAPH_SEED_NO_ROW for an ordinal
 * that has no row (a deleted element keeps its number so that the others
 * keep theirs).  A neighbour is another element's ordinal; it may come in
 * a later chunk.  A list holds at most GRAPH_SEED_MAX_LINKS neighbours.
 *
 * src/common/graph_seed.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRAPH_SEED_H
#define GRAPH_SEED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GRAPH_SEED_MAX_LEVEL	15
#define GRAPH_SEED_NO_ROW		0xFF
#define GRAPH_SEED_MAX_LINKS	1024

/*
 * Check a chunk: 0, with its elements and the uint32s their lists take
 * decoded (per level, a count and the neighbours) in *nelem and *nlinks;
 * or -1 with a message in err.  A chunk that passes decodes safely.
 */
extern int	graph_seed_check(const uint8_t *p, size_t len, uint64_t *nelem,
							 uint64_t *nlinks, char *err, size_t errlen);

/*
 * Decode a checked chunk into nelem-long hash[], level[] and offset[] (of
 * each element's lists in links, plus links_base) and nlinks-long links[].
 */
extern void graph_seed_decode(const uint8_t *p, size_t len, uint64_t *hash,
							  uint8_t *level, uint64_t *offset,
							  uint64_t links_base, uint32_t *links);

/*
 * 64-bit hash of a vector's float4 elements, by their bits: the same on
 * every platform for the same values.  Not cryptographic: a collision
 * only gives a row another element's (valid) neighbour lists.
 */
static inline uint64_t
graph_seed_vector_hash(const float *x, int dim)
{
	uint64_t	h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t) (uint32_t) dim;
	int			i;

	for (i = 0; i + 1 < dim; i += 2)
	{
		uint32_t	a;
		uint32_t	b;

		memcpy(&a, &x[i], sizeof(a));
		memcpy(&b, &x[i + 1], sizeof(b));
		h ^= (uint64_t) a | ((uint64_t) b << 32);
		h *= UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	if (i < dim)
	{
		uint32_t	a;

		memcpy(&a, &x[i], sizeof(a));
		h ^= (uint64_t) a;
		h *= UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

#endif							/* GRAPH_SEED_H */
