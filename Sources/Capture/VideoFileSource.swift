// A video file decoded by an ffmpeg child process: ffprobe reports size and rate, then
// `ffmpeg -i FILE -f rawvideo -pix_fmt bgr24 -` streams packed BGR24 frames through a pipe.
import Foundation
import Glibc
import Synchronization

/// Frames of a video file, decoded by ffmpeg, at the file's own frame rate (or as fast as pulled with `fast`).
///
/// Frame k has timestamp k / fps (its presentation time; with pacing, also when it was delivered).
/// Rotation metadata is honoured (ffmpeg rotates; the reported size is the rotated one). With `loop` the file
/// plays again from the start at its end. The child process is killed on `stop()`.
public final class VideoFileSource: FrameSource {
    public let path: String
    public let stopSignal = StopSignal()
    public private(set) var format = SourceFormat(width: 0, height: 0, fps: nil)
    private let options: CaptureOptions
    private var process: Process?
    private var output: FileHandle?
    private var errorLog: FileHandle?
    private var pacer = FramePacer(fps: 1)
    private var index = 0

    public init(path: String, options: CaptureOptions = CaptureOptions()) {
        self.path = path
        self.options = options
    }

    deinit {
        stop()
    }

    public var name: String { "video \(path)" }

    /// The ffmpeg child's process id while it runs.
    var childProcessIdentifier: Int32? { process?.processIdentifier }

    public func start() throws {
        precondition(process == nil, "VideoFileSource started twice")
        guard access(path, F_OK) == 0 else { throw SourceError.notFound(path: path) }
        let probe = try VideoFileSource.probe(path)
        format = SourceFormat(width: probe.width, height: probe.height, fps: probe.fps)
        pacer = FramePacer(fps: probe.fps)

        let ffmpeg = try findTool("ffmpeg")
        let stdout = Pipe()
        let log = try VideoFileSource.anonymousFile()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: ffmpeg)
        child.arguments =
            ["-nostdin", "-hide_banner", "-loglevel", "error"]
            + (options.loop ? ["-stream_loop", "-1"] : [])
            + ["-i", path, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = stdout
        child.standardError = log
        do {
            try child.run()
        } catch {
            throw SourceError.videoUnreadable(path: path, reason: "cannot start \(ffmpeg): \(error)")
        }
        process = child
        output = stdout.fileHandleForReading
        errorLog = log
    }

    public func stop() {
        // Closing the pipe first means a decoder blocked writing to it fails at once; SIGKILL because ffmpeg
        // answers SIGTERM by finishing its current write, which may never complete.
        try? output?.close()
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? errorLog?.close()
        process = nil
        output = nil
        errorLog = nil
    }

    public func nextFrame() throws -> Frame? {
        guard let output else { return nil }
        let size = format.width * format.height * 3
        var pixels = [UInt8](repeating: 0, count: size)
        let got = try pixels.withUnsafeMutableBytes { try readFully(output.fileDescriptor, into: $0) }
        if got == nil { return nil }
        if got != size {
            let reason = finish()
            guard stopSignal.isRaised else {
                throw SourceError.videoFailed(
                    path: path, reason: reason ?? "the stream ended inside a frame (\(got!) of \(size) bytes)")
            }
            return nil
        }
        if !options.fast && !pacer.waitForNextFrame(stopSignal) { return nil }
        let frame = Frame(
            index: index, timestamp: Double(index) / (format.fps ?? 25), width: format.width,
            height: format.height, bgr: pixels)
        index += 1
        return frame
    }

