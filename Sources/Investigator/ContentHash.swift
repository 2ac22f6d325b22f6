// SHA-256 through OpenSSL's libcrypto (EVP interface), and the content hashes of files, remembered per file
// identity so that a multi-gigabyte video is read through once, not on every query.
import COpenSSL
import Foundation
import Glibc
import SafeFiles

/// A running SHA-256 digest; owns its OpenSSL context.
public final class SHA256Digest {
    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("OpenSSL cannot start a SHA-256 digest")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public func update(_ text: String) { update(Array(text.utf8)) }

    /// The digest as 64 lowercase hex digits; the digest cannot be updated afterwards.
    public func finalHex() -> String {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return out.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// The SHA-256 of `bytes` in hex.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digest = SHA256Digest()
        digest.update(bytes)
        return digest.finalHex()
    }

    public static func hex(_ text: String) -> String {
        Array(text.utf8).withUnsafeBytes { hex($0) }
    }
}

/// Problems reading a file to hash it; each names the file.
public enum ContentHashError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path) to hash it: \(reason)"
        }
    }
}

/// The SHA-256 of a file's bytes. Remembered in `memoFolder` (when given) under the file's device, inode, size
/// and modification time: a file seen before with the same four is not read again. The key of what is cached is
/// always the content hash; the memo only saves reading the bytes. A file changed in place within the clock's
/// resolution without its size changing would be missed; modification times have nanoseconds here, so a rewrite
/// would have to land in the same nanosecond.
public enum ContentHash {
    public static func of(_ path: SystemPath, memoFolder: URL?) throws -> String {
        let file: ReadableFile
        do {
            file = try ReadableFile(path, role: "file")
        } catch {
            throw ContentHashError.unreadable(path: path.description, reason: "\(error)")
        }
        var status = stat()
        guard fstat(file.descriptor, &status) == 0 else {
            throw ContentHashError.unreadable(path: path.description, reason: String(cString: strerror(errno)))
        }
        let identity =
            "\(status.st_dev)-\(status.st_ino)-\(status.st_size)-\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
        let memo = memoFolder?.appendingPathComponent(identity)
        if let memo, let text = try? String(contentsOf: memo, encoding: .utf8),
            text.count == 64, text.allSatisfy(\.isHexDigit)
        {
            _ = utimensat(AT_FDCWD, memo.path, nil, 0)  // recently used: kept longest when the memo is pruned
            return text
        }
        let hash = try hashDescriptor(file.descriptor, path: path)
        if let memoFolder, let memo {
            try? FileManager.default.createDirectory(at: memoFolder, withIntermediateDirectories: true)
            let temporary = memoFolder.appendingPathComponent(".\(identity).\(getpid()).tmp")
            if (try? hash.write(to: temporary, atomically: false, encoding: .utf8)) != nil {
                if rename(temporary.path, memo.path) != 0 { unlink(temporary.path) }
            }
        }
        return hash
    }

    /// Reads the whole file from its start through a 4 MiB buffer.
    static func hashDescriptor(_ descriptor: Int32, path: SystemPath) throws -> String {
        let digest = SHA256Digest()
        let size = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        var offset: off_t = 0
        while true {
            let count = pread(descriptor, buffer.baseAddress!, size, offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw ContentHashError.unreadable(path: path.description, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += off_t(count)
        }
        return digest.finalHex()
    }
}
