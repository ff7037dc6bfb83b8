/* ELF symbols and sections of one file, read with libelf.
 *
 * An elf_file is opened once per mapped file and answers lookups by name
 * (dynamic and static symbol tables, then the separate debug file found
 * through .gnu_debuglink or the build id) and section lookups. Paths are
 * given as they must be opened (for another mount namespace, through
 * /proc/PID/root); `root` is the prefix under which the separate debug
 * files are searched (the same /proc/PID/root, or "" for our own root). */
#ifndef ELF_SYMBOLS_H
#define ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

/* Open an ELF file (a regular file) and read its symbol tables, section
 * and program headers; the file is untrusted and checked as it is read.
 * `root` may be NULL or "" for our own root. NULL if the file cannot be
 * read or is not ELF. The separate debug file is looked for lazily, the
 * first time a lookup needs it. */
struct elf_file *elf_file_open(const char *path, const char *root);
void elf_file_close(struct elf_file *ef);

/* Value (link-time virtual address) of the defined symbol `name`, searched
 * in .dynsym, .symtab and then the .symtab of the separate debug file
 * (looked for by build id under <root>/usr/lib/debug/.build-id/, then by
 * .gnu_debuglink with its CRC in the file's directory, its .debug/
 * subdirectory and <root>/usr/lib/debug/<directory>/). 0 on success, -1 if
 * not found. value and size may be NULL. */
int elf_file_symbol(struct elf_file *ef, const char *name, uint64_t *value,
                    uint64_t *size);

/* Link-time address (sh_addr) and size of a section of the file itself by
 * name (".PyRuntime"), -1 if the file has none. addr and size may be
 * NULL. */
int elf_file_section(struct elf_file *ef, const char *name, uint64_t *addr,
                     uint64_t *size);

/* Read `len` bytes of the file's contents at link-time address `addr`
 * (from the PT_LOAD segment that holds it). -1 unless the whole range lies
 * in the file contents (p_filesz) of one segment. */
int elf_file_read(struct elf_file *ef, uint64_t addr, void *buf, size_t len);

/* Load bias of a file mapped in a process, given any one of its mappings
 * (start address and file offset, from /proc/PID/maps): the value to add
 * to a link-time address to get the run-time address. -1 if the offset
 * belongs to no PT_LOAD segment. bias may be NULL. */
int elf_file_load_bias(struct elf_file *ef, uint64_t map_start,
                       uint64_t map_offset, uint64_t *bias);

/* Path of the separate debug file in use, or NULL (also when it has not
 * been looked for yet). */
const char *elf_file_debug_path(struct elf_file *ef);

/* Whether the file's symbols include its MiniDebugInfo (.gnu_debugdata,
 * minidebug.h): read when the file has no .symtab and no debug file. */
bool elf_file_has_minidebug(struct elf_file *ef);

/* Iterate over the defined function symbols (STT_FUNC, size > 0) of
 * .dynsym, .symtab, the debug file's .symtab and the MiniDebugInfo's (a
 * function may come more than once): calls cb(name, value, size, ctx) for each; stops when cb
 * returns non-zero and returns that value; 0 at the end. Used to build
 * address maps (austinp). */
typedef int (*elf_symbol_cb)(const char *name, uint64_t value, uint64_t size,
                             void *ctx);
int elf_file_each_function(struct elf_file *ef, elf_symbol_cb cb, void *ctx);

#endif
