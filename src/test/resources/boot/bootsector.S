/*
 * Sluice boot-test sector: a 512-byte x86 real-mode boot sector for the iPXE sanboot harness.
 *
 * Build (done at test time by dev.sluice.boot.BootDisk):
 *   as --32 -o bootsector.o bootsector.S
 *   ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o bootsector.bin bootsector.o
 *
 * What it does, in order:
 *   1. programs COM1 (0x3f8) for 115200 8N1 by port I/O (no BIOS int 14h);
 *   2. prints "SLUICE-BOOT-SECTOR DL=xx" (xx = the boot drive number the BIOS / iPXE passed in DL);
 *   3. reads ONE sector with int 13h AH=42h (extended read, disk address packet) from drive DL at the 64-bit LBA
 *      stored at FAR_LBA_OFFSET (0x1b0) of this sector, into 0000:7e00;
 *   4. checks that the sector starts with the 16-byte magic "SLUICE-FAR-SECT!" and prints
 *      "SLUICE-FAR-OK <rest of the sector's first line>", e.g. "SLUICE-FAR-OK MARKER-1f2e3d...";
 *   5. halts (cli; hlt in a loop).
 * Failures print one line and halt: "SLUICE-NO-EDD" (int 13h AH=41h says no extensions),
 * "SLUICE-READ-ERROR AH=xx" (AH=42h failed, xx = status code), "SLUICE-BAD-MAGIC" (sector read, wrong content).
 *
 * Fixed layout the test patches: the disk address packet sits at 0x1a8, so its 64-bit LBA field is at
 * 0x1b0..0x1b7 (little endian). 0x1b8..0x1fd is zero (no partition table); 0x1fe = 0x55 0xaa.
 */
        .code16
        .text
        .globl _start

        .set COM1, 0x3f8
        .set BUFFER, 0x7e00

_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    $0x7c00, %sp
        ljmp    $0, $start2             /* normalise CS:IP to 0000:7cxx */
start2:
        sti
        cld
        movb    %dl, boot_drive

        /* --- COM1: 115200 baud, 8 data bits, no parity, 1 stop bit, FIFO on --- */
        movw    $COM1+1, %dx            /* IER: no interrupts */
        xorb    %al, %al
        outb    %al, %dx
        movw    $COM1+3, %dx            /* LCR: DLAB on */
        movb    $0x80, %al
        outb    %al, %dx
        movw    $COM1+0, %dx            /* divisor low = 1 (115200) */
        movb    $0x01, %al
        outb    %al, %dx
        movw    $COM1+1, %dx            /* divisor high = 0 */
        xorb    %al, %al
        outb    %al, %dx
        movw    $COM1+3, %dx            /* LCR: 8N1, DLAB off */
        movb    $0x03, %al
        outb    %al, %dx
        movw    $COM1+2, %dx            /* FCR: enable + clear FIFOs */
        movb    $0xc7, %al
        outb    %al, %dx
        movw    $COM1+4, %dx            /* MCR: DTR, RTS, OUT2 */
        movb    $0x0b, %al
        outb    %al, %dx

        movw    $msg_hello, %si
        call    puts
        movb    boot_drive, %al
        call    puthex8
        call    crlf

        /* --- int 13h AH=41h: are the extensions there? --- */
        movb    $0x41, %ah
        movw    $0x55aa, %bx
        movb    boot_drive, %dl
        int     $0x13
        jc      no_edd
        cmpw    $0xaa55, %bx
        jne     no_edd

        /* --- int 13h AH=42h: extended read of one sector via the disk address packet --- */
        movb    $0x42, %ah
        movb    boot_drive, %dl
        movw    $dap, %si
        int     $0x13
        jc      read_error
        /* some BIOSes leave CF clear but report the failure in AH */
        testb   %ah, %ah
        jnz     read_error

        /* --- verify the magic --- */
        movw    $BUFFER, %di
        movw    $magic, %si
        movw    $16, %cx
        repe cmpsb
        jne     bad_magic

        movw    $msg_ok, %si
        call    puts
        /* print the rest of the first line of the sector (stop at CR, LF, NUL or the end of the sector) */
        movw    $BUFFER+16, %si
1:      cmpw    $BUFFER+512, %si
        jae     2f
        lodsb
        cmpb    $0, %al
        je      2f
        cmpb    $'\n', %al
        je      2f
        cmpb    $'\r', %al
        je      2f
        call    putc
        jmp     1b
2:      call    crlf
        jmp     halt

no_edd:
        movw    $msg_no_edd, %si
        call    puts
        call    crlf
        jmp     halt

read_error:
        movb    %ah, %bl                /* keep the status code */
        movw    $msg_read_error, %si
        call    puts
        movb    %bl, %al
        call    puthex8
        call    crlf
        jmp     halt

bad_magic:
        movw    $msg_bad_magic, %si
        call    puts
        call    crlf

halt:
        cli
3:      hlt
        jmp     3b

/* --- serial output helpers (COM1 by port I/O) --- */

/* putc: AL -> COM1, waits for the transmit holding register to be empty. Preserves everything but flags. */
putc:
        pushw   %dx
        pushw   %ax
        movw    $COM1+5, %dx            /* LSR */
4:      inb     %dx, %al
        testb   $0x20, %al
        jz      4b
        popw    %ax
        movw    $COM1, %dx
        outb    %al, %dx
        popw    %dx
        ret

/* puts: NUL-terminated string at DS:SI */
puts:
        lodsb
        testb   %al, %al
        jz      5f
        call    putc
        jmp     puts
5:      ret

crlf:
        movb    $'\r', %al
        call    putc
        movb    $'\n', %al
        jmp     putc

/* puthex8: AL as two hex digits */
puthex8:
        pushw   %ax
        shrb    $4, %al
        call    puthex4
        popw    %ax
puthex4:
        andb    $0x0f, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     6f
        addb    $('a' - '0' - 10), %al
6:      jmp     putc

msg_hello:      .asciz "SLUICE-BOOT-SECTOR DL="
msg_ok:         .asciz "SLUICE-FAR-OK "
msg_no_edd:     .asciz "SLUICE-NO-EDD"
msg_read_error: .asciz "SLUICE-READ-ERROR AH="
msg_bad_magic:  .asciz "SLUICE-BAD-MAGIC"
magic:          .ascii "SLUICE-FAR-SECT!"
boot_drive:     .byte 0

/* --- disk address packet at a fixed offset: the test patches the 64-bit LBA at 0x1b0 --- */
        .org    0x1a8
dap:
        .byte   0x10                    /* packet size */
        .byte   0                       /* reserved */
        .word   1                       /* sectors to read */
        .word   BUFFER                  /* buffer offset */
        .word   0                       /* buffer segment */
far_lba:
        .quad   0                       /* LBA: patched by the test (FAR_LBA_OFFSET = 0x1b0) */

        .org    0x1fe
        .byte   0x55, 0xaa
