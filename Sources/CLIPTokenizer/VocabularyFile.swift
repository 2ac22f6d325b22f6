// Readers for the Hugging Face CLIP vocabulary files (openai/clip-vit-base-patch32 layout): vocab.json, one flat
// JSON object of token → id, and merges.txt, a "#version" line then one "left right" merge per line, best first.
// vocab.json is read by a small hand-written parser that accepts exactly that shape (any JSON whitespace, string
// escapes, integer values): it is several times faster than JSONSerialization on the 49 408-token vocabulary.
import Foundation
import SafeFiles

/// One vocab.json entry: the token's UTF-8 bytes, its id, and where its key starts in the file (for messages).
struct VocabularyEntry {
    var token: [UInt8]
    var id: Int32
    var offset: Int
}

enum VocabularyFile {
    /// The largest vocab.json or merges.txt read, in bytes (CLIP's are 0.9 MB and 0.5 MB).
    static let byteLimit = 64 << 20

    /// The bytes of `url`, which must be a regular file (a FIFO or device is refused at once, never waited on) of
    /// at most `byteLimit` bytes.
    static func contents(of url: URL) throws -> [UInt8] {
        do {
            return try ReadableFile.read(url.path, role: url.lastPathComponent, limit: byteLimit)
        } catch let error as FileAccessError {
            switch error {
            case .missing: throw TokenizerError.missingFile(url)
            case .notRegularFile(_, _, let kind):
                throw TokenizerError.unreadableFile(url, reason: "it is \(kind), not a regular file")
            case .tooLarge(_, _, let size, let limit):
                throw TokenizerError.unreadableFile(url, reason: "it is \(size) bytes, more than the \(limit) allowed")
            case .permissionDenied: throw TokenizerError.unreadableFile(url, reason: "permission denied")
            case .cannotOpen(_, _, let code), .readFailed(_, _, let code):
                throw TokenizerError.unreadableFile(url, reason: String(cString: strerror(code)))
            case .nameNotUnique: throw TokenizerError.unreadableFile(url, reason: error.description)
            }
        }
    }

    /// Parses vocab.json into its entries, in file order.
    static func parseVocabulary(_ bytes: [UInt8], url: URL) throws -> [VocabularyEntry] {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONObjectReader(bytes: buffer, url: url)
            return try reader.readStringToIntegerObject()
        }
    }

    /// Calls `body` for every merge line with the line number (1-based) and the two symbols' UTF-8 bytes.
    static func forEachMerge(
        in bytes: [UInt8], url: URL,
        _ body: (_ line: Int, _ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        try bytes.withUnsafeBufferPointer { buffer in
            let newline = UInt8(ascii: "\n")
            let space = UInt8(ascii: " ")
            let carriageReturn = UInt8(ascii: "\r")
            var start = 0
            var line = 0
            while start < buffer.count {
                line += 1
                var end = start
                var gap = -1
                var spaces = 0
                while end < buffer.count && buffer[end] != newline {
                    if buffer[end] == space {
                        spaces += 1
                        if gap < 0 { gap = end }
                    }
                    end += 1
                }
                let lineStart = start
                let lineEnd = end
                start = end + 1
                // A CRLF line end (a file saved on Windows) ends the line as LF does: transformers 5.24 reads merges.txt
                // with the tokenizers library, whose line reader (Rust's `BufRead::lines`) drops "\r\n" whole.
                if end < buffer.count && end > lineStart && buffer[end - 1] == carriageReturn { end -= 1 }
                let text = UnsafeBufferPointer(rebasing: buffer[lineStart..<end])
                if line == 1 && text.starts(with: "#version".utf8) {
                    continue
                }
                func fail(_ reason: String) -> TokenizerError {
                    .badMergesLine(url, line: line, text: String(decoding: text, as: UTF8.self), reason: reason)
                }
                if text.isEmpty {
                    if lineEnd >= buffer.count - 1 { continue }  // the file's final line break
                    throw fail("the line is empty")
                }
                guard gap >= 0 else { throw fail("there is no space between the two symbols") }
                if gap == lineStart || gap == end - 1 || spaces > 1 {
                    throw fail("expected exactly two symbols separated by one space")
                }
                try body(
                    line, UnsafeBufferPointer(rebasing: buffer[lineStart..<gap]),
                    UnsafeBufferPointer(rebasing: buffer[(gap + 1)..<end]))
            }
        }
    }
}

