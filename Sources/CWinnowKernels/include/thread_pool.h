#pragma once
#include <stdint.h>

// MARK: - Winnow's thread pool (thread_pool.c)
//
// Why not libdispatch: a product split into two ~0.2 ms halves lost ~50 µs per call to waking a
// parked Dispatch worker (and its halted vCPU), 15 % of the call (`Benchmarks/Tools/
// gemm_split_handoff.c`). These workers spin for a short while after each job before they
// park, so back-to-back kernel calls find them awake, as OpenBLAS' own workers are.

/// One chunk of a parallel job: `chunk` is in `0 ..< chunks`.
typedef void (*winnow_chunk_function)(void *context, int64_t chunk);

/// Runs `function(context, c)` for every `c` in `0 ..< chunks` on the calling thread and up to
/// `threads − 1` pool workers, and returns when all have finished. Chunks are claimed in order
/// from a shared counter. When the pool is already running a job (a nested call from inside a
/// chunk, or a second thread calling at the same time) every chunk runs on the calling thread,
/// in order. `chunks` ≤ 65,535 (more run inline); `threads` ≤ 256.
void winnow_parallel_run(int64_t chunks, int threads, winnow_chunk_function function, void *context);

/// How long an idle worker keeps spinning for the next job before it parks, in microseconds
/// (default 200; the environment variable `WINNOW_SPIN_US` sets the first value). 0 parks at once.
void winnow_set_spin_microseconds(int64_t microseconds);
int64_t winnow_spin_microseconds(void);

/// Workers started so far (they are kept for the life of the process).
int winnow_pool_workers(void);
