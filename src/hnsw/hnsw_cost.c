/*-------------------------------------------------------------------------
 *
 * hnsw_cost.c
 *	  Cost estimation for HNSW index scans.
 *
 * The index can only produce rows in the order of a distance operator, so
 * a path without ORDER BY gets an infinite cost and is never chosen.  For
 * an ordered scan, the graph search happens before the first row comes
 * out: the start-up cost is that of visiting about ef_search * 2m elements,
 * and the total
 * cost adds that of a full index read, so that the planner prefers the
 * index for ORDER BY ... LIMIT k and a sort for queries that need every
 * row.
 *
 * With a key condition ("key = value" on the second column), the scan
 * either reads the key's elements whole or searches the graph for them,
 * looking at about 1 / p times as many elements for a key with a share p
 * of the rows, each HNSW_KEY_GRAPH_COST times as costly as reading a chain
 * element (see hnsw_scan.c); the estimate takes the cheaper.
 *
 * src/hnsw/hnsw_cost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "hnsw/hnsw.h"

void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	Relation	index;
	int			m;
	double		tuples;
	double		visited;
	double		ratio;
	double		pages;
	bool		keyed = false;
	ListCell   *lc;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	index = index_open(path->indexinfo->indexoid, NoLock);
	m = HnswGetM(index);
	index_close(index, NoLock);

	/*
	 * Elements the search visits: about ef_search candidates at level 0,
	 * each bringing up to 2m neighbours, plus the greedy descent.  Each
	 * visit is a distance computation and, at worst, a page.  The pages of
	 * a graph being searched are charged at seq_page_cost: the search keeps
	 * coming back to the same hot pages near the entry point, and
	 * charging random_page_cost for each would make any table of a few
	 * thousand rows look cheaper to sort, which it is not.
	 */
	tuples = Max(path->indexinfo->tuples, 1);
	visited = Min(tuples, (double) hnsw_ef_search * 2 * m + log(tuples) * m);
	foreach(lc, path->indexclauses)
		if (lfirst_node(IndexClause, lc)->indexcol == 1)
			keyed = true;
	if (keyed)
	{
		double		share = Max(costs.indexSelectivity, 1.0 / tuples);

		visited = Min(share * tuples, Min(tuples, visited * HNSW_KEY_GRAPH_COST / share));
		visited = Max(visited, 1);
	}
	ratio = visited / tuples;
	pages = Max(1.0, costs.numIndexPages * ratio);

	*indexStartupCost = pages * seq_page_cost + visited * cpu_operator_cost * 4;
	/* every row, in order: what a query without LIMIT would cost */
	*indexTotalCost = *indexStartupCost + costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
