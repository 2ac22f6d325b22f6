import CLinux
import Foundation
import Glibc
import Synchronization

/// Turns SIGINT and SIGTERM into a clean stop: while it lives, either signal runs `action` once (on a background
/// thread) instead of killing the process, so the run can flush its sinks and close the camera. SIGPIPE is
/// ignored so that a closed output pipe becomes a write error.
/// Watchers nest (a `bench` watching the whole command while its pipeline watches the run): each signal reaches
/// every live watcher, and when the last one is cancelled SIGINT and SIGTERM get back the dispositions they had
/// before the first.
/// The signals reach the watchers through `SignalRelay`, whose handler is installed before `init` returns: a signal
/// that comes at any moment of a watcher's life is acted on. (Ignoring the signals and watching them with a
/// dispatch source lost those that came before libdispatch, on its own thread, had installed its handler — under
/// load, seconds later — so a Ctrl-C early in a run was ignored and the run went on.)
public final class InterruptWatcher: Sendable {
    /// The first signal that arrived; 0 before one did.
    private let number = Atomic<Int32>(0)
    private let action: @Sendable (Int32) -> Void

    public convenience init(action: @escaping @Sendable () -> Void) {
        self.init(signalAction: { _ in action() })
    }

    /// `signalAction` receives the signal's number.
    public init(signalAction action: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        self.action = action
        SignalRelay.shared.add(self)
    }

    /// Called by the relay's thread for each signal while this watcher is live.
    fileprivate func deliver(_ signalNumber: Int32) {
        if number.compareExchange(expected: 0, desired: signalNumber, ordering: .acquiringAndReleasing).exchanged {
            action(signalNumber)
        }
    }

    /// A signal arrived.
    public var fired: Bool { receivedSignal != nil }

    /// The first signal that arrived (SIGINT or SIGTERM), if any.
    public var receivedSignal: Int32? {
        let value = number.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Stops watching; the last live watcher's cancel gives the signals back their dispositions.
    public func cancel() {
        SignalRelay.shared.remove(self)
    }
}

/// The process's one handler for SIGINT and SIGTERM while any watcher lives (CLinux's relay: the handler writes the
/// signal's number to a pipe) and the thread that reads the pipe and tells every live watcher.
private final class SignalRelay: Sendable {
    static let shared = SignalRelay()

    private let watchers = Mutex<[ObjectIdentifier: InterruptWatcher]>([:])
    private let descriptor: Int32

    private init() {
        descriptor = clinux_signal_relay_open()
        precondition(descriptor >= 0, "cannot make the signal relay's pipe: \(String(cString: strerror(errno)))")
        let thread = Thread { [descriptor] in
            // This thread takes the signals whatever mask it inherited, so that at least one thread of the process
            // does: with SIGINT blocked in every thread it would stay pending and no watcher would hear of it.
            var stopSignals = sigset_t()
            sigemptyset(&stopSignals)
            sigaddset(&stopSignals, SIGINT)
            sigaddset(&stopSignals, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
            var byte: UInt8 = 0
            while true {
                let count = read(descriptor, &byte, 1)
                if count == 1 {
                    let live = SignalRelay.shared.watchers.withLock { Array($0.values) }
                    for watcher in live { watcher.deliver(Int32(byte)) }
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
        thread.name = "clipcam signals"
        thread.start()
    }

    func add(_ watcher: InterruptWatcher) {
        watchers.withLock { live in
            if live.isEmpty {
                for number in [SIGINT, SIGTERM] {
                    let result = clinux_signal_relay_install(number)
                    precondition(result == 0, "cannot install the signal handler: \(String(cString: strerror(errno)))")
                }
            }
            live[ObjectIdentifier(watcher)] = watcher
        }
    }

    func remove(_ watcher: InterruptWatcher) {
        watchers.withLock { live in
            guard live.removeValue(forKey: ObjectIdentifier(watcher)) != nil, live.isEmpty else { return }
            for number in [SIGINT, SIGTERM] { _ = clinux_signal_relay_restore(number) }
        }
    }
}
