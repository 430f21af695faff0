# guest.mk: builds the test guest, regress/guest/guest.elf, a freestanding
# x86-64 kernel with a PVH note.  Included by the top-level Makefile.  It
# uses its own compiler flags, never the project's: no PIC, no red zone,
# no SSE/MMX/x87 (the host's CPL 0 emulator cannot run them), no CET
# (endbr64 is not emulated either).

GUEST_DIR	 = regress/guest
GUEST_CC	 = gcc
GUEST_CFLAGS	 = -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie \
		   -fno-stack-protector -fcf-protection=none \
		   -fno-asynchronous-unwind-tables \
		   -fno-tree-loop-distribute-patterns \
		   -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
		   -mcmodel=small -Wall -Wextra -Werror -Wno-unused-parameter
GUEST_LDFLAGS	 = -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/guest.ld \
		   -Wl,--build-id=none -Wl,-z,noexecstack \
		   -Wl,-z,max-page-size=4096
GUEST_OBJS	 = $(GUEST_DIR)/start.o $(GUEST_DIR)/main.o \
		   $(GUEST_DIR)/machine.o $(GUEST_DIR)/cons.o \
		   $(GUEST_DIR)/checks.o $(GUEST_DIR)/user.o \
		   $(GUEST_DIR)/usermode.o $(GUEST_DIR)/util.o \
		   $(GUEST_DIR)/pci.o $(GUEST_DIR)/virtio.o \
		   $(GUEST_DIR)/vblk.o $(GUEST_DIR)/blktest.o \
		   $(GUEST_DIR)/vscsi.o $(GUEST_DIR)/vrng.o \
		   $(GUEST_DIR)/vmmci.o $(GUEST_DIR)/vnet.o \
		   $(GUEST_DIR)/net.o $(GUEST_DIR)/smp.o \
		   $(GUEST_DIR)/hostbench.o $(GUEST_DIR)/initrd.o \
		   $(GUEST_DIR)/pwrbtn.o

$(GUEST_DIR)/%.o: $(GUEST_DIR)/%.c $(GUEST_DIR)/guest.h $(GUEST_DIR)/guest.mk
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.o: $(GUEST_DIR)/%.S $(GUEST_DIR)/guest.mk
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/guest.elf: $(GUEST_OBJS) $(GUEST_DIR)/guest.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)

# Boot-protocol variants (see variant.h): the same guest entered as a
# Linux bzImage and as an OpenBSD kernel, each with its own entry stub,
# gmain() and linker script, and without the PVH note.
VARIANT_COMMON	 = $(filter-out $(GUEST_DIR)/main.o,$(GUEST_OBJS)) \
		   $(GUEST_DIR)/acpicheck.o $(GUEST_DIR)/variant.o
BZ_OBJS		 = $(GUEST_DIR)/bzstart.o $(GUEST_DIR)/bzmain.o
OBSD_OBJS	 = $(GUEST_DIR)/obsdstart.o $(GUEST_DIR)/obsdmain.o
GUEST_VARIANTS	 = $(GUEST_DIR)/bzguest.bin $(GUEST_DIR)/obsdguest.elf

$(BZ_OBJS) $(OBSD_OBJS) $(GUEST_DIR)/acpicheck.o: $(GUEST_DIR)/variant.h

$(GUEST_DIR)/bzguest.elf: $(BZ_OBJS) $(VARIANT_COMMON) $(GUEST_DIR)/bz.ld
	$(GUEST_CC) $(GUEST_CFLAGS) -nostdlib -static -no-pie \
	    -Wl,-T,$(GUEST_DIR)/bz.ld -Wl,--build-id=none \
	    -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -o $@ \
	    $(BZ_OBJS) $(VARIANT_COMMON)

$(GUEST_DIR)/bzguest.bin: $(GUEST_DIR)/bzguest.elf
	objcopy -O binary $< $@

$(GUEST_DIR)/obsdguest.elf: $(OBSD_OBJS) $(VARIANT_COMMON) $(GUEST_DIR)/obsd.ld
	$(GUEST_CC) $(GUEST_CFLAGS) -nostdlib -static -no-pie \
	    -Wl,-T,$(GUEST_DIR)/obsd.ld -Wl,--build-id=none \
	    -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -o $@ \
	    $(OBSD_OBJS) $(VARIANT_COMMON)

guest-clean:
	rm -f $(GUEST_DIR)/guest.elf $(GUEST_OBJS) $(GUEST_VARIANTS) \
	    $(GUEST_DIR)/bzguest.elf $(BZ_OBJS) $(OBSD_OBJS) \
	    $(GUEST_DIR)/acpicheck.o $(GUEST_DIR)/variant.o

.PHONY: guest-clean
