// A video file decoded by an ffmpeg child process: ffprobe reports size and rate, then
// `ffmpeg -i FILE -f rawvideo -pix_fmt bgr24 -` streams packed BGR24 frames through a pipe.
import CLinux
import Foundation
import Glibc
import SafeFiles

/// Frames of a video file, decoded by ffmpeg, at the file's own frame rate (or as fast as pulled with `fast`).
///
/// Frame k has timestamp k / fps (its presentation time; with pacing, also when it was delivered).
/// Rotation metadata is honoured (ffmpeg rotates; the reported size is the rotated one). With `loop` the file
/// plays again from the start at its end. ffprobe gets `probeTimeLimit` seconds; ffmpeg may go `stallLimit`
/// seconds without delivering a byte of the next frame before it is stopped. Both run in process groups of their
/// own, are killed with their groups on `stop()`, and die with clipcam (see `ChildProcess`). The file is given to
/// them by its bytes behind ffmpeg's `file:` protocol, so no name is read as another protocol or mangled.
public final class VideoFileSource: FrameSource {
    public let path: String
    public let stopSignal = StopSignal()
    public private(set) var format = SourceFormat(width: 0, height: 0, fps: nil)
    private let options: CaptureOptions
    private var process: ChildProcess?
    private var output: Int32 = -1
    private var errorLog: FileHandle?
    private var pacer = FramePacer(fps: 1)
    private var index = 0

    /// Seconds ffprobe may take to describe a file.
    public static let probeTimeLimit = 20.0
    /// Seconds ffmpeg may take to deliver the next frame once it was asked for.
    public static let stallLimit = 30.0
    /// The largest frame side and area clipcam decodes (8K UHD), so that a file claiming an absurd size cannot
    /// make it allocate gigabytes per frame.
    public static let maxSide = 8192
    public static let maxPixels = 7680 * 4320

    /// Seconds into the file where decoding starts (ffmpeg's input seeking, `-ss` before `-i`: frame-exact when
    /// decoding); frame k then has timestamp `startTime + k / fps`.
    public let startTime: Double

    public init(path: String, options: CaptureOptions = CaptureOptions(), startTime: Double = 0) {
        self.path = path
        self.options = options
        self.startTime = max(0, startTime.isFinite ? startTime : 0)
    }

    deinit {
        stop()
    }

    public var name: String { "video \(path)" }

    /// The ffmpeg child's process id while it runs.
    var childProcessIdentifier: Int32? { process?.pid }

    public func start() throws {
        precondition(process == nil, "VideoFileSource started twice")
        let file = SystemPath(path)
        let kind = FileKind.of(file)
        guard kind == .regular else {
            if kind == .missing { throw SourceError.notFound(path: path) }
            throw SourceError.notAFile(path: path, kind: kind.noun)
        }
        let probe = try VideoFileSource.probe(path)
        format = SourceFormat(width: probe.width, height: probe.height, fps: probe.fps)
        pacer = FramePacer(fps: probe.fps)

        let ffmpeg = try findTool("ffmpeg")
        var ends: [Int32] = [-1, -1]
        guard clinux_pipe_cloexec(&ends) == 0 else {
            throw SourceError.videoUnreadable(path: path, reason: "cannot make a pipe: \(errnoText(errno))")
        }
        let log = try VideoFileSource.anonymousFile()
        let arguments: [[UInt8]] =
            [
                ["-nostdin", "-hide_banner", "-loglevel", "error"], options.loop ? ["-stream_loop", "-1"] : [],
                startTime > 0 ? ["-ss", String(startTime)] : [], ["-i"],
            ]
            .joined().map { Array($0.utf8) }
            + [VideoFileSource.ffmpegInput(file)]
            + ["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"].map { Array($0.utf8) }
        do {
            process = try ChildProcess(
                executable: ffmpeg, arguments: arguments, stdout: ends[1], stderr: log.fileDescriptor)
        } catch {
            close(ends[0])
            close(ends[1])
            throw SourceError.videoUnreadable(path: path, reason: "\(error)")
        }
        close(ends[1])
        output = ends[0]
        errorLog = log
    }

    public func stop() {
        // Closing the pipe first means a decoder blocked writing to it fails at once; SIGKILL (to the group)
        // because ffmpeg answers SIGTERM by finishing its current write, which may never complete.
        if output >= 0 {
            close(output)
            output = -1
        }
        process?.kill()
        try? errorLog?.close()
        process = nil
        errorLog = nil
    }

