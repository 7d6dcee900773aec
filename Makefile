# SPDX-License-Identifier: GPL-2.0
#
# smem: secret memory outside the kernel direct map.
#
#   make deps          install every build and test dependency (Debian 12)
#   make deps-arm64    and what tools/vm-run -A arm64 needs (arm64 kernels, cross compilers)
#   make               module for every installed kernel, libsmem, tools, tests,
#                      examples
#   make bench         build and run the benchmarks here, tables on stdout
#                      (bench-vm: in the 6.12 VM; bench-record: both, into
#                      bench/history.jsonl; bench-chart: bench/charts/*.svg;
#                      bench/README.md explains every row)
#   make module        smemdev.ko for KVER (default: every kernel with headers)
#   make check         host tests, then the VM suite on 6.1 and 6.12
#   make fuzz          both fuzzers, FUZZ_SECONDS (default 600) each
#   make demo          the demo, in a VM
#   make install       libsmem, headers, pkg-config file, man pages, tools,
#                      the udev rule, the modprobe.d / modules-load.d files and
#                      the group smem (sysusers.d)
#   make dkms-install  the module's sources to /usr/src, built and installed by
#                      DKMS for every kernel with headers (dkms-remove: undo)
#   make deb           Debian packages in build/deb (smemdev-dkms, libsmem1,
#                      libsmem-dev, smemctl), checked by lintian
#   make rpm           RPM packages in build/rpm (packaging/rpm), checked by
#                      rpmlint
#   make dist          build/smemdev-VERSION.tar.xz from HEAD (git archive) and
#                      its .sha256 (sha256sum -c in build/ checks it)
#   make distcheck     make dist, then the tarball unpacked alone builds the
#                      userspace with WERROR=1 and holds no build/ or .git
#
# When the kernel's build system enters this directory (M=...) it reads
# Kbuild, not this file.

VERSION := $(shell cat VERSION)
TOP := $(CURDIR)
# A cross build (CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64, as
# tools/vm-run -A arm64 runs it) has a build directory of its own,
# build/ARCH: the host's artifacts in build/ stay as they are.
BUILD := $(TOP)/build$(if $(CROSS_COMPILE),/$(or $(ARCH),cross))

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
# bash-completion loads completions from here on first use.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# udev, modprobe and systemd-modules-load read only these, whatever PREFIX.
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODPROBEDIR ?= /usr/lib/modprobe.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
SYSUSERSDIR ?= /usr/lib/sysusers.d

