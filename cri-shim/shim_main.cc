// containerd-shim-xen-gpu-v1: containerd's runtime v2 shim for pods whose RuntimeClass handler is xen-gpu.
//   start   (containerd runs it in the bundle): finds or starts the pod's shim, prints its ttrpc address
//   delete  (containerd runs it after a shim died): reclaims the container (runc, rootfs mounts, the pod's zone)
//   (none)  the shim itself, serving containerd.task.v2.Task on the socket `start` made (descriptor 3)
// Flags as containerd passes them: -namespace -address -publish-binary -id [-bundle] [-debug].
#include "cri-shim/shim_main.h"

int main(int argc, char** argv) { return xg::shim::shim_main(argc, argv); }
