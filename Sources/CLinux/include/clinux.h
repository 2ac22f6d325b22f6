// Linux calls Swift cannot make directly: variadic (syscall, prctl) or not declared by the Glibc module
// (renameat2), and a fork/exec whose child sets itself up before exec.
#ifndef CLIPCAM_CLINUX_H
#define CLIPCAM_CLINUX_H

#include <sys/types.h>

/// renameat2(2) (Linux 3.15): `flags` is CLINUX_RENAME_NOREPLACE or CLINUX_RENAME_EXCHANGE. Returns 0, or -1 with
/// errno set.
int clinux_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// open(path, O_PATH | O_CLOEXEC): a descriptor that names the file without opening it for reading or writing
/// (nothing is read from a FIFO or device by it). Returns the descriptor or -1 with errno set.
int clinux_open_path(const char *path);

/// pipe2(fds, O_CLOEXEC): a pipe neither of whose ends leaks into programs clipcam starts.
int clinux_pipe_cloexec(int fds[2]);

/// mkostemp(template, O_CLOEXEC).
int clinux_mkstemp_cloexec(char *template_path);

/// Flushes C's standard output and tells whether anything written to it was lost (a write failed: disk full,
/// closed descriptor). Returns 0 when all went out, else -1 with errno set where known.
int clinux_flush_stdout(void);

/// A signal relay: a handler that writes each SIGINT or SIGTERM's number as one byte to a pipe (the only thing it
/// does, so it is async-signal-safe), for a thread to read and act on. Unlike SIG_IGN plus a dispatch source (whose
/// handler libdispatch installs later, on its own thread), the handler is in place when this returns: a signal that
/// comes at any moment after it is never lost.
/// Opens the relay's pipe once and returns its read end (blocking, close-on-exec), or -1 with errno set.
int clinux_signal_relay_open(void);
/// Installs the relay's handler for `signo` (SIGINT or SIGTERM; SA_RESTART), keeping the disposition it replaces.
/// Returns 0, or -1 with errno set.
int clinux_signal_relay_install(int signo);
/// Gives `signo` back the disposition `clinux_signal_relay_install` replaced. Returns 0, or -1 with errno set.
int clinux_signal_relay_restore(int signo);

#define CLINUX_RENAME_NOREPLACE 1u
#define CLINUX_RENAME_EXCHANGE 2u

/// Starts `path` with `argv` (NULL-terminated) and the calling process's environment, its standard input, output
/// and error on the given descriptors (-1: /dev/null), every other descriptor closed. The child runs in a process
/// group of its own (so a terminal's Ctrl-C reaches clipcam alone, and killing the group ends the child's own
/// children) and gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so it never outlives
/// clipcam. Returns the child's pid, or -1 with errno set (also when exec fails: the child's errno is passed back).
pid_t clinux_spawn(const char *path, char *const argv[], int stdin_fd, int stdout_fd, int stderr_fd);

#endif
