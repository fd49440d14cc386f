// Timing one kernel on the build machine: scratch buffers shaped like the layer's tensors, a
// warm-up, then the median of several samples. The only timing code in kiln besides `kiln run`.
#pragma once

#include "kernels/kernel.h"

namespace kiln::tune {

struct TimerConfig {
  int samples = 5;              // medians of this many samples
  double min_sample_us = 200;   // short kernels repeat within a sample so clock noise stays small
};

// Median microseconds per run of `k`, created from `spec` (whose constant inputs it already holds).
double time_kernel(const Kernel& k, const KernelSpec& spec, const TimerConfig& cfg);

// The share of the last 10 s in which runnable tasks waited for a CPU (Linux PSI,
// /proc/pressure/cpu "some avg10", 0-100), or -1 where the kernel does not report it. With as many
// threads as cores, every OpenMP barrier of a timed kernel waits out other processes' time slices,
// so timings taken under pressure say little about the kernels.
double cpu_pressure();

// The same for several kernels of one layer, sampled round-robin (A B C A B C ...) so that load
// from other processes, which comes and goes, falls on every candidate alike.
std::vector<double> time_kernels(const std::vector<const Kernel*>& ks, const KernelSpec& spec,
                                 const TimerConfig& cfg);

}  // namespace kiln::tune
