# SPDX-License-Identifier: GPL-2.0
#
# smem: secret memory outside the kernel direct map.
#
#   make deps          install every build and test dependency (Debian 12)
#   make               module for every installed kernel, libsmem, tools, tests,
#                      examples
#   make bench         the read-window benchmark; make run-bench runs it here
#                      (bench/README.md: how to run it in the VM, results)
#   make module        smem.ko for KVER (default: every kernel with headers)
#   make check         host tests, then the VM suite on 6.1 and 6.12
#   make fuzz          both fuzzers, FUZZ_SECONDS (default 600) each
#   make demo          the demo, in a VM
#   make install       libsmem, headers, pkg-config file, man pages, tools,
#                      the udev rule, the modprobe.d / modules-load.d files and
#                      the group smem (sysusers.d)
#   make dkms-install  the module's sources to /usr/src, built and installed by
#                      DKMS for every kernel with headers (dkms-remove: undo)
#
# When the kernel's build system enters this directory (M=...) it reads
# Kbuild, not this file.

VERSION := $(shell cat VERSION)
TOP := $(CURDIR)
BUILD := $(TOP)/build

# CPPFLAGS, CFLAGS and LDFLAGS from the environment (dpkg-buildflags,
# rpm's optflags) reach every compile and link of what gets installed.
# Warnings are errors under make check (WERROR=1, as CI runs it), not by
# default: a newer compiler's new warning must not break a distribution's
# build of a released version.
CC ?= cc
CFLAGS ?= -O2 -g
CPPFLAGS ?=
LDFLAGS ?=
WERROR ?= 0
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	$(if $(filter 1,$(WERROR)),-Werror)
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
# udev, modprobe and systemd-modules-load read only these, whatever PREFIX.
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODPROBEDIR ?= /usr/lib/modprobe.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
SYSUSERSDIR ?= /usr/lib/sysusers.d

