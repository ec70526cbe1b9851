/*-------------------------------------------------------------------------
 *
 * distance_simd.h
 *	  Private interface between the distance dispatcher (distance.c) and
 *	  the files holding the SIMD kernels (distance_avx2.c, distance_avx512.c).
 *
 * Each SIMD file is compiled with the instruction-set flags of its level
 * (see SIMD_*_CFLAGS in the top-level Makefile) and exports one pointer to
 * its kernel table.  The pointer is NULL when the file was compiled without
 * those flags (a compiler or platform without them): the file then holds no
 * SIMD code at all, and the dispatcher treats the level as unavailable, so
 * the scalar kernels always build and run.  The dispatcher installs a table
 * only after checking at run time that the CPU and the OS support it.
 *
 * L2 and L1 at every level subtract in float4 and widen the difference to
 * double (see distance.c for why that is accurate enough).  A difference of
 * two finite float4 values can overflow to infinity, though the exact
 * distance is finite; every level then returns the result of the exact
 * kernels declared here instead.
 *
 * Nothing outside src/common/distance*.c includes this file; everyone else
 * goes through distance.h.
 *
 * src/common/distance_simd.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_DISTANCE_SIMD_H
#define VECQ_DISTANCE_SIMD_H

#include "common/distance.h"

/* AVX2 + FMA kernels, or NULL if distance_avx2.c was built without them */
extern const VecqDistanceKernels *const VecqKernelsAvx2;

/* AVX-512F/DQ kernels, or NULL if distance_avx512.c was built without them */
extern const VecqDistanceKernels *const VecqKernelsAvx512;

/*
 * L2 squared and L1 with every input widened to double before subtracting:
 * slower, exact differences, never overflow.  For the rare inputs whose
 * float4 differences overflow.
 */
extern double VecqL2SquaredExact(const float *a, const float *b, int n);
extern double VecqL1Exact(const float *a, const float *b, int n);

#endif							/* VECQ_DISTANCE_SIMD_H */
