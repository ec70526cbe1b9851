/*-------------------------------------------------------------------------
 *
 * vecq.c
 *	  Entry point of the vecq extension: module magic, load-time set-up and
 *	  the settings that belong to no single module.
 *
 * Settings defined here:
 *	  vecq.simd			which distance kernels to use: auto (the best the CPU
 *						supports, chosen once at load), scalar, avx2, avx512.
 *						Superuser-only; for diagnosis and for comparing levels.
 *
 * src/vecq.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "chroma/chroma.h"
#include "common/distance.h"
#include "hnsw/hnsw.h"
#include "quant/quant.h"
#include "tenant/tenant.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* vecq.simd: VECQ_SIMD_NLEVELS stands for "auto" */
static int	vecq_simd = VECQ_SIMD_NLEVELS;

static const struct config_enum_entry simd_options[] = {
	{"auto", VECQ_SIMD_NLEVELS, false},
	{"scalar", VECQ_SIMD_SCALAR, false},
	{"avx2", VECQ_SIMD_AVX2, false},
	{"avx512", VECQ_SIMD_AVX512, false},
	{NULL, 0, false}
};

static bool
simd_check_hook(int *newval, void **extra, GucSource source)
{
	if (*newval != VECQ_SIMD_NLEVELS &&
		VecqDistanceGetKernels((VecqSimdLevel) *newval) == NULL)
	{
		GUC_check_errdetail("This CPU does not support the \"%s\" kernels.",
							VecqSimdLevelName((VecqSimdLevel) *newval));
		return false;
	}
	return true;
}

static void
simd_assign_hook(int newval, void *extra)
{
	VecqSimdLevel level;

	level = newval == VECQ_SIMD_NLEVELS ? VecqDistanceBestLevel() :
		(VecqSimdLevel) newval;
	/* the check hook made sure the level is supported */
	(void) VecqDistanceSetLevel(level);
}

/*
 * Module load: choose the distance kernels, then define the settings.
 */
void
_PG_init(void)
{
	VecqDistanceInit();

	DefineCustomEnumVariable("vecq.simd",
							 "Sets which SIMD distance kernels vecq uses.",
							 "\"auto\" picks the best level the CPU supports.",
							 &vecq_simd,
							 VECQ_SIMD_NLEVELS,
							 simd_options,
							 PGC_SUSET,
							 0,
							 simd_check_hook,
							 simd_assign_hook,
							 NULL);

	QuantInit();
	TenantInit();
	ChromaInit();
	/* defines hnsw.* and vecq.key_exact_scan_limit */
	HnswInit();
	/* last: it drops placeholders of vecq.* settings not defined by now */
	MarkGUCPrefixReserved("vecq");
}

/*
 * vecq_simd_level() -> text: the kernels in use now ("scalar", "avx2",
 * "avx512"), which "auto" resolves to on this machine.
 */
PG_FUNCTION_INFO_V1(vecq_simd_level);
Datum
vecq_simd_level(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(VecqSimdLevelName(VecqDistanceCurrentLevel())));
}
