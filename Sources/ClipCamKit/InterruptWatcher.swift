import Dispatch
import Glibc
import Synchronization

/// Turns SIGINT and SIGTERM into a clean stop: while it lives, either signal runs `action` once (on a background
/// queue) instead of killing the process, so the run can flush its sinks and close the camera. SIGPIPE is
/// ignored so that a closed output pipe becomes a write error.
/// Watchers nest (a `bench` watching the whole command while its pipeline watches the run): each signal reaches
/// every live watcher, and `cancel` gives each signal back the disposition it had before this watcher.
/// `@unchecked`: the dispatch sources are set once in `init`; dispatch sources are safe to cancel from any thread.
public final class InterruptWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    /// SIGINT's and SIGTERM's dispositions before this watcher.
    private let previous: [sighandler_t?]
    /// The first signal that arrived; 0 before one did.
    private let number = Atomic<Int32>(0)

    public convenience init(action: @escaping @Sendable () -> Void) {
        self.init(signalAction: { _ in action() })
    }

    /// `signalAction` receives the signal's number.
    public init(signalAction action: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "clipcam signals")
        var sources: [any DispatchSourceSignal] = []
        var previous: [sighandler_t?] = []
        for number in [SIGINT, SIGTERM] {
            previous.append(signal(number, SIG_IGN))
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            sources.append(source)
        }
        self.sources = sources
        self.previous = previous
        for (source, signalNumber) in zip(sources, [SIGINT, SIGTERM]) {
            source.setEventHandler { [self] in
                if number.compareExchange(expected: 0, desired: signalNumber, ordering: .acquiringAndReleasing)
                    .exchanged
                {
                    action(signalNumber)
                }
            }
            source.resume()
        }
    }

    /// A signal arrived.
    public var fired: Bool { receivedSignal != nil }

    /// The first signal that arrived (SIGINT or SIGTERM), if any.
    public var receivedSignal: Int32? {
        let value = number.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Stops watching and gives the signals the dispositions they had before this watcher.
    public func cancel() {
        for source in sources { source.cancel() }
        for (number, disposition) in zip([SIGINT, SIGTERM], previous) {
            signal(number, disposition ?? SIG_DFL)
        }
    }
}
