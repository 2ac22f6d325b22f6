import Foundation
import Synchronization

/// What a capture thread has done so far.
public struct CaptureStats: Sendable, Equatable {
    /// Frames read from the source and pushed.
    public var captured = 0
    /// Capture rate over the last frames (up to 30), frames per second; 0 before two frames.
    public var fps = 0.0
    /// False once the thread has ended.
    public var running = true
}

/// Runs a source on its own thread: pulls each frame and pushes it into every queue (one per consumer, each
/// keeping its newest frames), counts frames and measures the capture rate.
///
/// The thread ends at the end of the stream, when `stop()` is called, when every queue has been closed by its
/// consumer, or when the source fails; it then stops the source and closes the queues, passing the source's
/// error (e.g. `CameraError.unplugged`) so each consumer's `pop` throws it after the last frame.
public final class CaptureRunner: Sendable {
    public let name: String
    public let format: SourceFormat
    public let queues: [LatestFrameQueue]
    private let signal: StopSignal
    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        var stats = CaptureStats()
        var times: [Double] = []
        var error: (any Error)?
    }

    /// Owns a source while it crosses to the capture thread; only that thread touches it afterwards.
    private final class SourceBox: @unchecked Sendable {
        let source: any FrameSource
        init(_ source: any FrameSource) { self.source = source }
    }

    /// Starts `source` on the calling thread (so a missing device or unreadable file throws here), then hands
    /// it to a new capture thread. The source must not be used by the caller afterwards.
    public static func start(
        source: sending any FrameSource, queues: [LatestFrameQueue], maxFrames: Int? = nil
    ) throws -> CaptureRunner {
        precondition(!queues.isEmpty, "a capture thread needs at least one queue")
        try source.start()
        let runner = CaptureRunner(
            name: source.name, format: source.format, queues: queues,
            signal: source.stopSignal)
        let box = SourceBox(source)
        let thread = Thread {
            ThreadPriority.lowerCurrentThread()
            runner.run(box.source, maxFrames: maxFrames)
        }
        thread.name = "clipcam capture"
        thread.start()
        return runner
    }

    private init(name: String, format: SourceFormat, queues: [LatestFrameQueue], signal: StopSignal) {
        self.name = name
        self.format = format
        self.queues = queues
        self.signal = signal
    }

    private func run(_ source: any FrameSource, maxFrames: Int?) {
        var failure: (any Error)?
        do {
            var count = 0
            while maxFrames.map({ count < $0 }) ?? true, let frame = try source.nextFrame() {
                count += 1
                var accepted = false
                for queue in queues where queue.push(frame) {
                    accepted = true
                }
                record(MonotonicClock.now())
                if !accepted { break }
            }
        } catch {
            failure = error
        }
        source.stop()
        state.withLock {
            $0.error = failure
            $0.stats.running = false
        }
        for queue in queues {
            queue.close(error: failure)
        }
        done.signal()
    }

    private func record(_ time: Double) {
        state.withLock { state in
            state.stats.captured += 1
            if state.times.count == 30 { state.times.removeFirst() }
            state.times.append(time)
            if let first = state.times.first, let last = state.times.last, last > first {
                state.stats.fps = Double(state.times.count - 1) / (last - first)
            }
        }
    }

    public var stats: CaptureStats { state.withLock { $0.stats } }

    /// The error that ended the source, once the thread has ended; nil for a clean end.
    public var error: (any Error)? { state.withLock { $0.error } }

    /// Asks the source to end and waits for the thread to finish.
    public func stop() {
        signal.raise()
        wait()
    }

    /// Waits for the thread to finish (end of stream, stop or error).
    public func wait() {
        done.wait()
        done.signal()
    }
}
