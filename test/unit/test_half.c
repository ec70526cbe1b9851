/*-------------------------------------------------------------------------
 *
 * test_half.c
 *	  Standalone unit test of the halfvec conversions and kernels
 *	  (src/common/half.h and the half_* kernels of src/common/distance.h).
 *
 * The reference here is independent of half.h: the value of a half is
 * computed from its fields with ldexp() in double, and the float4 -> half
 * rounding is a binary search in the sorted table of all finite halves,
 * picking the nearer neighbour, the even one on a tie, and infinity past
 * the midpoint between 65504 and 65536.  Checked, at every SIMD level this
 * CPU and build support (each level's half_to_float / float_to_half, and
 * the inline scalar functions):
 *
 *	- all 65536 halves widen to the reference float4, and each non-NaN
 *	  half converts back to itself (NaNs stay NaNs, quieted);
 *	- float4 -> half for every exponent (0..255, both signs) with 65536
 *	  random fractions each plus the fractions next to every rounding
 *	  boundary, every midpoint between two halves and its float4
 *	  neighbours, infinities and NaNs (bit patterns must be those of the
 *	  scalar conversion: the SIMD levels must not differ even there);
 *	- the half distance kernels against double loops within 1e-6
 *	  relative, as test_distance.c checks the float4 kernels.
 *
 * The last line is "N passed, N failed"; exit status 1 if anything failed.
 *
 * test/unit/test_half.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/distance.h"
#include "common/half.h"

#define NPOS_FINITE 0x7c00		/* codes 0x0000 .. 0x7bff: +0 .. 65504 */

static int	npassed = 0;
static int	nfailed = 0;

/* value of every non-negative finite half code, from its fields */
static double pos_value[NPOS_FINITE + 1];

static uint64_t rng_state = UINT64_C(0x4a1f00dcafe2026);

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
check(bool ok, const char *what)
{
	if (ok)
		npassed++;
	else
	{
		nfailed++;
		printf("FAIL %s\n", what);
	}
}

static double
ref_half_value(uint16_t h)
{
	int			e = (h >> 10) & 0x1f;
	int			f = h & 0x3ff;
	double		v;

	if (e == 0)
		v = ldexp((double) f, -24);
	else
		v = ldexp(1.0 + f / 1024.0, e - 15);
	return (h & 0x8000) ? -v : v;
}

static void
build_table(void)
{
	for (int c = 0; c < NPOS_FINITE; c++)
		pos_value[c] = ref_half_value((uint16_t) c);
	/* where the next half would be: the rounding boundary into infinity */
	pos_value[NPOS_FINITE] = 65536.0;
}

/* the reference float4 -> half for a non-NaN x */
static uint16_t
ref_float_to_half(float x)
{
	double		a = fabs((double) x);
	uint16_t	sign = signbit(x) ? 0x8000 : 0;
	int			lo = 0;
	int			hi = NPOS_FINITE;
	int			c;

	if (isinf(x) || a >= 65536.0)
		return sign | 0x7c00;
	/* largest c with pos_value[c] <= a */
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (pos_value[mid] <= a)
			lo = mid;
		else
			hi = mid - 1;
	}
	c = lo;
	if (pos_value[c] != a)
	{
		double		dlo = a - pos_value[c];
		double		dhi = pos_value[c + 1] - a;

		if (dhi < dlo || (dhi == dlo && (c & 1)))
			c++;
	}
	/* c == NPOS_FINITE is 0x7c00, infinity */
	return sign | (uint16_t) c;
}

static const VecqDistanceKernels *levels[VECQ_SIMD_NLEVELS];

/* every half through every level's half_to_float, and back */
static void
test_half_to_float(void)
{
	static uint16_t all[65536];
	static float out[65536];
	static uint16_t back[65536];
	char		what[160];

	for (int i = 0; i < 65536; i++)
		all[i] = (uint16_t) i;
	for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		int			bad = 0;
		int			badback = 0;

		if (levels[lv] == NULL)
			continue;
		levels[lv]->half_to_float(all, out, 65536);
		levels[lv]->float_to_half(out, back, 65536);
		for (int i = 0; i < 65536; i++)
		{
			uint16_t	h = (uint16_t) i;
			float		s = VecqHalfToFloat(h);

			if (VecqHalfIsNan(h))
			{
				/* NaN: same bits as the scalar conversion, quiet NaN back */
				if (!isnan(out[i]) || vecq_float_bits(out[i]) != vecq_float_bits(s))
					bad++;
				if (back[i] != (h | 0x200))
					badback++;
				continue;
			}
			if ((h & 0x7fff) == 0x7c00)
			{
				if (!isinf(out[i]) || (signbit(out[i]) != 0) != ((h & 0x8000) != 0))
					bad++;
			}
			else if ((double) out[i] != ref_half_value(h) ||
					 (signbit(out[i]) != 0) != ((h & 0x8000) != 0))
				bad++;
			if (vecq_float_bits(out[i]) != vecq_float_bits(s))
				bad++;
			if (back[i] != h || VecqFloatToHalf(s) != h)
				badback++;
		}
		snprintf(what, sizeof(what), "%s: %d of 65536 halves widen wrongly",
				 VecqSimdLevelName((VecqSimdLevel) lv), bad);
		check(bad == 0, what);
		snprintf(what, sizeof(what), "%s: %d of 65536 halves do not round-trip",
				 VecqSimdLevelName((VecqSimdLevel) lv), badback);
		check(badback == 0, what);
	}
}

