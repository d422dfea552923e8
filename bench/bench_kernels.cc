// Kernels for bench/zone_bench, as a CPU module for the simulated driver (the CUDA twin: __global__ void empty(){}).
#include "gpu-proxy/sim/sim_kernel.h"

// Does nothing: launched with one thread so that a launch-rate figure measures issuing, not the kernel.
XG_SIM_KERNEL(empty, ()) {}
