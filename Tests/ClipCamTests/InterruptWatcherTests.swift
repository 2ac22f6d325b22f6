import ClipCamKit
import Foundation
import Glibc
import Testing

/// SIGINT and SIGTERM reach every live watcher from the moment it is made. Each case runs in a process of its own
/// (an exit test), so that the signals it raises reach no other test's pipeline; the child exits 0 only when the
/// watcher saw its signal within 5 s.
@Suite struct InterruptWatcherTests {
    /// A signal right after the watcher is made is acted on. (With SIG_IGN and a dispatch source, libdispatch
    /// installed its handler later on its own thread, and a signal that came before was lost: an early Ctrl-C was
    /// ignored and the run went on.)
    @Test func aSigintAtOnceIsNotLost() async {
        await #expect(processExitsWith: .exitCode(0)) {
            let watcher = InterruptWatcher(signalAction: { _ in })
            kill(getpid(), SIGINT)
            exit(InterruptWatcherTests.sawSignal(watcher, SIGINT) ? 0 : 1)
        }
    }

    @Test func aSigtermAtOnceIsNotLost() async {
        await #expect(processExitsWith: .exitCode(0)) {
            let watcher = InterruptWatcher(signalAction: { _ in })
            kill(getpid(), SIGTERM)
            exit(InterruptWatcherTests.sawSignal(watcher, SIGTERM) ? 0 : 1)
        }
    }

    /// A watcher made after an earlier one was cancelled still sees the signals (libdispatch installed its handler
    /// once per process, so the second watcher's SIG_IGN stayed and its signals were discarded), and nested
    /// watchers each see a signal.
    @Test func laterAndNestedWatchersSeeTheSignal() async {
        await #expect(processExitsWith: .exitCode(0)) {
            let first = InterruptWatcher(signalAction: { _ in })
            first.cancel()
            let outer = InterruptWatcher(signalAction: { _ in })
            let inner = InterruptWatcher(signalAction: { _ in })
            kill(getpid(), SIGINT)
            let both = InterruptWatcherTests.sawSignal(outer, SIGINT) && InterruptWatcherTests.sawSignal(inner, SIGINT)
            exit(both && !first.fired ? 0 : 1)
        }
    }

    /// Once the last watcher is cancelled the signal's default action is back: SIGTERM ends the process.
    @Test func theDefaultIsBackAfterTheLastCancel() async {
        await #expect(processExitsWith: .signal(SIGTERM)) {
            let watcher = InterruptWatcher(signalAction: { _ in })
            watcher.cancel()
            kill(getpid(), SIGTERM)
            sleep(5)
            exit(0)
        }
    }

    /// clipcam started with SIGINT blocked (a parent's thread mask passes through exec; the test runner's threads
    /// block nearly every signal) still ends at Ctrl-C, with 130. Before, the signal stayed pending for ever and the
    /// run went on.
    @Test func clipcamStartedWithSigintBlockedStillStops() throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        posix_spawnattr_setsigmask(&attributes, &blocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let arguments = [
            Repo.executable.path, "run", "--model", Repo.model("tiny-quickgelu-f32").path, "--prompt", "a cat",
            "--source", "synthetic", "--headless", "--jsonl", "/dev/null", "--threads", "1",
        ]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, arguments[0], nil, &attributes, &argv, environ) == 0)
        // Well into the run (model loaded, frames scored), then Ctrl-C.
        usleep(3_000_000)
        kill(pid, SIGINT)
        var status: Int32 = 0
        var waited: pid_t = 0
        for _ in 0..<1000 {
            waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            usleep(10_000)
        }
        if waited != pid {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        #expect(waited == pid, "still running 10 s after SIGINT")
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 130, "wait status \(status)")
    }

    static func sawSignal(_ watcher: InterruptWatcher, _ signal: Int32) -> Bool {
        for _ in 0..<500 {
            if watcher.receivedSignal == signal { return true }
            usleep(10_000)
        }
        return false
    }
}
