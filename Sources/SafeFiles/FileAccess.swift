// Opening files clipcam reads without ever blocking on a special file: a FIFO given as an image would wait forever
// for a writer, a terminal or a device could block or be changed by being opened. Paths are checked with stat
// first, opened non-blocking only when they are regular files, and checked again on the descriptor (fstat), so a
// file replaced in between is caught too.
import Glibc

/// What a path names.
public enum FileKind: Sendable, Equatable {
    case regular, directory, characterDevice, blockDevice, fifo, socket, missing
    case other(mode: UInt32)

    /// The kind of the file at `path`, following symbolic links (`.missing` when nothing is there, or a link
    /// points nowhere).
    public static func of(_ path: SystemPath) -> FileKind {
        var status = stat()
        guard path.withCString({ stat($0, &status) }) == 0 else { return .missing }
        return FileKind(mode: status.st_mode)
    }

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: self = .other(mode: UInt32(mode))
        }
    }

    /// "a FIFO (named pipe)", "a folder", …, for messages.
    public var noun: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a folder"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .fifo: return "a FIFO (named pipe)"
        case .socket: return "a socket"
        case .missing: return "nothing"
        case .other(let mode): return "a special file (mode \(String(mode, radix: 8)))"
        }
    }
}

/// The numbers of a device node: the major names the driver, the minor the device it drives.
public struct DeviceNumber: Equatable, Sendable, CustomStringConvertible {
    public var major: UInt32
    public var minor: UInt32

    /// glibc's `major()` and `minor()`, macros Swift cannot import.
    public init(_ device: dev_t) {
        major = UInt32(truncatingIfNeeded: (device >> 8) & 0xfff | (device >> 32) & ~0xfff)
        minor = UInt32(truncatingIfNeeded: device & 0xff | (device >> 12) & ~0xff)
    }

    /// The number of the device node at `path` (following symbolic links); nil when it is not a character or
    /// block device.
    public init?(of path: SystemPath) {
        var status = stat()
        guard path.withCString({ stat($0, &status) }) == 0 else { return nil }
        let type = status.st_mode & S_IFMT
        guard type == S_IFCHR || type == S_IFBLK else { return nil }
        self.init(status.st_rdev)
    }

    /// "81:0", as `ls -l` shows it.
    public var description: String { "\(major):\(minor)" }

    /// The controlling terminal's node, /dev/tty.
    public static let controllingTerminal = DeviceNumber(major: 5, minor: 0)

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// Why opening a device node failed with ENXIO or ENODEV, for messages: the node exists, but nothing
    /// answers on it (the driver is not loaded, or the device it stood for is gone).
    public static func unansweredReason(_ path: SystemPath) -> String {
        let kind = FileKind.of(path)
        guard let number = DeviceNumber(of: path) else {
            return "nothing answers on it (\(String(cString: strerror(ENXIO))))"
        }
        if kind == .characterDevice && number == .controllingTerminal {
            return "it is the controlling terminal's character device (\(number)), and this process has no "
                + "controlling terminal"
        }
        return "it is \(kind.noun) (\(number)), but no device or driver answers on it (the driver is not loaded, or "
            + "the device is gone)"
    }
}

/// Why a file could not be read. Each names the file and the role it has for clipcam ("image", "prompt file",
/// "config.json" …) and says what to do.
public enum FileAccessError: Error, CustomStringConvertible, Equatable {
    case missing(path: String, role: String)
    case notRegularFile(path: String, role: String, kind: String)
    case permissionDenied(path: String, role: String)
    case cannotOpen(path: String, role: String, errno: Int32)
    case tooLarge(path: String, role: String, size: Int, limit: Int)
    case readFailed(path: String, role: String, errno: Int32)
    case nameNotUnique(name: String)

