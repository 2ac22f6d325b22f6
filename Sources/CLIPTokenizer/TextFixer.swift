// ftfy 6.3's fix_text with its default settings (ftfy/__init__.py `fix_text`, `fix_and_explain`; ftfy/fixes.py),
// for the text a person types. The text is fixed in segments that end after each "\n" (at most 1 000 000 code
// points each); each segment repeats these steps until it stops changing:
//   unescape_html (only while no segment so far held a '<'), fix_c1_controls, fix_latin_ligatures,
//   fix_character_width, uncurl_quotes, fix_line_breaks, remove_terminal_escapes, remove_control_chars, NFC.
// Deviations: ftfy's mojibake repair (fix_encoding: text decoded in the wrong single-byte encoding, "cafÃ©") is
// not done; its C1-control case is the same as fix_c1_controls, which is. fix_surrogates has nothing to do: a Swift
// String cannot hold surrogate code points. NFC is the Swift standard library's (String._nfcCodeUnits, public but
// underscored; on Linux, Foundation's precomposedStringWithCanonicalMapping disagrees with Python on about 1 300
// base + mark sequences where the standard library agrees on all but a few characters newer than Unicode 14).

enum TextFixer {
    static let maximumSegmentLength = 1_000_000

    static func fixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var unescapeHTML = true
        var start = 0
        while start < text.count {
            var end = (text[start...].firstIndex(of: "\n") ?? text.count - 1) + 1
            end = min(end, start + maximumSegmentLength)
            let segment = Array(text[start..<end])
            // ftfy's "auto" setting: a '<' means the text is HTML; it then stays off for the segments after it.
            if unescapeHTML && segment.contains("<") { unescapeHTML = false }
            result.append(contentsOf: fixSegment(segment, unescapeHTML: unescapeHTML))
            start = end
        }
        return result
    }

    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = HTMLUnescape.ftfyUnescape(text) }
            text = fixC1Controls(text)
            text = replaceScalars(text, using: latinLigatures)
            text = replaceScalars(text, using: characterWidth)
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text.removeAll(where: isUnwantedControl)
            text = nfc(text)
            if text == original { return text }
        }
    }

    static let latinLigatures = scalarTable(TextTables.latinLigatures)
    static let characterWidth = scalarTable(TextTables.characterWidth)

    private static func scalarTable(_ text: String) -> [UInt32: [Unicode.Scalar]] {
        HTMLUnescape.parseTable(text).reduce(into: [:]) { table, entry in
            table[UInt32(entry.key, radix: 16)!] = entry.value
        }
    }

    private static func replaceScalars(
        _ text: [Unicode.Scalar], using table: [UInt32: [Unicode.Scalar]]
    ) -> [Unicode.Scalar] {
        guard text.contains(where: { table[$0.value] != nil }) else { return text }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        for scalar in text {
            if let replacement = table[scalar.value] {
                result.append(contentsOf: replacement)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// C1 controls U+0080...U+009F read as the Windows-1252 bytes they were meant to be, as browsers do
    /// (the five bytes Windows-1252 leaves undefined stay as they are).
    private static func fixC1Controls(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        text.map { scalar in
            guard (0x80...0x9F).contains(scalar.value) else { return scalar }
            return HTMLUnescape.invalidCharacterReferences[scalar.value] ?? scalar
        }
    }

    /// ‘ ’ ‚ ‛ and ʼ become ', and “ ” „ ‟ become ".
    private static func uncurlQuotes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        text.map { scalar in
            switch scalar.value {
            case 0x02BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return scalar
            }
        }
    }

    /// CR LF, CR, U+2028, U+2029 and U+0085 become LF.
    private static func fixLineBreaks(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            switch text[index] {
            case "\r":
                result.append("\n")
                if index + 1 < text.count && text[index + 1] == "\n" { index += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                result.append("\n")
            default:
                result.append(text[index])
            }
            index += 1
        }
        return result
    }

    /// Removes ANSI escapes: ESC '[', decimal digits and ';', then an ASCII letter.
    private static func removeTerminalEscapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\u{1B}") else { return text }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == "\u{1B}" && index + 1 < text.count && text[index + 1] == "[" {
                var end = index + 2
                while end < text.count && (text[end] == ";" || text[end].properties.numericType == .decimal) {
                    end += 1
                }
                if end < text.count, case "A"..."Z" = text[end] {
                    index = end + 1
                    continue
                }
                if end < text.count, case "a"..."z" = text[end] {
                    index = end + 1
                    continue
                }
            }
            result.append(text[index])
            index += 1
        }
        return result
    }

    /// Controls ftfy removes: C0 controls except \t \n \f \r, DEL, the deprecated Arabic format controls,
    /// the byte order mark, the interlinear annotation characters and the object replacement character.
    private static func isUnwantedControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// Unicode Normalization Form C.
    static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Below U+0300 there are no combining characters, so such text is already composed.
        guard text.contains(where: { $0.value >= 0x300 }) else { return text }
        let string = String(String.UnicodeScalarView(text))
        return Array(String(decoding: string._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }
}
