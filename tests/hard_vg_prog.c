/*
 * A tiny program for tests/hard_valgrind.sh, run with libwheap preloaded
 * under memcheck.  Not linked to libwheap: the preload makes wheap its
 * allocator, and --soname-synonyms=somalloc=*wheap* lets memcheck replace it.
 *   clean     the malloc family, used correctly: memcheck must report nothing;
 *             exits 4 when libwheap is not loaded (the preload failed)
 *   overflow  writes one byte past a 10-byte block: memcheck must see it
 *   leak      loses a 100-byte block: memcheck must count it definitely lost
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *volatile lost;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    if (!strcmp(mode, "overflow")) {
        char *volatile p = malloc(10);
        p[10] = 1;
        free(p);
        return 0;
    }
    if (!strcmp(mode, "leak")) {
        lost = malloc(100);
        memset(lost, 1, 100);
        lost = NULL;
        return 0;
    }
    if (!dlsym(RTLD_DEFAULT, "wheap_version")) return 4;
    char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)i * 37 + 1);
        memset(blocks[i], i, (size_t)i * 37 + 1);
    }
    for (int i = 0; i < 64; i += 2) {
        blocks[i] = realloc(blocks[i], (size_t)i * 300 + 5);
        memset(blocks[i], i, (size_t)i * 300 + 5);
    }
    char *z = calloc(100, 10);
    for (int i = 0; i < 1000; i++)
        if (z[i]) return 2;
    void *a = NULL;
    if (posix_memalign(&a, 256, 1000)) return 3;
    void *m = memalign(4096, 5000), *v = aligned_alloc(64, 640);
    char *s = strdup("wheap under valgrind");
    printf("%s: %zu\n", s, malloc_usable_size(s) >= 21 ? (size_t)21 : (size_t)0);
    free(s);
    free(a);
    free(m);
    free(v);
    free(z);
    for (int i = 0; i < 64; i++) free(blocks[i]);
    return 0;
}
