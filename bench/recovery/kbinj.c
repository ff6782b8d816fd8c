/*
 * kbinj: the bench/recovery injectors (compiled at bench start; notes/recovery.md §8, §10).
 * Always started inside capped cgroups, under `timeout` and RLIMIT_CPU, by the harness.
 *
 *   kbinj mem WS_FILE WS_MIB PREFILL_MIB RATE_MIBPS CAP_MIB WARM_MS
 *     touches one byte per page of a MAP_SHARED working-set file (WS_MIB of WS_FILE, dropped from
 *     the page cache first so this cgroup is charged) in passes and prints "P <passes/s>" every
 *     100 ms; a thread touches PREFILL_MIB of anonymous memory, waits WARM_MS, prints "L", then
 *     grows anonymous memory by RATE_MIBPS (in 10 ms steps) up to CAP_MIB (then holds: steady) and
 *     prints "A <MiB>" every 100 ms. WS_MIB 0: no working set (pure allocator); prints "R" once the
 *     prefill is touched. WARM_MS -1: wait for a line on stdin instead (the harness says when).
 *   kbinj stream FILE  reads FILE (dropped from the page cache first) in a loop, 1 MiB at a time:
 *     a healthy streaming job; prints "P <MiB/s>" every 100 ms.
 *   kbinj bomb     forks children that pause() as fast as it can; retries after EAGAIN (pids.max).
 *   kbinj spin N   N processes spinning on the CPU; prints "S" when all are started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024L * 1024L)
static long page;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long prefill_mib, rate_mibps, cap_mib, warm_ms;
static volatile long anon_mib;

static void *grow(void *arg) {
  (void)arg;
  long reserve = (cap_mib > prefill_mib ? cap_mib : prefill_mib) * MiB;
  if (reserve <= 0) return NULL;
  char *anon = mmap(NULL, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (anon == MAP_FAILED) { perror("mmap anon"); exit(2); }
  long done = 0;
  for (; done < prefill_mib * MiB; done += page) anon[done] = 1;
  anon_mib = done / MiB;
  printf("R\n");
  fflush(stdout);
  if (warm_ms < 0) { char line[16]; if (!fgets(line, sizeof line, stdin)) exit(3); }
  else usleep(warm_ms * 1000);
  printf("L\n");
  fflush(stdout);
  double start = now_ms();
  long base = done;
  for (;;) {
    double t = now_ms() - start;
    long target = base + (long)(rate_mibps * MiB * t / 1000.0);
    if (target > reserve) target = reserve;
    for (; done < target; done += page) anon[done] = 1;
    anon_mib = done / MiB;
    usleep(10000);
  }
  return NULL;
}

static int mem(int argc, char **argv) {
  if (argc < 8) { fprintf(stderr, "usage: kbinj mem WS_FILE WS_MIB PREFILL_MIB RATE CAP_MIB WARM_MS\n"); return 2; }
  const char *file = argv[2];
  long ws_mib = atol(argv[3]);
  prefill_mib = atol(argv[4]); rate_mibps = atol(argv[5]); cap_mib = atol(argv[6]); warm_ms = atol(argv[7]);
  char *ws = NULL;
  long ws_bytes = ws_mib * MiB;
  if (ws_mib > 0) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) { perror("open ws"); return 2; }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ws = mmap(NULL, ws_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (ws == MAP_FAILED) { perror("mmap ws"); return 2; }
  }
  pthread_t t;
  pthread_create(&t, NULL, grow, NULL);
  double last = now_ms();
  long passes = 0;
  volatile char sink = 0;
  for (;;) {
    if (ws) {
      for (long off = 0; off < ws_bytes; off += page) sink += ws[off];
      passes++;
    } else {
      usleep(10000);
    }
    double t = now_ms();
    if (t - last >= 100) {
      printf("P %.1f A %ld\n", passes * 1000.0 / (t - last), anon_mib);
      fflush(stdout);
      passes = 0;
      last = t;
    }
  }
}

static int stream(const char *file) {
  static char buf[1 << 20];
  double last = now_ms();
  long bytes = 0;
  for (;;) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) { perror("open stream"); return 2; }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      bytes += n;
      double t = now_ms();
      if (t - last >= 100) {
        printf("P %.1f A 0\n", bytes / (double)MiB * 1000.0 / (t - last));
        fflush(stdout);
        bytes = 0;
        last = t;
      }
    }
    close(fd);
  }
}

static int bomb(void) {
  long made = 0;
  for (;;) {
    pid_t p = fork();
    if (p == 0) { for (;;) pause(); }
    if (p < 0) { if (errno == EAGAIN) { usleep(1000); continue; } usleep(1000); continue; }
    if (++made % 64 == 0) { printf("F %ld\n", made); fflush(stdout); }
  }
  return 0;
}

static int spin(long n) {
  for (long i = 1; i < n; i++) {
    pid_t p = fork();
    if (p == 0) { volatile unsigned long x = 0; for (;;) x++; }
  }
  printf("S\n");
  fflush(stdout);
  volatile unsigned long x = 0;
  for (;;) x++;
  return 0;
}

int main(int argc, char **argv) {
  page = sysconf(_SC_PAGESIZE);
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "mem") == 0) return mem(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "stream") == 0) return stream(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "bomb") == 0) return bomb();
  if (argc >= 3 && strcmp(argv[1], "spin") == 0) return spin(atol(argv[2]));
  fprintf(stderr, "usage: kbinj mem|bomb|spin ...\n");
  return 2;
}
