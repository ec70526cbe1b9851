/*-------------------------------------------------------------------------
 *
 * bench_data.c
 *	  Data sets of the benchmark driver: Debian's fashion-mnist and a seeded
 *	  Gaussian-mixture generator, cached as flat files.
 *
 * fashion-mnist-784 is ann-benchmarks' fashion-mnist-784-euclidean: the
 * 60,000 train images are the rows (uint8 pixels as float4), the first
 * nqueries t10k images the queries.
 *
 * synth:N:DIM[:SEED] follows the model of ../shared/bench-targets.md: 256
 * centres ~ N(0, I); cluster weights ~ exp(N(0, 0.5^2)); per-cluster spread
 * 0.35 * U(0.5, 1.5); point = centre + spread * N(0, I).  Rows and queries
 * are drawn from the same mixture with independent random streams, so a
 * query is (almost surely) never a row.  The generator is xoshiro256** with
 * splitmix64 seeding and Box-Muller normals: the same seed gives the same
 * bytes on every machine.
 *
 * Cache files ("<name>.base.f32", "<name>.queries-<nq>.f32") hold the magic
 * "VQBF", int32 n, int32 dim, then n * dim float4 in host order.
 *
 * test/bench/bench_data.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bench.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SYNTH_CENTRES 256

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "vecq_bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		die("out of memory%s", "");
	return p;
}

/* ---------------- cache files ---------------- */

static bool
cache_read(BenchVectors *v, const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[4];
	int32_t		hdr[2];
	size_t		count;

	if (f == NULL)
		return false;
	if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "VQBF", 4) != 0 ||
		fread(hdr, sizeof(int32_t), 2, f) != 2 || hdr[0] <= 0 || hdr[1] <= 0)
	{
		fclose(f);
		return false;
	}
	v->n = hdr[0];
	v->dim = hdr[1];
	count = (size_t) v->n * v->dim;
	v->x = xmalloc(count * sizeof(float));
	if (fread(v->x, sizeof(float), count, f) != count)
	{
		fclose(f);
		free(v->x);
		return false;
	}
	fclose(f);
	return true;
}

static void
cache_write(const BenchVectors *v, const char *path)
{
	char		tmp[1100];
	FILE	   *f;
	int32_t		hdr[2] = {v->n, v->dim};
	size_t		count = (size_t) v->n * v->dim;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		die("could not write cache file \"%s\"", tmp);
	if (fwrite("VQBF", 1, 4, f) != 4 ||
		fwrite(hdr, sizeof(int32_t), 2, f) != 2 ||
		fwrite(v->x, sizeof(float), count, f) != count ||
		fclose(f) != 0)
		die("could not write cache file \"%s\"", tmp);
	if (rename(tmp, path) != 0)
		die("could not rename cache file \"%s\"", tmp);
}

/* ---------------- fashion-mnist ---------------- */

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | p[3];
}

/* Read at most limit images of an IDX3 file as float4 vectors. */
static void
read_idx_images(BenchVectors *v, const char *path, int limit)
{
	gzFile		gz = gzopen(path, "rb");
	unsigned char hdr[16];
	unsigned char *row;
	int			n,
				dim;

	if (gz == NULL)
		die("could not open \"%s\" (is dataset-fashion-mnist installed?)", path);
	if (gzread(gz, hdr, 16) != 16 || be32(hdr) != 0x00000803)
		die("\"%s\" is not an IDX image file", path);
	n = (int) be32(hdr + 4);
	dim = (int) (be32(hdr + 8) * be32(hdr + 12));
	if (limit > 0 && n > limit)
		n = limit;
	v->n = n;
	v->dim = dim;
	v->x = xmalloc((size_t) n * dim * sizeof(float));
	row = xmalloc(dim);
	for (int i = 0; i < n; i++)
	{
		if (gzread(gz, row, dim) != dim)
			die("\"%s\" is truncated", path);
		for (int j = 0; j < dim; j++)
			v->x[(size_t) i * dim + j] = (float) row[j];
	}
	free(row);
	gzclose(gz);
}

/* ---------------- synthetic mixture ---------------- */