/* a batch of floats through every level against the reference */
static void
check_floats(const float *x, int n, const char *label)
{
	uint16_t   *got = malloc(sizeof(uint16_t) * n);
	char		what[200];

	for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		int			bad = 0;
		int			first = -1;

		if (levels[lv] == NULL)
			continue;
		levels[lv]->float_to_half(x, got, n);
		for (int i = 0; i < n; i++)
		{
			uint16_t	s = VecqFloatToHalf(x[i]);
			bool		ok;

			if (isnan(x[i]))
				ok = VecqHalfIsNan(got[i]) && got[i] == s &&
					(got[i] & 0x8000) == (signbit(x[i]) ? 0x8000 : 0);
			else
				ok = got[i] == s && s == ref_float_to_half(x[i]);
			if (!ok)
			{
				if (first < 0)
					first = i;
				bad++;
			}
		}
		snprintf(what, sizeof(what),
				 "%s: float_to_half %s: %d of %d wrong (first 0x%08x -> 0x%04x, scalar 0x%04x)",
				 VecqSimdLevelName((VecqSimdLevel) lv), label, bad, n,
				 first < 0 ? 0 : vecq_float_bits(x[first]),
				 first < 0 ? 0 : got[first],
				 first < 0 ? 0 : VecqFloatToHalf(x[first]));
		check(bad == 0, what);
	}
	free(got);
}

static void
test_float_to_half(void)
{
	int			per = 65536 + 64;
	float	   *x = malloc(sizeof(float) * per * 2);
	char		label[64];
	long		total = 0;

	/* every exponent, both signs: random fractions and boundary fractions */
	for (int e = 0; e < 256; e++)
	{
		int			n = 0;

		for (int s = 0; s < 2; s++)
		{
			uint32_t	base = ((uint32_t) s << 31) | ((uint32_t) e << 23);

			for (int i = 0; i < 65536; i++)
				x[n++] = vecq_bits_float(base | (uint32_t) (rng_next() & 0x7fffff));
			/* fractions at and next to each possible rounding position */
			for (int k = 0; k < 24; k++)
			{
				uint32_t	half = 1u << k;

				x[n++] = vecq_bits_float(base | half);
				if (half > 1)
				{
					x[n++] = vecq_bits_float(base | (half - 1));
					x[n++] = vecq_bits_float(base | (half + 1));
					x[n++] = vecq_bits_float(base | (3 * half));
				}
			}
			x[n++] = vecq_bits_float(base);
			x[n++] = vecq_bits_float(base | 0x7fffff);
		}
		snprintf(label, sizeof(label), "exponent %d", e);
		check_floats(x, n, label);
		total += n;
	}

	/* every midpoint between adjacent halves, and its float4 neighbours */
	{
		int			n = 0;
		float	   *m = malloc(sizeof(float) * NPOS_FINITE * 6);

		for (int c = 0; c < NPOS_FINITE; c++)
		{
			float		mid = (float) ((pos_value[c] + pos_value[c + 1]) / 2);

			m[n++] = mid;
			m[n++] = nextafterf(mid, 0.0f);
			m[n++] = nextafterf(mid, INFINITY);
			m[n++] = -mid;
			m[n++] = -nextafterf(mid, 0.0f);
			m[n++] = -nextafterf(mid, INFINITY);
		}
		check_floats(m, n, "midpoints");
		total += n;
		free(m);
	}

	/* specials */
	{
		float		sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
			vecq_bits_float(0x7f800001), vecq_bits_float(0xffbfffff),
			vecq_bits_float(0x7fc12345), 65504.0f, 65519.996f, 65520.0f,
			-65520.0f, 1e10f, 0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1p-26f,
			0x1p-14f, 0x1.ffcp-15f, 0x1.ffep-15f, FLT_MAX, FLT_MIN, 1e-45f};

		check_floats(sp, lengthof(sp), "specials");
		total += lengthof(sp);
	}
	printf("float_to_half: %ld float4 values checked at each level\n", total);
	free(x);
}

