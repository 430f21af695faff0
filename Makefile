# vmd for Linux: top-level GNU Makefile.  Builds in place:
#   usr.sbin/vmd/vmd, usr.sbin/vmctl/vmctl, regress/guest/guest.elf
# Targets: all (default), test, demo, install, clean, fuzz, bench.
# SANITIZE=1 builds everything with ASan and UBSan.

PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man

CC	?= cc
YACC	 = byacc
CSTD	 = -std=gnu11
WARN	 = -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS	?= -O2 -g
CPPFLAGS += -I. -Ilib/libutil -Isys -Iusr.sbin/vmd -D_GNU_SOURCE
LIBS_EVENT = -levent_core -levent_pthreads
LIBS_SECCOMP = -lseccomp
LIBS_ZYDIS = -lZydis
LIBS_MNL = -lmnl
LDLIBS	 = $(LIBS_EVENT) $(LIBS_SECCOMP) $(LIBS_MNL) -lpthread

ifeq ($(SANITIZE),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS)

# lib/libutil: imsg, logging, fd helpers, size formatting
LIBUTIL_SRCS = lib/libutil/imsg.c lib/libutil/imsg-buffer.c lib/libutil/log.c \
	lib/libutil/strl.c lib/libutil/fmt.c
LIBUTIL	 = lib/libutil/libutil.a

# disk image formats: shared by vmd's vioblk and vmctl create
DISK_SRCS = usr.sbin/vmd/disk.c usr.sbin/vmd/vioraw.c usr.sbin/vmd/vioqcow2.c

# vmd: everything but main() and the KVM backend goes in an archive that
# the unit tests link too, with the fake backend.
VMD_LIB_SRCS = usr.sbin/vmd/proc.c usr.sbin/vmd/roles.c \
	usr.sbin/vmd/devproc.c usr.sbin/vmd/vm_devproc.c \
	usr.sbin/vmd/vioblk_proc.c usr.sbin/vmd/control.c \
	usr.sbin/vmd/msg.c 	usr.sbin/vmd/config.c usr.sbin/vmd/perm.c usr.sbin/vmd/vmm.c usr.sbin/vmd/vm.c \
	usr.sbin/vmd/vm_stop.c \
	usr.sbin/vmd/x86_vm.c usr.sbin/vmd/vm_mem.c usr.sbin/vmd/loadfile.c \
	usr.sbin/vmd/loadfile_elf.c usr.sbin/vmd/loadfile_linux.c \
	usr.sbin/vmd/sandbox.c usr.sbin/vmd/dev.c \
	usr.sbin/vmd/ns8250.c usr.sbin/vmd/mc146818.c usr.sbin/vmd/pci.c \
	usr.sbin/vmd/i8042.c usr.sbin/vmd/acpi.c usr.sbin/vmd/acpi_tables.c \
	usr.sbin/vmd/fw_cfg.c \
	usr.sbin/vmd/virtq.c usr.sbin/vmd/vioscsi.c $(DISK_SRCS) \
	usr.sbin/vmd/dhcp.c usr.sbin/vmd/netaddr.c usr.sbin/vmd/priv_nl.c \
	usr.sbin/vmd/virtio.c usr.sbin/vmd/virtio_dev.c usr.sbin/vmd/viornd.c \
	usr.sbin/vmd/vioblk.c usr.sbin/vmd/vmmci.c usr.sbin/vmd/vionet.c \
	usr.sbin/vmd/priv.c usr.sbin/vmd/netconf.c
VMD_LIB	 = usr.sbin/vmd/libvmd.a
VMM_KVM_SRCS = sys/dev/vmm/vmm_kvm.c sys/dev/vmm/vmm_host.c
VMM_NULL_SRCS = sys/dev/vmm/vmm_null.c sys/dev/vmm/vmm_host.c
VMD	 = usr.sbin/vmd/vmd
VMD_PARSE = usr.sbin/vmd/parse.c

VMCTL_SRCS = usr.sbin/vmctl/main.c usr.sbin/vmctl/vmctl.c usr.sbin/vmctl/fmt.c \
	usr.sbin/vmctl/create.c
VMCTL	 = usr.sbin/vmctl/vmctl

