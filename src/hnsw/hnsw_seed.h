/*-------------------------------------------------------------------------
 *
 * hnsw_seed.h
 *	  A session's graph seed (hnsw_seed.c): neighbour lists made elsewhere
 *	  that the next HNSW build of the seeded table takes instead of
 *	  searching (hnsw_build_seed.c).  Wire format: src/common/graph_seed.h.
 *
 * src/hnsw/hnsw_seed.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_SEED_H
#define HNSW_SEED_H

#include "utils/hsearch.h"

#include "common/graph_seed.h"

#define SEED_NO_ORDINAL		((uint32) 0xFFFFFFFF)

/*
 * The seed, in backend-local memory.  Each element's lists are kept in
 * host order in links[]: for each level 0 .. level[o], a count, then that
 * many neighbour ordinals.
 */
typedef struct HnswSeed
{
	Oid			relid;			/* the seeded table */
	MemoryContext cxt;			/* holds all of it */
	uint32		n;				/* elements */
	uint32		maxn;			/* room in the per-element arrays */
	uint64	   *hash;			/* per element */
	uint8	   *level;			/* per element; GRAPH_SEED_NO_ROW */
	uint64	   *offset;			/* per element: its lists in links[] */
	uint32	   *links;
	uint64		nlinks;
	uint64		maxlinks;

	/* made by HnswSeedPrepare for a build: hash -> elements */
	HTAB	   *byhash;
	uint32	   *next;			/* per element: next one of the same hash */
	bool	   *claimed;		/* per element: a row has taken it */
} HnswSeed;

extern HnswSeed *HnswSeedFor(Oid relid);
extern void HnswSeedPrepare(HnswSeed *seed);
extern uint32 HnswSeedClaim(HnswSeed *seed, uint64 hash);
extern const uint32 *HnswSeedList(const HnswSeed *seed, uint32 ordinal, int lc,
								  int *count);
extern void HnswSeedForget(Oid relid);

#endif							/* HNSW_SEED_H */
