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

    static func sawSignal(_ watcher: InterruptWatcher, _ signal: Int32) -> Bool {
        for _ in 0..<500 {
            if watcher.receivedSignal == signal { return true }
            usleep(10_000)
        }
        return false
    }
}