# Kernels to build the module for: every kernel under /lib/modules that
# has a build directory, unless KVER names one.
KVERS := $(if $(KVER),$(KVER),$(notdir $(patsubst %/build,%,$(wildcard /lib/modules/*/build))))
KDIR ?=

# Cross builds: the userspace with the cross compiler, against the target's
# libraries, which Debian's multiarch -dev packages (libsodium-dev:arm64 and
# the others tools/deps.sh installs) put in /usr/lib/TRIPLET, where the
# cross compiler looks and where pkg-config is sent; the module through
# Kbuild, given ARCH and CROSS_COMPILE.
ifneq ($(CROSS_COMPILE),)
CC := $(CROSS_COMPILE)gcc
CXX := $(CROSS_COMPILE)g++
AR := $(CROSS_COMPILE)ar
export PKG_CONFIG_LIBDIR := /usr/lib/$(patsubst %-,%,$(CROSS_COMPILE))/pkgconfig:/usr/share/pkgconfig
KBUILD_CROSS := ARCH=$(ARCH) CROSS_COMPILE=$(CROSS_COMPILE)
endif

.PHONY: all module userspace lib selftests tools examples bench bench-build bench-vm \
	bench-record bench-chart bench-guard fuzz check \
	check-host check-vm check-debug demo deps deps-arm64 install clean dkms-install dkms-remove \
	dist distcheck smemctl dkms-source deb rpm

all: module userspace

userspace: lib selftests tools examples

deps:
	tools/deps.sh

deps-arm64:
	tools/deps.sh --arm64

# ---------------------------------------------------------------- module
#
# One build directory per kernel: Kbuild writes its objects next to the
# sources, so each kernel gets its own copy of them.  The test module of
# the suite (selftests/module) is built beside smemdev.ko.
module:
	@set -e; for k in $(KVERS); do \
		d=$(BUILD)/mod/$$k; kd=$(if $(KDIR),$(KDIR),/lib/modules/$$k/build); \
		mkdir -p $$d; \
		cp -a Kbuild VERSION kmod include $$d/; \
		$(MAKE) -C $$kd M=$$d $(KBUILD_CROSS) SMEM_WERROR=$(WERROR) modules; \
		mkdir -p $$d/test; \
		cp -a selftests/module/. $$d/test/; \
		$(MAKE) -C $$kd M=$$d/test $(KBUILD_CROSS) SMEM_TOP=$(TOP) modules; \
	done

# --------------------------------------------------------------- libsmem
# The file is named after the ABI, as the soname is, not after the
# project's version (VERSION): MAJOR.MINOR.PATCH of the ABI, MAJOR being
# the soname's.
LIB_SONAME := libsmem.so.1
LIB_SO := $(BUILD)/lib/libsmem.so.1.0.0
LIB_A := $(BUILD)/lib/libsmem.a
LIB_SRCS := $(wildcard libsmem/*.c)
# smem/version.h holds the version macros of smem.h, made from VERSION
# (the one place the version lives) and installed beside smem.h, which
# includes it: every compile that includes smem.h takes SMEM_H_INC.
VERSION_H := $(BUILD)/include/smem/version.h
SMEM_H_INC := -Iinclude -I$(BUILD)/include
LIB_HDRS := $(wildcard libsmem/*.h) include/smem.h $(VERSION_H) include/uapi/linux/smem.h
# -fexceptions: a C++ exception or a thread's cancellation that unwinds
# through an access window runs the cleanup that closes it (secret.c).
LIB_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC -fexceptions \
	-fvisibility=hidden $(SMEM_H_INC) -Iinclude/uapi -pthread
LIB_PIC_OBJS := $(LIB_SRCS:libsmem/%.c=$(BUILD)/lib/obj/%.o)
# Enclaves seal with libsodium's XChaCha20-Poly1305 (libsmem/enclave.c):
# the shared library needs it, and so does every link of libsmem.a.
SODIUM_LIBS := $(shell pkg-config --libs libsodium)
# Every symbol bound at load time: a lazily bound call saves the vector
# registers on the stack (_dl_runtime_resolve_xsavec), and the GOT is
# read-only afterwards.  Never unloaded: the closer thread of lingering
# secrets (libsmem/linger.c) runs the library's code.
LIB_LDFLAGS := -Wl,-z,defs -Wl,-z,now -Wl,-z,relro -Wl,-z,nodelete

lib: $(LIB_SO) $(LIB_A) $(BUILD)/lib/libsmem.pc

# Decimal numbers without leading zeros: the macros are C integer constants
# (a leading 0 would make one octal).
VERSION_RE := (0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)
VERSION_PARTS := $(subst ., ,$(VERSION))

$(VERSION_H): VERSION
	@echo '$(VERSION)' | grep -Eqx '$(VERSION_RE)' || \
		{ echo "VERSION: '$(VERSION)' is not MAJOR.MINOR.PATCH" >&2; exit 1; }
	@mkdir -p $(dir $@)
	printf '%s\n' '/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */' \
		'/* Made from VERSION by the Makefile; included by smem.h. */' \
		'#ifndef SMEM_VERSION_H' '#define SMEM_VERSION_H' \
		'#define SMEM_VERSION_MAJOR $(word 1,$(VERSION_PARTS))' \
		'#define SMEM_VERSION_MINOR $(word 2,$(VERSION_PARTS))' \
		'#define SMEM_VERSION_PATCH $(word 3,$(VERSION_PARTS))' \
		'#define SMEM_VERSION "$(VERSION)"' '#endif' >$@.tmp
	mv $@.tmp $@

$(BUILD)/lib/obj/%.o: libsmem/%.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(LIB_SO): $(LIB_PIC_OBJS) libsmem/libsmem.map
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) $(LIB_LDFLAGS) \
		-Wl,--version-script=libsmem/libsmem.map -o $@ $(LIB_PIC_OBJS) $(SODIUM_LIBS)
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
	@mkdir -p $(dir $@)
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
		SMEM_TOP=$(TOP) $(SELFTESTS_BUILD)

# A build directory other than build/ (a cross build): its compilers, and
# libsmem and smem/version.h from there, not from SMEM_TOP/build.
SELFTESTS_OWN_BUILD = CC='$(CC)' CXX='$(CXX)' \
	SMEM_CFLAGS='-I$(TOP)/include -I$(BUILD)/include -I$(TOP)/include/uapi' \
	SMEM_LIBS='-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lsmem' HAVE_LIBSMEM=y
SELFTESTS_BUILD = $(if $(filter-out $(TOP)/build,$(BUILD)),$(SELFTESTS_OWN_BUILD))

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
#                   concurrency and linger tests under TSan (build/tsan)
SAN_asan := -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_tsan := -fsanitize=thread
SAN_TESTS_asan := $(patsubst selftests/%.c,%,$(wildcard selftests/lib_*_test.c))
SAN_TESTS_tsan := lib_concurrency_test lib_linger_test
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer $(SAN_$(1)) -std=gnu11 -D_GNU_SOURCE \
	-pthread $(SMEM_H_INC) -Iinclude/uapi

define san_rules
$(BUILD)/$(1)/lib/$(LIB_SONAME): $(LIB_SRCS) $(LIB_HDRS) libsmem/libsmem.map
	@mkdir -p $$(dir $$@)
	$(CC) $(call SAN_CFLAGS,$(1)) $(WARN) -fPIC -fexceptions -fvisibility=hidden -shared \
		-Wl,-soname,$(LIB_SONAME) $(LIB_LDFLAGS) \
		-Wl,--version-script=libsmem/libsmem.map -o $$@ $(LIB_SRCS) $(SODIUM_LIBS)
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
	$(CXX) -O1 -g -fno-omit-frame-pointer $(SAN_$(1)) -Wall -Werror $(SMEM_H_INC) \
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
TOOL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE $(SMEM_H_INC) -Iinclude/uapi -pthread
# smem-fuzz (fuzz/kernel/kernel.mk) is one of them: the debug lane fuzzes
# the module with it.
TOOLS := $(BUILD)/tools/smemctl $(BUILD)/tools/smem-demo-keyholder $(BUILD)/tools/smem-demo-probe \
	$(BUILD)/tools/smem-fuzz $(BUILD)/tools/smem-sandbox

tools: $(TOOLS)

# What make install needs of the tools: smemctl alone.
smemctl: $(BUILD)/tools/smemctl

SMEMCTL_SRCS := $(wildcard tools/smemctl/*.c)

$(BUILD)/tools/smemctl: $(SMEMCTL_SRCS) $(wildcard tools/smemctl/*.h) $(LIB_A) $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $$(pkg-config --cflags libkmod) \
		$(LDFLAGS) -o $@ $(SMEMCTL_SRCS) $(LIB_A) $(SODIUM_LIBS) $$(pkg-config --libs libkmod)

# A container-like sandbox (namespaces, a runtime's default seccomp profile
# through libseccomp) that selftests/lib_container_test runs libsmem in.
$(BUILD)/tools/smem-sandbox: tools/smem-sandbox.c
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $$(pkg-config --cflags libseccomp) $(LDFLAGS) -o $@ $< \
		$$(pkg-config --libs libseccomp)

$(BUILD)/tools/smem-demo-%: demo/%.c $(LIB_SO) $(LIB_HDRS) selftests/module/smem_dmtest.h
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $$(pkg-config --cflags libsodium) $(LDFLAGS) -o $@ $< \
		-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lsmem $$(pkg-config --libs libsodium)

# -------------------------------------------------------------- examples
#
# Built into build/tools, so that tools/vm-run puts them on the guest's
# PATH, where make check runs them (examples/run-examples).
EXAMPLES := hmac_key share_sealed session_keys
EXAMPLE_BINS := $(EXAMPLES:%=$(BUILD)/tools/%)

examples: $(EXAMPLE_BINS) $(BUILD)/tools/smem-run-examples

$(BUILD)/tools/hmac_key $(BUILD)/tools/session_keys: EXAMPLE_LIBS = \
	$(shell pkg-config --cflags --libs libsodium)
$(EXAMPLE_BINS): $(BUILD)/tools/%: examples/%.c include/smem.h $(VERSION_H) $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 $(SMEM_H_INC) $(LDFLAGS) -o $@ $< \
		-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lsmem $(EXAMPLE_LIBS)

$(BUILD)/tools/smem-run-examples: examples/run-examples
	@mkdir -p $(dir $@)
	install -m 755 $< $@

# ----------------------------------------------------------------- bench
#
#   make bench-build   build/bench/*_bench: one program per bench/*_bench.c, on
#                      the harness bench/bench.c (linked statically with libsmem
#                      and libsodium, so that vm-run -a can take any alone)
#   make bench         run them all here (bench/suite --table): each figure
#                      beside its anchors
#   make bench-vm      the same in the 6.12 VM (module, protection keys)
#   make bench-record  full runs here and in the 6.12 VM, appended to
#                      bench/history.jsonl (commit it)
#   make bench-chart   bench/charts/*.svg from the history (gnuplot)
#   make bench-guard   the quick mode (BENCH_VM=6.12: in the VM): compare the
#                      ratios with the last recorded run on this kind of
#                      machine, fail on one 2x worse (make check runs it);
#                      no recorded run of this kind: said, and no failure
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*_bench.c))
BENCH_VM ?=

bench-build: $(BENCHES)

# kernel_bench waits for its children with the suite's wait_child().
$(BUILD)/bench/kernel_bench: selftests/test_util.h

$(BENCHES): $(BUILD)/bench/%: bench/%.c bench/bench.c bench/bench.h include/smem.h $(VERSION_H) \
		$(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -pthread $(SMEM_H_INC) -Iinclude/uapi $(LDFLAGS) \
		$(shell pkg-config --cflags libsodium) -o $@ $< bench/bench.c $(LIB_A) -l:libsodium.a

bench: bench-build
	bench/suite --table

bench-vm: bench-build
	bench/suite --table --vm 6.12

bench-record: bench-build
	@mkdir -p $(BUILD)/bench
	bench/suite > $(BUILD)/bench/run-host.jsonl
	bench/suite --vm 6.12 > $(BUILD)/bench/run-vm.jsonl
	bench/history.py record $(BUILD)/bench/run-host.jsonl $(BUILD)/bench/run-vm.jsonl

bench-chart:
	bench/history.py chart

bench-guard: bench-build
	@mkdir -p $(BUILD)/bench
	bench/suite --quick $(if $(BENCH_VM),--vm $(BENCH_VM)) > $(BUILD)/bench/quick$(BENCH_VM).jsonl
	bench/history.py guard $(BUILD)/bench/quick$(BENCH_VM).jsonl --rerun || [ $$? = 77 ]

# ------------------------------------------------------------------ fuzz
#
#   make fuzz [FUZZ_SECONDS=N]  the kernel fuzzer of /dev/smem in the debug VM
#                               and libFuzzer on libsmem, side by side, for N
#                               seconds (default 600) after replaying their
#                               corpora (fuzz/run; docs/design.md, "Fuzzing")
FUZZ_SECONDS ?= 600
include fuzz/kernel/kernel.mk fuzz/lib/lib.mk
# The harnesses include smem.h, hence smem/version.h (made first: they
# depend on LIB_HDRS).
FUZZ_LIB_CFLAGS += -I$(BUILD)/include

fuzz: userspace fuzz-kernel-bin fuzz-lib-build
	fuzz/run $(FUZZ_SECONDS)

# ----------------------------------------------------------------- tests
# Everything make check builds, it builds with warnings as errors.
check check-host check-vm check-debug: WERROR = 1

check: all sanitize fuzz-lib-build bench-build
	tools/check.sh

check-host: userspace sanitize fuzz-lib-build bench-build
	tools/check.sh lint host

check-vm: all bench-build
	tools/check.sh 6.1 6.12

check-debug: userspace
	tools/check.sh debug

demo: userspace
	demo/demo.sh -k $(if $(KVER),$(KVER),6.12)

# --------------------------------------------------------------- install
#
# The man pages' .TH lines say "smem @VERSION@" in the tree: the version
# is filled in as they are installed.
MAN_PAGES := $(wildcard man/man3/*.3 man/man7/*.7 man/man8/*.8)

# Headers: smem.h at the top, as liburing.h is; what it includes and the
# kernel ABI header under smem/, not in the kernel's linux/ namespace
# (linux-libc-dev owns /usr/include/linux): <smem/version.h>, <smem/uapi.h>.
install: lib smemctl
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/smem
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libsmem.so
	$(LIB_PC_SED) libsmem/libsmem.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libsmem.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/libsmem.pc
	install -m 644 include/smem.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(VERSION_H) $(DESTDIR)$(INCLUDEDIR)/smem/version.h
	install -m 644 include/uapi/linux/smem.h $(DESTDIR)$(INCLUDEDIR)/smem/uapi.h
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	for f in $(MAN_PAGES); do \
		sed 's|@VERSION@|$(VERSION)|' $$f >$(DESTDIR)$(MANDIR)/$${f#man/} && \
		chmod 644 $(DESTDIR)$(MANDIR)/$${f#man/} || exit 1; \
	done
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(MODPROBEDIR) $(DESTDIR)$(MODULESLOADDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BUILD)/tools/smemctl $(DESTDIR)$(SBINDIR)/
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 dist/bash-completion/smemctl $(DESTDIR)$(BASHCOMPDIR)/
	install -m 644 dist/udev/60-smem.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 644 dist/modprobe.d/smemdev.conf $(DESTDIR)$(MODPROBEDIR)/
	install -m 644 dist/modules-load.d/smemdev.conf $(DESTDIR)$(MODULESLOADDIR)/
	install -m 644 dist/sysusers.d/smem.conf $(DESTDIR)$(SYSUSERSDIR)/
	# The group now, on this machine (a package would do it in postinst).
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/smem.conf; fi

# The module through DKMS, for every kernel with headers (tools/dkms.sh).
dkms-install:
	tools/dkms.sh install

# What DKMS needs to build the module and nothing else, to
# $(DESTDIR)$(DKMS_SRC_DIR): Kbuild, VERSION, kmod/, the uapi header, and
# dkms.conf with its version, "#MODULE_VERSION#" in the tree (dh_dkms -V
# fills in the same), made from VERSION.  tools/dkms.sh, debian/rules and
# the RPM spec all install the module's sources through this.
DKMS_SRC_DIR ?= /usr/src/smemdev-$(VERSION)

dkms-source:
	install -d $(DESTDIR)$(DKMS_SRC_DIR)/kmod $(DESTDIR)$(DKMS_SRC_DIR)/include/uapi/linux
	install -m 644 Kbuild VERSION $(DESTDIR)$(DKMS_SRC_DIR)/
	install -m 644 kmod/*.c kmod/*.h $(DESTDIR)$(DKMS_SRC_DIR)/kmod/
	install -m 644 include/uapi/linux/smem.h $(DESTDIR)$(DKMS_SRC_DIR)/include/uapi/linux/
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf >$(DESTDIR)$(DKMS_SRC_DIR)/dkms.conf
	chmod 644 $(DESTDIR)$(DKMS_SRC_DIR)/dkms.conf

dkms-remove:
	tools/dkms.sh remove

# ------------------------------------------------------------------ dist
#
# The release tarball is HEAD as committed (git archive, so its files
# carry the commit's time and the same commit gives the same bytes): what
# is not committed is not in it.  distcheck unpacks it aside and builds
# the userspace there alone, with warnings as errors; a tree that fails
# is left in build/distcheck.* to look at.  The kselftest headers and
# checkpatch.pl are not the project's (they come from linux-source): the
# copies of this tree's build are lent to it rather than extracted again.
DIST_NAME := smemdev-$(VERSION)
DIST_TAR := $(BUILD)/$(DIST_NAME).tar.xz

dist:
	@[ "$$(git -C $(TOP) rev-parse --show-toplevel 2>/dev/null)" = "$$(cd $(TOP) && pwd -P)" ] || \
		{ echo "make dist: $(TOP) is not a git checkout (the tarball is made from HEAD)" >&2; exit 1; }
	@git -C $(TOP) diff --quiet HEAD -- VERSION || \
		{ echo "make dist: VERSION is not committed: the tarball would not be $(DIST_NAME)" >&2; exit 1; }
	@[ -z "$$(git --no-optional-locks -C $(TOP) status --porcelain)" ] || \
		echo "make dist: uncommitted changes are left out: the tarball is HEAD" >&2
	@mkdir -p $(BUILD)
	git -C $(TOP) archive --format=tar --prefix=$(DIST_NAME)/ -o $(DIST_TAR:.xz=) HEAD
	xz -f -T1 $(DIST_TAR:.xz=)
	cd $(BUILD) && sha256sum $(notdir $(DIST_TAR)) >$(notdir $(DIST_TAR)).sha256

distcheck: dist $(KSFT_DIR)/kselftest_harness.h $(CHECKPATCH)
	@if tar -tJf $(DIST_TAR) | grep -E '^$(DIST_NAME)/(build|\.git)(/|$$)'; then \
		echo "make distcheck: $(notdir $(DIST_TAR)) holds the files above" >&2; exit 1; fi
	cd $(BUILD) && sha256sum --quiet -c $(notdir $(DIST_TAR)).sha256
	@d=$$(mktemp -d $(BUILD)/distcheck.XXXXXX) && tar -xJf $(DIST_TAR) -C $$d && \
	if $(MAKE) -s -C $$d/$(DIST_NAME) WERROR=1 KSFT_DIR=$(KSFT_DIR) CHECKPATCH=$(CHECKPATCH) \
		userspace; then \
		rm -rf $$d; echo "make distcheck: $(notdir $(DIST_TAR)) builds"; \
	else \
		echo "make distcheck: $(notdir $(DIST_TAR)) does not build: see $$d" >&2; exit 1; \
	fi

# ------------------------------------------------------------- packages
#
# Packages of the tree as it is, committed or not: its files (git
# ls-files, untracked ones too, ignored ones not) copied to $(1)/$(DIST_NAME)
# are the source.  The packaging's changelogs name the version too (each
# entry is a release): they must agree with VERSION.
snapshot = rm -rf $(1) && mkdir -p $(1)/$(DIST_NAME) && \
	git -C $(TOP) ls-files --cached --others --exclude-standard | \
		while read -r f; do [ ! -e "$$f" ] || echo "$$f"; done | \
		tar -C $(TOP) -cf - -T - | tar -C $(1)/$(DIST_NAME) -xf -

# Debian packages (debian/) in build/deb; lintian must find no error and
# no warning (an override carries its reason).
DEB_DIR := $(BUILD)/deb

deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); [ "$${v%-*}" = "$(VERSION)" ] || \
		{ echo "make deb: debian/changelog is at $$v, VERSION at $(VERSION)" >&2; exit 1; }
	$(call snapshot,$(DEB_DIR))
	tar -C $(DEB_DIR) -cJf $(DEB_DIR)/smemdev_$(VERSION).orig.tar.xz \
		--exclude=$(DIST_NAME)/debian $(DIST_NAME)
	cd $(DEB_DIR)/$(DIST_NAME) && dpkg-buildpackage -us -uc
	lintian --fail-on error,warning --info $(DEB_DIR)/smemdev_*.changes

# RPM packages (packaging/rpm) in build/rpm, built by rpmbuild here (its
# BuildRequires are Fedora's names: --nodeps), checked by rpmlint.
# Debian's brp-compress says #!/bin/sh but needs bash (read -d): without
# this the man pages stay uncompressed.
RPM_DIR := $(BUILD)/rpm
RPM_SPEC := $(RPM_DIR)/SPECS/smemdev.spec

rpm:
	$(call snapshot,$(RPM_DIR)/tree)
	mkdir -p $(RPM_DIR)/SOURCES $(RPM_DIR)/SPECS
	tar -C $(RPM_DIR)/tree -cJf $(RPM_DIR)/SOURCES/$(DIST_NAME).tar.xz $(DIST_NAME)
	sed 's/@VERSION@/$(VERSION)/g' packaging/rpm/smemdev.spec.in >$(RPM_SPEC)
	@v=$$(rpmspec -q --srpm --qf '%{version}' $(RPM_SPEC) 2>/dev/null); \
	c=$$(sed -n '/^%changelog/{n;s/.* - \([^-]*\)-[^-]*$$/\1/p;q}' $(RPM_SPEC)); \
	[ "$$v" = "$(VERSION)" ] && [ "$$c" = "$(VERSION)" ] || \
		{ echo "make rpm: the spec is at $$v, its changelog at $$c, VERSION at $(VERSION)" >&2; exit 1; }
	rpmbuild -bb --nodeps --define '_topdir $(RPM_DIR)' \
		--define '__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}' $(RPM_SPEC)
	rpmlint -c packaging/rpm/rpmlint.toml -r packaging/rpm/smemdev.rpmlintrc $(RPM_SPEC) $(RPM_DIR)/RPMS/*/*.rpm

clean:
	rm -rf $(BUILD)
