// The sampled frames of a video, decoded once by an ffmpeg child process on a thread of their own and handed over
// through a bounded queue that blocks instead of dropping: analysis drops no frame, and decoding overlaps encoding.
import CLinux
import Capture
import Classifier
import Foundation
import Glibc
import SafeFiles

/// A bounded first-in first-out queue: `push` waits while it is full, `pop` while it is empty. Nothing is dropped.
final class BlockingQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private let capacity: Int
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false

    init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    /// Adds `item`, waiting for room; false when the queue was cancelled (the consumer has gone).
    func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// No more items will come; `error` is thrown to the consumer after the items queued.
    func finish(error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The consumer stops taking items: a waiting `push` returns false.
    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, waiting for one; nil at the end.
    func pop() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if !items.isEmpty {
            let item = items.removeFirst()
            condition.broadcast()
            return item
        }
        if let failure { throw failure }
        return nil
    }
}

/// What ffprobe says of a video: its size (after rotation), frame rate and duration.
public struct VideoInfo: Sendable {
    public var width: Int
    public var height: Int
    public var fps: Double
    /// Seconds; nil when the container does not say.
    public var duration: Double?

    public static func probe(_ path: String) throws -> VideoInfo {
        let (width, height, fps) = try VideoFileSource.probe(path)
        var duration: Double?
        let arguments =
            ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"].map { Array($0.utf8) }
            + [VideoFileSource.ffmpegInput(SystemPath(path))]
        if let result = try? ChildProcess.run(
            try findTool("ffprobe"), arguments, timeLimit: VideoFileSource.probeTimeLimit,
            what: "to read the video's duration"), result.termination.succeeded
        {
            duration = Double(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return VideoInfo(width: width, height: height, fps: fps, duration: duration)
    }

    /// Sampled frames the whole video has, as far as its duration tells (for progress).
    public func expectedSamples(_ sampling: Sampling) -> Int? {
        guard let duration, duration > 0 else { return nil }
        return max(1, Int((duration / sampling.interval(videoFPS: fps)).rounded(.up)))
    }
}

/// One sampled frame: its number among the samples, its time and source frame number, and either its BGR pixels
/// or, when the decoder preprocesses, the model's input tensor (then `frame` holds no pixels).
struct SampledFrame: Sendable {
    var sample: Int
    var time: Double
    var frameNumber: Int
    var frame: Frame?
    var pixels: [Float]?
}

/// Decodes the sampled frames of a video from sample `startSample` on (input seeking, `-ss` before `-i`, for a
/// resumed analysis), on a thread of its own that starts ffmpeg (so ffmpeg dies with that thread, see
/// `ChildProcess`), reads its raw BGR24 output and queues the frames (at most `capacity` waiting). The ffmpeg
/// filter does the sampling, so frames not sampled are never converted or copied: `select` keeps every Nth
/// decoded frame (passed through without rate conversion), `fps` keeps the frame nearest each tick.
final class SampledDecoder: @unchecked Sendable {
    let path: String
    let sampling: Sampling
    let info: VideoInfo
    let startSample: Int
    /// Set: frames are preprocessed on the decoder's thread too (resized, cropped, normalised), so the queue holds
    /// the model's small input tensors rather than whole frames, and the encoder thread only encodes.
    let preprocessor: ImagePreprocessor?
    private let queue: BlockingQueue<SampledFrame>
    /// Raised by `stop()`.
    private let stopSignal = StopSignal()
    /// The caller's signal (Ctrl-C): raised, decoding stops too.
    private let interrupt: StopSignal?
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    /// `interrupt`: when raised, decoding stops at once (and `next` returns nil).
    init(
        path: String, sampling: Sampling, info: VideoInfo, startSample: Int, capacity: Int = 8,
        preprocessor: ImagePreprocessor? = nil, interrupt: StopSignal? = nil
    ) {
        self.path = path
        self.preprocessor = preprocessor
        self.interrupt = interrupt
        self.sampling = sampling
        self.info = info
        self.startSample = startSample
        queue = BlockingQueue(capacity: capacity)
    }

    deinit {
        stop()
    }

    /// ffmpeg's arguments (the file as bytes behind `file:`).
    func arguments() -> [[UInt8]] {
        var head = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        if startSample > 0 {
            // Half a frame before the sample's own time, so rounding cannot skip it.
            let time = max(0, sampling.sample(startSample, videoFPS: info.fps).time - 0.5 / info.fps)
            head += ["-ss", String(format: "%.6f", time)]
        }
        head.append("-i")
        var tail = ["-map", "0:v:0"]
        switch sampling {
        case .every(let n):
            if n > 1 { tail += ["-vf", "select=not(mod(n\\,\(n)))"] }
            tail += ["-fps_mode", "passthrough"]
        case .rate(let fps):
            tail += ["-vf", "fps=\(fps)"]
        }
        tail += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
        return head.map { Array($0.utf8) } + [VideoFileSource.ffmpegInput(SystemPath(path))]
            + tail.map { Array($0.utf8) }
    }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            do {
                try decode()
                queue.finish()
            } catch {
                queue.finish(error: error)
            }
        }
        thread.name = "clipcam decoder"
        self.thread = thread
        thread.start()
    }

