/* MiniDebugInfo: the `.gnu_debugdata` section Fedora, RHEL and others
 * keep in their stripped binaries, an xz-compressed ELF file whose
 * .symtab holds the function symbols .dynsym lacks (static functions).
 * elf_symbols.c reads it when a file has no .symtab of its own and no
 * debug file is found. */
#ifndef MINIDEBUG_H
#define MINIDEBUG_H

#include <stddef.h>

/* Bounds on what is accepted from an untrusted file: the compressed
 * section, the decompressed ELF file (distributions' largest are a few
 * MiB), and the memory the decoder may use. */
#define MINIDEBUG_IN_MAX (64u << 20)
#define MINIDEBUG_OUT_MAX (256u << 20)
#define MINIDEBUG_DECODER_MEM_MAX (128u << 20)

/* Decompress an xz stream of in_size bytes into a malloc'd buffer of
 * *out_size bytes, at most out_max. NULL when the input is not one
 * complete, valid xz stream (trailing garbage included), is empty, or
 * decompresses to more than out_max bytes, or when memory runs out. */
void *minidebug_decompress(const void *in, size_t in_size, size_t out_max, size_t *out_size);

#endif
