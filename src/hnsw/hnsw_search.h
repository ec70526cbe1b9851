/*-------------------------------------------------------------------------
 *
 * hnsw_search.h
 *	  The graph search over index pages, shared by scans, inserts and
 *	  vacuum: a resumable best-first search with a visited set.
 *
 * A search keeps every element it has discovered in a pool.  Candidates
 * not yet expanded wait in a min-heap; the ef best live, not yet returned
 * elements sit in a max-heap ("top"), the other live ones in a min-heap
 * ("rest").  HnswSearchLayer() runs the classic HNSW layer search; at layer
 * 0 a scan then calls HnswSearchNext() repeatedly, which returns the top
 * elements in distance order and, when they are used up, resumes the
 * search best-first: the iterative scan.  Only one buffer
 * lock is held at a time, so searches never deadlock with writers.
 *
 * src/hnsw/hnsw_search.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_HNSW_SEARCH_H
#define VECQ_HNSW_SEARCH_H

#include "hnsw/hnsw.h"

typedef struct HnswCandidate
{
	double		dist;
	ItemPointerData tid;		/* element tuple */
	ItemPointerData neighbortid;	/* its neighbour tuple */
	ItemPointerData heaptid;
	ItemPointerData keynext;	/* next element with its filterkey */
	uint32		filterkey;
	uint8		level;
	bool		deleted;
	bool		returned;
	int8		nbr_layer;		/* layer of the copied neighbours, or -1 */
	int16		nbr_count;
	int32		nbr_off;		/* its neighbours, in HnswSearch.nbrstore */
	double		bound;			/* if want_bounds: HnswQueryBound */
	float	   *vector;			/* a copy, if the search keeps vectors */
} HnswCandidate;

typedef struct HnswVisited
{
	uint64	   *keys;			/* 0 = empty slot */
	uint32		mask;
	uint32		count;
} HnswVisited;

typedef struct HnswSearch
{
	Relation	index;
	const HnswIndexInfo *info;
	const float *query;			/* prepared (normalized for cosine) */
	HnswQuery	q;				/* the same, for distances to element data */
	bool		keep_vectors;	/* keep a float4 copy of each vector */
	bool		want_bounds;	/* compute HnswCandidate.bound */
	uint32		filterkey;		/* if not 0: only these elements are results */
	MemoryContext cxt;			/* everything below lives here, except ... */
	bool		reused;			/* ... pool, heaps, visited set and nbrstore,
								 * when borrowed from the backend's buffers
								 * of earlier searches (hnsw_search.c) */

	HnswCandidate *pool;
	int			npool;
	int			maxpool;

	int		   *cand;			/* min-heap: discovered, not expanded */
	int			ncand;
	int		   *top;			/* max-heap: the ef best live, not returned */
	int			ntop;
	int		   *rest;			/* min-heap: other live, not returned */
	int			nrest;
	int			maxheap;		/* allocated size of each heap */

	HnswVisited visited;
	int			ef;
	int			layer;
	bool		resumed;		/* past the first round (HnswSearchNext) */

	/* results of the last round, ascending, for HnswSearchNext */
	int		   *out;
	int			nout;
	int			outpos;

	/*
	 * Neighbours of the current layer, copied when an element is visited
	 * (its neighbour tuple is usually on the same page), so that expanding
	 * it needs no second page access.
	 */
	ItemPointerData *nbrstore;
	int			nnbrstore;
	int			maxnbrstore;

	uint64		ndistances;		/* elements whose distance was computed */
	float	   *scratch;		/* one vector, for overflow reads */

	Buffer		pinned;			/* last buffer read, kept pinned */
} HnswSearch;

extern void HnswSearchInit(HnswSearch *s, Relation index,
						   const HnswIndexInfo *info, const float *query,
						   bool keep_vectors, MemoryContext cxt);
extern void HnswSearchEnd(HnswSearch *s);

/* Forget everything; start a new layer search. */
extern void HnswSearchReset(HnswSearch *s);

/* Visit the element at tid (if not yet visited); its pool index or -1. */
extern int	HnswSearchVisit(HnswSearch *s, ItemPointer tid);

/*
 * Search layer lc from the given pool entries with ef; afterwards the top
 * heap holds up to ef best live elements.  Sorted ascending into out[].
 */
extern void HnswSearchLayer(HnswSearch *s, const int *entries, int nentries,
							int ef, int lc);

/*
 * Read a key's chain of elements from head (an exact search of one key):
 * afterwards out[] holds its live elements with that filterkey, ascending,
 * and the search has nothing more to resume.  Stops early after budget
 * elements if budget > 0.
 */
extern void HnswSearchChain(HnswSearch *s, ItemPointer head, uint32 filterkey,
							uint64 budget);

/* Greedy descent from the entry point to layer target+1; returns pool index. */
extern int	HnswSearchDescend(HnswSearch *s, ItemPointer entry, int entry_level,
							  int target);

/*
 * Next element of a layer-0 search in distance order, or -1: first the
 * results of HnswSearchLayer, then, if budget > 0, further elements found
 * by resuming the search best-first until budget elements have been
 * visited in all (see hnsw_search.c).
 */
extern int	HnswSearchNext(HnswSearch *s, uint64 budget);

/*
 * Read the vector, flags and neighbour tid of one element; false if the
 * tuple is not an element (the caller treats it as gone).
 */
extern bool HnswLoadElement(Relation index, const HnswIndexInfo *info,
							ItemPointer tid, float *vector, uint8 *flags,
							uint8 *level, ItemPointer neighbortid);

/* Copy the level-lc slots of a neighbour tuple; returns how many valid. */
extern int	HnswLoadNeighbors(Relation index, const HnswIndexInfo *info,
							  ItemPointer neighbortid, int lc,
							  ItemPointerData *out);

/*
 * The neighbour-selection heuristic of the HNSW paper (algorithm 4, with
 * keepPrunedConnections): from candidates sorted ascending by distance to
 * the base, keep each one that is closer to the base than to every one kept
 * before, then fill up with the nearest others, up to max.  Candidates need
 * vectors.  Returns how many were chosen, their indices (into cands) in
 * selected[].
 */
extern int	HnswSelectNeighbors(const HnswIndexInfo *info, HnswCandidate **cands,
								int ncands, int max, int *selected);

#endif							/* VECQ_HNSW_SEARCH_H */
