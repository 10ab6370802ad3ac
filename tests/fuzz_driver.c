/*
 * A plain driver for the fuzz target (fuzz_ops.c), built with the normal
 * compiler, so that the target runs where clang and libFuzzer are absent.
 *
 *   fuzz_driver [-t SECONDS] [-s SEED] [-o DIR] [FILE...]
 *
 * Files given as arguments are replayed, one input each (a libFuzzer
 * corpus or crash file).  Without files it runs random inputs of 1 to 4096
 * bytes for SECONDS (default 10) from SEED (default: the time).  When the
 * target aborts, the input is written to DIR/crash-SEED-N (default: the
 * current directory) before the abort goes on, and its path is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t input[4096];
static size_t input_len;
static char crash_path[4096];

static void on_abort(int sig)
{
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t r = write(fd, input, input_len);
        (void)r;
        close(fd);
        static const char msg[] = "fuzz_driver: input saved to ";
        r = write(2, msg, sizeof msg - 1);
        r = write(2, crash_path, strlen(crash_path));
        r = write(2, "\n", 1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_driver: %s: %s\n", path, strerror(errno));
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 10;
    uint64_t seed = (uint64_t)time(NULL);
    const char *dir = ".";
    int opt;
    while ((opt = getopt(argc, argv, "t:s:o:")) != -1) {
        if (opt == 't') seconds = atof(optarg);
        else if (opt == 's') seed = strtoull(optarg, NULL, 0);
        else if (opt == 'o') dir = optarg;
        else {
            fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED] [-o DIR] [FILE...]\n", argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        int bad = 0;
        for (int i = optind; i < argc; i++) bad |= replay(argv[i]);
        fprintf(stderr, "fuzz_driver: replayed %d input(s)\n", argc - optind);
        return bad;
    }
    signal(SIGABRT, on_abort);
    fprintf(stderr, "fuzz_driver: seed %llu, %.0f s\n", (unsigned long long)seed, seconds);
    uint64_t s = seed ? seed : 1;
    double end = now() + seconds;
    unsigned long runs = 0;
    for (; now() < end; runs++) {
        snprintf(crash_path, sizeof crash_path, "%s/crash-%llu-%lu", dir,
                 (unsigned long long)seed, runs);
        input_len = 1 + next(&s) % sizeof input;
        for (size_t i = 0; i < input_len; i += 8) {
            uint64_t r = next(&s);
            memcpy(input + i, &r, input_len - i < 8 ? input_len - i : 8);
        }
        LLVMFuzzerTestOneInput(input, input_len);
    }
    fprintf(stderr, "fuzz_driver: %lu inputs clean\n", runs);
    return 0;
}
