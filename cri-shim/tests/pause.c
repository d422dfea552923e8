/* The pod sandbox's process (what Kubernetes' pause image runs): sleeps until told to stop. Static, so an
   image of this one file runs anywhere. */
#include <signal.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  for (;;) pause();
}
