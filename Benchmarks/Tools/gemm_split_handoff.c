// Where does a 2-way split of the 128×384×384 SGEMM (MiniLM attention projection) lose time
// against OpenBLAS' own 2 threads? Winnow's `sgemmInParallel` splits C into column (N > M) or
// row halves with `DispatchQueue.concurrentPerform`; this reproduces that split with
// `dispatch_apply_f` (the same libdispatch call) and reports, per variant:
//   wall time (min / median), the start delay of the later half after the dispatch (the thread
//   hand-off: the worker's wake-up), the CPU time of each half (duplicated packing would make
//   it more than half the 1-thread CPU time), and how many calls ran the halves one after the
//   other (no overlap at all) — then OpenBLAS with 2 threads on the whole product.
//
// Build and run (OpenBLAS and the Swift toolchain's libdispatch):
//   clang -O2 -fblocks -I/opt/swift/usr/lib/swift -o /tmp/gemm_split_handoff Benchmarks/Tools/gemm_split_handoff.c \
//     -L/opt/swift/usr/lib/swift/linux -Wl,-rpath,/opt/swift/usr/lib/swift/linux -ldispatch -lBlocksRuntime -lopenblas
//   /tmp/gemm_split_handoff 300
#include <dispatch/dispatch.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int);

static double wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double thread_cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const int M = 128, N = 384, K = 384;
static float *A, *B, *C;
static double start[2], finish[2], cpu[2];

static void column_half(void *context, size_t i) {
  (void)context;
  start[i] = wall_now();
  double c = thread_cpu_now();
  int n0 = (int)i * N / 2, n1 = ((int)i + 1) * N / 2;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, n1 - n0, K, 1, A, K, B + n0, N, 0, C + n0, N);
  cpu[i] = thread_cpu_now() - c;
  finish[i] = wall_now();
}

static void row_half(void *context, size_t i) {
  (void)context;
  start[i] = wall_now();
  double c = thread_cpu_now();
  int m0 = (int)i * M / 2, m1 = ((int)i + 1) * M / 2;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, N, K, 1, A + (size_t)m0 * K, K, B, N, 0,
              C + (size_t)m0 * N, N);
  cpu[i] = thread_cpu_now() - c;
  finish[i] = wall_now();
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void pause_us(int microseconds) {
  struct timespec s = {0, microseconds * 1000L};
  if (microseconds > 0) nanosleep(&s, 0);
}

static void measure_split(const char *name, void (*half)(void *, size_t), int reps, int idle_us) {
  double *wall = malloc(8 * reps), *delay = malloc(8 * reps), *cpu0 = malloc(8 * reps), *cpu1 = malloc(8 * reps);
  int serial = 0;
  for (int r = 0; r < reps; r++) {
    pause_us(idle_us);
    double t0 = wall_now();
    dispatch_apply_f(2, dispatch_get_global_queue(0, 0), 0, half);
    wall[r] = wall_now() - t0;
    int later = start[1] > start[0];
    if (start[later] >= finish[1 - later]) serial++;
    delay[r] = start[later] - t0;
    cpu0[r] = cpu[0];
    cpu1[r] = cpu[1];
  }
  qsort(wall, reps, 8, compare); qsort(delay, reps, 8, compare);
  qsort(cpu0, reps, 8, compare); qsort(cpu1, reps, 8, compare);
  printf("%-24s wall min %6.1f med %6.1f us | later half starts after min %6.1f med %6.1f us | "
         "CPU per half med %6.1f %6.1f us | one after the other %d/%d\n",
         name, 1e6 * wall[0], 1e6 * wall[reps / 2], 1e6 * delay[0], 1e6 * delay[reps / 2], 1e6 * cpu0[reps / 2],
         1e6 * cpu1[reps / 2], serial, reps);
  free(wall); free(delay); free(cpu0); free(cpu1);
}

static void measure_openblas(int reps, int idle_us) {
  double *wall = malloc(8 * reps);
  openblas_set_num_threads(2);
  for (int r = 0; r < reps; r++) {
    pause_us(idle_us);
    double t0 = wall_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N);
    wall[r] = wall_now() - t0;
  }
  qsort(wall, reps, 8, compare);
  printf("OpenBLAS 2 threads, %3d us idle: wall min %6.1f med %6.1f us\n", idle_us, 1e6 * wall[0], 1e6 * wall[reps / 2]);
  openblas_set_num_threads(1);
  free(wall);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 300;
  if (reps < 1) reps = 1;
  A = malloc(sizeof(float) * M * K); B = malloc(sizeof(float) * K * N); C = malloc(sizeof(float) * M * N);
  for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7);
  for (int i = 0; i < K * N; i++) B[i] = (float)(i % 5);
  openblas_set_num_threads(1);
  double c = thread_cpu_now();
  for (int r = 0; r < reps; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N);
  printf("1 thread: CPU %.1f us per call\n", 1e6 * (thread_cpu_now() - c) / reps);
  measure_split("columns, back to back", column_half, reps, 0);
  measure_split("rows, back to back", row_half, reps, 0);
  measure_split("columns, 200 us idle", column_half, reps, 200);
  measure_split("rows, 200 us idle", row_half, reps, 200);
  measure_openblas(reps, 0);
  measure_openblas(reps, 200);
  return 0;
}
