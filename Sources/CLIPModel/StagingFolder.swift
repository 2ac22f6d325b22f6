// A folder written out of sight and then moved into place in one step, so that nobody ever sees half of it and two
// writers of the same destination cannot both believe they made it: the work goes into a hidden sibling of the
// destination (same file system, so a rename moves it), which `publish` renames with renameat2(RENAME_NOREPLACE)
// and `exchange` swaps with an existing folder with renameat2(RENAME_EXCHANGE). The hidden name is for clipcam
// alone: `message(for:)` rewrites errors that name it to name the destination.
import Foundation
import Glibc
import SafeFiles

/// Problems putting a staged folder in place; each names the destination the user asked for.
public enum StagingError: Error, CustomStringConvertible, Equatable {
    /// The destination's folder could not be made, or nothing can be written in it.
    case cannotCreate(destination: String, reason: String)
    /// Something appeared at the destination while the folder was being written; it was left alone.
    case destinationAppeared(destination: String)
    case cannotMove(destination: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let destination, let reason):
            return "cannot create \(destination): \(reason)"
        case .destinationAppeared(let destination):
            return "\(destination) was created by someone else (another clipcam run?) while this one was writing; "
                + "it was left as it is and this run's copy was discarded"
        case .cannotMove(let destination, let reason):
            return "cannot move the finished folder to \(destination): \(reason); nothing there was changed"
        }
    }
}

/// A hidden folder beside a destination, removed with everything in it unless it was published.
public final class StagingFolder {
    /// The destination as given (bytes; its parent need not have existed).
    public let destination: SystemPath
    /// Where to write: `/path/to/.clipcam-partial-<pid>-<random>`, a sibling of the destination, possibly reached
    /// through a `/proc/self/fd` name of the parent when its name is not UTF-8.
    public let url: URL
    private var published = false

    /// Creates the destination's parent folders when missing and the hidden folder in the parent. Throws
    /// `StagingError.cannotCreate` naming the destination (never the hidden folder).
    public init(beside destination: SystemPath) throws {
        self.destination = destination
        let parent = Self.parent(of: destination)
        do {
            try Self.makeDirectories(parent)
            let parentName = try parent.openableName(role: "folder")
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            url = URL(fileURLWithPath: parentName).appendingPathComponent(".clipcam-partial-\(getpid())-\(suffix)")
        } catch let error as FileAccessError {
            throw StagingError.cannotCreate(destination: destination.description, reason: error.description)
        } catch let error as POSIXError {
            throw StagingError.cannotCreate(
                destination: destination.description, reason: Self.text(error.code.rawValue))
        }
        guard mkdir(url.path, 0o755) == 0 else {
            throw StagingError.cannotCreate(destination: destination.description, reason: Self.text(errno))
        }
        Self.removeAbandoned(in: url.deletingLastPathComponent(), prefix: ".clipcam-partial-")
    }

    /// Removes what earlier runs killed outright (SIGKILL, a power cut) left in `folder`: the entries named
    /// `<prefix><pid>` or `<prefix><pid>-…` (`.clipcam-partial-<pid>-…`, `clipcam-bench-<pid>`) whose process no
    /// longer exists. A live run's entry, and one of a process this user may not signal, is never touched.
    public static func removeAbandoned(in folder: URL, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            let fields = name.dropFirst(prefix.count).split(
                separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let field = fields.first, field.allSatisfy({ $0.isASCII && $0.isNumber }), let pid = Int32(field),
                pid > 0, pid != getpid()
            else { continue }
            guard kill(pid, 0) == -1 && errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    deinit {
        if !published { try? FileManager.default.removeItem(at: url) }
    }

    /// The path of the hidden folder as bytes.
    public var path: SystemPath { SystemPath(bytes: Array(url.path.utf8)) }

    /// Renames the folder to the destination if nothing is there, in one step. Throws
    /// `StagingError.destinationAppeared` when something is (the hidden folder is then removed with this object).
    public func publish() throws {
        do {
            try AtomicRename.withoutReplacing(from: path, to: destination)
        } catch RenameError.destinationExists {
            throw StagingError.destinationAppeared(destination: destination.description)
        } catch RenameError.failed(_, _, let code) {
            throw StagingError.cannotMove(destination: destination.description, reason: Self.text(code))
        }
        published = true
    }

    /// Swaps the folder with the existing destination in one step: the new folder is then at the destination and
    /// the old one at `url`, which this object removes unless `keep()` is called. Throws `StagingError.cannotMove`.
    public func exchange() throws {
        do {
            try AtomicRename.exchange(path, destination)
        } catch RenameError.failed(_, _, let code) {
            throw StagingError.cannotMove(destination: destination.description, reason: Self.text(code))
        }
    }

    /// Stops this object from removing the hidden folder (when it holds something that must not be deleted).
    public func keep() {
        published = true
    }

    /// `error`'s message with the hidden folder's path replaced by the destination's, so that messages name the
    /// folder the user asked for.
    public func message(for error: Error) -> String {
        let text = String(describing: error)
        let hidden = url.path
        guard !hidden.isEmpty, text.contains(hidden) else { return text }
        return text.components(separatedBy: hidden).joined(separator: destination.description)
    }

    /// The folder `path` is in (`.` for a bare name).
    static func parent(of path: SystemPath) -> SystemPath {
        var bytes = path.bytes
        while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return SystemPath(bytes: Array(".".utf8)) }
        return SystemPath(bytes: slash == 0 ? [UInt8(ascii: "/")] : Array(bytes[..<slash]))
    }

    /// `mkdir -p`: creates `path` and its missing parents. Throws `POSIXError` with the errno of the first failure.
    static func makeDirectories(_ path: SystemPath) throws {
        var status = stat()
        if path.withCString({ stat($0, &status) }) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFDIR else { throw POSIXError(.ENOTDIR) }
            return
        }
        let parent = parent(of: path)
        if parent != path { try makeDirectories(parent) }
        if path.withCString({ mkdir($0, 0o755) }) != 0 && errno != EEXIST {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