typedef struct Rng
{
	uint64_t	s[4];
	bool		have_spare;
	double		spare;
} Rng;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(Rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->have_spare = false;
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(Rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform in (0, 1) */
static double
rng_uniform(Rng *r)
{
	return ((rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double
rng_normal(Rng *r)
{
	double		u,
				v;

	if (r->have_spare)
	{
		r->have_spare = false;
		return r->spare;
	}
	u = rng_uniform(r);
	v = rng_uniform(r);
	r->spare = sqrt(-2.0 * log(u)) * sin(2.0 * M_PI * v);
	r->have_spare = true;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

typedef struct Mixture
{
	int			dim;
	double	   *centres;		/* SYNTH_CENTRES * dim */
	double		cumweight[SYNTH_CENTRES];
	double		spread[SYNTH_CENTRES];
} Mixture;

static void
mixture_init(Mixture *m, int dim, uint64_t seed)
{
	Rng			r;
	double		total = 0;

	rng_seed(&r, seed);
	m->dim = dim;
	m->centres = xmalloc(sizeof(double) * SYNTH_CENTRES * dim);
	for (int c = 0; c < SYNTH_CENTRES; c++)
	{
		for (int j = 0; j < dim; j++)
			m->centres[(size_t) c * dim + j] = rng_normal(&r);
		total += exp(0.5 * rng_normal(&r));
		m->cumweight[c] = total;
		m->spread[c] = 0.35 * (0.5 + rng_uniform(&r));
	}
	for (int c = 0; c < SYNTH_CENTRES; c++)
		m->cumweight[c] /= total;
}

static void
mixture_draw(const Mixture *m, BenchVectors *v, int n, uint64_t seed)
{
	Rng			r;

	rng_seed(&r, seed);
	v->n = n;
	v->dim = m->dim;
	v->x = xmalloc((size_t) n * m->dim * sizeof(float));
	for (int i = 0; i < n; i++)
	{
		double		u = rng_uniform(&r);
		int			lo = 0,
					hi = SYNTH_CENTRES - 1;
		const double *centre;
		float	   *out = v->x + (size_t) i * m->dim;

		/* first centre whose cumulative weight reaches u */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (m->cumweight[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		centre = m->centres + (size_t) lo * m->dim;
		for (int j = 0; j < m->dim; j++)
			out[j] = (float) (centre[j] + m->spread[lo] * rng_normal(&r));
	}
}

/* ---------------- entry point ---------------- */

void
BenchDatasetLoad(BenchDataset *ds, const char *spec, int nqueries,
				 const char *cachedir)
{
	char		base_path[1024],
				query_path[1024];
	long		n = 0,
				dim = 0,
				seed = 1;

	if (mkdir(cachedir, 0755) != 0 && errno != EEXIST)
		die("could not create cache directory \"%s\"", cachedir);

	if (strcmp(spec, "fashion-mnist") == 0 ||
		strcmp(spec, "fashion-mnist-784") == 0)
		snprintf(ds->name, sizeof(ds->name), "fashion-mnist-784");
	else if (strncmp(spec, "synth:", 6) == 0)
	{
		char	   *end;

		n = strtol(spec + 6, &end, 10);
		if (*end == ':')
			dim = strtol(end + 1, &end, 10);
		if (*end == ':')
			seed = strtol(end + 1, &end, 10);
		if (*end != '\0' || n <= 0 || n > 100000000 || dim <= 0 || dim > 16000)
			die("invalid data set \"%s\" (want synth:N:DIM[:SEED])", spec);
		snprintf(ds->name, sizeof(ds->name), "synth-%ld-%ld-s%ld", n, dim, seed);
	}
	else
		die("unknown data set \"%s\" (want fashion-mnist or synth:N:DIM[:SEED])",
			spec);

	snprintf(base_path, sizeof(base_path), "%s/%s.base.f32", cachedir, ds->name);
	snprintf(query_path, sizeof(query_path), "%s/%s.queries-%d.f32",
			 cachedir, ds->name, nqueries);

	if (!cache_read(&ds->base, base_path))
	{
		fprintf(stderr, "vecq_bench: preparing %s rows\n", ds->name);
		if (n == 0)
			read_idx_images(&ds->base, FMNIST_DIR "/train-images-idx3-ubyte.gz", 0);
		else
		{
			Mixture		m;

			mixture_init(&m, (int) dim, (uint64_t) seed);
			mixture_draw(&m, &ds->base, (int) n, (uint64_t) seed * 1000003 + 1);
			free(m.centres);
		}
		cache_write(&ds->base, base_path);
	}
	if (!cache_read(&ds->queries, query_path))
	{
		if (n == 0)
		{
			read_idx_images(&ds->queries, FMNIST_DIR "/t10k-images-idx3-ubyte.gz",
							nqueries);
			if (ds->queries.n < nqueries)
				die("fashion-mnist has fewer queries than asked%s", "");
		}
		else
		{
			Mixture		m;

			mixture_init(&m, (int) dim, (uint64_t) seed);
			mixture_draw(&m, &ds->queries, nqueries, (uint64_t) seed * 1000003 + 2);
			free(m.centres);
		}
		cache_write(&ds->queries, query_path);
	}
	if (ds->base.dim != ds->queries.dim)
		die("cached rows and queries of %s differ in dimensions", ds->name);
}