# Kernels to build the module for: every kernel under /lib/modules that
# has a build directory, unless KVER names one.
KVERS := $(if $(KVER),$(KVER),$(notdir $(patsubst %/build,%,$(wildcard /lib/modules/*/build))))
KDIR ?=

.PHONY: all module userspace lib selftests tools examples bench run-bench fuzz check \
	check-host check-vm check-debug demo deps install clean dkms-install dkms-remove

all: module userspace

userspace: lib selftests tools examples

deps:
	tools/deps.sh

# ---------------------------------------------------------------- module
#
# One build directory per kernel: Kbuild writes its objects next to the
# sources, so each kernel gets its own copy of them.  The test module of
# the suite (selftests/module) is built beside smem.ko.
module:
	@set -e; for k in $(KVERS); do \
		d=$(BUILD)/mod/$$k; kd=$(if $(KDIR),$(KDIR),/lib/modules/$$k/build); \
		mkdir -p $$d; \
		cp -a Kbuild VERSION kmod include $$d/; \
		$(MAKE) -C $$kd M=$$d SMEM_WERROR=$(WERROR) modules; \
		mkdir -p $$d/test; \
		cp -a selftests/module/. $$d/test/; \
		$(MAKE) -C $$kd M=$$d/test SMEM_TOP=$(TOP) modules; \
	done

# --------------------------------------------------------------- libsmem
# The file is named after the ABI, as the soname is, not after the
# project's version (VERSION): MAJOR.MINOR.PATCH of the ABI, MAJOR being
# the soname's.
LIB_SONAME := libsmem.so.1
LIB_SO := $(BUILD)/lib/libsmem.so.1.0.0
LIB_A := $(BUILD)/lib/libsmem.a
LIB_SRCS := $(wildcard libsmem/*.c)
LIB_HDRS := $(wildcard libsmem/*.h) include/smem.h include/uapi/linux/smem.h
# -fexceptions: a C++ exception or a thread's cancellation that unwinds
# through an access window runs the cleanup that closes it (secret.c).
LIB_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC -fexceptions \
	-fvisibility=hidden -Iinclude -Iinclude/uapi -pthread
LIB_PIC_OBJS := $(LIB_SRCS:libsmem/%.c=$(BUILD)/lib/obj/%.o)
# Every symbol bound at load time: a lazily bound call saves the vector
# registers on the stack (_dl_runtime_resolve_xsavec), and the GOT is
# read-only afterwards.
LIB_LDFLAGS := -Wl,-z,defs -Wl,-z,now -Wl,-z,relro

lib: $(LIB_SO) $(LIB_A) $(BUILD)/lib/libsmem.pc

$(BUILD)/lib/obj/%.o: libsmem/%.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(LIB_SO): $(LIB_PIC_OBJS) libsmem/libsmem.map
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) $(LIB_LDFLAGS) \
		-Wl,--version-script=libsmem/libsmem.map -o $@ $(LIB_PIC_OBJS)
	ln -sf $(notdir $@) $(BUILD)/lib/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(BUILD)/lib/libsmem.so

$(LIB_A): $(LIB_PIC_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# The pkg-config file names the directories it was made for: make install
# makes it again for its own PREFIX, LIBDIR and INCLUDEDIR (a plain make
# followed by make install PREFIX=/usr must not install /usr/local paths).
LIB_PC_SED = sed -e 's|@VERSION@|$(VERSION)|' -e 's|@PREFIX@|$(PREFIX)|' \
	-e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|'

$(BUILD)/lib/libsmem.pc: libsmem/libsmem.pc.in VERSION
	$(LIB_PC_SED) $< >$@

# ------------------------------------------------------------- selftests
#
# kselftest.h and kselftest_harness.h come from Debian's linux-source-6.12
# at build time; they are not part of this tree.
KSFT_TARBALL := $(firstword $(wildcard /usr/src/linux-source-6.12.tar.*))
KSFT_DIR := $(BUILD)/kselftest

$(KSFT_DIR)/kselftest_harness.h:
	@test -n "$(KSFT_TARBALL)" || { echo "no linux-source-6.12: run make deps" >&2; exit 1; }
	mkdir -p $(KSFT_DIR)
	tar -xf $(KSFT_TARBALL) -C $(KSFT_DIR) --strip-components=4 \
		--wildcards '*/tools/testing/selftests/kselftest.h' \
		'*/tools/testing/selftests/kselftest_harness.h'
	touch $@

# checkpatch.pl, from the same tarball, for the lint lane of make check.
CHECKPATCH := $(BUILD)/checkpatch/scripts/checkpatch.pl

$(CHECKPATCH):
	@test -n "$(KSFT_TARBALL)" || { echo "no linux-source-6.12: run make deps" >&2; exit 1; }
	mkdir -p $(BUILD)/checkpatch
	tar -xf $(KSFT_TARBALL) -C $(BUILD)/checkpatch --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	touch $@

selftests: $(KSFT_DIR)/kselftest_harness.h $(CHECKPATCH) lib $(BUILD)/selftests/panic_holder \
		$(BUILD)/selftests/vfio_dma $(BUILD)/selftests/kdump_holder $(BUILD)/selftests/kdump_scan
	$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests KSFT_DIR=$(KSFT_DIR) \
		SMEM_TOP=$(TOP)

# Guest side of selftests/vm/panic_wipe.sh (it panics the VM: no kselftest).
$(BUILD)/selftests/panic_holder: selftests/vm/panic_holder.c include/uapi/linux/smem.h \
		selftests/module/smem_dmtest.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude/uapi $(LDFLAGS) -o $@ $<

# Guest side of selftests/vm/vfio_dma.sh (needs a VFIO device: no kselftest).
$(BUILD)/selftests/vfio_dma: selftests/vm/vfio_dma.c include/uapi/linux/smem.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude/uapi $(LDFLAGS) -o $@ $<

# Both sides of selftests/vm/kdump.sh: the first kernel's (it crashes the
# VM: no kselftest) and the capture kernel's /init (static: its initramfs
# has nothing else).
$(BUILD)/selftests/kdump_holder: selftests/vm/kdump_holder.c selftests/vm/kdump_pattern.h \
		include/uapi/linux/smem.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude/uapi $(LDFLAGS) -o $@ $<

$(BUILD)/selftests/kdump_scan: selftests/vm/kdump_scan.c selftests/vm/kdump_pattern.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -static $(LDFLAGS) -o $@ $<

# ------------------------------------------------------------ sanitizers
#
#   make sanitize   the library tests under ASan+UBSan (build/asan) and the
#                   concurrency test under TSan (build/tsan)
SAN_asan := -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_tsan := -fsanitize=thread
SAN_TESTS_asan := $(patsubst selftests/%.c,%,$(wildcard selftests/lib_*_test.c))
SAN_TESTS_tsan := lib_concurrency_test
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer $(SAN_$(1)) -std=gnu11 -D_GNU_SOURCE \
	-pthread -Iinclude -Iinclude/uapi

define san_rules
$(BUILD)/$(1)/lib/$(LIB_SONAME): $(LIB_SRCS) $(LIB_HDRS) libsmem/libsmem.map
	@mkdir -p $$(dir $$@)
	$(CC) $(call SAN_CFLAGS,$(1)) $(WARN) -fPIC -fexceptions -fvisibility=hidden -shared \
		-Wl,-soname,$(LIB_SONAME) $(LIB_LDFLAGS) \
		-Wl,--version-script=libsmem/libsmem.map -o $$@ $(LIB_SRCS)
	ln -sf $(LIB_SONAME) $(BUILD)/$(1)/lib/libsmem.so

$(BUILD)/$(1)/selftests/%: selftests/%.c $(wildcard selftests/lib_*.h) selftests/test_util.h \
		$(BUILD)/$(1)/lib/$(LIB_SONAME) $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $$(dir $$@)
	$(CC) $(call SAN_CFLAGS,$(1)) -Wall -Werror -I$(KSFT_DIR) -o $$@ $$< \
		-L$(BUILD)/$(1)/lib -Wl,-rpath,$(BUILD)/$(1)/lib -lsmem

# Its C++ part throws through a window (selftests/Makefile).
$(BUILD)/$(1)/selftests/lib_window_test: selftests/lib_window_test.c selftests/lib_window_throw.cc \
		$(wildcard selftests/lib_*.h) selftests/test_util.h \
		$(BUILD)/$(1)/lib/$(LIB_SONAME) $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $$(dir $$@)
	$(CXX) -O1 -g -fno-omit-frame-pointer $(SAN_$(1)) -Wall -Werror -Iinclude \
		-c -o $$@-throw.o selftests/lib_window_throw.cc
	$(CC) $(call SAN_CFLAGS,$(1)) -Wall -Werror -I$(KSFT_DIR) -o $$@ $$< $$@-throw.o \
		-L$(BUILD)/$(1)/lib -Wl,-rpath,$(BUILD)/$(1)/lib -lsmem -lstdc++

sanitize: $(SAN_TESTS_$(1):%=$(BUILD)/$(1)/selftests/%)
endef
.PHONY: sanitize
$(foreach s,asan tsan,$(eval $(call san_rules,$(s))))

# ----------------------------------------------------------------- tools
#
# smemctl (libkmod; libsmem linked in statically, so it reports what this
# version of the library would choose) and the demo's two programs.  Every
# program in build/tools is on the PATH of vm-run's guest.
TOOL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iinclude/uapi -pthread
# smem-fuzz (fuzz/kernel/kernel.mk) is one of them: the debug lane fuzzes
# the module with it.
TOOLS := $(BUILD)/tools/smemctl $(BUILD)/tools/smem-demo-keyholder $(BUILD)/tools/smem-demo-probe \
	$(BUILD)/tools/smem-fuzz

tools: $(TOOLS)

$(BUILD)/tools/smemctl: tools/smemctl/smemctl.c $(LIB_A) $(LIB_HDRS) VERSION
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -DSMEM_VERSION='"$(VERSION)"' $$(pkg-config --cflags libkmod) \
		$(LDFLAGS) -o $@ $< $(LIB_A) $$(pkg-config --libs libkmod)

$(BUILD)/tools/smem-demo-%: demo/%.c $(LIB_SO) $(LIB_HDRS) selftests/module/smem_dmtest.h
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $$(pkg-config --cflags libsodium) $(LDFLAGS) -o $@ $< \
		-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lsmem $$(pkg-config --libs libsodium)

# -------------------------------------------------------------- examples
#
# Built into build/tools, so that tools/vm-run puts them on the guest's
# PATH, where make check runs them (examples/run-examples).
EXAMPLES := hmac_key share_sealed
EXAMPLE_BINS := $(EXAMPLES:%=$(BUILD)/tools/%)

examples: $(EXAMPLE_BINS) $(BUILD)/tools/smem-run-examples

$(BUILD)/tools/hmac_key: EXAMPLE_LIBS = $(shell pkg-config --cflags --libs libsodium)
$(EXAMPLE_BINS): $(BUILD)/tools/%: examples/%.c include/smem.h $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -Iinclude $(LDFLAGS) -o $@ $< \
		-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lsmem $(EXAMPLE_LIBS)

$(BUILD)/tools/smem-run-examples: examples/run-examples
	@mkdir -p $(dir $@)
	install -m 755 $< $@

# ----------------------------------------------------------------- bench
#
#   make bench      build/bench/window_bench (linked statically with libsmem
#                   and libsodium, so that vm-run -a can take it alone)
#   make run-bench  run it here (bench/run)
bench: $(BUILD)/bench/window_bench

$(BUILD)/bench/window_bench: bench/window_bench.c include/smem.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude $(LDFLAGS) \
		$(shell pkg-config --cflags libsodium) -o $@ $< $(LIB_A) -l:libsodium.a

run-bench: bench
	bench/run

# ------------------------------------------------------------------ fuzz
#
#   make fuzz [FUZZ_SECONDS=N]  the kernel fuzzer of /dev/smem in the debug VM
#                               and libFuzzer on libsmem, side by side, for N
#                               seconds (default 600) after replaying their
#                               corpora (fuzz/run; docs/design.md, "Fuzzing")
FUZZ_SECONDS ?= 600
include fuzz/kernel/kernel.mk fuzz/lib/lib.mk

fuzz: userspace fuzz-kernel-bin fuzz-lib-build
	fuzz/run $(FUZZ_SECONDS)

# ----------------------------------------------------------------- tests
# Everything make check builds, it builds with warnings as errors.
check check-host check-vm check-debug: WERROR = 1

check: all sanitize fuzz-lib-build
	tools/check.sh

check-host: userspace sanitize fuzz-lib-build
	tools/check.sh lint host

check-vm: all
	tools/check.sh 6.1 6.12

check-debug: userspace
	tools/check.sh debug

demo: userspace
	demo/demo.sh -k $(if $(KVER),$(KVER),6.12)

# --------------------------------------------------------------- install
install: lib $(BUILD)/tools/smemctl
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/linux
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libsmem.so
	$(LIB_PC_SED) libsmem/libsmem.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libsmem.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/libsmem.pc
	install -m 644 include/smem.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/uapi/linux/smem.h $(DESTDIR)$(INCLUDEDIR)/linux/
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(MODPROBEDIR) $(DESTDIR)$(MODULESLOADDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BUILD)/tools/smemctl $(DESTDIR)$(SBINDIR)/
	install -m 644 man/man8/smemctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 dist/udev/60-smem.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 644 dist/modprobe.d/smem.conf $(DESTDIR)$(MODPROBEDIR)/
	install -m 644 dist/modules-load.d/smem.conf $(DESTDIR)$(MODULESLOADDIR)/
	install -m 644 dist/sysusers.d/smem.conf $(DESTDIR)$(SYSUSERSDIR)/
	# The group now, on this machine (a package would do it in postinst).
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/smem.conf; fi

# The module through DKMS, for every kernel with headers (tools/dkms.sh).
dkms-install:
	tools/dkms.sh install

dkms-remove:
	tools/dkms.sh remove

clean:
	rm -rf $(BUILD)
