// Moving a finished file or folder into place in one atomic step, so that a check ("nothing is there") and the
// move cannot be split by another process doing the same.
import CLinux
import Glibc

public enum RenameError: Error, CustomStringConvertible, Equatable {
    /// Something appeared at the destination (another process won the race).
    case destinationExists(path: String)
    case failed(from: String, to: String, errno: Int32)

    public var description: String {
        switch self {
        case .destinationExists(let path):
            return "\(path) already exists (another process may have written it just now); nothing was replaced"
        case .failed(let from, let to, let code):
            return "cannot move \(from) to \(to): \(String(cString: strerror(code)))"
        }
    }
}

public enum AtomicRename {
    /// Renames `from` to `to` only if nothing exists at `to`, in one step (renameat2 with RENAME_NOREPLACE);
    /// throws `destinationExists` otherwise. Both must be on one file system.
    public static func withoutReplacing(from: SystemPath, to: SystemPath) throws {
        try rename(from: from, to: to, flags: CLINUX_RENAME_NOREPLACE)
    }

    /// Swaps `a` and `b`, which must both exist, in one step (renameat2 with RENAME_EXCHANGE).
    public static func exchange(_ a: SystemPath, _ b: SystemPath) throws {
        try rename(from: a, to: b, flags: CLINUX_RENAME_EXCHANGE)
    }

    private static func rename(from: SystemPath, to: SystemPath, flags: UInt32) throws {
        let result = from.withCString { old in
            to.withCString { new in clinux_renameat2(AT_FDCWD, old, AT_FDCWD, new, flags) }
        }
        guard result != 0 else { return }
        let code = errno
        if code == EEXIST || code == ENOTEMPTY { throw RenameError.destinationExists(path: to.description) }
        throw RenameError.failed(from: from.description, to: to.description, errno: code)
    }
}
