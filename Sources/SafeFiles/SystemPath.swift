// File names as the kernel sees them: bytes, not text. Linux allows any byte but '/' and NUL in a name, and Swift
// turns a command-line argument that is not UTF-8 into a String with U+FFFD in place of the bad bytes, which names
// no file. clipcam records such arguments' bytes at start-up (`CommandLineBytes.record`) so that every path given
// on the command line reaches the kernel as typed.
import CLinux
import Glibc
import Synchronization

/// A path as bytes. Built from a String it takes the bytes of the command-line argument the String came from when
/// that argument was not UTF-8, else the String's UTF-8.
public struct SystemPath: Hashable, Sendable, CustomStringConvertible {
    /// The path's bytes, without a terminating NUL.
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes)
    }

    /// The path a String names: the original bytes of a command-line argument that was not UTF-8, else the
    /// String's UTF-8.
    public init(_ string: String) {
        bytes = CommandLineBytes.bytes(for: string) ?? Array(string.utf8)
    }

    /// The path an environment variable holds, by its bytes (Foundation's environment turns bytes that are not
    /// UTF-8 into U+FFFD); nil when the variable is unset or empty.
    public init?(environment name: String) {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        bytes = Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
    }

    /// The path with a leading `~` or `~/` standing for the home folder (`$HOME`, else the user's entry in the
    /// password database), as a shell expands it.
    public func expandingTilde() -> SystemPath {
        guard bytes.first == UInt8(ascii: "~"), bytes.count == 1 || bytes[1] == UInt8(ascii: "/") else { return self }
        var home = getenv("HOME").map { String(cString: $0) } ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { home = String(cString: dir) }
        return SystemPath(bytes: Array(home.utf8) + bytes.dropFirst())
    }

    /// `openableName()`, or the displayed name when the file does not exist (for messages saying so).
    public var openableOrShownName: String {
        (try? openableName()) ?? description
    }

    /// Whether the bytes are valid UTF-8 (so the path can be handed to APIs that take Strings as it is).
    public var isUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// The path for people: UTF-8 as it is, every byte that is not part of valid UTF-8 as `\xHH` (as `ls -b` and
    /// Python's repr write them).
    public var description: String { Self.display(bytes) }

    /// The path as a String for APIs that take no bytes (Foundation, SDL, child processes' arguments): the path
    /// itself when it is UTF-8; otherwise `/proc/<pid>/fd/<n>` of an `O_PATH` descriptor of the file, opened now and
    /// kept for the life of the process (messages that quote it show the real name again, see `PathNames`).
    /// Throws `FileAccessError` when the file does not exist.
    public func openableName(role: String = "file") throws -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return try PathNames.alias(for: self, role: role)
    }

    /// Calls `body` with the path as a NUL-terminated C string.
    public func withCString<Result>(_ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// `self/component`.
    public func appending(_ component: some Sequence<UInt8>) -> SystemPath {
        var joined = bytes
        if !joined.isEmpty && joined.last != UInt8(ascii: "/") { joined.append(UInt8(ascii: "/")) }
        joined.append(contentsOf: component)
        return SystemPath(bytes: joined)
    }

    /// The last component's bytes.
    public var lastComponent: [UInt8] {
        let trimmed = bytes.last == UInt8(ascii: "/") ? Array(bytes.dropLast()) : bytes
        guard let slash = trimmed.lastIndex(of: UInt8(ascii: "/")) else { return trimmed }
        return Array(trimmed[(slash + 1)...])
    }

    static func display(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var out = ""
        var start = 0
        while start < bytes.count {
            // The longest valid UTF-8 run from `start`, then one byte shown as \xHH.
            var end = start
            while end < bytes.count {
                let length = utf8SequenceLength(bytes, at: end)
                if length == 0 { break }
                end += length
            }
            out += String(decoding: bytes[start..<end], as: UTF8.self)
            if end < bytes.count {
                out += "\\x" + String(bytes[end], radix: 16, uppercase: false).leftPadded(to: 2)
                end += 1
            }
            start = end
        }
        return out
    }

    /// The length of the valid UTF-8 sequence at `index`, or 0 when none starts there.
    private static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        for length in 1...4 where index + length <= bytes.count {
            if String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil { return length }
        }
        return 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The command-line arguments that were not UTF-8, by the String Swift made of each.
public enum CommandLineBytes {
    /// nil marks a String two different arguments were both turned into.
    private static let table = Mutex<[String: [UInt8]?]>([:])

    /// Records every argument of `argv` whose bytes are not UTF-8. Call once at start-up, before the arguments
    /// are parsed.
    public static func record(
        argc: Int32 = CommandLine.argc,
        argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = CommandLine.unsafeArgv
    ) {
        var found: [String: [UInt8]?] = [:]
        for index in 0..<Int(argc) {
            guard let argument = argv[index] else { continue }
            let bytes = Array(UnsafeRawBufferPointer(start: argument, count: strlen(argument)))
            guard String(validating: bytes, as: UTF8.self) == nil else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            if let earlier = found[text], earlier != bytes {
                found[text] = .some(nil)
            } else {
                found[text] = bytes
            }
        }
        table.withLock { $0 = found }
    }

    /// The bytes of the argument `string` was made from, when that argument was not UTF-8.
    public static func bytes(for string: String) -> [UInt8]? {
        table.withLock { $0[string] ?? nil }
    }

    /// Every recorded argument: the String made of it and its bytes (ambiguous ones left out).
    static func recorded() -> [(String, [UInt8])] {
        table.withLock { $0.compactMap { key, value in value.map { (key, $0) } } }
    }

    /// Whether `string` stands for two or more different arguments that differ only in bytes that are not UTF-8.
    public static func isAmbiguous(_ string: String) -> Bool {
        table.withLock { entry in
            if case .some(.none) = entry[string] { return true }
            return false
        }
    }
}

/// The `/proc/<pid>/fd/<n>` names `SystemPath.openableName` hands out, and the real names behind them.
public enum PathNames {
    private static let aliases = Mutex<[String: SystemPath]>([:])

    /// One alias per path: asking again (a computed default folder, a file read once a frame) opens nothing new.
    static func alias(for path: SystemPath, role: String) throws -> String {
        if let known = aliases.withLock({ $0.first { $0.value == path }?.key }) { return known }
        let descriptor = path.withCString { clinux_open_path($0) }
        guard descriptor >= 0 else { throw FileAccessError.from(errno: errno, path: path, role: role) }
        let name = "/proc/\(getpid())/fd/\(descriptor)"
        aliases.withLock { $0[name] = path }
        return name
    }

    /// `message` with every alias replaced by the real name it stands for (as `SystemPath.description` shows it)
    /// and every command-line argument that was not UTF-8 shown with its bytes, for messages to the user.
    public static func restore(in message: String) -> String {
        var text = message
        // Longest first, so that /proc/1/fd/5 is not replaced inside /proc/1/fd/50.
        let known = aliases.withLock { $0 }.sorted { $0.key.count > $1.key.count }
        for (alias, path) in known where text.contains(alias) {
            text = text.replacingAll(alias, with: path.description)
        }
        for (repaired, bytes) in CommandLineBytes.recorded() where text.contains(repaired) {
            text = text.replacingAll(repaired, with: SystemPath(bytes: bytes).description)
        }
        return text
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