    /// The next sampled frame; nil at the end of the video. Throws what ended decoding early.
    func next() throws -> SampledFrame? {
        try queue.pop()
    }

    /// Stops decoding (kills ffmpeg) and waits for the thread to end.
    func stop() {
        guard thread != nil else { return }
        stopSignal.raise()
        queue.cancel()
        done.wait()
        thread = nil
    }

    private func decode() throws {
        let ffmpeg = try findTool("ffmpeg")
        var ends: [Int32] = [-1, -1]
        guard clinux_pipe_cloexec(&ends) == 0 else {
            throw SourceError.videoUnreadable(
                path: path, reason: "cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        let log = try VideoFileSource.anonymousFile()
        let process: ChildProcess
        do {
            process = try ChildProcess(
                executable: ffmpeg, arguments: arguments(), stdout: ends[1], stderr: log.fileDescriptor)
        } catch {
            close(ends[0])
            close(ends[1])
            throw SourceError.videoUnreadable(path: path, reason: "\(error)")
        }
        close(ends[1])
        let output = ends[0]
        defer {
            close(output)
            process.kill()
        }
        let size = info.width * info.height * 3
        let workspace = PreprocessWorkspace()
        var sample = startSample
        while true {
            var pixels = [UInt8](repeating: 0, count: size)
            let got = try pixels.withUnsafeMutableBytes { try readFully(output, into: $0) }
            guard let got else { return }  // stopped
            if got < size {
                // The end: ffmpeg's exit says whether it was the video's end or a failure.
                let termination = process.wait(seconds: 5) ?? process.kill()
                lseek(log.fileDescriptor, 0, SEEK_SET)
                let text = String(decoding: log.readDataToEndOfFile(), as: UTF8.self)
                let lines = text.split(separator: "\n").suffix(3).joined(separator: "; ")
                if !termination.succeeded {
                    let reason = "ffmpeg \(termination)" + (lines.isEmpty ? "" : ": \(lines)")
                    if sample == startSample { throw SourceError.videoUnreadable(path: path, reason: reason) }
                    throw SourceError.videoFailed(path: path, reason: reason)
                }
                if got > 0 {
                    throw SourceError.videoFailed(
                        path: path, reason: "the stream ended inside a frame (\(got) of \(size) bytes)")
                }
                return
            }
            let (time, frameNumber) = sampling.sample(sample, videoFPS: info.fps)
            var item = SampledFrame(sample: sample, time: time, frameNumber: frameNumber)
            if let preprocessor {
                var tensor = [Float](repeating: 0, count: preprocessor.outputCount)
                pixels.withUnsafeBufferPointer { bgr in
                    tensor.withUnsafeMutableBufferPointer { out in
                        preprocessor.preprocess(
                            bgr: bgr.baseAddress!, width: info.width, height: info.height, rowBytes: info.width * 3,
                            into: out.baseAddress!, workspace: workspace)
                    }
                }
                item.pixels = tensor
            } else {
                item.frame = Frame(
                    index: frameNumber, timestamp: time, width: info.width, height: info.height, bgr: pixels)
            }
            guard queue.push(item) else { return }
            sample += 1
        }
    }

    /// Reads until `buffer` is full or the pipe ends (returns the byte count), or nil when stopped. Throws when
    /// ffmpeg sends nothing for `VideoFileSource.stallLimit` seconds.
    private func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        var filled = 0
        var deadline = MonotonicClock.now() + VideoFileSource.stallLimit
        while filled < buffer.count {
            var entries = [
                pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopSignal.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: interrupt?.descriptor ?? -1, events: Int16(POLLIN), revents: 0),
            ]
            let left = deadline - MonotonicClock.now()
            if left <= 0 {
                throw SourceError.videoFailed(
                    path: path,
                    reason: "ffmpeg delivered nothing for \(Int(VideoFileSource.stallLimit)) s and was stopped")
            }
            if poll(&entries, 3, Int32((left * 1000).rounded(.up))) < 0 {
                if errno == EINTR { continue }
                throw SourceError.videoFailed(path: path, reason: "poll: \(String(cString: strerror(errno)))")
            }
            if stopSignal.isRaised || interrupt?.isRaised == true { return nil }
            if entries[0].revents == 0 { continue }
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SourceError.videoFailed(
                    path: path, reason: "reading from ffmpeg: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            filled += count
            deadline = MonotonicClock.now() + VideoFileSource.stallLimit
        }
        return filled
    }
}
