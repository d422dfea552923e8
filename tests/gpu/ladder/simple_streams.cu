// simpleStreams, as in the CUDA samples: 4 streams, each copying its quarter in from pinned memory, running a
// kernel and copying out, with events per stream and a cross-stream wait; the result is checked.
#include <vector>

#include "ladder_common.cuh"
static const char* kName = "simple_streams";

__global__ void scale_add(int* p, int n, int mul, int add) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) p[i] = p[i] * mul + add;
}

int main() {
  print_device(kName);
  const int streams = 4, n = 1 << 22, chunk = n / streams;
  int* host;
  CK(cudaMallocHost(&host, n * sizeof(int)));
  for (int i = 0; i < n; ++i) host[i] = i;
  int* dev;
  CK(cudaMalloc(&dev, n * sizeof(int)));
  std::vector<cudaStream_t> s(streams);
  std::vector<cudaEvent_t> done(streams);
  for (int i = 0; i < streams; ++i) {
    CK(cudaStreamCreateWithFlags(&s[i], cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&done[i], cudaEventDisableTiming));
  }
  for (int i = 0; i < streams; ++i) {
    int* d = dev + i * chunk;
    CK(cudaMemcpyAsync(d, host + i * chunk, chunk * sizeof(int), cudaMemcpyHostToDevice, s[i]));
    scale_add<<<64, 256, 0, s[i]>>>(d, chunk, 3, i);
    CK(cudaGetLastError());
    CK(cudaEventRecord(done[i], s[i]));
  }
  // Stream 0 adds 1 to every chunk once all streams are done (cross-stream event waits).
  for (int i = 0; i < streams; ++i) CK(cudaStreamWaitEvent(s[0], done[i], 0));
  scale_add<<<256, 256, 0, s[0]>>>(dev, n, 1, 1);
  CK(cudaGetLastError());
  CK(cudaMemcpyAsync(host, dev, n * sizeof(int), cudaMemcpyDeviceToHost, s[0]));
  CK(cudaStreamSynchronize(s[0]));
  int pending = 0;
  for (int i = 0; i < streams; ++i) pending += cudaStreamQuery(s[i]) == cudaErrorNotReady;
  for (int i = 0; i < n; ++i) {
    const int expected = i * 3 + i / chunk + 1;
    if (host[i] != expected) {
      std::printf("FAIL %s: [%d] = %d, expected %d\n", kName, i, host[i], expected);
      return 1;
    }
  }
  for (int i = 0; i < streams; ++i) {
    CK(cudaEventDestroy(done[i]));
    CK(cudaStreamDestroy(s[i]));
  }
  CK(cudaFree(dev));
  CK(cudaFreeHost(host));
  std::printf("simple_streams: %d streams, %d still busy after the final sync (expected 0)\n", streams, pending);
  std::printf(pending == 0 ? "PASS %s\n" : "FAIL %s: streams busy after the sync\n", kName);
  return pending == 0 ? 0 : 1;
}
