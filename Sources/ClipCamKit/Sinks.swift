import Foundation
import Glibc
import SafeFiles

/// Failures writing results. Each names the file.
public enum SinkError: Error, CustomStringConvertible, Equatable {
    /// `kind`: what is at the path when that is why (a socket), else nil.
    case cannotCreate(path: String, errno: Int32, kind: String? = nil)
    case writeFailed(path: String, errno: Int32)
    /// Another process holds the file's lock: another clipcam run is writing it.
    case inUse(path: String)
    /// A FIFO nobody reads from: writing would block until someone did.
    case noReader(path: String)
    case isFolder(path: String)
    /// A device node that opens with ENXIO or ENODEV; `reason` says what it is and why (`DeviceNumber`).
    case noDevice(path: String, reason: String)
    /// An existing file that cannot be opened for writing; `kind` is what it is ("a regular file").
    case cannotOpen(path: String, errno: Int32, kind: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let code, let kind):
            if let kind {
                return "cannot write results to \(path): it is \(kind); give a file, a FIFO or a character device "
                    + "(such as /dev/null), or - for standard output"
            }
            return "cannot create \(path): \(String(cString: strerror(code))); check the folder exists and is writable"
        case .writeFailed(let path, let code):
            let hint = code == EPIPE ? "the program reading it has ended" : "check free disk space"
            return "writing results to \(path) failed: \(String(cString: strerror(code))); \(hint)"
        case .inUse(let path):
            return "\(path) is being written by another clipcam run; wait for it to end or choose another file "
                + "(it was left as it is)"
        case .noReader(let path):
            return "\(path) is a FIFO (named pipe) that no program is reading; start the reader first"
        case .noDevice(let path, let reason):
            return "cannot write results to \(path): \(reason); give a file, or - for standard output"
        case .cannotOpen(let path, let code, let kind):
            return "cannot open \(path) (\(kind)) for writing: \(String(cString: strerror(code)))"
        case .isFolder(let path):
            return "\(path) is a folder; give a file name for the results"
        }
    }
}

/// Where encoded-frame results are written, on the encoder thread.
public protocol ResultSink: AnyObject {
    func write(_ result: FrameResult) throws
    /// Writes out anything buffered; called at the end of a run (also after Ctrl-C).
    func finish() throws
}

/// An output file or standard output (`-`), written line by line with plain `write(2)` calls so that a reader
/// sees each line as soon as it is complete (results stream, so they are written in place rather than to a
/// temporary file renamed at the end).
///
/// Nothing is lost: the file is opened without truncating it and locked (`flock`, exclusive, not waiting), so a
/// second run writing the same file is refused before it changes a byte; the old content is truncated only when
/// the first new line is written, so a run that fails before producing a result leaves the file as it was (and
/// removes a file it created itself). FIFOs and devices (`/dev/null`, a pipe) are written as they are, never
/// waiting for a reader: a FIFO without one is an error.
public final class LineWriter {
    public let path: String
    private var descriptor: Int32
    private let owned: Bool
    /// The old content is still there: truncate before the first line.
    private var truncatePending = false
    /// This writer created the file: remove it if nothing was written.
    private var created = false
    private var wroteAnything = false
    private var pending: [UInt8] = []

    public init(path: String) throws {
        if path == "-" {
            self.path = "standard output"
            descriptor = STDOUT_FILENO
            owned = false
            removal = nil
            return
        }
        let target = SystemPath(path)
        self.path = target.description
        // A disk or partition: results written there would overwrite what it holds.
        if FileKind.of(target) == .blockDevice {
            let number = DeviceNumber(of: target).map { " (\($0))" } ?? ""
            throw SinkError.cannotCreate(
                path: target.description, errno: EINVAL, kind: "a block device\(number), a disk or partition")
        }
        let flags = O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK
        var fd = target.withCString { open($0, flags | O_CREAT | O_EXCL, 0o644) }
        if fd >= 0 {
            created = true
        } else if errno == EEXIST {
            fd = target.withCString { open($0, flags) }
        }
        guard fd >= 0 else {
            // What the errno means depends on what is there: ENXIO is "no reader" for a FIFO, "no device" for a
            // device node, "not openable" for a socket.
            let code = errno
            let kind = FileKind.of(target)
            switch (code, kind) {
            case (ENXIO, .socket):
                throw SinkError.cannotCreate(path: target.description, errno: ENXIO, kind: "a socket")
            case (ENXIO, .fifo): throw SinkError.noReader(path: target.description)
            case (ENXIO, .characterDevice), (ENODEV, .characterDevice):
                throw SinkError.noDevice(path: target.description, reason: DeviceNumber.unansweredReason(target))
            case (EISDIR, _), (_, .directory): throw SinkError.isFolder(path: target.description)
            case (_, .missing): throw SinkError.cannotCreate(path: target.description, errno: code)
            default: throw SinkError.cannotOpen(path: target.description, errno: code, kind: kind.noun)
            }
        }
        var status = stat()
        fstat(fd, &status)
        if status.st_mode & S_IFMT == S_IFREG {
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                Glibc.close(fd)
                if code == EWOULDBLOCK { throw SinkError.inUse(path: target.description) }
                throw SinkError.cannotCreate(path: target.description, errno: code)
            }
            truncatePending = !created
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        descriptor = fd
        owned = true
        removal = created ? target : nil
    }

