# Makefile for the vecq extension (PGXS)
#
# make && make install        build and install the extension
# make installcheck           run the pg_regress and isolation suites against a running server
# test/run_tests.sh           set up a throwaway cluster and run every test

MODULE_big = vecq
EXTENSION = vecq
# vecq--0.7.0.sql (the full install script) is made from 0.1.0 and the
# upgrade scripts, so each object is defined in one place only
DATA = sql/vecq--0.1.0.sql sql/vecq--0.1.0--0.2.0.sql sql/vecq--0.2.0--0.3.0.sql \
	sql/vecq--0.3.0--0.4.0.sql sql/vecq--0.4.0--0.5.0.sql sql/vecq--0.5.0--0.6.0.sql \
	sql/vecq--0.6.0--0.7.0.sql
DATA_built = sql/vecq--0.7.0.sql
PGFILEDESC = "vecq - vectors and ANN search for PostgreSQL"

OBJS = \
	src/vecq.o \
	src/chroma/chroma.o \
	src/common/distance.o \
	src/common/distance_avx2.o \
	src/common/distance_avx512.o \
	src/common/graph_seed.o \
	src/common/vector_text.o \
	src/hnsw/hnsw_am.o \
	src/hnsw/hnsw_build.o \
	src/hnsw/hnsw_build_part.o \
	src/hnsw/hnsw_build_seed.o \
	src/hnsw/hnsw_check.o \
	src/hnsw/hnsw_cost.o \
	src/hnsw/hnsw_graph.o \
	src/hnsw/hnsw_insert.o \
	src/hnsw/hnsw_key.o \
	src/hnsw/hnsw_page.o \
	src/hnsw/hnsw_scan.o \
	src/hnsw/hnsw_search.o \
	src/hnsw/hnsw_seed.o \
	src/hnsw/hnsw_vacuum.o \
	src/quant/quant_bit.o \
	src/quant/quant_rbit.o \
	src/quant/quant_rescore.o \
	src/quant/quant_sq8.o \
	src/tenant/tenant.o \
	src/vector/halfvec_io.o \
	src/vector/halfvec_ops.o \
	src/vector/vector_arg.o \
	src/vector/vector_agg.o \
	src/vector/vector_bit.o \
	src/vector/vector_cast.o \
	src/vector/vector_io.o \
	src/vector/vector_ops.o

HEADERS = src/common/distance.h src/common/half.h src/common/vector_text.h src/vector/vector.h

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wmissing-prototypes -Werror=implicit-function-declaration

REGRESS = vector_type vector_io vector_binary vector_ops vector_functions vector_casts vector_agg vector_btree vector_hash vector_bit halfvec hnsw_ddl hnsw_search hnsw_check hnsw_quant hnsw_key hnsw_partition hnsw_seed tenant_rls tenant_scale chroma_api upgrade
REGRESS_OPTS = --inputdir=test --load-extension=vecq

# isolation specs: test/specs/x.spec -> expected/x.out; pg_regress reads
# <outputdir>/expected first, hence --outputdir=. (results/ as for REGRESS)
ISOLATION = hnsw_insert_concurrent hnsw_vacuum_concurrent hnsw_scan_snapshot tenant_mapping
ISOLATION_OPTS = --inputdir=test --outputdir=. --load-extension=vecq

# SIMD kernels: each file is compiled for its instruction set only; the
# dispatcher in distance.c calls them after checking the CPU at load time.
SIMD_AVX2_CFLAGS = -mavx2 -mfma -mf16c
SIMD_AVX512_CFLAGS = -mavx512f -mavx512dq -mavx2 -mfma -mf16c

src/common/distance_avx2.o: CFLAGS += $(SIMD_AVX2_CFLAGS)
src/common/distance_avx512.o: CFLAGS += $(SIMD_AVX512_CFLAGS)
src/common/distance_avx2.bc: BITCODE_CFLAGS += $(SIMD_AVX2_CFLAGS)
src/common/distance_avx512.bc: BITCODE_CFLAGS += $(SIMD_AVX512_CFLAGS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when a header
# changes (a struct changing under a stale object file crashes the server)
$(OBJS) $(OBJS:.o=.bc): $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)

sql/vecq--0.7.0.sql: sql/vecq--0.1.0.sql sql/vecq--0.1.0--0.2.0.sql sql/vecq--0.2.0--0.3.0.sql \
		sql/vecq--0.3.0--0.4.0.sql sql/vecq--0.4.0--0.5.0.sql sql/vecq--0.5.0--0.6.0.sql \
		sql/vecq--0.6.0--0.7.0.sql
	cat $^ > $@

# vecq-migrate has a Makefile of its own (PGXS builds one PROGRAM there)
all: migrate
migrate:
	$(MAKE) -C src/migrate PG_CONFIG=$(PG_CONFIG)
install: install-migrate
install-migrate: migrate
	$(MAKE) -C src/migrate PG_CONFIG=$(PG_CONFIG) install
clean: clean-migrate
clean-migrate:
	$(MAKE) -C src/migrate PG_CONFIG=$(PG_CONFIG) clean
.PHONY: migrate install-migrate clean-migrate
