# SPDX-License-Identifier: GPL-2.0
#
# libFuzzer harnesses of libsmem (fuzz/lib/README.md), included from the
# top Makefile, which gives $(BUILD), $(LIB_SRCS), $(LIB_HDRS) and $(WARN).
#
#   make fuzz-lib-build   build/fuzz/lib/import_fuzz and api_fuzz
#   fuzz/lib/run.sh N     replay the corpora, then fuzz both for N seconds
#
# The library's sources are compiled into each harness under the same
# sanitizers, as san_rules does for make sanitize: a harness is one
# program, with nothing of libsmem outside the instrumentation.

FUZZ_CC ?= clang-14
FUZZ_LIB_OUT := $(BUILD)/fuzz/lib
FUZZ_LIB_CFLAGS := -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(WARN) -std=gnu11 -D_GNU_SOURCE -fexceptions -pthread \
	-Iinclude -Iinclude/uapi -Iselftests
# import_fuzz stands a memfd in for a /dev/smem object: fstat(), stat() and
# ioctl() are wrapped (import_fuzz.c says how).
FUZZ_LIB_LDFLAGS_import_fuzz := -Wl,--wrap=fstat -Wl,--wrap=stat -Wl,--wrap=ioctl
FUZZ_LIB_HDRS_api_fuzz := selftests/lib_model.h selftests/test_util.h
FUZZ_LIB_HARNESSES := import_fuzz api_fuzz

.PHONY: fuzz-lib-build
fuzz-lib-build: $(FUZZ_LIB_HARNESSES:%=$(FUZZ_LIB_OUT)/%)

$(FUZZ_LIB_OUT)/%: fuzz/lib/%.c $(LIB_SRCS) $(LIB_HDRS) fuzz/lib/lib.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -o $@ $< $(LIB_SRCS) $(FUZZ_LIB_LDFLAGS_$*) $(SODIUM_LIBS)

$(FUZZ_LIB_OUT)/api_fuzz: $(FUZZ_LIB_HDRS_api_fuzz)
