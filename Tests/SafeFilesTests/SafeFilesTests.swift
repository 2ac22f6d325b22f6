import Foundation
import Glibc
import SafeFiles
import Testing

/// A fresh folder under the system's temporary folder, as bytes.
private func scratchFolder() throws -> SystemPath {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-safefiles-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return SystemPath(bytes: Array(url.path.utf8))
}

private func writeFile(_ path: SystemPath, _ bytes: [UInt8]) throws {
    let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    try #require(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
}

private func removeTree(_ path: SystemPath) {
    _ = try? FileManager.default.removeItem(atPath: String(decoding: path.bytes, as: UTF8.self))
}

@Suite struct SystemPathTests {
    @Test func bytesThatAreNotUTF8AreShownAsEscapes() {
        let path = SystemPath(bytes: Array("bad".utf8) + [0xFF] + Array("name-é.png".utf8))
        #expect(!path.isUTF8)
        #expect(path.description == "bad\\xffname-é.png")
        #expect(SystemPath("plain/é.png").description == "plain/é.png")
        #expect(SystemPath(bytes: [0xC3]).description == "\\xc3", "a cut-off sequence is one bad byte")
    }

    @Test func componentsJoinWithOneSlash() {
        #expect(SystemPath("a").appending(Array("b".utf8)).description == "a/b")
        #expect(SystemPath("a/").appending(Array("b".utf8)).description == "a/b")
        #expect(SystemPath("x/y/z.png").lastComponent == Array("z.png".utf8))
    }

    /// A name that is not UTF-8 is opened by its bytes, and the alias handed to String APIs reads the same file.
    @Test func aFileWhoseNameIsNotUTF8IsReadByItsBytes() throws {
        let folder = try scratchFolder()
        defer { removeTree(folder) }
        let file = folder.appending(Array("bad".utf8) + [0xFF] + Array("name.txt".utf8))
        try writeFile(file, Array("hello".utf8))
        #expect(try ReadableFile.read(file, role: "test file", limit: 100) == Array("hello".utf8))
        let alias = try file.openableName()
        #expect(alias.hasPrefix("/proc/"))
        #expect(try String(contentsOfFile: alias, encoding: .utf8) == "hello")
        #expect(PathNames.restore(in: "cannot decode \(alias): junk") == "cannot decode \(file.description): junk")
    }
}

@Suite struct ReadableFileTests {
    /// A FIFO with no writer would block open() and read() forever: it is refused at once.
    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let folder = try scratchFolder()
        defer { removeTree(folder) }
        let fifo = folder.appending(Array("fifo.png".utf8))
        try #require(fifo.withCString { mkfifo($0, 0o644) } == 0)
        let start = Date()
        #expect {
            _ = try ReadableFile.read(fifo, role: "image", limit: 1 << 20)
        } throws: { error in
            (error as? FileAccessError)?.description.contains("is a FIFO (named pipe), not a regular file") == true
        }
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test(arguments: ["/dev/null", "/dev/zero", "/dev/tty", "/proc/self/fd/0"])
    func devicesAreRefused(path: String) throws {
        guard FileKind.of(SystemPath(path)) != .missing, FileKind.of(SystemPath(path)) != .regular else { return }
        #expect(throws: FileAccessError.self) { _ = try ReadableFile.read(path, role: "image", limit: 100) }
    }

    @Test func aFolderAndAMissingFileAreNamed() throws {
        let folder = try scratchFolder()
        defer { removeTree(folder) }
        #expect(throws: FileAccessError.notRegularFile(path: folder.description, role: "image", kind: "a folder")) {
            _ = try ReadableFile.read(folder, role: "image", limit: 100)
        }
        let missing = folder.appending(Array("missing.png".utf8))
        #expect(throws: FileAccessError.missing(path: missing.description, role: "image")) {
            _ = try ReadableFile.read(missing, role: "image", limit: 100)
        }
    }

    @Test func aFileOverTheLimitIsRefusedBeforeItIsRead() throws {
        let folder = try scratchFolder()
        defer { removeTree(folder) }
        let file = folder.appending(Array("big".utf8))
        try writeFile(file, [UInt8](repeating: 7, count: 5000))
        #expect(throws: FileAccessError.tooLarge(path: file.description, role: "prompt file", size: 5000, limit: 4999))
        {
            _ = try ReadableFile.read(file, role: "prompt file", limit: 4999)
        }
        #expect(try ReadableFile.read(file, role: "prompt file", limit: 5000).count == 5000)
    }
}

@Suite struct AtomicRenameTests {
    @Test func renamingOntoAnExistingPathReplacesNothing() throws {
        let folder = try scratchFolder()
        defer { removeTree(folder) }
        let a = folder.appending(Array("a".utf8))
        let b = folder.appending(Array("b".utf8))
        try writeFile(a, [1])
        try writeFile(b, [2])
        #expect(throws: RenameError.destinationExists(path: b.description)) {
            try AtomicRename.withoutReplacing(from: a, to: b)
        }
        #expect(try ReadableFile.read(b, role: "file", limit: 10) == [2])
        #expect(try ReadableFile.read(a, role: "file", limit: 10) == [1])
        try AtomicRename.exchange(a, b)
        #expect(try ReadableFile.read(a, role: "file", limit: 10) == [2])
        let c = folder.appending(Array("c".utf8))
        try AtomicRename.withoutReplacing(from: a, to: c)
        #expect(FileKind.of(a) == .missing)
        #expect(try ReadableFile.read(c, role: "file", limit: 10) == [2])
    }
}