/// Reads one JSON object whose values are all integers, e.g. `{"a": 0, "b\u00e9": 1}`.
private struct JSONObjectReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let url: URL
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, url: URL) {
        self.bytes = bytes
        self.url = url
    }

    private func fail(_ reason: String) -> TokenizerError {
        .invalidVocabulary(url, offset: position, reason: reason)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ character: Unicode.Scalar, _ what: String) throws {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else {
            throw fail(position < bytes.count ? "expected \(what)" : "the file ends early; expected \(what)")
        }
        position += 1
    }

    mutating func readStringToIntegerObject() throws -> [VocabularyEntry] {
        var entries: [VocabularyEntry] = []
        entries.reserveCapacity(bytes.count / 16)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // a UTF-8 byte order mark
        try expect("{", "'{' opening the object of tokens")
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let offset = position
                let token = try readString()
                try expect(":", "':' after a token")
                let id = try readInteger()
                entries.append(VocabularyEntry(token: token, id: id, offset: offset))
                skipWhitespace()
                guard position < bytes.count else { throw fail("the file ends early; expected ',' or '}'") }
                let separator = bytes[position]
                position += 1
                if separator == UInt8(ascii: "}") { break }
                guard separator == UInt8(ascii: ",") else {
                    position -= 1
                    throw fail("expected ',' or '}' after an id")
                }
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected text after the closing '}'") }
        return entries
    }

    private mutating func readInteger() throws -> Int32 {
        skipWhitespace()
        var value: Int64 = 0
        var digits = 0
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") {
            throw fail("ids must not be negative")
        }
        while position < bytes.count, case let digit = bytes[position] &- UInt8(ascii: "0"), digit < 10 {
            value = value * 10 + Int64(digit)
            guard value <= Int64(Int32.max) else { throw fail("the id is too large") }
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw fail("expected an integer id") }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
            throw fail("ids must be integers")
        }
        return Int32(value)
    }

    private mutating func readString() throws -> [UInt8] {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
            throw fail("expected a token in double quotes")
        }
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return Array(bytes[start..<(position - 1)])
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character U+00\(hex2(byte)) inside a string; it must be escaped") }
            position += 1
        }
        var result = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return result
            case UInt8(ascii: "\\"):
                try readEscape(into: &result)
            case ..<0x20:
                position -= 1
                throw fail("control character U+00\(hex2(byte)) inside a string; it must be escaped")
            default:
                result.append(byte)
            }
        }
        throw fail("the file ends inside a string")
    }

    private mutating func readEscape(into result: inout [UInt8]) throws {
        guard position < bytes.count else { throw fail("the file ends inside an escape") }
        let letter = bytes[position]
        position += 1
        let simple: UInt8?
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = letter
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        default: simple = nil
        }
        if let simple {
            result.append(simple)
            return
        }
        guard letter == UInt8(ascii: "u") else {
            position -= 2
            throw fail("unknown escape '\\\(Character(Unicode.Scalar(letter)))'")
        }
        var value = try readHex4()
        if (0xD800...0xDBFF).contains(value) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw fail("a high surrogate escape is not followed by a low surrogate") }
            position += 2
            let low = try readHex4()
            guard (0xDC00...0xDFFF).contains(low) else {
                throw fail("a high surrogate escape is not followed by a low surrogate")
            }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(value) {
            throw fail("a lone low surrogate escape")
        }
        UTF8.encode(Unicode.Scalar(value)!) { result.append($0) }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("the file ends inside a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a \\u escape needs four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private func hex2(_ byte: UInt8) -> String {
        let text = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + text : text
    }
}
