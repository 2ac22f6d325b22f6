// CLIP's word splitter, written out by hand: openai/CLIP simple_tokenizer.py's pattern
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// under the Python `regex` module with IGNORECASE. At each position the first alternative that matches wins, and
// characters no alternative matches (whitespace) are skipped. Details the hand-written version keeps:
// - \p{L} and \p{N} are the general categories L* and N* (the regex module and Swift share Unicode's data);
//   \s is Unicode's White_Space.
// - IGNORECASE lets 's' match U+017F (ſ); the other letters of the pattern only meet their ASCII cases.
// - U+0345 (combining ypogegrammeni) case-folds to ι, a letter, so under IGNORECASE it is in none of the three
//   classes: like whitespace it matches nothing and ends a word.

enum PreTokenizer {
    enum ScalarClass {
        case letter, number, other, skipped
    }

    static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        switch scalar.value {
        case 0x61...0x7A, 0x41...0x5A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .skipped
        case 0x00...0x7F: return .other
        case 0x0345: return .skipped
        default: break
        }
        let properties = scalar.properties
        if properties.isWhitespace { return .skipped }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The words of `text` (cleaned and lowercased), as ranges of scalar indices.
    static func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        let classes = text.map(classify)
        var index = 0
        while index < text.count {
            if let end = specialTokenEnd(text, at: index) ?? contractionEnd(text, at: index) {
                words.append(index..<end)
                index = end
                continue
            }
            let kind = classes[index]
            switch kind {
            case .skipped:
                index += 1
            case .number:
                words.append(index..<(index + 1))
                index += 1
            case .letter, .other:
                var end = index + 1
                while end < text.count && classes[end] == kind { end += 1 }
                words.append(index..<end)
                index = end
            }
        }
        return words
    }

    /// Whether `scalar` matches the pattern's `letter` with IGNORECASE (the text is already lowercase, but the
    /// pattern treats both cases alike anyway).
    private static func matches(_ scalar: Unicode.Scalar, _ letter: Unicode.Scalar) -> Bool {
        if scalar == letter { return true }
        if ("a"..."z").contains(letter) && scalar.value == letter.value - 0x20 { return true }
        return letter == "s" && scalar == "\u{017F}"
    }

    private static func matches(_ text: [Unicode.Scalar], at index: Int, _ literal: String) -> Int? {
        var position = index
        for letter in literal.unicodeScalars {
            guard position < text.count && matches(text[position], letter) else { return nil }
            position += 1
        }
        return position
    }

    private static func specialTokenEnd(_ text: [Unicode.Scalar], at index: Int) -> Int? {
        guard text[index] == "<" else { return nil }
        return matches(text, at: index, BytePairModel.startText) ?? matches(text, at: index, BytePairModel.endText)
    }

    private static let contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]

    private static func contractionEnd(_ text: [Unicode.Scalar], at index: Int) -> Int? {
        guard text[index] == "'" else { return nil }
        for contraction in contractions {
            if let end = matches(text, at: index, contraction) { return end }
        }
        return nil
    }
}