/* the half distance kernels against double loops */
static void
test_kernels(void)
{
	static const int dims[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65,
	255, 256, 257, 300, 511, 768, 1000, 1536, 4000, 16000};
	int			maxn = 16000;
	uint16_t   *a = malloc(sizeof(uint16_t) * maxn);
	uint16_t   *b = malloc(sizeof(uint16_t) * maxn);
	char		what[200];

	for (int dist = 0; dist < 4; dist++)
	{
		for (int di = 0; di < (int) lengthof(dims); di++)
		{
			int			n = dims[di];
			double		ref[7] = {0};

			for (int i = 0; i < n; i++)
			{
				double		u = (double) (rng_next() >> 11) / 9007199254740992.0 * 2 - 1;
				double		v = (double) (rng_next() >> 11) / 9007199254740992.0 * 2 - 1;

				switch (dist)
				{
					case 0:		/* uniform [-1, 1] */
						break;
					case 1:		/* large: up to 65504 */
						u *= 65504;
						v *= 65504;
						break;
					case 2:		/* tiny, mostly subnormal */
						u *= 1e-5;
						v *= 1e-5;
						break;
					case 3:		/* small integers: exact at every level */
						u = floor(u * 64);
						v = floor(v * 64);
						break;
				}
				a[i] = VecqFloatToHalf((float) u);
				b[i] = VecqFloatToHalf((float) v);
			}
			for (int i = 0; i < n; i++)
			{
				double		x = ref_half_value(a[i]);
				double		y = ref_half_value(b[i]);

				ref[0] += (x - y) * (x - y);
				ref[1] += x * y;
				ref[2] += fabs(x - y);
				ref[3] += x * y;
				ref[4] += x * x;
				ref[5] += y * y;
				ref[6] += x * x;
			}
			for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
			{
				const VecqDistanceKernels *k = levels[lv];
				double		got[7];
				VecqCosineParts p;
				bool		ok = true;

				if (k == NULL)
					continue;
				got[0] = k->half_l2_squared(a, b, n);
				got[1] = k->half_inner_product(a, b, n);
				got[2] = k->half_l1(a, b, n);
				p = k->half_cosine_parts(a, b, n);
				got[3] = p.dot;
				got[4] = p.norm_a;
				got[5] = p.norm_b;
				got[6] = k->half_norm_squared(a, n);
				for (int j = 0; j < 7; j++)
				{
					double		tol = dist == 3 ? 0 : 1e-6 * fmax(fabs(ref[j]), DBL_MIN);

					/* a dot product may cancel: compare with the sum of |terms| */
					if ((j == 1 || j == 3) && dist != 3)
					{
						double		s = 0;

						for (int i = 0; i < n; i++)
							s += fabs(ref_half_value(a[i]) * ref_half_value(b[i]));
						tol = 1e-6 * fmax(s, DBL_MIN);
					}
					if (!(fabs(got[j] - ref[j]) <= tol))
						ok = false;
				}
				snprintf(what, sizeof(what), "%s: half kernels, distribution %d, n = %d",
						 VecqSimdLevelName((VecqSimdLevel) lv), dist, n);
				check(ok, what);
			}
		}
	}
	/* n = 0 gives 0 */
	for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		if (levels[lv] == NULL)
			continue;
		check(levels[lv]->half_l2_squared(a, b, 0) == 0 &&
			  levels[lv]->half_inner_product(a, b, 0) == 0 &&
			  levels[lv]->half_l1(a, b, 0) == 0 &&
			  levels[lv]->half_norm_squared(a, 0) == 0, "half kernels with n = 0");
	}
	free(a);
	free(b);
}

int
main(void)
{
	VecqDistanceInit();
	build_table();
	for (int lv = 0; lv < VECQ_SIMD_NLEVELS; lv++)
	{
		levels[lv] = VecqDistanceGetKernels((VecqSimdLevel) lv);
		printf("level %s: %s\n", VecqSimdLevelName((VecqSimdLevel) lv),
			   levels[lv] ? "tested" : "not supported here, skipped");
	}
	test_half_to_float();
	test_float_to_half();
	test_kernels();
	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed == 0 ? 0 : 1;
}
