#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int clinux_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    unsigned int kernel_flags = 0;
    if (flags & CLINUX_RENAME_NOREPLACE) kernel_flags |= RENAME_NOREPLACE;
    if (flags & CLINUX_RENAME_EXCHANGE) kernel_flags |= RENAME_EXCHANGE;
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, kernel_flags);
}

int clinux_open_path(const char *path) { return open(path, O_PATH | O_CLOEXEC); }

static int relay_pipe[2] = {-1, -1};
static struct sigaction relay_previous[2];

static int relay_slot(int signo) { return signo == SIGINT ? 0 : signo == SIGTERM ? 1 : -1; }

static void relay_handler(int signo) {
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    // Non-blocking: with the pipe full (a burst of signals nobody reads yet), a signal is dropped, never a hang.
    ssize_t written = write(relay_pipe[1], &byte, 1);
    (void)written;
    errno = saved;
}

int clinux_signal_relay_open(void) {
    if (relay_pipe[0] >= 0) return relay_pipe[0];
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) return -1;
    if (fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK) != 0) {
        close(ends[0]);
        close(ends[1]);
        return -1;
    }
    relay_pipe[1] = ends[1];
    relay_pipe[0] = ends[0];
    return relay_pipe[0];
}

int clinux_signal_relay_install(int signo) {
    int slot = relay_slot(signo);
    if (slot < 0 || relay_pipe[1] < 0) {
        errno = EINVAL;
        return -1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = relay_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, &relay_previous[slot]);
}

int clinux_signal_relay_restore(int signo) {
    int slot = relay_slot(signo);
    if (slot < 0) {
        errno = EINVAL;
        return -1;
    }
    return sigaction(signo, &relay_previous[slot], NULL);
}

int clinux_flush_stdout(void) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == 0) errno = EIO;
        return -1;
    }
    return 0;
}

int clinux_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int clinux_mkstemp_cloexec(char *template_path) { return mkostemp(template_path, O_CLOEXEC); }

/* Moves `fd` to `target` in the child; -1 means /dev/null. */
static int child_descriptor(int fd, int target, int flags) {
    if (fd < 0) {
        fd = open("/dev/null", flags | O_CLOEXEC);
        if (fd < 0) return -1;
    }
    if (fd == target) return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

pid_t clinux_spawn(const char *path, char *const argv[], int stdin_fd, int stdout_fd, int stderr_fd) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        /* The child: only async-signal-safe calls from here on. */
        int error = 0;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        }
        if (setpgid(0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) error = errno;
        /* The parent may have ended between fork and prctl: then nobody would kill this child. */
        if (!error && getppid() != parent) _exit(127);
        if (!error && (child_descriptor(stdin_fd, 0, O_RDONLY) != 0 || child_descriptor(stdout_fd, 1, O_WRONLY) != 0 ||
                       child_descriptor(stderr_fd, 2, O_WRONLY) != 0))
            error = errno;
        if (!error) {
            /* Every other descriptor: clipcam's pipes, cameras and files must not leak into the child. */
            if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) != 0) {
                for (int fd = 3; fd < 65536; fd++) {
                    if (fd != report[1]) fcntl(fd, F_SETFD, FD_CLOEXEC);
                }
            }
            execve(path, argv, environ);
            error = errno;
        }
        ssize_t ignored = write(report[1], &error, sizeof error);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        errno = child_error;
        return -1;
    }
    return pid;
}
