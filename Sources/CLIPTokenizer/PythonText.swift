// The Python 3.11 str operations CLIP's reference cleanup uses, on arrays of Unicode scalars (Python strings are
// sequences of code points; comparing or slicing Swift Strings would work on grapheme clusters instead):
// str.isspace (what str.split() and str.strip() cut at) and str.lower(), including its Final_Sigma rule.
// Python 3.11's Unicode database is version 14.0 and Swift's is newer, so characters assigned after 14.0 are
// neither lowercased nor cased here either, and the two characters whose casing changed since keep their 14.0
// properties (unicode-reference.json in the tests checks every code point).

enum PythonText {
    /// Python's str.isspace(): bidirectional class WS, B or S, or general category Zs.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `" ".join(text.split())`: runs of whitespace become one space, none at either end.
    static func collapseWhitespace(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        var pendingSpace = false
        for scalar in text {
            if isSpace(scalar) {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.append(" ") }
                pendingSpace = false
                result.append(scalar)
            }
        }
        return result
    }

    /// Python 3.11's str.lower().
    static func lowercased(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.count)
        for (index, scalar) in text.enumerated() {
            if scalar.isASCII {
                result.append(("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 0x20)! : scalar)
            } else if scalar == "\u{03A3}" {
                result.append(isFinalSigma(in: text, at: index) ? "\u{03C2}" : "\u{03C3}")
            } else if scalar.properties.changesWhenLowercased, isInPythonUnicodeVersion(scalar) {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// Unicode's Final_Sigma: a cased letter, then case-ignorables, then Σ, with no cased letter after the Σ
    /// (past any case-ignorables).
    private static func isFinalSigma(in text: [Unicode.Scalar], at index: Int) -> Bool {
        var before = index - 1
        while before >= 0 && casing(text[before]) == .ignorable { before -= 1 }
        guard before >= 0 && casing(text[before]) == .cased else { return false }
        var after = index + 1
        while after < text.count && casing(text[after]) == .ignorable { after += 1 }
        return after == text.count || casing(text[after]) != .cased
    }

    enum Casing {
        /// Case_Ignorable, which Final_Sigma looks past (whether or not also Cased).
        case ignorable
        /// Cased and not Case_Ignorable.
        case cased
        case neither
    }

    /// How Python 3.11 sees a character in the Final_Sigma rule: Swift's properties, except for characters newer
    /// than Unicode 14 (neither) and the two whose properties changed since (U+0295 was a cased lowercase letter,
    /// U+1171E a case-ignorable mark).
    static func casing(_ scalar: Unicode.Scalar) -> Casing {
        switch scalar.value {
        case 0x0295: return .cased
        case 0x1171E: return .ignorable
        default: break
        }
        guard isInPythonUnicodeVersion(scalar) else { return .neither }
        let properties = scalar.properties
        return properties.isCaseIgnorable ? .ignorable : properties.isCased ? .cased : .neither
    }

    /// Whether Python 3.11 (Unicode 14.0) knows the character.
    private static func isInPythonUnicodeVersion(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < 14 || (age.major == 14 && age.minor == 0)
    }
}
