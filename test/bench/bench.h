/*-------------------------------------------------------------------------
 *
 * bench.h
 *	  Shared declarations of the benchmark driver (vecq_bench): data sets,
 *	  exact ground truth, and the database side (load, build, query).
 *
 * The driver is a frontend program linked with libpq; it never links the
 * extension.  Distances for ground truth and recall are computed here in
 * double precision, independently of either engine, so that the figures
 * judge both engines by the same yardstick.
 *
 * test/bench/bench.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_BENCH_H
#define VECQ_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "libpq-fe.h"

/* ----------------------------------------------------------------
 * Data sets
 * ----------------------------------------------------------------
 */

/* n vectors of dim float4 elements, row-major */
typedef struct BenchVectors
{
	int			n;
	int			dim;
	float	   *x;
} BenchVectors;

/* A data set: rows for the table and query vectors never in it. */
typedef struct BenchDataset
{
	char		name[128];		/* "fashion-mnist-784", "synth-100000-128-s1" */
	BenchVectors base;
	BenchVectors queries;
} BenchDataset;

/*
 * Load or generate a data set described by spec:
 *	 fashion-mnist               Debian's dataset-fashion-mnist, train rows,
 *								 the first nqueries t10k images as queries
 *	 synth:N:DIM[:SEED]          Gaussian mixture (see bench_data.c)
 * Files are cached in cachedir.  Exits with a message on failure.
 */
extern void BenchDatasetLoad(BenchDataset *ds, const char *spec,
							 int nqueries, const char *cachedir);

/* ----------------------------------------------------------------
 * Metrics and ground truth
 * ----------------------------------------------------------------
 */

typedef enum BenchMetric
{
	BENCH_L2,
	BENCH_IP,
	BENCH_COSINE
} BenchMetric;

extern BenchMetric BenchMetricParse(const char *name);
extern const char *BenchMetricName(BenchMetric metric);
extern const char *BenchMetricOperator(BenchMetric metric);
extern const char *BenchMetricOpclass(BenchMetric metric);

/* Distance in double precision, ordered as the SQL operator orders. */
extern double BenchDistance(BenchMetric metric, const float *a,
							const float *b, int dim);

/* Exact top-k of each query: ids (0-based rows) and distances, ascending. */
typedef struct BenchTruth
{
	int			nqueries;
	int			k;
	int32_t    *ids;			/* nqueries * k */
	double	   *dists;			/* nqueries * k */
} BenchTruth;

/* Compute (with nthreads threads) or read from the cache. */
extern void BenchTruthLoad(BenchTruth *truth, const BenchDataset *ds,
						   BenchMetric metric, int k, int nthreads,
						   const char *cachedir);

/*
 * Recall@k of one answer: returned row ids (0-based) whose exact distance is
 * no larger than the k-th exact distance count as hits (ties at the k-th
 * distance count), at most k of them.
 */
extern double BenchRecall(const BenchTruth *truth, const BenchDataset *ds,
						  BenchMetric metric, int query,
						  const int32_t *ids, int nids);

/* ----------------------------------------------------------------
 * Database side
 * ----------------------------------------------------------------
 */

/* One engine: a database in the cluster with one vector extension. */
typedef struct BenchEngine
{
	const char *name;			/* "vecq", "vecq_sq8" or "pgvector" */
	const char *extension;		/* "vecq" or "vector" */
	const char *index_options;	/* added to --with (vecq_sq8), or NULL */
	char		dbname[64];
	PGconn	   *conn;
	unsigned int vector_oid;	/* OID of type vector in that database */
} BenchEngine;

/*
 * Connect to (creating if needed) the engine's database, with extension:
 * dbname if set, else bench_<name>.
 */
extern void BenchEngineOpen(BenchEngine *engine, bool recreate);
extern void BenchEngineClose(BenchEngine *engine);

/* Run a command; exit with the server's message if it fails. */
extern void BenchExec(PGconn *conn, const char *sql);

/* Run a query returning one value; returns a malloc'd string. */
extern char *BenchQueryValue(PGconn *conn, const char *sql);

/* Create bench_items / bench_queries and binary-COPY the vectors in. */
extern double BenchLoad(BenchEngine *engine, const BenchDataset *ds,
						const char *storage);

/*
 * Delete every other row (even ids), VACUUM, then COPY them back in and
 * VACUUM again.  Returns the seconds of delete + vacuum; the seconds of the
 * re-insert go to *reinsert_s.
 */
extern double BenchChurn(BenchEngine *engine, const BenchDataset *ds,
						 double *reinsert_s);

/* Times in seconds from a monotonic clock. */
extern double BenchNow(void);

/* Append a big-endian int16 / int32 at *p (binary COPY), advancing *p. */
extern void BenchPutInt16(char **p, int16_t v);
extern void BenchPutInt32(char **p, int32_t v);

/* Write vector v (dim elements) in vector's binary format (big-endian). */
extern size_t BenchVectorSend(char *buf, const float *v, int dim);

#endif							/* VECQ_BENCH_H */
