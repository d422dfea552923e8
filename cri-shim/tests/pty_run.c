// xg-pty-run ROWS COLS CMD...: runs CMD on a new pseudo-terminal of that size (CMD leads a session of its own,
// the terminal its controlling one), copies everything CMD writes there to our stdout, and exits with CMD's
// status (128 + signal when killed). For tests of `ctr tasks exec -t` where no terminal is at hand: the real-Xen
// job's dom0 runs its checks without one. Test tooling, not part of the product.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: xg-pty-run ROWS COLS CMD [ARG...]\n");
    return 2;
  }
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || unlockpt(master) != 0) {
    perror("xg-pty-run: posix_openpt");
    return 1;
  }
  const struct winsize ws = {(unsigned short)atoi(argv[1]), (unsigned short)atoi(argv[2]), 0, 0};
  if (ioctl(master, TIOCSWINSZ, &ws) != 0) perror("xg-pty-run: TIOCSWINSZ");
  const int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    perror("xg-pty-run: TIOCGPTPEER");
    return 1;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    perror("xg-pty-run: fork");
    return 1;
  }
  if (pid == 0) {
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) != 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
        dup2(slave, 2) < 0) {
      perror("xg-pty-run: terminal");
      _exit(127);
    }
    if (slave > 2) close(slave);
    execvp(argv[3], argv + 3);
    perror("xg-pty-run: exec");
    _exit(127);
  }
  close(slave);
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: the last holder of the slave has gone
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) break;
    fflush(stdout);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
