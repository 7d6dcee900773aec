# SPDX-License-Identifier: GPL-2.0
#
# smem-fuzz, the coverage-guided fuzzer of /dev/smem (fuzz/kernel/README.md).
# Included from the top Makefile; also works alone:
#   make -f fuzz/kernel/kernel.mk
# Static, so that it runs in the test VM whatever libraries it has; no
# library beyond libc (io_uring is driven by raw system calls, so that
# the reproducers it writes need nothing either).

BUILD ?= $(CURDIR)/build
CC ?= cc
CFLAGS ?= -O2 -g
FUZZ_KERNEL_WARN ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	$(if $(filter 1,$(WERROR)),-Werror)
FUZZ_KERNEL_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
FUZZ_KERNEL_TOP := $(abspath $(FUZZ_KERNEL_DIR)/../..)
FUZZ_KERNEL_SRCS := $(wildcard $(FUZZ_KERNEL_DIR)/*.c)
FUZZ_KERNEL_HDRS := $(wildcard $(FUZZ_KERNEL_DIR)/*.h) $(FUZZ_KERNEL_TOP)/include/uapi/linux/smem.h

.PHONY: fuzz-kernel-bin
fuzz-kernel-bin: $(BUILD)/tools/smem-fuzz

# repro.c .incbin's exec.h, exec.c and the ABI header: it depends on them.
$(BUILD)/tools/smem-fuzz: $(FUZZ_KERNEL_SRCS) $(FUZZ_KERNEL_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_KERNEL_WARN) -std=gnu11 -static -pthread $(LDFLAGS) \
		-I$(FUZZ_KERNEL_TOP)/include/uapi \
		-DFUZZ_SRC_DIR=\"$(FUZZ_KERNEL_DIR)\" \
		-DFUZZ_UAPI_HEADER=\"$(FUZZ_KERNEL_TOP)/include/uapi/linux/smem.h\" \
		-o $@ $(FUZZ_KERNEL_SRCS)
