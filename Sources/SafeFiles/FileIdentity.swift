// Telling whether two paths name the same file, so that clipcam never writes one output over another, or over
// one of its own inputs (`--jsonl out --csv out`, `--source clip.mp4 --csv clip.mp4`).
import Glibc

/// Which file a path names: an existing file by device and inode (so links and different spellings match), a
/// file yet to be made by its folder's real path and its name.
public enum FileIdentity: Hashable, Sendable {
    case existing(device: UInt64, inode: UInt64)
    case toBeMade(folder: [UInt8], name: [UInt8])

    /// The identity of an open descriptor (standard output, say); nil when it is closed.
    public init?(descriptor: Int32) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self = .existing(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The identity of `path` (following symbolic links).
    public init(_ path: SystemPath) {
        var status = stat()
        if path.withCString({ stat($0, &status) }) == 0 {
            self = .existing(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            return
        }
        let name = path.lastComponent
        var folder = Array(path.bytes.dropLast(name.count))
        if folder.isEmpty { folder = Array(".".utf8) }
        let real = SystemPath(bytes: folder).withCString { realpath($0, nil) }
        if let real {
            defer { free(real) }
            folder = Array(UnsafeRawBufferPointer(start: real, count: strlen(real)))
        }
        self = .toBeMade(folder: folder, name: name)
    }
}
