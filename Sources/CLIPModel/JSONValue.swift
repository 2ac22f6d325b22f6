// JSON for config.json and the safetensors header: read with Foundation's JSONSerialization into a small typed tree
// (numbers keep whether they were written as integers, so a message quotes them as written), and written by hand,
// so that floats are spelled as floats (`1.0`, not JSONSerialization's `1`) for readers that tell them apart
// (Python's json, transformers' typed configs). Foundation's own reasons for text it cannot read (a trailing comma
// is accepted; `1e999`, `NaN` and nesting deeper than 512 are refused) are passed on in plain words.
import Foundation

/// Any JSON value.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    /// A number: its value (always finite: JSONSerialization refuses `1e999` and `NaN`) and its text, an integer
    /// as written, other numbers as Swift spells their Double.
    case number(Double, text: String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `bytes` (UTF-8) as one JSON document (any value at the top level). Throws `JSONSyntaxError`.
    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw JSONSyntaxError(foundation: error)
        }
        return JSONValue(foundation: object)
    }

    /// The tree JSONSerialization returns, typed.
    private init(foundation value: Any) {
        switch value {
        case let number as NSNumber:
            // JSONSerialization's booleans are NSNumbers of type "c"; integers keep an integer type.
            switch String(cString: number.objCType) {
            case "c": self = .bool(number.boolValue)
            case "d", "f":
                self = .number(number.doubleValue, text: String(number.doubleValue))
            default: self = .number(number.doubleValue, text: number.description)
            }
        case let text as String: self = .string(text)
        case let items as [Any]: self = .array(items.map(JSONValue.init(foundation:)))
        case let fields as [String: Any]: self = .object(fields.mapValues(JSONValue.init(foundation:)))
        default: self = .null
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

    /// The value of a number (nil for non-numbers).
    var doubleValue: Double? {
        if case .number(let value, _) = self { return value }
        return nil
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

/// Why a JSON text could not be read, in Foundation's words made plain.
struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    var reason: String

    init(foundation error: Error) {
        let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
        // "Number 1e999 is not representable in Swift." — say what that means for the file.
        if detail.hasPrefix("Number "), detail.hasSuffix(" is not representable in Swift.") {
            let number = detail.dropFirst("Number ".count).dropLast(" is not representable in Swift.".count)
            reason = "the number \(number) is not finite (too large for a 64-bit float)"
        } else {
            // "Invalid value around character 27." → "invalid value around character 27"
            let sentence = detail.hasSuffix(".") ? detail.dropLast() : Substring(detail)
            reason = sentence.prefix(1).lowercased() + sentence.dropFirst()
        }
    }

    var description: String { reason }
}
