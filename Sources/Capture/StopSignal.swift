import Glibc
import Synchronization

/// A flag that one thread raises to make another thread's blocking wait return. It owns a pipe whose read end
/// becomes readable when raised, so it can sit next to a device descriptor in the same `poll()`.
public final class StopSignal: Sendable {
    private let raised = Atomic<Bool>(false)
    /// Read end of the pipe: readable once the signal is raised.
    public let descriptor: Int32
    private let writeEnd: Int32

    public init() {
        var ends: [Int32] = [-1, -1]
        let result = pipe(&ends)
        precondition(result == 0, "pipe failed: \(errnoText(errno))")
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        descriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(descriptor)
        close(writeEnd)
    }

    public var isRaised: Bool { raised.load(ordering: .acquiring) }

    /// Raises the signal (idempotent, callable from any thread).
    public func raise() {
        if raised.exchange(true, ordering: .acquiringAndReleasing) { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Sleeps for `seconds` or until raised. Returns true if the signal is raised.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        if isRaised { return true }
        guard seconds > 0 else { return false }
        let deadline = MonotonicClock.now() + seconds
        while !isRaised {
            let left = deadline - MonotonicClock.now()
            if left <= 0 { break }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, Int32(min((left * 1000).rounded(.up), 60_000)))
        }
        return isRaised
    }
}
