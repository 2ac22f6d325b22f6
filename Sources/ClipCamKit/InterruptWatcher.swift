import Dispatch
import Glibc
import Synchronization

/// Turns SIGINT and SIGTERM into a clean stop: while it lives, either signal runs `action` once (on a background
/// queue) instead of killing the process, so the run can flush its sinks and close the camera. SIGPIPE is
/// ignored so that a closed output pipe becomes a write error.
/// `@unchecked`: the dispatch sources are set once in `init`; dispatch sources are safe to cancel from any thread.
final class InterruptWatcher: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    /// The first signal that arrived; 0 before one did.
    private let number = Atomic<Int32>(0)

    init(action: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "clipcam signals")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            sources.append(source)
        }
        self.sources = sources
        for (source, signalNumber) in zip(sources, [SIGINT, SIGTERM]) {
            source.setEventHandler { [self] in
                if number.compareExchange(expected: 0, desired: signalNumber, ordering: .acquiringAndReleasing)
                    .exchanged
                {
                    action()
                }
            }
            source.resume()
        }
    }

    /// A signal arrived.
    var fired: Bool { receivedSignal != nil }

    /// The first signal that arrived (SIGINT or SIGTERM), if any.
    var receivedSignal: Int32? {
        let value = number.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Stops watching and gives the signals their default meaning back.
    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
