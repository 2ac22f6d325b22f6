import Foundation

/// Counters of a `LatestFrameQueue`. Once the queue is drained, `pushed == popped + dropped`.
public struct QueueStats: Sendable, Equatable {
    /// Frames accepted by `push`.
    public var pushed = 0
    /// Frames handed out by `pop`/`tryPop`.
    public var popped = 0
    /// Frames discarded unseen because a newer frame arrived while the queue was full.
    public var dropped = 0
    /// Frames refused because the queue was closed.
    public var rejected = 0
    /// Frames waiting now.
    public var waiting = 0
}

/// A bounded hand-off between one capture thread and a consumer that keeps only the newest frames.
///
/// `push` never blocks: when the queue is full it discards the oldest waiting frame (newest wins) and counts
/// it. `pop` blocks until a frame arrives or the queue is closed. Memory stays at `capacity` frames however
/// slow the consumer is. `close` wakes every waiter; frames still waiting are handed out first, then `pop`
/// returns nil (clean end) or throws the error the producer closed with.
public final class LatestFrameQueue: @unchecked Sendable {
    public let capacity: Int

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var frames: [Frame] = []
    private var counts = QueueStats()
    private var closed = false
    private var failure: (any Error)?

    /// `capacity` is 1 (always the newest frame) or 2 (the newest and the one before).
    public init(capacity: Int = 1) {
        precondition((1...2).contains(capacity), "LatestFrameQueue capacity must be 1 or 2, not \(capacity)")
        self.capacity = capacity
        frames.reserveCapacity(capacity)
    }

    /// Adds a frame, discarding the oldest waiting one when full. Returns false (and keeps nothing) once closed.
    @discardableResult
    public func push(_ frame: Frame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else {
            counts.rejected += 1
            return false
        }
        if frames.count == capacity {
            frames.removeFirst()
            counts.dropped += 1
        }
        frames.append(frame)
        counts.pushed += 1
        condition.signal()
        return true
    }

    /// The oldest waiting frame; blocks until there is one. nil once the queue is closed and empty; throws the
    /// producer's error instead if it closed with one.
    public func pop() throws -> Frame? {
        try pop(until: nil)
    }

    /// Like `pop()`, but gives up after `timeout` seconds and returns nil (check `isFinished` to tell apart).
    public func pop(timeout: Double) throws -> Frame? {
        try pop(until: Date(timeIntervalSinceNow: max(0, timeout)))
    }

    /// The oldest waiting frame, or nil at once if there is none. Throws like `pop()` once closed and empty.
    public func tryPop() throws -> Frame? {
        try pop(until: .distantPast)
    }

    private func pop(until deadline: Date?) throws -> Frame? {
        condition.lock()
        defer { condition.unlock() }
        while frames.isEmpty && !closed {
            if let deadline {
                if !condition.wait(until: deadline) && frames.isEmpty && !closed { return nil }
            } else {
                condition.wait()
            }
        }
        if !frames.isEmpty {
            counts.popped += 1
            return frames.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// Ends the stream: later pushes are refused and waiters wake. Waiting frames are still delivered; after
    /// them `pop` throws `error` if one is given. The first close wins.
    public func close(error: (any Error)? = nil) {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return }
        closed = true
        failure = error
        condition.broadcast()
    }

    /// True once closed and drained: `pop` will not return another frame.
    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && frames.isEmpty
    }

    public var stats: QueueStats {
        condition.lock()
        defer { condition.unlock() }
        var snapshot = counts
        snapshot.waiting = frames.count
        return snapshot
    }
}