    /// The file to remove if the run ends without a line.
    private let removal: SystemPath?

    deinit {
        close()
    }

    /// Ends the writing: removes the file if this writer created it and wrote nothing (a run that produced no
    /// result leaves nothing behind), then closes it, releasing the lock. Idempotent.
    public func close() {
        guard owned, descriptor >= 0 else { return }
        if let removal, !wroteAnything {
            // Still the file this writer made (same inode)? Then nothing of anyone's is lost by removing it.
            var mine = stat()
            var there = stat()
            if fstat(descriptor, &mine) == 0, removal.withCString({ stat($0, &there) }) == 0,
                mine.st_dev == there.st_dev, mine.st_ino == there.st_ino
            {
                removal.withCString { _ = unlink($0) }
            }
        }
        Glibc.close(descriptor)
        descriptor = -1
    }

    /// Writes `line` and a newline.
    public func write(line: String) throws {
        precondition(descriptor >= 0, "LineWriter.write after close")
        if truncatePending {
            guard ftruncate(descriptor, 0) == 0 else { throw SinkError.writeFailed(path: path, errno: errno) }
            truncatePending = false
        }
        pending.removeAll(keepingCapacity: true)
        pending.append(contentsOf: line.utf8)
        pending.append(0x0A)
        // Where this line starts in a regular file (-1 for pipes and devices): a line that cannot be written whole
        // (disk full) is cut off again, so the file ends with the last complete line.
        let start = lseek(descriptor, 0, SEEK_CUR)
        var offset = 0
        while offset < pending.count {
            let written = pending.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                if start >= 0 && offset > 0 {
                    _ = ftruncate(descriptor, start)
                    _ = lseek(descriptor, start, SEEK_SET)
                }
                throw SinkError.writeFailed(path: path, errno: code)
            }
            offset += written
        }
        wroteAnything = true
    }
}

/// One JSON object per encoded frame:
/// `{"frame":…,"timestamp":…,"label":…,"best":…,"percent":…,"flagged":…,"reused":…,"encode_ms":…,"dropped":…,
/// "rss_kb":…,"scores":[{"prompt":…,"cosine":…,"percent":…,"probability":…},…]}`.
public final class JSONLSink: ResultSink {
    private let writer: LineWriter

    /// `path` is a file (created or truncated) or `-` for standard output.
    public init(path: String) throws {
        writer = try LineWriter(path: path)
    }

    public func write(_ result: FrameResult) throws {
        try writer.write(line: JSONLSink.line(result))
    }

    public func finish() throws { writer.close() }

    public static func line(_ result: FrameResult) -> String {
        let scores = result.scores.map { score in
            "{\"prompt\":\(JSONText.string(score.prompt)),\"cosine\":\(JSONText.number(score.cosine)),"
                + "\"percent\":\(JSONText.number(score.percent)),"
                + "\"probability\":\(JSONText.number(score.probability))}"
        }
        return "{\"frame\":\(result.frameIndex),\"timestamp\":\(JSONText.number(result.timestamp)),"
            + "\"label\":\(JSONText.string(result.label)),\"best\":\(result.best),"
            + "\"percent\":\(JSONText.number(result.scores[result.best].percent)),\"flagged\":\(result.flagged),"
            + "\"reused\":\(result.reused),\"encode_ms\":\(JSONText.number(result.encodeSeconds * 1000)),"
            + "\"dropped\":\(result.dropped),"
            + "\"rss_kb\":\(result.residentKiB),\"scores\":[\(scores.joined(separator: ","))]}"
    }
}

/// Comma-separated values: a header, then one row per scored frame (`reused` 1 or 0) with a cosine, percent and
/// probability column per prompt. When the prompts change at run time a new header row starts.
public final class CSVSink: ResultSink {
    private let writer: LineWriter
    private var prompts: [String]?

    public init(path: String) throws {
        writer = try LineWriter(path: path)
    }

    public func write(_ result: FrameResult) throws {
        let names = result.scores.map(\.prompt)
        if names != prompts {
            prompts = names
            var header = ["frame", "timestamp", "label", "flagged", "encode_ms", "dropped", "reused"]
            for name in names {
                header += ["cosine: \(name)", "percent: \(name)", "probability: \(name)"].map(CSVSink.field)
            }
            try writer.write(line: header.joined(separator: ","))
        }
        var row = [
            "\(result.frameIndex)", JSONText.number(result.timestamp), CSVSink.field(result.label),
            result.flagged ? "1" : "0", JSONText.number(result.encodeSeconds * 1000), "\(result.dropped)",
            result.reused ? "1" : "0",
        ]
        for score in result.scores {
            row += [JSONText.number(score.cosine), JSONText.number(score.percent), JSONText.number(score.probability)]
        }
        try writer.write(line: row.joined(separator: ","))
    }

    public func finish() throws { writer.close() }

    /// A field quoted when it holds a comma, quote or line break (RFC 4180).
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// JSON literals.
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The shortest decimal that reads back as the same value; null for NaN and infinities.
    public static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
    public static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    /// `[x, y, …]`
    public static func array(_ v: [Float]) -> String { "[" + v.map(number).joined(separator: ", ") + "]" }
}

/// Resident memory of this process in KiB, from /proc/self/statm; 0 where unavailable.
public func residentMemoryKiB() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
    guard count > 0 else { return 0 }
    let fields = buffer[0..<count].split(separator: 0x20)
    guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}
