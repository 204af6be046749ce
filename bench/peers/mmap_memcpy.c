/*
 * The physical limit for random 4 KiB reads into a caller buffer: mmap the
 * whole file and memcpy, no runtime in between. Same xorshift32 offsets as
 * bench/lib/offsets.ts. Prints the median ns per read over the repetitions.
 * With "touch" it reads one byte per page instead of copying it: the floor
 * for zero-copy access, where the page walk is the whole cost. With "advise"
 * it calls madvise(MADV_NORMAL) on the first page instead: the system call
 * alone, which the FFI workload's bare binding adds the runtime's FFI cost to.
 *
 *   mmap_memcpy <file> <reads> <reps> [copy|touch|advise]
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s file reads reps [copy|touch]\n", argv[0]);
    return 2;
  }
  long reads = atol(argv[2]);
  int reps = atoi(argv[3]);
  int touch = argc > 4 && strcmp(argv[4], "touch") == 0;
  int advise = argc > 4 && strcmp(argv[4], "advise") == 0;
  uint32_t seed = 0x9e3779b9u;
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return perror("open"), 1;
  unsigned char *base = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return perror("mmap"), 1;
  uint64_t pages = (uint64_t)st.st_size / 4096;
  uint64_t *offsets = malloc(sizeof *offsets * reads);
  uint32_t x = seed;
  for (long i = 0; i < reads; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    offsets[i] = (x % pages) * 4096;
  }
  static unsigned char buffer[4096];
  double *times = malloc(sizeof *times * (reps + 1));
  unsigned long checksum = 0;
  /* Repetition 0 is the warm-up, as in the TypeScript workloads. */
  for (int rep = 0; rep <= reps; rep++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (advise) {
      for (long i = 0; i < reads; i++) checksum += (unsigned long)madvise(base, 4096, MADV_NORMAL);
    } else if (touch) {
      /* The same byte the TypeScript workload touches: i & 4095 into the page. */
      for (long i = 0; i < reads; i++) checksum += *(volatile unsigned char *)(base + offsets[i] + (i & 4095));
    } else {
      for (long i = 0; i < reads; i++) {
        memcpy(buffer, base + offsets[i], sizeof buffer);
        /* Keeps the copy from being optimised away. */
        __asm__ volatile("" : : "r"(buffer) : "memory");
        checksum += buffer[0];
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    times[rep] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / reads;
  }
  qsort(times + 1, reps, sizeof *times, compare);
  double middle = reps % 2 ? times[1 + reps / 2] : (times[reps / 2] + times[1 + reps / 2]) / 2;
  printf("{\"nsPerOp\":%.2f,\"checksum\":%lu}\n", middle, checksum);
  return 0;
}