    public var description: String {
        switch self {
        case .missing(let path, let role):
            return "\(role) \(path) does not exist; check the path"
        case .notRegularFile(let path, let role, let kind):
            return "\(path) is \(kind), not a regular file; give the path of a \(role) (clipcam does not read "
                + "\(role)s from pipes or devices)"
        case .permissionDenied(let path, let role):
            return "no permission to read the \(role) \(path); check its permissions"
        case .cannotOpen(let path, let role, let code):
            return "cannot open the \(role) \(path): \(String(cString: strerror(code)))"
        case .tooLarge(let path, let role, let size, let limit):
            return "the \(role) \(path) is \(size) bytes, more than the \(limit) bytes clipcam reads for a \(role); "
                + "check that it is the right file"
        case .readFailed(let path, let role, let code):
            return "reading the \(role) \(path) failed: \(String(cString: strerror(code)))"
        case .nameNotUnique(let name):
            return "two arguments differ only in bytes that are not UTF-8 (\(name)); give them one at a time"
        }
    }

    static func from(errno code: Int32, path: SystemPath, role: String) -> FileAccessError {
        switch code {
        case ENOENT, ENOTDIR: return .missing(path: path.description, role: role)
        case EACCES, EPERM: return .permissionDenied(path: path.description, role: role)
        default: return .cannotOpen(path: path.description, role: role, errno: code)
        }
    }
}

/// A regular file open for reading, closed with the object.
public final class ReadableFile {
    public let path: SystemPath
    public let descriptor: Int32
    /// The size when it was opened, in bytes.
    public let size: Int

    /// Opens `path` for reading if it is a regular file (following symbolic links); throws `FileAccessError`
    /// otherwise, at once, without opening a FIFO, device or socket. `role` names what the file is for in messages.
    public init(_ path: SystemPath, role: String) throws {
        if CommandLineBytes.isAmbiguous(String(decoding: path.bytes, as: UTF8.self)) {
            throw FileAccessError.nameNotUnique(name: path.description)
        }
        let kind = FileKind.of(path)
        guard kind == .regular else {
            if kind == .missing {
                // stat failed: say why (missing, no permission on a folder on the way, …).
                var status = stat()
                let code = path.withCString { stat($0, &status) } == 0 ? ENOENT : errno
                throw FileAccessError.from(errno: code, path: path, role: role)
            }
            throw FileAccessError.notRegularFile(path: path.description, role: role, kind: kind.noun)
        }
        let fd = path.withCString { open($0, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileAccessError.from(errno: errno, path: path, role: role) }
        var status = stat()
        guard fstat(fd, &status) == 0, FileKind(mode: status.st_mode) == .regular else {
            let kind = FileKind(mode: status.st_mode)
            close(fd)
            throw FileAccessError.notRegularFile(path: path.description, role: role, kind: kind.noun)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        self.path = path
        descriptor = fd
        size = Int(status.st_size)
    }

    /// `init(SystemPath(path), role:)`.
    public convenience init(_ path: String, role: String) throws {
        try self.init(SystemPath(path), role: role)
    }

    deinit {
        close(descriptor)
    }

    /// Reads the whole file, refusing one larger than `limit` bytes (checked before reading, and again while
    /// reading in case it grows).
    public func readAll(limit: Int, role: String) throws -> [UInt8] {
        guard size <= limit else {
            throw FileAccessError.tooLarge(path: path.description, role: role, size: size, limit: limit)
        }
        // One byte more than expected, so the end is seen; more room only while the file grows within the limit.
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var filled = 0
        while true {
            if filled == bytes.count {
                guard filled <= limit else {
                    throw FileAccessError.tooLarge(path: path.description, role: role, size: filled, limit: limit)
                }
                bytes.append(contentsOf: [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - filled)))
            }
            let count = bytes.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + filled, raw.count - filled, off_t(filled))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileAccessError.readFailed(path: path.description, role: role, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= limit else {
            throw FileAccessError.tooLarge(path: path.description, role: role, size: filled, limit: limit)
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// Reads the whole regular file at `path` (see `init` and `readAll`).
    public static func read(_ path: SystemPath, role: String, limit: Int) throws -> [UInt8] {
        try ReadableFile(path, role: role).readAll(limit: limit, role: role)
    }

    /// `read(SystemPath(path), role:limit:)`.
    public static func read(_ path: String, role: String, limit: Int) throws -> [UInt8] {
        try read(SystemPath(path), role: role, limit: limit)
    }
}