UNIT_SRCS = $(wildcard regress/unit/*_test.c)
UNIT_BINS = $(UNIT_SRCS:.c=)

GUEST	 = regress/guest/guest.elf

all: $(VMD) $(VMCTL) $(GUEST)

%.o: %.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBUTIL): $(LIBUTIL_SRCS:.c=.o)
	rm -f $@ && ar rcs $@ $^

$(VMD_PARSE): usr.sbin/vmd/parse.y
	$(YACC) -o $@ $<

usr.sbin/vmd/parse.o: $(VMD_PARSE)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-unused-but-set-variable -MMD -MP -c -o $@ $<

$(VMD_LIB): $(VMD_LIB_SRCS:.c=.o) usr.sbin/vmd/parse.o
	rm -f $@ && ar rcs $@ $^

$(VMD): usr.sbin/vmd/vmd.o $(VMD_LIB) $(VMM_KVM_SRCS:.c=.o) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ usr.sbin/vmd/vmd.o $(VMM_KVM_SRCS:.c=.o) \
	    $(VMD_LIB) $(LIBUTIL) $(LIBS_ZYDIS) $(LDLIBS)

$(VMCTL): $(VMCTL_SRCS:.c=.o) $(DISK_SRCS:.c=.o) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $(VMCTL_SRCS:.c=.o) $(DISK_SRCS:.c=.o) \
	    $(LIBUTIL) $(LDLIBS)

regress/unit/%_test: regress/unit/%_test.o $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $< $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) \
	    $(LIBUTIL) $(LIBS_ZYDIS) $(LDLIBS)

# disktool drives the disk library for the interop and crash tests
DISKTOOL = regress/disk/disktool
$(DISKTOOL): regress/disk/disktool.o $(VMD_LIB) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ regress/disk/disktool.o $(VMD_LIB) $(LIBUTIL) \
	    $(LDLIBS)

# Tests against the kernel's networking, run by regress/e2e/*.sh inside
# network namespaces of their own: never on their own.
NET_TEST_SRCS = $(wildcard regress/net/*.c)
NET_TEST_BINS = $(NET_TEST_SRCS:.c=)

$(NET_TEST_BINS): %: %.o $(VMD_LIB) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $< $(VMD_LIB) $(LIBUTIL) $(LDLIBS)

-include regress/guest/guest.mk

# the guest's boot-protocol variants, defined in guest.mk
all: $(GUEST_VARIANTS)

# libFuzzer targets, built with clang apart from the gcc objects.
FUZZ_CC	 = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined $(CSTD) $(WARN) $(CPPFLAGS)
FUZZERS	 = regress/fuzz/imsg_fuzzer regress/fuzz/elf_fuzzer \
	regress/fuzz/control_fuzzer regress/fuzz/conf_fuzzer \
	regress/fuzz/host_fuzzer regress/fuzz/virtq_fuzzer \
	regress/fuzz/qcow2_fuzzer regress/fuzz/bzimage_fuzzer \
	regress/fuzz/dhcp_fuzzer regress/fuzz/fw_cfg_fuzzer \
	regress/fuzz/scsi_fuzzer regress/fuzz/vioblk_fuzzer \
	regress/fuzz/vionet_fuzzer

regress/fuzz/imsg_fuzzer: regress/fuzz/imsg_fuzz.c lib/libutil/imsg.c \
    lib/libutil/imsg-buffer.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/elf_fuzzer: regress/fuzz/elf_fuzz.c usr.sbin/vmd/loadfile_elf.c \
    usr.sbin/vmd/loadfile.c usr.sbin/vmd/loadfile_linux.c \
    usr.sbin/vmd/vm_mem.c lib/libutil/log.c lib/libutil/strl.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/bzimage_fuzzer: regress/fuzz/bzimage_fuzz.c \
    usr.sbin/vmd/loadfile.c usr.sbin/vmd/loadfile_elf.c \
    usr.sbin/vmd/loadfile_linux.c usr.sbin/vmd/vm_mem.c lib/libutil/log.c \
    lib/libutil/strl.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/fw_cfg_fuzzer: regress/fuzz/fw_cfg_fuzz.c usr.sbin/vmd/fw_cfg.c \
    usr.sbin/vmd/dev.c usr.sbin/vmd/vm_mem.c lib/libutil/log.c \
    lib/libutil/strl.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/control_fuzzer: regress/fuzz/control_fuzz.c \
    usr.sbin/vmd/msg.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/conf_fuzzer: regress/fuzz/conf_fuzz.c $(VMD_PARSE) \
    usr.sbin/vmd/config.c usr.sbin/vmd/perm.c usr.sbin/vmd/msg.c \
    $(DISK_SRCS) lib/libutil/log.c lib/libutil/strl.c lib/libutil/fmt.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/host_fuzzer: regress/fuzz/host_fuzz.c sys/dev/vmm/vmm_host.c \
    sys/dev/vmm/vmm_null.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(LIBS_ZYDIS)

regress/fuzz/virtq_fuzzer: regress/fuzz/virtq_fuzz.c usr.sbin/vmd/virtq.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

# the library's warnings go to a no-op: one per hostile input is noise
regress/fuzz/qcow2_fuzzer: regress/fuzz/qcow2_fuzz.c $(DISK_SRCS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Dlog_warnx=fuzz_log -Dlog_warn=fuzz_log \
	    -o $@ $^

regress/fuzz/vioblk_fuzzer: regress/fuzz/vioblk_fuzz.c usr.sbin/vmd/vioblk.c \
    usr.sbin/vmd/virtq.c $(DISK_SRCS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Dlog_warnx=fuzz_log -Dlog_warn=fuzz_log \
	    -o $@ $^

regress/fuzz/vionet_fuzzer: regress/fuzz/vionet_fuzz.c usr.sbin/vmd/vionet.c \
    usr.sbin/vmd/virtq.c usr.sbin/vmd/dhcp.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DVIONET_ENGINE_ONLY -Dlog_warnx=fuzz_log \
	    -Dlog_warn=fuzz_log -Dlog_debug=fuzz_log -o $@ $^

regress/fuzz/dhcp_fuzzer: regress/fuzz/dhcp_fuzz.c usr.sbin/vmd/dhcp.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^

regress/fuzz/scsi_fuzzer: regress/fuzz/scsi_fuzz.c usr.sbin/vmd/vioscsi.c \
    usr.sbin/vmd/virtq.c $(DISK_SRCS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DVIOSCSI_TARGET_ONLY -Dlog_warnx=fuzz_log \
	    -Dlog_warn=fuzz_log -o $@ $^

fuzz: $(FUZZERS)

# Benchmarks measure only; see bench/README.
bench/uart_bench: bench/uart_bench.o usr.sbin/vmd/dev.o usr.sbin/vmd/ns8250.o \
    $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench/virtio_bench: bench/virtio_bench.o $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) \
    $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $< $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) \
	    $(LIBUTIL) $(LIBS_ZYDIS) $(LDLIBS)

bench/virtq_bench: bench/virtq_bench.o usr.sbin/vmd/virtq.o
	$(CC) $(LDFLAGS) -o $@ $^

bench/disk_bench: bench/disk_bench.o $(DISK_SRCS:.c=.o) $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench/scsi_bench: bench/scsi_bench.o $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) \
    $(LIBUTIL)
	$(CC) $(LDFLAGS) -o $@ $< $(VMD_LIB) $(VMM_NULL_SRCS:.c=.o) \
	    $(LIBUTIL) $(LIBS_ZYDIS) $(LDLIBS)

bench/netpeer: bench/netpeer.c
	$(CC) $(ALL_CFLAGS) -o $@ bench/netpeer.c

bench/dhcp_bench: bench/dhcp_bench.o usr.sbin/vmd/dhcp.o
	$(CC) $(LDFLAGS) -o $@ $^

bench: all bench/uart_bench bench/virtq_bench bench/disk_bench bench/netpeer \
	bench/dhcp_bench bench/virtio_bench bench/scsi_bench

deps:
	@sh ./deps.sh

test: deps all $(UNIT_BINS) $(NET_TEST_BINS) $(FUZZERS) $(DISKTOOL)
	@sh regress/run.sh

# Opt-in: real Linux kernels under vmd (regress/linux/test-linux.sh);
# minutes, and a kernel build the first time.
test-linux: all
	@sh ./deps.sh linux
	@sh regress/linux/test-linux.sh

demo: deps all
	@sh regress/demo.sh

install: all
	sh ./install.sh "$(DESTDIR)" "$(PREFIX)"

clean:
	rm -f $(VMD) $(VMCTL) $(LIBUTIL) $(VMD_LIB) $(VMD_PARSE) $(UNIT_BINS) \
	    $(NET_TEST_BINS) \
	    $(FUZZERS) $(DISKTOOL) bench/uart_bench bench/virtq_bench bench/virtio_bench \
	    bench/disk_bench bench/netpeer bench/dhcp_bench \
	    bench/scsi_bench
	find . -type f \( -name '*.o' -o -name '*.d' \) | xargs rm -f
	$(MAKE) guest-clean

.PHONY: all deps test test-linux demo install clean fuzz bench

# keep the unit tests' objects: no "rm" after the test summary
.SECONDARY:

-include $(shell find . -name '*.d' -type f 2>/dev/null)