    public func nextFrame() throws -> Frame? {
        guard output >= 0 else { return nil }
        let size = format.width * format.height * 3
        var pixels = [UInt8](repeating: 0, count: size)
        let got = try pixels.withUnsafeMutableBytes { try readFully(output, into: $0) }
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
            index: index, timestamp: startTime + Double(index) / (format.fps ?? 25), width: format.width,
            height: format.height, bgr: pixels)
        index += 1
        return frame
    }

    /// Reads until `buffer` is full or the pipe ends; returns the byte count, or nil when stopped. At a clean
    /// end of the file (0 bytes) it checks how ffmpeg exited and throws if it failed. Throws when ffmpeg sends
    /// nothing for `stallLimit` seconds.
    private func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        var filled = 0
        var deadline = MonotonicClock.now() + Self.stallLimit
        while filled < buffer.count {
            var entries = [
                pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopSignal.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            let left = deadline - MonotonicClock.now()
            if left <= 0 {
                stop()
                throw SourceError.videoFailed(
                    path: path,
                    reason: "ffmpeg delivered nothing for \(Int(Self.stallLimit)) s and was stopped")
            }
            if poll(&entries, 2, Int32((left * 1000).rounded(.up))) < 0 {
                if errno == EINTR { continue }
                throw SourceError.videoFailed(path: path, reason: "poll: \(errnoText(errno))")
            }
            if stopSignal.isRaised { return nil }
            if entries[0].revents == 0 { continue }
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SourceError.videoFailed(path: path, reason: "reading from ffmpeg: \(errnoText(errno))")
            }
            if count == 0 { break }
            filled += count
            deadline = MonotonicClock.now() + Self.stallLimit
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

    /// Waits (a few seconds at most: its output has ended) for ffmpeg to exit; returns its complaint if it failed,
    /// nil if it succeeded.
    private func finish() -> String? {
        guard let process else { return nil }
        let termination = process.wait(seconds: 5) ?? process.kill()
        var text = ""
        if let errorLog {
            lseek(errorLog.fileDescriptor, 0, SEEK_SET)
            text = String(decoding: errorLog.readDataToEndOfFile(), as: UTF8.self)
        }
        stop()
        let lines = text.split(separator: "\n").suffix(3).joined(separator: "; ")
        if termination.succeeded {
            // ffmpeg ends well after decoding what it could of a damaged file: say so, the frames may be few.
            if !lines.isEmpty { options.log?("\(path): ffmpeg reported problems decoding it: \(lines)") }
            return nil
        }
        let how = "ffmpeg \(termination)"
        return lines.isEmpty ? how : "\(how): \(lines)"
    }

    /// The duration of `path` in seconds as ffprobe reports it (the container's, else the first video stream's);
    /// nil when it reports none.
    public static func duration(_ path: String, timeLimit: Double = probeTimeLimit) throws -> Double? {
        let arguments =
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries", "format=duration:stream=duration", "-of",
                "json",
            ].map { Array($0.utf8) } + [ffmpegInput(SystemPath(path))]
        let result: (termination: ChildTermination, output: String, error: String)
        do {
            result = try ChildProcess.run(
                try findTool("ffprobe"), arguments, timeLimit: timeLimit, what: "to read the video's duration")
        } catch let error as ChildProcessError {
            throw SourceError.videoUnreadable(path: path, reason: error.description)
        }
        guard result.termination.succeeded,
            let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else { return nil }
        let format = (json["format"] as? [String: Any])?["duration"] as? String
        let stream = ((json["streams"] as? [[String: Any]])?.first)?["duration"] as? String
        return [format, stream].compactMap { $0.flatMap(Double.init) }.first { $0 > 0 && $0.isFinite }
    }

    /// ffmpeg's input argument for `file`: the `file:` protocol and the path's bytes.
    public static func ffmpegInput(_ file: SystemPath) -> [UInt8] {
        Array("file:".utf8) + file.bytes
    }

    /// Size (after rotation) and frame rate of the first video stream of `path`, from ffprobe (which gets
    /// `probeTimeLimit` seconds). Throws `videoUnreadable` for a file without a usable video stream, or one whose
    /// frames are larger than `maxSide` on a side or `maxPixels` in all.
    public static func probe(_ path: String, ffprobe: String? = nil, timeLimit: Double = probeTimeLimit) throws
        -> (width: Int, height: Int, fps: Double)
    {
        let ffprobe = try ffprobe ?? findTool("ffprobe")
        let arguments =
            [
                "-v", "error", "-select_streams", "v:0",
                "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate:stream_side_data=rotation",
                "-of", "json",
            ].map { Array($0.utf8) } + [ffmpegInput(SystemPath(path))]
        let result: (termination: ChildTermination, output: String, error: String)
        do {
            result = try ChildProcess.run(
                ffprobe, arguments, timeLimit: timeLimit, what: "to read the video's header")
        } catch let error as ChildProcessError {
            throw SourceError.videoUnreadable(path: path, reason: error.description)
        }
        guard result.termination.succeeded else {
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
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw SourceError.videoUnreadable(
                path: path,
                reason: "its frames are \(width)x\(height), larger than clipcam decodes (at most \(maxSide) on a "
                    + "side and 7680x4320 in all); scale it down first, e.g. ffmpeg -i IN -vf scale=1920:-2 OUT")
        }
        let rate = [stream["avg_frame_rate"], stream["r_frame_rate"]].compactMap { ($0 as? String).flatMap(ratio) }
            .first { $0 > 0 && $0 < 1000 }
        return (width, height, rate ?? 25)
    }

    /// An unlinked temporary file for ffmpeg's messages (a file never fills up and blocks the child as a pipe
    /// could).
    public static func anonymousFile() throws -> FileHandle {
        var template = Array("/tmp/clipcam-ffmpeg-XXXXXX".utf8CString)
        let descriptor = clinux_mkstemp_cloexec(&template)
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
public func findTool(_ name: String, searchPath: String? = nil) throws -> String {
    let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw SourceError.toolMissing(tool: name)
}
