// HTML character references, decoded two ways, both as in the reference cleanup:
// - `pythonUnescape` is Python 3.11's html.unescape: "&name;" and the legacy names without ';' (longest known
//   prefix, "&notit;" → "¬it;"), "&#65;" and "&#x41;" with or without ';', Windows-1252 for 0x80...0x9F, U+FFFD
//   for surrogates and numbers past U+10FFFF, nothing for the other non-characters and controls.
// - `ftfyUnescape` is ftfy 6.3's fixes.unescape_html: only "&name;" with a ';' (plus upper-cased names such as
//   "&EACUTE;") and numeric references that html.unescape decodes completely.
// The tables are Python's and ftfy's, generated into TextTables.swift by scripts/fixtures/gen_html_entities.py.

enum HTMLUnescape {
    /// html.entities.html5, keyed by the name after '&' (with its ';' where it has one).
    static let html5: [String: [Unicode.Scalar]] = parseTable(TextTables.html5Entities)
    /// ftfy's upper-case extras, keyed like `html5`.
    static let ftfyUpperCase: [String: [Unicode.Scalar]] = parseTable(TextTables.ftfyUpperCaseEntities)
    static let invalidCharacterReferences: [UInt32: Unicode.Scalar] = parseTable(TextTables.invalidCharacterReferences)
        .reduce(into: [:]) { table, entry in table[UInt32(entry.key, radix: 16)!] = entry.value[0] }
    static let invalidCodePoints = Set(TextTables.invalidCodePoints)

    /// Parses `key scalar scalar...` lines (scalars in hex).
    static func parseTable(_ text: String) -> [String: [Unicode.Scalar]] {
        var table: [String: [Unicode.Scalar]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            table[String(fields[0])] = fields.dropFirst().map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        return table
    }

    // MARK: Python's html.unescape

    static func pythonUnescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == "&", let (replacement, end) = pythonReference(in: text, at: index) {
                result.append(contentsOf: replacement)
                index = end
            } else {
                result.append(text[index])
                index += 1
            }
        }
        return result
    }

    /// Matches html's `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` at `start` (an '&') and
    /// returns its replacement and the index after the match.
    private static func pythonReference(in text: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        var index = start + 1
        guard index < text.count else { return nil }
        if text[index] == "#" {
            index += 1
            var radix: UInt32 = 10
            if index < text.count && (text[index] == "x" || text[index] == "X") {
                radix = 16
                index += 1
            }
            let digitsStart = index
            var value: UInt32 = 0
            while index < text.count, let digit = digitValue(text[index], radix: radix) {
                value = min(value * radix + digit, 0x11_0000)  // anything past U+10FFFF decodes alike
                index += 1
            }
            guard index > digitsStart else { return nil }
            if index < text.count && text[index] == ";" { index += 1 }
            return (numericReference(value), index)
        }
        let nameStart = index
        while index < text.count && index - nameStart < 32 && !endsReferenceName(text[index]) {
            index += 1
        }
        guard index > nameStart else { return nil }
        if index < text.count && text[index] == ";" { index += 1 }
        let name = text[nameStart..<index]
        if let value = html5[String(String.UnicodeScalarView(name))] {
            return (value, index)
        }
        // The longest known prefix of at least two characters, then the rest as it was.
        var length = name.count - 1
        while length >= 2 {
            let prefix = name.prefix(length)
            if let value = html5[String(String.UnicodeScalarView(prefix))] {
                return (value + name.dropFirst(length), index)
            }
            length -= 1
        }
        return (Array(text[start..<index]), index)
    }

    private static func endsReferenceName(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
        default: return false
        }
    }

    private static func isASCIILetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "0"..."9", "A"..."Z", "a"..."z": return true
        default: return false
        }
    }

    private static func digitValue(_ scalar: Unicode.Scalar, radix: UInt32) -> UInt32? {
        switch scalar {
        case "0"..."9": return scalar.value - 0x30
        case "a"..."f" where radix == 16: return scalar.value - 0x61 + 10
        case "A"..."F" where radix == 16: return scalar.value - 0x41 + 10
        default: return nil
        }
    }

    private static func numericReference(_ value: UInt32) -> [Unicode.Scalar] {
        if let replacement = invalidCharacterReferences[value] { return [replacement] }
        if (0xD800...0xDFFF).contains(value) || value > 0x10_FFFF { return ["\u{FFFD}"] }
        if invalidCodePoints.contains(value) { return [] }
        return [Unicode.Scalar(value)!]
    }

    // MARK: ftfy's unescape_html

    static func ftfyUnescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == "&", let end = ftfyReferenceEnd(in: text, at: index) {
                result.append(contentsOf: ftfyReplacement(Array(text[index..<end])))
                index = end
            } else {
                result.append(text[index])
                index += 1
            }
        }
        return result
    }

    /// Matches ftfy's `&#?[0-9A-Za-z]{1,24};` at `start` (an '&'); returns the index after the ';'.
    private static func ftfyReferenceEnd(in text: [Unicode.Scalar], at start: Int) -> Int? {
        var index = start + 1
        if index < text.count && text[index] == "#" { index += 1 }
        let nameStart = index
        while index < text.count && index - nameStart <= 24 && isASCIILetterOrDigit(text[index]) {
            index += 1
        }
        let length = index - nameStart
        guard (1...24).contains(length), index < text.count, text[index] == ";" else { return nil }
        return index + 1
    }

    private static func ftfyReplacement(_ reference: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let name = String(String.UnicodeScalarView(reference.dropFirst()))
        if let value = html5[name], name.hasSuffix(";") { return value }
        if let value = ftfyUpperCase[name] { return value }
        if reference[1] == "#" {
            let decoded = pythonUnescape(reference)
            return decoded.contains(";") ? reference : decoded
        }
        return reference
    }
}