    /// Reads until `buffer` is full or the pipe ends; returns the byte count, or nil when stopped. At a clean
    /// end of the file (0 bytes) it checks how ffmpeg exited and throws if it failed.
    private func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        var filled = 0
        while filled < buffer.count {
            var entries = [
                pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopSignal.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&entries, 2, -1) < 0 {
                if errno == EINTR { continue }
                throw SourceError.videoFailed(path: path, reason: "poll: \(errnoText(errno))")
            }
            if stopSignal.isRaised { return nil }
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SourceError.videoFailed(path: path, reason: "reading from ffmpeg: \(errnoText(errno))")
            }
            if count == 0 { break }
            filled += count
        }
        if filled == 0 {
            if let reason = finish() {
                if index == 0 { throw SourceError.videoUnreadable(path: path, reason: reason) }
                throw SourceError.videoFailed(path: path, reason: reason)
            }
            return nil
        }
        return filled
    }

    /// Waits for ffmpeg to exit; returns its complaint if it failed, nil if it succeeded.
    private func finish() -> String? {
        guard let process else { return nil }
        process.waitUntilExit()
        let status = process.terminationStatus
        let reason = process.terminationReason
        var text = ""
        if let errorLog {
            lseek(errorLog.fileDescriptor, 0, SEEK_SET)
            text = String(decoding: errorLog.readDataToEndOfFile(), as: UTF8.self)
        }
        stop()
        if reason == .exit && status == 0 { return nil }
        let lines = text.split(separator: "\n").suffix(3).joined(separator: "; ")
        let how = reason == .exit ? "ffmpeg exited with status \(status)" : "ffmpeg was killed by signal \(status)"
        return lines.isEmpty ? how : "\(how): \(lines)"
    }

    /// Size (after rotation) and frame rate of the first video stream of `path`, from ffprobe.
    static func probe(_ path: String) throws -> (width: Int, height: Int, fps: Double) {
        let ffprobe = try findTool("ffprobe")
        let result = try runTool(
            ffprobe,
            [
                "-v", "error", "-select_streams", "v:0",
                "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate:stream_side_data=rotation",
                "-of", "json", path,
            ])
        guard result.status == 0 else {
            let reason = result.error.split(separator: "\n").last.map(String.init) ?? "ffprobe failed"
            throw SourceError.videoUnreadable(path: path, reason: reason)
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let stream = (json["streams"] as? [[String: Any]])?.first,
            var width = stream["width"] as? Int, var height = stream["height"] as? Int, width > 0, height > 0
        else { throw SourceError.videoUnreadable(path: path, reason: "it holds no video stream") }
        let sideData = stream["side_data_list"] as? [[String: Any]] ?? []
        if let rotation = sideData.compactMap({ $0["rotation"] as? Int }).first, abs(rotation) % 180 == 90 {
            swap(&width, &height)
        }
        let rate = [stream["avg_frame_rate"], stream["r_frame_rate"]].compactMap { ($0 as? String).flatMap(ratio) }
            .first { $0 > 0 && $0 < 1000 }
        return (width, height, rate ?? 25)
    }

    /// An unlinked temporary file for ffmpeg's messages (a file never fills up and blocks the child as a pipe
    /// could).
    private static func anonymousFile() throws -> FileHandle {
        var template = Array("/tmp/clipcam-ffmpeg-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else {
            throw SourceError.videoUnreadable(path: "/tmp", reason: "cannot create a log file: \(errnoText(errno))")
        }
        unlink(template)
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }
}

/// "30000/1001" → 29.97; nil for "0/0" or junk.
func ratio(_ text: String) -> Double? {
    let parts = text.split(separator: "/")
    guard let numerator = Double(parts.first ?? "") else { return nil }
    guard parts.count == 2 else { return numerator }
    guard let denominator = Double(parts[1]), denominator != 0 else { return nil }
    return numerator / denominator
}

/// The full path of an executable found on `searchPath` (default: PATH), or `toolMissing`.
func findTool(_ name: String, searchPath: String? = nil) throws -> String {
    let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw SourceError.toolMissing(tool: name)
}

/// Runs a short-lived tool to completion; returns its exit status, standard output and standard error.
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executable)
    child.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    child.standardInput = FileHandle.nullDevice
    child.standardOutput = output
    child.standardError = error
    try child.run()
    // Drain stderr on another thread so that neither pipe can fill up and block the child.
    let errorText = Mutex<String>("")
    let drained = DispatchSemaphore(value: 0)
    let errorHandle = error.fileHandleForReading
    Thread {
        let data = errorHandle.readDataToEndOfFile()
        errorText.withLock { $0 = String(decoding: data, as: UTF8.self) }
        drained.signal()
    }.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    child.waitUntilExit()
    return (child.terminationStatus, String(decoding: data, as: UTF8.self), errorText.withLock { $0 })
}
