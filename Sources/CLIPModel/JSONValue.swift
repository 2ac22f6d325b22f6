// A small JSON reader and writer (RFC 8259) for config.json and the safetensors header, written by hand so that
// every error names the byte and the key path where it happened, every number keeps the text it was written with
// (so `1e999` is reported as written, and a writer can tell `1` from `1.0`), and nesting is bounded. Deviation from
// the RFC, as Python's json module reads them: `NaN`, `Infinity` and `-Infinity` are read as non-finite numbers,
// which the readers of config keys then reject by name.

/// Any JSON value.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// A number: its value (±infinity when the text does not fit a Double, e.g. `1e999`; NaN for `NaN`) and the
    /// text it was written with.
    case number(Double, text: String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The deepest nesting of arrays and objects read; real config.json files and safetensors headers use 3.
    static let maximumDepth = 64

    /// Parses `bytes` (UTF-8) as one JSON document (any value at the top level). Throws `JSONSyntaxError`.
    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer)
            return try parser.document()
        }
    }

    /// An integer, written without a decimal point.
    static func integer(_ value: Int) -> JSONValue { .number(Double(value), text: String(value)) }

    /// A floating-point number, written with a decimal point or an exponent (`1.0`, `1e-05`), so that readers that
    /// tell floats from integers (Python's json, transformers' typed configs) read a float. `value` must be finite.
    static func float(_ value: Float) -> JSONValue {
        precondition(value.isFinite, "JSON has no spelling for \(value)")
        let text = String(value)  // the shortest text that reads back as `value`: "1.0", "2.6592", "1e-05"
        return .number(Double(text) ?? Double(value), text: text)
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value of a number that is finite (nil for `1e999`, `NaN` and non-numbers).
    var doubleValue: Double? {
        if case .number(let value, _) = self, value.isFinite { return value }
        return nil
    }

    /// Whether this is a number whose value is not finite (`1e999`, `-1e400`, `NaN`, `Infinity`).
    var isNonFiniteNumber: Bool {
        if case .number(let value, _) = self { return !value.isFinite }
        return false
    }

    /// The value as an `Int` when it is a number with no fractional part that is exactly representable.
    var intValue: Int? {
        guard case .number(let value, _) = self, value.isFinite, value.rounded() == value,
            abs(value) <= 9_007_199_254_740_992
        else {
            return nil
        }
        return Int(value)
    }

    /// A short rendering for error messages; numbers as they were written.
    var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .number(_, let text): return text
        case .string(let value): return "\"\(value)\""
        case .array(let values): return "[" + values.map(\.summary).joined(separator: ", ") + "]"
        case .object(let values): return "{" + values.keys.sorted().joined(separator: ", ") + "}"
        }
    }

    /// The JSON text: keys sorted, nested values indented by two spaces, numbers as their text, strings in UTF-8
    /// with only `"`, `\` and control characters escaped. Ends without a line break.
    func serialized(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .null, .bool, .number: return summary
        case .string(let value): return Self.quoted(value)
        case .array(let values):
            if values.isEmpty { return "[]" }
            return "[\n" + values.map { inner + $0.serialized(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            let lines = fields.keys.sorted().map { key in
                inner + Self.quoted(key) + ": " + fields[key]!.serialized(indent: inner)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// Where and why a JSON text could not be read.
struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    /// The byte offset where reading stopped.
    var offset: Int
    /// The key path of the value being read ("text_config.hidden_size", "[3]"); empty at the top level.
    var path: String
    var reason: String

    var description: String {
        path.isEmpty ? "at byte \(offset): \(reason)" : "at byte \(offset), in \"\(path)\": \(reason)"
    }
}

/// A recursive-descent reader over UTF-8 bytes; `path` follows the keys and indices of the value being read.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var path: [String] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func fail(_ reason: String) -> JSONSyntaxError {
        let joined = path.reduce(into: "") { text, part in
            text += part.hasPrefix("[") || text.isEmpty ? part : "." + part
        }
        return JSONSyntaxError(offset: position, path: joined, reason: reason)
    }

    mutating func document() throws -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // a UTF-8 byte order mark
        let value = try self.value(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected text after the end of the JSON value") }
        return value
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw fail("the text ends where a value was expected") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .number(.nan, text: "NaN"))
        case UInt8(ascii: "I"): return try literal("Infinity", .number(.infinity, text: "Infinity"))
        case UInt8(ascii: "-") where bytes[(position + 1)...].starts(with: "Infinity".utf8):
            return try literal("-Infinity", .number(-.infinity, text: "-Infinity"))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default:
            throw fail("unexpected character \(shown(bytes[position])) where a value was expected")
        }
    }

    private func shown(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x" + String(byte, radix: 16)
    }

    mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
        guard bytes[position...].starts(with: word.utf8) else { throw fail("expected \(word)") }
        position += word.utf8.count
        return value
    }

    mutating func object(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maximumDepth else {
            throw fail("arrays and objects are nested more than \(JSONValue.maximumDepth) deep")
        }
        position += 1
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw fail(
                    position < bytes.count ? "expected a key in double quotes" : "the text ends inside an object")
            }
            let key = try string()
            try expect(":", "':' after the key \"\(key)\"")
            path.append(key)
            fields[key] = try value(depth: depth)  // a repeated key: the last one counts, as in Python
            path.removeLast()
            skipWhitespace()
            guard position < bytes.count else { throw fail("the text ends inside an object") }
            let separator = bytes[position]
            position += 1
            if separator == UInt8(ascii: "}") { return .object(fields) }
            guard separator == UInt8(ascii: ",") else {
                position -= 1
                throw fail("expected ',' or '}' after the value of \"\(key)\"")
            }
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maximumDepth else {
            throw fail("arrays and objects are nested more than \(JSONValue.maximumDepth) deep")
        }
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            path.append("[\(items.count)]")
            items.append(try value(depth: depth))
            path.removeLast()
            skipWhitespace()
            guard position < bytes.count else { throw fail("the text ends inside an array") }
            let separator = bytes[position]
            position += 1
            if separator == UInt8(ascii: "]") { return .array(items) }
            guard separator == UInt8(ascii: ",") else {
                position -= 1
                throw fail("expected ',' or ']' after an array item")
            }
        }
    }

    mutating func expect(_ character: Unicode.Scalar, _ what: String) throws {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { throw fail("expected \(what)") }
        position += 1
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws -> JSONValue {
        let start = position
        func digits() -> Int {
            let first = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                position += 1
            }
            return position - first
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        guard digits() > 0 else { throw fail("expected a digit after '-'") }
        if bytes[integerStart] == UInt8(ascii: "0") && position - integerStart > 1 {
            position = integerStart
            throw fail("a number must not start with 0 followed by more digits")
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw fail("expected a digit after the decimal point") }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
            {
                position += 1
            }
            guard digits() > 0 else { throw fail("expected a digit in the exponent") }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        // Double(_:) gives ±infinity for a number too large for a Double (1e999), which readers reject by name.
        guard let value = Double(text) else {
            position = start
            throw fail("the number \(text) cannot be read")
        }
        return .number(value, text: text)
    }

    mutating func string() throws -> String {
        position += 1  // the opening quote
        var result: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = String(validating: result, as: UTF8.self) else {
                    throw fail("a string holds bytes that are not UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                try escape(into: &result)
            case ..<0x20:
                throw fail("a control character (byte 0x\(String(byte, radix: 16))) inside a string must be escaped")
            default:
                result.append(byte)
                position += 1
            }
        }
        throw fail("the text ends inside a string")
    }

    mutating func escape(into result: inout [UInt8]) throws {
        guard position < bytes.count else { throw fail("the text ends inside an escape") }
        let letter = bytes[position]
        position += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(letter)
        case UInt8(ascii: "b"): result.append(0x08)
        case UInt8(ascii: "f"): result.append(0x0C)
        case UInt8(ascii: "n"): result.append(0x0A)
        case UInt8(ascii: "r"): result.append(0x0D)
        case UInt8(ascii: "t"): result.append(0x09)
        case UInt8(ascii: "u"):
            var value = try hex4()
            if (0xD800...0xDBFF).contains(value) {
                guard bytes[position...].starts(with: "\\u".utf8) else {
                    throw fail("a high surrogate escape is not followed by a low surrogate")
                }
                position += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw fail("a high surrogate escape is not followed by a low surrogate")
                }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(value) {
                throw fail("a lone low surrogate escape")
            }
            UTF8.encode(Unicode.Scalar(value)!) { result.append($0) }
        default:
            position -= 1
            throw fail("unknown escape: \(shown(letter)) after a backslash")
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("the text ends inside a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else {
                throw fail("a \\u escape needs four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
