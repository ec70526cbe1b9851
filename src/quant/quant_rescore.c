/*-------------------------------------------------------------------------
 *
 * quant_rescore.c
 *	  Exact re-ranking for scans of quantized indexes: reading a candidate's
 *	  vector from its heap row, and the vecq.rescore_factor setting.
 *
 * An index of codes knows distances only approximately.  Its scan takes
 * the candidates of the graph search in order of their code distance,
 * reads each one's row (visible to the scan's snapshot) and computes the
 * exact distance as the SQL operator does, and returns rows in the order
 * of those exact distances (hnsw_scan.c): a window of QuantRescoreWindow()
 * candidates is re-ranked before a row is returned, fewer when the codes'
 * error bounds prove that no later candidate can be closer.
 *
 * src/quant/quant_rescore.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "hnsw/hnsw.h"
#include "quant/quant.h"
#include "vector/vector.h"

double		quant_rescore_factor = 4.0;

void
QuantInit(void)
{
	DefineCustomRealVariable("vecq.rescore_factor",
							 "Sets how many candidates a scan of a quantized index re-ranks with exact distances.",
							 "Before returning its first row the scan re-ranks a window of rescore_factor * 10 candidates "
							 "(at most hnsw.ef_search), and another window for each window's worth of rows; "
							 "fewer when the codes prove the order.",
							 &quant_rescore_factor,
							 4.0, 0.1, 100.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * The re-ranking window: how many candidates a scan re-ranks before it
 * returns rows (and again per window's worth of rows returned).  The displacement of a true neighbour in the order
 * of code distances depends on the codes' error, not on LIMIT, so the
 * window is a count: rescore_factor * 10, the usual rescore_factor * LIMIT
 * for LIMIT 10, but no more than the ef_search candidates a search round
 * keeps.
 */
int
QuantRescoreWindow(int ef_search)
{
	double		w = ceil(quant_rescore_factor * 10);

	return (int) Max(1, Min(w, (double) Max(ef_search, 1)));
}

void
QuantRescorerInit(QuantRescorer *r, Relation heap, Relation index, Snapshot snapshot)
{
	memset(r, 0, sizeof(*r));
	r->snapshot = snapshot;
	r->fetch = table_index_fetch_begin(heap);
	r->slot = table_slot_create(heap, NULL);
	r->attnum = index->rd_index->indkey.values[0];
	r->halfvec = HnswIndexIsHalfvec(index);
	if (r->attnum == 0)
	{
		/* an expression index: evaluate the expression on the row */
		r->indexInfo = BuildIndexInfo(index);
		r->estate = CreateExecutorState();
		GetPerTupleExprContext(r->estate)->ecxt_scantuple = r->slot;
	}
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "vecq rescore",
								   ALLOCSET_SMALL_SIZES);
}

/* Read the row at tid into r->slot; false if the snapshot sees none. */
static bool
fetch_visible(QuantRescorer *r, ItemPointer tid)
{
	ItemPointerData t = *tid;
	bool		call_again = false;
	bool		all_dead = false;

	return table_index_fetch_tuple(r->fetch, &t, r->snapshot, r->slot,
								   &call_again, &all_dead);
}

/*
 * The vector of the row at tid, if the snapshot sees one (NULL otherwise);
 * valid until the next call.
 */
const Vector *
QuantRescorerFetch(QuantRescorer *r, ItemPointer tid)
{
	Datum		value;
	bool		isnull;
	MemoryContext old;
	Vector	   *v;

	MemoryContextReset(r->cxt);
	if (r->estate)
		ResetPerTupleExprContext(r->estate);
	if (!fetch_visible(r, tid))
		return NULL;
	old = MemoryContextSwitchTo(r->cxt);
	if (r->estate)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnulls[INDEX_MAX_KEYS];

		FormIndexDatum(r->indexInfo, r->slot, r->estate, values, isnulls);
		value = values[0];
		isnull = isnulls[0];
	}
	else
		value = slot_getattr(r->slot, r->attnum, &isnull);
	if (isnull)
		v = NULL;
	else if (r->halfvec)
	{
		HalfVector *h = DatumGetHalfVector(value);

		if (r->estate == NULL && IsMVCCSnapshot(r->snapshot))
			VecqRememberFetched(value, (struct varlena *) h);
		v = HalfVectorToVector(h);
	}
	else
	{
		v = DatumGetVector(value);
		/* the executor computes this row's distance next: spare its fetch */
		if (r->estate == NULL && IsMVCCSnapshot(r->snapshot))
			VecqRememberFetched(value, (struct varlena *) v);
	}
	MemoryContextSwitchTo(old);
	return v;
}

/*
 * The indexed column's datum as the row at tid stores it (a TOAST pointer,
 * say), if the snapshot sees the row and the index is on a column (not an
 * expression); valid until the next call.  Returns false otherwise.
 */
bool
QuantRescorerStored(QuantRescorer *r, ItemPointer tid, Datum *stored)
{
	bool		isnull;

	if (r->estate != NULL || !fetch_visible(r, tid))
		return false;
	*stored = slot_getattr(r->slot, r->attnum, &isnull);
	return !isnull;
}

void
QuantRescorerEnd(QuantRescorer *r)
{
	if (r->slot)
		ExecDropSingleTupleTableSlot(r->slot);
	if (r->fetch)
		table_index_fetch_end(r->fetch);
	if (r->estate)
		FreeExecutorState(r->estate);
	if (r->cxt)
		MemoryContextDelete(r->cxt);
	memset(r, 0, sizeof(*r));
}
